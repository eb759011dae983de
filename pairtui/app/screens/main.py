"""The dashboard: connected clients, guests and shares, each in a tab, live."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.css.query import NoMatches
from textual.message import Message
from textual.reactive import reactive, var
from textual.screen import Screen
from textual.widgets import Footer, Static, TabbedContent, TabPane

from pairtui.app import fmt
from pairtui.app.backend import SYSTEM_CLIENT_PREFIX, HostState, ServerState, Services
from pairtui.app.dialogs import (
    AddGuestDialog,
    ConfirmDialog,
    EditGuestDialog,
    GuestDraft,
    GuestEdit,
    PromptDialog,
    ShareDialog,
    ShareRequest,
    TunnelDialog,
)
from pairtui.app.widgets import (
    ClientsTable,
    GuestRow,
    GuestsTable,
    JoinBar,
    ShareRow,
    SharesTable,
    StatusBar,
)
from pairtui.app.widgets.clients import client_detail
from pairtui.app.widgets.guests import authorized_keys_lines, guest_detail
from pairtui.app.widgets.shares import share_detail, share_rows
from pairtui.errors import PairtuiError
from pairtui.events import (
    AccessRefused,
    ClientChanged,
    ClientJoined,
    ClientLeft,
    Event,
    TunnelChanged,
)
from pairtui.printable import printable

if TYPE_CHECKING:
    from pairtui.registry import Guest

TABS = ("clients", "guests", "shares")


SYSTEM_POLL = 2.0  # seconds between reads of the system guests' tmux clients


@dataclass(frozen=True)
class Command:
    """A key binding as the command palette offers it."""

    title: str
    help: str
    run: Callable[[], object]


class MainScreen(Screen[None]):
    """Three tabs over one engine; the status and join lines stay on top."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "show_tab('clients')", "Clients", id="tab-clients",
                tooltip="Show the guests connected right now"),
        Binding("2", "show_tab('guests')", "Guests", id="tab-guests",
                tooltip="Show invited guests and their keys"),
        Binding("3", "show_tab('shares')", "Shares", id="tab-shares",
                tooltip="Show the host's tmux sessions and what is shared"),
        Binding("k", "kick", "Kick", id="client-kick",
                tooltip="Disconnect the selected client (asks first)"),
        Binding("m", "client_mode", "View/pair", id="client-mode",
                tooltip="Switch the selected client's guest between view and pair, live"),
        Binding("a", "guest_add", "Add", id="guest-add",
                tooltip="Invite a guest: paste a key, give a .pub file or github:USER"),
        Binding("e", "guest_edit", "Edit", id="guest-edit",
                tooltip="Change the selected guest's mode, expiry or share"),
        Binding("m", "guest_mode", "View/pair", id="guest-mode",
                tooltip="Switch the selected guest between view and pair"),
        Binding("d,delete", "guest_remove", "Remove", id="guest-remove",
                tooltip="Remove the selected guest and its keys (asks first)"),
        Binding("c", "guest_copy", "Copy key line", id="guest-copy",
                tooltip="Copy the selected guest's authorized_keys line (its forced attach)"),
        Binding("s", "share_add", "Share", id="share-add",
                tooltip="Share a tmux session with guests"),
        Binding("u", "share_remove", "Unshare", id="share-remove",
                tooltip="Stop the selected share; its guests are disconnected (asks first)"),
        Binding("r", "share_rename", "Rename", id="share-rename",
                tooltip="Give the selected share another name; its guests stay connected"),
        Binding("t", "tunnel_toggle", "Tunnel", id="tunnel-toggle", show=False,
                tooltip="Bring a reverse tunnel (pairtui tunnel add) up or down"),
        Binding("c", "copy_ssh", "Copy ssh", id="copy-ssh",
                tooltip="Copy the ssh string of the selected share, or of the default one"),
        Binding("f5,ctrl+r", "refresh", "Refresh", id="refresh", show=False,
                tooltip="Read guests, shares and tmux sessions again (retries a failed start)"),
    ]  # fmt: skip

    SCOPES: ClassVar[dict[str, tuple[str, ...]]] = {
        "kick": ("clients",),
        "client_mode": ("clients",),
        "guest_add": ("guests",),
        "guest_edit": ("guests",),
        "guest_mode": ("guests",),
        "guest_remove": ("guests",),
        "guest_copy": ("guests",),
        "share_add": ("shares",),
        "share_remove": ("shares",),
        "share_rename": ("shares",),
        "copy_ssh": ("clients", "shares"),
        "tunnel_toggle": ("shares",),
    }
    """The tabs each action works in; elsewhere its key is free for another action."""

    GROUPS: ClassVar[dict[str, str]] = {
        "clients": "Clients",
        "guests": "Guests",
        "shares": "Shares",
    }

    @dataclass
    class EngineEvent(Message):
        """An engine event, delivered on the UI's message queue (safe from any thread)."""

        event: Event

        def can_replace(self, message: Message) -> bool:
            # A burst of resizes of one client needs only its last state.
            return (
                isinstance(message, MainScreen.EngineEvent)
                and isinstance(self.event, ClientChanged)
                and isinstance(message.event, ClientChanged)
                and message.event.client.id == self.event.client.id
            )

    # A var, not a reactive: a repainting reactive on a Screen redraws the whole screen
    # every tick; the widgets bound to it redraw only what changed.
    now: var[float] = var(0.0)
    server: reactive[ServerState] = reactive(ServerState, init=False)
    host: reactive[HostState] = reactive(HostState, init=False)
    guests: reactive[dict[str, Guest]] = reactive(dict, init=False, always_update=True)

    def __init__(self, clock: Callable[[], float], default_mode: str = "view") -> None:
        super().__init__()
        self.clock = clock
        self.default_mode = default_mode
        self.services: Services | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._tab = TABS[0]
        self._binding_state: object = None  # what the footer was last drawn for
        self.tunnel_states: dict[str, str] = {}  # tunnel name -> its state in words
        self.set_reactive(MainScreen.now, clock())

    # --- layout ---------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status").data_bind(MainScreen.now, state=MainScreen.server)
        yield JoinBar(id="join")
        with TabbedContent(initial="clients", id="tabs"):
            with TabPane("Clients", id="clients", classes="-empty"):
                yield ClientsTable(id="clients-table").data_bind(MainScreen.now)
                yield Static(id="clients-empty", classes="empty")
                with VerticalScroll(classes="detail", can_focus=False):
                    yield Static(id="clients-detail")
            with TabPane("Guests", id="guests", classes="-empty"):
                yield GuestsTable(id="guests-table").data_bind(MainScreen.now)
                yield Static(id="guests-empty", classes="empty")
                with VerticalScroll(classes="detail", can_focus=False):
                    yield Static(id="guests-detail")
            with TabPane("Shares", id="shares", classes="-empty"):
                yield SharesTable(id="shares-table").data_bind(MainScreen.now)
                yield Static(id="shares-empty", classes="empty")
                with VerticalScroll(classes="detail", can_focus=False):
                    yield Static(id="shares-detail")
        yield Footer()

    def on_mount(self) -> None:
        try:
            self._update_empty_texts()
            self._update_join_bar()
        except NoMatches:
            return  # the app quit before its first frame: the children are gone
        self.set_interval(1.0, self._tick)
        self.set_interval(SYSTEM_POLL, self._poll_system_clients)
        self._focus_tab()

    def on_screen_resume(self) -> None:
        self._focus_tab()

    def _focus_tab(self) -> None:
        try:
            table = self.query_one(f"#{self._tab}-table")
        except NoMatches:
            return  # not composed, or already torn down
        if self.focused is None or table not in self.focused.ancestors_with_self:
            table.focus()

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    # --- wiring to the services ----------------------------------------------------

    @property
    def clients_table(self) -> ClientsTable:
        return self.query_one(ClientsTable)

    @property
    def guests_table(self) -> GuestsTable:
        return self.query_one(GuestsTable)

    @property
    def shares_table(self) -> SharesTable:
        return self.query_one(SharesTable)

    @property
    def active_tab(self) -> str:
        """The tab showing, as far as keys are concerned.

        Kept here because TabbedContent settles its own ``active`` a message later.
        """
        return self._tab

    def attach(self, services: Services) -> None:
        """Show what ``services`` hold and follow the engine's events from now on."""
        self.services = services
        self.tunnel_states = services.tunnel_summaries()
        self._unsubscribe = services.engine.subscribe(self._on_engine_event)
        self.clients_table.replace_all(services.engine.clients.values())
        self._counts_changed()
        self.reload_guests()
        self.reload_host()
        self._bindings_maybe_changed()

    def _on_engine_event(self, event: Event) -> None:
        self.post_message(self.EngineEvent(event))

    def watch_server(self, server: ServerState) -> None:
        if not self.is_mounted:
            return  # on_mount shows it
        self._update_join_bar()
        self._update_empty_texts()
        self._bindings_maybe_changed()

    @work(exclusive=True, group="system-clients")
    async def _poll_system_clients(self) -> None:
        """System guests (under sshd) have no engine events: tmux's client list is read
        every few seconds, and only while system guests are set up."""
        if self.services is None:
            return
        found = await self.services.system_clients()
        if found is None:
            return
        table = self.clients_table
        known = {k for k in table.records if k.startswith(SYSTEM_CLIENT_PREFIX)}
        for info in found:
            if info.id not in known:
                self.post_message(self.EngineEvent(ClientJoined(info)))
        for gone in known - {info.id for info in found}:
            record = table.records[gone]
            self.post_message(self.EngineEvent(ClientLeft(record, "left")))

    def _tick(self) -> None:
        self.now = self.clock()
        services = self.services
        if services is None:
            return
        if services.guests_changed():
            self.reload_guests()
        if services.shares.changed():
            self.reload_host()

    @work(exclusive=True, group="guests")
    async def reload_guests(self) -> None:
        assert self.services is not None
        try:
            self.guests = await self.services.guests()
        except PairtuiError as exc:
            self.notify(str(exc), title="Cannot read the guests", severity="error")

    @work(exclusive=True, group="host")
    async def reload_host(self) -> None:
        assert self.services is not None
        self.host = await self.services.host_state()

    def watch_guests(self) -> None:
        self._show_guests()

    def watch_host(self, host: HostState) -> None:
        self._show_shares()
        self._update_join_bar()

    # --- engine events ---------------------------------------------------------------

    @on(EngineEvent)
    def _engine_event(self, message: EngineEvent) -> None:
        event = message.event
        table = self.clients_table
        if isinstance(event, ClientJoined):
            table.put(event.client)
            c = event.client
            joined = f"joined {c.share} as {c.mode}" if c.terminal else "logged in, no terminal"
            self.notify(f"{c.guest} {joined} from {c.origin}", title="Guest joined")
        elif isinstance(event, ClientLeft):
            if table.drop(event.client.id) is not None:
                c = event.client
                self.notify(f"{c.guest} left: {event.reason}", title="Guest left")
        elif isinstance(event, ClientChanged):
            if event.client.id in table.records:
                table.put(event.client)
        elif isinstance(event, AccessRefused):
            self.notify(
                f"{event.origin} with key {fmt.short_fingerprint(event.fingerprint, 12)}: "
                f"{event.reason}",
                title="Refused",
                severity="warning",
            )
        elif isinstance(event, TunnelChanged):
            t = event.tunnel
            self.tunnel_states[t.name] = t.describe()
            if t.state in ("up", "failed"):
                self.notify(
                    f"tunnel {t.name} to {t.relay}: {t.describe()}",
                    title="Tunnel",
                    severity="information" if t.state == "up" else "error",
                )
            self._update_join_bar()
            self.shares_table.announce()  # its detail lists the relay strings
        if isinstance(event, ClientJoined | ClientLeft):
            self._counts_changed()

    def _counts_changed(self) -> None:
        """Connected counts show in three places: the status line, guests and shares."""
        self._set_empty("clients", not self.clients_table.row_count)
        self._count(clients=self.clients_table.row_count)
        self._show_guests()
        self._show_shares()
        self._bindings_maybe_changed()

    def _bindings_maybe_changed(self) -> None:
        """Redraw the footer only when what the keys can act on changed: rebuilding it
        was the costliest part of showing a guest who joins."""
        actions = (b.action.partition("(")[0] for b in self.BINDINGS if isinstance(b, Binding))
        state = (self._tab, self.server.up, tuple(self._target_ready(a) for a in actions))
        if state != self._binding_state:
            self._binding_state = state
            self.refresh_bindings()

    # --- rendering ---------------------------------------------------------------------

    def _count(self, **counts: int) -> None:
        """Counts live in the status line: relabelling tabs would move their underline."""
        status = self.query_one(StatusBar)
        status.counts = {**status.counts, **counts}

    def _set_empty(self, tab: str, empty: bool) -> None:
        self.query_one(f"#{tab}", TabPane).set_class(empty, "-empty")
        if not empty and tab == self._tab:
            self._focus_tab()  # the table is back from display: none

    def _online(self) -> Counter[str]:
        return Counter(c.guest for c in self.clients_table.records.values())

    def _show_guests(self) -> None:
        online = self._online()
        rows = [GuestRow(g, online.get(g.name, 0)) for g in self.guests.values()]
        self.guests_table.replace_all(rows)
        self._count(guests=len(rows))
        self._set_empty("guests", not rows)

    def _show_shares(self) -> None:
        connected = Counter(c.share for c in self.clients_table.records.values())
        rows = share_rows(self.host, dict(connected))
        self.shares_table.replace_all(rows)
        self._count(shares=len(self.host.shares))
        self._set_empty("shares", not rows)
        self._update_empty_texts()

    def _update_join_bar(self) -> None:
        bar = self.query_one(JoinBar)
        server, services = self.server, self.services
        bar.fingerprint = server.fingerprint
        if not server.up or services is None:
            bar.strings = ()
            bar.hint = "starting…" if server.phase == "starting" else "the server is not running"
        elif not self.host.shares:
            bar.strings = ()
            bar.hint = "nothing is shared yet: press 3, then s to share a tmux session"
        else:
            relays = [cmd for cmd, note in self._relays_for(None) if note.endswith(": up")]
            bar.strings = (*services.ssh_strings(None), *relays)

    def _update_empty_texts(self) -> None:
        server = self.server
        if server.phase in ("error", "stopped"):
            clients = Content.from_markup("[b]No server.[/b] $message", message=server.message)
        elif server.phase == "starting":
            clients = Content("Starting…")
        else:
            clients = Content.from_markup(
                "[b]No guests connected.[/b]\n\nThey appear here the moment they join; "
                "invite one on the Guests tab (press [b]2[/b], then [b]a[/b])."
            )
        self.query_one("#clients-empty", Static).update(clients)
        self.query_one("#guests-empty", Static).update(
            Content.from_markup(
                "[b]No guests yet.[/b]\n\nPress [b]a[/b] to invite one: paste their public key, "
                "give the path of a .pub file, or github:USER."
            )
        )
        error = self.host.error
        self.query_one("#shares-empty", Static).update(
            Content.from_markup("[b]No tmux sessions.[/b] $error", error=error)
            if error
            else Content.from_markup(
                "[b]No tmux sessions to share.[/b]\n\nStart tmux, then press [b]F5[/b]."
            )
        )

    @on(ClientsTable.ClientHighlighted)
    def _client_detail(self, message: ClientsTable.ClientHighlighted) -> None:
        detail = self.query_one("#clients-detail", Static)
        client = message.client
        detail.update(client_detail(client, self.now) if client else "")

    @on(GuestsTable.GuestHighlighted)
    def _guest_detail(self, message: GuestsTable.GuestHighlighted) -> None:
        detail = self.query_one("#guests-detail", Static)
        detail.update(guest_detail(message.row, self.now) if message.row else "")
        self._bindings_maybe_changed()

    @on(SharesTable.ShareHighlighted)
    def _share_detail(self, message: SharesTable.ShareHighlighted) -> None:
        detail = self.query_one("#shares-detail", Static)
        row = message.row
        if row is None:
            detail.update("")
            return
        strings = self._strings_for(row)
        relays = self._relays_for(None if row.default else row.share.name) if row.share else []
        detail.update(share_detail(row, strings, self.server.fingerprint, relays))
        self._bindings_maybe_changed()

    def _strings_for(self, row: ShareRow) -> list[str]:
        if row.share is None or self.services is None or not self.server.up:
            return []
        return self.services.ssh_strings(None if row.default else row.share.name)

    def _relays_for(self, share: str | None) -> list[tuple[str, str]]:
        """Relay strings with the state of their tunnel (``"through X: up"``)."""
        if self.services is None or not self.server.up:
            return []
        out = []
        for cmd, name in self.services.relay_strings(share):
            state = self.tunnel_states.get(name) or "not running"
            out.append((cmd, f"through {name}: {'up' if state.startswith('up') else state}"))
        return out

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._tab = event.pane.id or self._tab  # also when a tab is clicked
        self._bindings_maybe_changed()
        if event.pane.id == "shares" and self.services is not None:
            self.reload_host()  # sessions come and go without telling anyone
        self._focus_tab()

    # --- which actions apply ----------------------------------------------------------

    def _target_ready(self, action: str) -> bool:
        """Whether the action has something to act on (whatever tab is showing)."""
        if self.services is None:
            return action == "show_tab"
        if action in ("kick", "client_mode"):
            return self.clients_table.selected is not None and self.server.up
        if action in ("guest_edit", "guest_mode", "guest_remove", "guest_copy"):
            return self.guests_table.selected is not None
        if action == "share_add":
            return bool(self.host.shareable())
        if action in ("share_remove", "share_rename"):
            row = self.shares_table.selected
            return row is not None and row.share is not None
        if action == "copy_ssh":
            return self.server.up and bool(self.host.shares)
        return True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        scope = self.SCOPES.get(action)
        if scope is not None and self.active_tab not in scope:
            return False  # hidden: the key may mean something else on this tab
        return True if self._target_ready(action) else None

    def commands(self) -> Iterator[Command]:
        """Every binding of this screen, for the command palette."""
        for binding in self.BINDINGS:
            if not isinstance(binding, Binding):
                continue
            action = binding.action.partition("(")[0]
            scope = self.SCOPES.get(action)
            if scope is not None and not self._target_ready(action):
                continue
            group = self.GROUPS.get(scope[0], "") if scope else "Go to"
            title = f"{group}: {binding.description}" if group else binding.description

            async def run(
                binding: Binding = binding, scope: tuple[str, ...] | None = scope
            ) -> None:
                if scope is not None and self.active_tab not in scope:
                    self.action_show_tab(scope[0])
                await self.run_action(binding.action)

            yield Command(title, binding.tooltip, run)

    # --- actions ------------------------------------------------------------------------

    def action_show_tab(self, tab: str) -> None:
        self._tab = tab
        self.query_one(TabbedContent).active = tab
        self._bindings_maybe_changed()

    async def action_refresh(self) -> None:
        if self.server.phase == "error":
            await self.app.run_action("start_engine")
        if self.services is not None:
            self.reload_guests()
            self.reload_host()

    def _fail(self, exc: PairtuiError, title: str) -> None:
        self.notify(str(exc), title=title, severity="error", timeout=8)

    @work(group="actions")
    async def action_kick(self) -> None:
        client = self.clients_table.selected
        if client is None or self.services is None:
            return
        body = Content.from_markup(
            "Disconnect [b]$guest[/b] ($id, from $peer)?\n\n"
            "They can join again while their invitation is valid; "
            "remove the guest to stop that.",
            guest=printable(client.guest),
            id=printable(client.id),
            peer=printable(client.origin),
        )
        if not await self.app.push_screen_wait(
            ConfirmDialog(f"Kick {client.guest}?", body, "Kick")
        ):
            return
        try:
            await self.services.kick(client.id)
        except PairtuiError as exc:
            self._fail(exc, "Kick failed")

    async def _set_mode(self, guest: str, current: str) -> None:
        assert self.services is not None
        mode = "view" if current == "pair" else "pair"
        try:
            await self.services.set_guest_mode(guest, mode)
        except PairtuiError as exc:
            self._fail(exc, "Mode not changed")
            return
        self.notify(f"{guest} is now {mode}" + (": can type" if mode == "pair" else ": watches"))
        self.reload_guests()

    @work(group="actions")
    async def action_client_mode(self) -> None:
        client = self.clients_table.selected
        if client is not None and self.services is not None:
            await self._set_mode(client.guest, client.mode)

    @work(group="actions")
    async def action_guest_mode(self) -> None:
        row = self.guests_table.selected
        if row is not None and self.services is not None:
            await self._set_mode(row.guest.name, row.guest.mode.value)

    @work(group="actions")
    async def action_guest_add(self) -> None:
        if self.services is None:
            return
        draft: GuestDraft | None = await self.app.push_screen_wait(
            AddGuestDialog(
                self.guests,
                shares=[s.name for s in self.host.shares],
                default_mode=self.default_mode,
                forges=self.services.forges,
            )
        )
        if draft is None:
            return
        try:
            guest = await self.services.add_guest(
                draft.name, draft.keys, draft.mode, draft.expires, draft.share
            )
        except PairtuiError as exc:
            self._fail(exc, "Guest not added")
            return
        self.notify(f"{guest.name} can join now ({guest.mode.value})", title="Guest added")
        self.reload_guests()

    @on(GuestsTable.GuestChosen)
    async def _guest_chosen(self) -> None:
        await self.run_action("guest_edit")

    @work(group="actions")
    async def action_guest_edit(self) -> None:
        row = self.guests_table.selected
        if row is None or self.services is None:
            return
        edit: GuestEdit | None = await self.app.push_screen_wait(
            EditGuestDialog(row.guest, shares=[s.name for s in self.host.shares], now=self.now)
        )
        if edit is None:
            return
        try:
            await self.services.update_guest(edit.name, edit.mode, edit.share, edit.expires)
        except PairtuiError as exc:
            self._fail(exc, "Guest not changed")
            return
        self.reload_guests()

    @work(group="actions")
    async def action_guest_remove(self) -> None:
        row = self.guests_table.selected
        if row is None or self.services is None:
            return
        guest = row.guest
        body = Content.from_markup(
            "Remove [b]$name[/b] and $keys?$online\n\nThey will not be able to join again.",
            name=printable(guest.name),
            keys=fmt.plural(len(guest.keys), "key"),
            online=f"\n{fmt.plural(row.online, 'connected client')} will be disconnected."
            if row.online
            else "",
        )
        if not await self.app.push_screen_wait(
            ConfirmDialog(f"Remove {guest.name}?", body, "Remove")
        ):
            return
        try:
            await self.services.remove_guest(guest.name)
        except PairtuiError as exc:
            self._fail(exc, "Guest not removed")
            return
        self.notify(f"{guest.name} removed", title="Guest removed")
        self.reload_guests()

    @work(group="actions")
    async def action_guest_copy(self) -> None:
        row = self.guests_table.selected
        if row is None:
            return
        guest = row.guest
        try:
            text, system = await asyncio.to_thread(authorized_keys_lines, guest, self.host.shares)
        except PairtuiError as exc:  # e.g. no tmux to name in a system guest's line
            self._fail(exc, "Not copied")
            return
        what = "system guest's and pairtui join " if system else ""
        self.copy(text, f"{what}authorized_keys line of {guest.name}")

    @work(group="actions")
    async def action_tunnel_toggle(self) -> None:
        if self.services is None:
            return
        tunnels = self.services.tunnels()
        if not tunnels:
            self.notify("No tunnels yet: add one with `pairtui tunnel add NAME USER@HOST`.")
            return
        states = self.services.tunnel_summaries()
        rows = [(t.name, t.enabled, states.get(t.name, "")) for t in tunnels]
        name = rows[0][0] if len(rows) == 1 else await self.app.push_screen_wait(TunnelDialog(rows))
        if name is None:
            return
        enabled = next(on for n, on, _ in rows if n == name)
        try:
            await self.services.set_tunnel(name, up=not enabled)
        except PairtuiError as exc:
            self._fail(exc, "Tunnel not changed")
            return
        self.notify(f"Tunnel {name}: {'coming up' if not enabled else 'down'}", title="Tunnel")

    def action_copy_ssh(self) -> None:
        if self.services is None:
            return
        row = self.shares_table.selected if self.active_tab == "shares" else None
        strings = self._strings_for(row) if row is not None and row.share else []
        if not strings:
            strings = self.services.ssh_strings(None)
        self.copy(strings[0], strings[0])

    def copy(self, text: str, what: str) -> None:
        """OSC 52 through the terminal, and the tmux buffer when inside tmux."""
        self.app.copy_to_clipboard(text)
        self.copy_to_tmux(text)
        self.notify(what, title="Copied")

    @work(thread=True, group="tmux-buffer")
    def copy_to_tmux(self, text: str) -> None:
        if self.services is not None:
            self.services.shares.set_buffer(text)

    @work(group="actions")
    async def action_share_add(self) -> None:
        sessions = self.host.shareable()
        if not sessions or self.services is None:
            return
        row = self.shares_table.selected
        picked: ShareRequest | None = await self.app.push_screen_wait(
            ShareDialog(
                sessions,
                selected=row.session if row else None,
                taken={s.name for s in self.host.shares},
            )
        )
        if picked is None:
            return
        try:
            share = await self.services.share(picked.session, picked.name, picked.pane)
        except PairtuiError as exc:
            self._fail(exc, "Not shared")
            return
        self.notify(f"{self.host.shows(share)[1]} is shared as {share.name}", title="Shared")
        self.reload_host()

    @work(group="actions")
    async def action_share_remove(self) -> None:
        row = self.shares_table.selected
        if row is None or row.share is None or self.services is None:
            return
        name = row.share.name
        body = Content.from_markup(
            "Stop sharing [b]$name[/b] ($what)?$guests",
            name=name,
            what=printable(row.what),
            guests=f"\n\n{fmt.plural(row.guests, 'connected client')} will be disconnected."
            if row.guests
            else "",
        )
        if not await self.app.push_screen_wait(ConfirmDialog(f"Unshare {name}?", body, "Unshare")):
            return
        try:
            await self.services.unshare(name)
        except PairtuiError as exc:
            self._fail(exc, "Still shared")
            return
        self.notify(f"{name} is no longer shared", title="Unshared")
        self.reload_host()

    @work(group="actions")
    async def action_share_rename(self) -> None:
        row = self.shares_table.selected
        if row is None or row.share is None or self.services is None:
            return
        old = row.share.name
        taken = {s.name for s in self.host.shares} - {old}

        def check(value: str) -> str | None:
            from pairtui.shares import validate_share_name

            validate_share_name(value.strip())
            if value.strip() in taken:
                raise PairtuiError(f"there is already a share named {value.strip()!r}")
            if row.guests and value.strip() != old:
                # Renamed in place: its guests stay in and see the new name.
                clients = fmt.plural(row.guests, "connected client")
                verb = "stays" if row.guests == 1 else "stay"
                return f"its {clients} {verb} connected, under the new name"
            return None

        new = await self.app.push_screen_wait(
            PromptDialog(f"Rename {old}", "New name", check, value=old, ok="Rename")
        )
        if new is None or new == old:
            return
        try:
            await self.services.rename_share(old, new)
        except PairtuiError as exc:
            self._fail(exc, "Not renamed")
            return
        self.notify(f"{old} is now {new}", title="Renamed")
        self.reload_host()
