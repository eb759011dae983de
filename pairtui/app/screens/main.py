"""The dashboard: connected clients, guests and shares, each in a tab, live.

The screen holds the data (the engine's clients, the registry's guests, the host's
shares) and hands each tab its rows; each tab is a pane (pairtui/app/panes/) with its
own keys, actions, empty text and detail. The screen's own keys work on every tab.

Over 400 lines: this is where the engine's events, the registry and the host's tmux
meet, and one event changes several places at once (a guest who joins shows in the
status line, the Clients rows, the Guests online count and the Shares counts).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.message import Message
from textual.reactive import reactive, var
from textual.screen import Screen
from textual.widgets import Footer, Static, TabbedContent, Tabs

from pairtui.app import fmt
from pairtui.app.backend import SYSTEM_CLIENT_PREFIX, HostState, ServerState, Services
from pairtui.app.dialogs import KnockAnswer, KnockDialog
from pairtui.app.panes import ClientsPane, DashboardPane, GuestsPane, SharesPane
from pairtui.app.panes.recordings import RecordingsPane
from pairtui.app.widgets import (
    ClientsTable,
    GuestsTable,
    JoinBar,
    ShareRow,
    SharesTable,
    StatusBar,
)
from pairtui.errors import PairtuiError
from pairtui.events import (
    RECORDING_STOPPED,
    AccessRefused,
    ClientChanged,
    ClientJoined,
    ClientLeft,
    DoorChanged,
    DoorState,
    Event,
    Knocked,
    RecordingChanged,
    RecordingInfo,
    TunnelChanged,
    where,
)
from pairtui.printable import printable

if TYPE_CHECKING:
    from pairtui.engine_api import KnockView
    from pairtui.invitations import Invitation
    from pairtui.registry import Guest

PANES: tuple[type[DashboardPane], ...] = (ClientsPane, GuestsPane, SharesPane, RecordingsPane)
TABS = tuple(pane.TAB for pane in PANES)


SYSTEM_POLL = 2.0  # seconds between reads of the system guests' tmux clients


@dataclass(frozen=True)
class Command:
    """A key binding as the command palette offers it."""

    title: str
    help: str
    run: Callable[[], object]


TAB_KEYS = Binding.Group("Tabs", compact=True)
"""The tab keys show as one footer item (``1234 Tabs``): four would push Help and Quit
off an 80-column footer."""


class MainScreen(Screen[None]):
    """Four tabs over one engine; the status and join lines stay on top."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "show_tab('clients')", "Clients", id="tab-clients", group=TAB_KEYS,
                tooltip="Show the guests connected right now"),
        Binding("2", "show_tab('guests')", "Guests", id="tab-guests", group=TAB_KEYS,
                tooltip="Show invited guests and their keys"),
        Binding("3", "show_tab('shares')", "Shares", id="tab-shares", group=TAB_KEYS,
                tooltip="Show the host's tmux sessions and what is shared"),
        Binding("4", "show_tab('recordings')", "Recordings", id="tab-recordings",
                group=TAB_KEYS, tooltip="Show the recordings of shares, and play one"),
        Binding("c", "copy_ssh", "Copy ssh", id="copy-ssh",
                tooltip="Copy the ssh string of the selected share, or of the default one"),
        Binding("f5,ctrl+r", "refresh", "Refresh", id="refresh", show=False,
                tooltip="Read guests, shares and tmux sessions again (retries a failed start)"),
    ]  # fmt: skip
    """Keys for every tab; a pane's own key (``c`` on Guests) comes first in its tab."""

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
    invitations: reactive[tuple[Invitation, ...]] = reactive(tuple, init=False)
    door: var[DoorState] = var(DoorState, init=False)
    """Whether unregistered keys may knock, as the engine last said (DoorChanged)."""

    def __init__(
        self, clock: Callable[[], float], default_mode: str = "view", confirm_pair: bool = True
    ) -> None:
        super().__init__()
        self.clock = clock
        self.default_mode = default_mode
        self.confirm_pair = confirm_pair  # granting pair asks first
        self.services: Services | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._tab = TABS[0]
        self._binding_state: object = None  # what the footer was last drawn for
        self.tunnel_states: dict[str, str] = {}  # tunnel name -> its state in words
        self.knocks: dict[str, KnockView] = {}  # waiting at the door, by id, oldest first
        self._knocks_later: set[str] = set()  # closed with Escape: not asked again
        self._knock_dialog: KnockDialog | None = None  # the one asked now
        self.recordings: dict[str, RecordingInfo] = {}  # going on, by share (RecordingChanged)
        self.set_reactive(MainScreen.now, clock())

    @classmethod
    def key_bindings(cls) -> Iterator[Binding]:
        """Every key of the dashboard, for help and the keymap: the tabs, each pane's,
        then the rest of the screen's."""
        own = [b for b in cls.BINDINGS if isinstance(b, Binding)]
        tabs = [b for b in own if b.action.startswith("show_tab")]
        yield from tabs
        for pane in PANES:
            yield from pane.key_bindings()
        yield from (b for b in own if b not in tabs)

    # --- layout ---------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status").data_bind(
            MainScreen.now, state=MainScreen.server, door=MainScreen.door
        )
        yield JoinBar(id="join")
        with TabbedContent(initial="clients", id="tabs"):
            for pane in PANES:
                yield pane().data_bind(MainScreen.now)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        # Each tab's keys belong to its pane, so the focus stays in the showing pane: the
        # tab strip takes none (tabs switch with 1, 2, 3 or the mouse).
        for strip in self.query(Tabs):
            strip.can_focus = False
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
        """The showing tab's table has the focus, so that its pane's keys work; even
        while it is empty (and not displayed) it keeps the focus, as Textual allows."""
        try:
            table = self.query_one(f"#{self._tab}", DashboardPane).showing_table
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
    def panes(self) -> list[DashboardPane]:
        return list(self.query(DashboardPane))

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
        self.door = services.engine.door_state()
        for knock in services.engine.knocks():  # knocked before the dashboard looked
            self._knocked(knock, "waiting")
        self.recordings = {r.share: r for r in services.engine.recording_list()}
        self._counts_changed()
        self.reload_guests()
        self.reload_host()
        self._update_join_bar()  # an empty host state is no change: watch_host stays quiet
        self.bindings_maybe_changed()

    def _on_engine_event(self, event: Event) -> None:
        self.post_message(self.EngineEvent(event))

    def watch_server(self, server: ServerState) -> None:
        if not self.is_mounted:
            return  # on_mount shows it
        self._update_join_bar()
        self._update_empty_texts()
        self.bindings_maybe_changed()

    @work(exclusive=True, group="system-clients")
    async def _poll_system_clients(self) -> None:
        """System guests (under sshd) have no engine events: tmux's client list is read
        every few seconds, and only while system guests are set up."""
        if self.services is None:
            return
        found = await self.services.system_clients()
        if found is None or self._leaving:
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
        if services.guests_changed() | services.invitations_changed():  # both stats
            self.reload_guests()
        if services.shares.changed():
            self.reload_host()

    @work(exclusive=True, group="guests")
    async def reload_guests(self) -> None:
        """The guests and the invitations: a used invitation is a new guest."""
        assert self.services is not None
        try:
            guests = await self.services.guests()
        except PairtuiError as exc:
            self.notify(str(exc), title="Cannot read the guests", severity="error")
        else:
            if self._leaving:
                return
            self.guests = guests
        try:
            invitations = tuple(await self.services.invitations())
        except PairtuiError as exc:
            self.notify(str(exc), title="Cannot read the invitations", severity="error")
        else:
            if not self._leaving:
                self.invitations = invitations

    @work(exclusive=True, group="host")
    async def reload_host(self) -> None:
        assert self.services is not None
        host = await self.services.host_state()
        if not self._leaving:
            self.host = host

    @property
    def _leaving(self) -> bool:
        """The app is quitting: a read that ends now finds the widgets it would update
        already taken down (Textual removes them before it cancels this screen's
        workers), so its answer is dropped."""
        return not self.app.is_running

    def watch_guests(self) -> None:
        self._show_guests()

    def watch_invitations(self, invitations: tuple[Invitation, ...]) -> None:
        pane = self.query_one(GuestsPane)
        pane.show_invitations(invitations)
        self._set_empty("guests", pane.empty)

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
        elif isinstance(event, Knocked):
            self._knocked(event.knock, event.state)
        elif isinstance(event, DoorChanged):
            self.door = event.door
            if event.timed_out:
                waiting = len(self.knocks)
                still = f" ({waiting} still waiting)" if waiting else ""
                self.notify(f"Its time ran out: no more knocks{still}; o opens it again",
                            title="The door closed")  # fmt: skip
        elif isinstance(event, RecordingChanged):
            self._recording_changed(event.recording)
        if isinstance(event, ClientJoined | ClientLeft):
            self._counts_changed()

    # --- knocks at the door ----------------------------------------------------------

    def watch_door(self, door: DoorState) -> None:
        self.query_one(ClientsPane).show_door(door)
        self._update_empty_texts()
        self.bindings_maybe_changed()

    def _show_knocks(self) -> None:
        """Who waits shows in the Clients tab (a knock put off with Escape is answered
        from there) and is counted in the status line."""
        pane = self.query_one(ClientsPane)
        pane.show_knocks(sorted(self.knocks.values(), key=lambda k: k.since))
        self._count(waiting=len(self.knocks))
        self._update_empty_texts()
        self.bindings_maybe_changed()
        if self._tab == pane.TAB:
            self._focus_tab()  # off the knocks once the last one is answered

    def _knocked(self, knock: KnockView, state: str) -> None:
        """One dialog at a time: a knock while one is open is counted; a knock that
        ends elsewhere (the tmux menu, ``pairtui deny``, the guest gave up) closes its
        dialog, and the next one waiting is asked."""
        if state == "waiting":
            self.knocks[knock.id] = knock
            self._show_knocks()
            if self._knock_dialog is None:
                self._ask_next_knock()
            elif knock.id != self._knock_dialog.knock.id:
                more = len(self.knocks) - 1
                self.notify(f"{more} more waiting at the door", title="Knock")
            return
        self.knocks.pop(knock.id, None)
        self._knocks_later.discard(knock.id)
        self._show_knocks()
        dialog = self._knock_dialog
        if dialog is None or dialog.knock.id != knock.id:
            return
        self._knock_dialog = None
        dialog.end(state)
        how = {"admitted": "was let in", "denied": "was turned away"}.get(state, "stopped waiting")
        self.notify(printable(f"{knock.code} from {where(knock.peer, knock.via)} {how} elsewhere"),
                    title="Knock", markup=False)  # fmt: skip
        self._ask_next_knock()

    def _ask_next_knock(self) -> None:
        knock = next((k for k in self.knocks.values() if k.id not in self._knocks_later), None)
        if knock is not None:
            self._ask(knock)

    @on(ClientsPane.AnswerKnock)
    def _answer_from_the_list(self, message: ClientsPane.AnswerKnock) -> None:
        """A knock put off with Escape, asked about again from the Clients tab."""
        knock = self.knocks.get(message.ident)
        if knock is None or self._knock_dialog is not None:
            return
        self._knocks_later.discard(knock.id)
        self._ask(knock)

    def _ask(self, knock: KnockView) -> None:
        dialog = KnockDialog(knock)
        self._knock_dialog = dialog

        def answered(answer: KnockAnswer | None) -> None:
            if self._knock_dialog is not dialog:
                return  # it closed because the knock ended elsewhere
            self._knock_dialog = None
            if answer is None:
                self._knocks_later.add(knock.id)
            else:
                self.knocks.pop(knock.id, None)
                self._show_knocks()
                self._answer_knock(answer, knock)
            self._ask_next_knock()

        self.app.push_screen(dialog, answered)

    @work(group="knocks")
    async def _answer_knock(self, answer: KnockAnswer, knock: KnockView) -> None:
        from pairtui.registry import Mode

        assert self.services is not None
        engine = self.services.engine
        who = printable(f"{knock.code} from {where(knock.peer, knock.via)}")
        try:
            if answer.admit:
                await engine.admit_knocker(answer.ident, Mode(answer.mode), answer.remember,
                                           answer.expires, answer.name)  # fmt: skip
            else:
                await engine.deny_knocker(answer.ident)
        except PairtuiError as exc:
            self.notify(f"{who}: {exc}", title="Knock", severity="error", markup=False)
            if any(k.id == knock.id for k in engine.knocks()) and not self._leaving:
                self.knocks[knock.id] = knock  # still waiting: listed again, not asked
                self._knocks_later.add(knock.id)
                self._show_knocks()
            return
        kept = " (key remembered)" if answer.remember else ""
        done = f"admitted as {answer.mode}{kept}" if answer.admit else "turned away"
        self.notify(f"{who} {done}", title="Knock", markup=False)

    def _recording_changed(self, rec: RecordingInfo) -> None:
        """REC in the Shares tab and the status line, and a word to the host: whoever
        started or stopped it (here, ``pairtui record``), and above all when it stopped
        by itself (a cap, a full disk, the share's end)."""
        if rec.state == "recording":
            self.recordings[rec.share] = rec
            kept = "screen and pair guests' keys" if rec.input else "screen"
            text = f"{rec.share} ({kept}) into {rec.path}; its guests are told and see REC"
            self.notify(printable(text), title="Recording", markup=False)
        else:
            if self.recordings.get(rec.share, rec).path == rec.path:
                self.recordings.pop(rec.share, None)
            by_host = rec.reason == RECORDING_STOPPED
            text = f"{rec.share}: {rec.reason or 'stopped'}; saved in {rec.path}"
            self.notify(printable(text), title="Recording stopped", markup=False,
                        severity="information" if by_host else "warning",
                        timeout=5 if by_host else 10)  # fmt: skip
        self._show_shares()

    def _counts_changed(self) -> None:
        """Connected counts show in three places: the status line, guests and shares."""
        self._set_empty("clients", not self.clients_table.row_count)
        self._count(clients=self.clients_table.row_count)
        self._show_guests()
        self._show_shares()
        self.bindings_maybe_changed()

    def bindings_maybe_changed(self) -> None:
        """Redraw the footer only when what the keys can act on changed: rebuilding it
        was the costliest part of showing a guest who joins."""
        ready: list[bool | None] = [self._ready(a) for a in self._actions(self.BINDINGS)]
        for pane in self.panes:  # as the footer shows them: hidden, dimmed or not
            ready += [pane.check_action(a, ()) for a in self._actions(pane.BINDINGS)]
        state = (self._tab, self.server.up, tuple(ready))
        if state != self._binding_state:
            self._binding_state = state
            self.refresh_bindings()

    # --- rendering ---------------------------------------------------------------------

    def _count(self, **counts: int) -> None:
        """Counts live in the status line: relabelling tabs would move their underline."""
        status = self.query_one(StatusBar)
        status.counts = {**status.counts, **counts}

    def _set_empty(self, tab: str, empty: bool) -> None:
        self.query_one(f"#{tab}", DashboardPane).set_class(empty, "-empty")
        if not empty and tab == self._tab:
            self._focus_tab()  # the table is back from display: none

    def _online(self) -> Counter[str]:
        return Counter(c.guest for c in self.clients_table.records.values())

    def _show_guests(self) -> None:
        online = self._online()
        pane = self.query_one(GuestsPane)
        shown = pane.show(self.guests.values(), online)
        self._count(guests=shown)
        self._set_empty("guests", pane.empty)

    def _show_shares(self) -> None:
        connected = Counter(c.share for c in self.clients_table.records.values())
        shown = self.query_one(SharesPane).show(self.host, connected, self.recordings)
        self._count(shares=len(self.host.live), recording=len(self.recordings))
        self._set_empty("shares", not shown)
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
            bar.hint = "nothing is shared yet: press 3, then s to share a session"
        else:
            relays = [cmd for cmd, note in self.relays_for(None) if note.endswith(": up")]
            bar.strings = (*services.ssh_strings(None), *relays)

    def _update_empty_texts(self) -> None:
        for pane in self.panes:
            pane.query_one(".empty", Static).update(pane.empty_text())

    def strings_for(self, row: ShareRow) -> list[str]:
        if row.share is None or self.services is None or not self.server.up:
            return []
        return self.services.ssh_strings(None if row.default else row.share.name)

    def relays_for(self, share: str | None) -> list[tuple[str, str]]:
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
        self.bindings_maybe_changed()
        if event.pane.id == "shares" and self.services is not None:
            self.reload_host()  # sessions come and go without telling anyone
        self._focus_tab()

    # --- keys ---------------------------------------------------------------------------

    @staticmethod
    def _actions(bindings: list[BindingType]) -> list[str]:
        return [b.action.partition("(")[0] for b in bindings if isinstance(b, Binding)]

    def _ready(self, action: str) -> bool:
        """Whether one of the screen's own actions has something to act on."""
        if self.services is None:
            return action == "show_tab"
        if action == "copy_ssh":
            return self.server.up and bool(self.host.shares)
        return True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return True if self._ready(action) else None

    def commands(self) -> Iterator[Command]:
        """Every key of the dashboard, for the command palette; a pane's runs on its tab."""
        for binding in self.BINDINGS:
            if not isinstance(binding, Binding):
                continue
            action = binding.action.partition("(")[0]
            if action not in ("show_tab", "refresh") and not self._ready(action):
                continue  # e.g. no ssh string to copy yet
            title = f"Go to: {binding.description}" if action == "show_tab" else binding.description
            yield Command(title, binding.tooltip, partial(self.run_action, binding.action))
        for pane in self.panes:
            for binding in pane.key_bindings():
                if not pane.ready(binding.action.partition("(")[0]):
                    continue

                async def run(pane: DashboardPane = pane, binding: Binding = binding) -> None:
                    if self.active_tab != pane.TAB:
                        self.action_show_tab(pane.TAB)
                    pane.reveal(binding.action.partition("(")[0])
                    await pane.run_action(binding.action)

                yield Command(f"{pane.TITLE}: {binding.description}", binding.tooltip, run)

    # --- actions ------------------------------------------------------------------------

    def action_show_tab(self, tab: str) -> None:
        self._tab = tab
        self.query_one(TabbedContent).active = tab
        self.bindings_maybe_changed()

    async def action_refresh(self) -> None:
        if self.server.phase == "error":
            await self.app.run_action("start_engine")
        if self.services is not None:
            self.reload_guests()
            self.reload_host()

    def action_copy_ssh(self) -> None:
        if self.services is None:
            return
        row = self.shares_table.selected if self.active_tab == "shares" else None
        strings = self.strings_for(row) if row is not None and row.share else []
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
