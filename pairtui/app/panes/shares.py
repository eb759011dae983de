"""The Shares tab: the host's tmux sessions and what of them is shared; sharing,
renaming, unsharing and recording, and the reverse tunnels guests may come through."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.binding import Binding, BindingType
from textual.content import Content

from pairtui.app import fmt
from pairtui.app.dialogs import (
    ConfirmDialog,
    PromptDialog,
    RecordDialog,
    ShareDialog,
    ShareRequest,
    TunnelDialog,
)
from pairtui.app.panes.base import DashboardPane
from pairtui.app.widgets import SharesTable
from pairtui.app.widgets.shares import share_detail, share_rows
from pairtui.errors import PairtuiError
from pairtui.printable import printable

if TYPE_CHECKING:
    from pairtui.app.backend import HostState
    from pairtui.events import RecordingInfo


class SharesPane(DashboardPane):
    """Each host session, shared or not, with its shares and their ssh strings."""

    TAB = "shares"
    TITLE = "Shares"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "share_add", "Share", id="share-add",
                tooltip="Share a tmux session with guests"),
        Binding("u", "share_remove", "Unshare", id="share-remove",
                tooltip="Stop the selected share; its guests are disconnected (asks first)"),
        Binding("r", "share_rename", "Rename", id="share-rename",
                tooltip="Give the selected share another name; its guests stay connected"),
        Binding("R", "share_record", "Record", id="share-record", show=False,
                tooltip="Record what the selected share's guests see (asks first), or stop "
                "recording it"),
        Binding("t", "tunnel_toggle", "Tunnel", id="tunnel-toggle", show=False,
                tooltip="Bring a reverse tunnel (pairtui tunnel add) up or down"),
    ]  # fmt: skip
    """``R`` is not in the footer (no room at 80 columns): the selected share's detail
    says it, as do help and the command palette."""

    def make_table(self) -> SharesTable:
        return SharesTable(id="shares-table")

    @property
    def table(self) -> SharesTable:
        return self.query_one(SharesTable)

    def show(
        self,
        host: HostState,
        connected: Mapping[str, int],
        recordings: Mapping[str, RecordingInfo] | None = None,
    ) -> int:
        """A row per host session and share, with its connected clients and whether it
        is recorded; how many rows."""
        rows = share_rows(host, dict(connected), recordings)
        self.table.replace_all(rows)
        return len(rows)

    def empty_text(self) -> Content:
        error = self.dashboard.host.error
        if error:
            return Content.from_markup("[b]No tmux sessions.[/b] $error", error=error)
        return Content.from_markup(
            "[b]No tmux sessions to share.[/b]\n\nStart tmux, then press [b]F5[/b]."
        )

    def ready(self, action: str) -> bool:
        dashboard = self.dashboard
        if dashboard.services is None:
            return False
        if action == "share_add":
            return bool(dashboard.host.shareable())
        if action in ("share_remove", "share_rename"):
            row = self.table.selected
            return row is not None and row.share is not None
        if action == "share_record":  # a share whose tmux is gone: only a stop
            row = self.table.selected
            return (
                row is not None
                and row.share is not None
                and (row.live or row.recording is not None)
            )
        return True

    def detail(self) -> Content:
        dashboard = self.dashboard
        row = self.table.selected
        if row is None:
            return Content()
        strings = dashboard.strings_for(row)
        share = row.share
        relays = dashboard.relays_for(None if row.default else share.name) if share else []
        return share_detail(row, strings, dashboard.server.fingerprint, relays, self.now)

    def watch_now(self) -> None:
        """Only a recording counts time here (minute-grained): other details change on
        highlights only."""
        row = self.table.selected if self.is_mounted else None
        if row is not None and row.recording is not None:
            self.show_detail()

    @on(SharesTable.ShareHighlighted)
    def _share_detail(self, message: SharesTable.ShareHighlighted) -> None:
        self.show_detail()
        if message.row is not None:
            self.dashboard.bindings_maybe_changed()

    @work(group="actions")
    async def action_share_add(self) -> None:
        dashboard = self.dashboard
        sessions = dashboard.host.shareable()
        if not sessions or dashboard.services is None:
            return
        row = self.table.selected
        picked: ShareRequest | None = await self.app.push_screen_wait(
            ShareDialog(
                sessions,
                selected=row.session if row else None,
                taken={s.name for s in dashboard.host.shares},
            )
        )
        if picked is None:
            return
        try:
            share = await dashboard.services.share(picked.session, picked.name, picked.pane)
        except PairtuiError as exc:
            self.fail(exc, "Not shared")
            return
        self.notify(f"{dashboard.host.shows(share)[1]} is shared as {share.name}", title="Shared")
        dashboard.reload_host()

    @work(group="actions")
    async def action_share_remove(self) -> None:
        dashboard = self.dashboard
        row = self.table.selected
        if row is None or row.share is None or dashboard.services is None:
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
            await dashboard.services.unshare(name)
        except PairtuiError as exc:
            self.fail(exc, "Still shared")
            return
        self.notify(f"{name} is no longer shared", title="Unshared")
        dashboard.reload_host()

    @work(group="actions")
    async def action_share_rename(self) -> None:
        dashboard = self.dashboard
        row = self.table.selected
        if row is None or row.share is None or dashboard.services is None:
            return
        old = row.share.name
        taken = {s.name for s in dashboard.host.shares} - {old}

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
            await dashboard.services.rename_share(old, new)
        except PairtuiError as exc:
            self.fail(exc, "Not renamed")
            return
        self.notify(f"{old} is now {new}", title="Renamed")
        dashboard.reload_host()

    @work(group="actions")
    async def action_tunnel_toggle(self) -> None:
        services = self.dashboard.services
        if services is None:
            return
        tunnels = services.tunnels()
        if not tunnels:
            self.notify("No tunnels yet: add one with `pairtui tunnel add NAME USER@HOST`.")
            return
        states = services.tunnel_summaries()
        rows = [(t.name, t.enabled, states.get(t.name, "")) for t in tunnels]
        name = rows[0][0] if len(rows) == 1 else await self.app.push_screen_wait(TunnelDialog(rows))
        if name is None:
            return
        enabled = next(on for n, on, _ in rows if n == name)
        try:
            await services.set_tunnel(name, up=not enabled)
        except PairtuiError as exc:
            self.fail(exc, "Tunnel not changed")
            return
        self.notify(f"Tunnel {name}: {'coming up' if not enabled else 'down'}", title="Tunnel")

    @work(group="actions", exclusive=True)
    async def action_share_record(self) -> None:
        """Start recording the selected share (the dialog says what is kept), or stop
        the recording going on, through the engine as ``pairtui record`` does; the
        screen says so when the engine tells (RecordingChanged), whoever asked."""
        dashboard = self.dashboard
        row = self.table.selected
        if row is None or row.share is None or dashboard.services is None:
            return
        engine = dashboard.services.engine
        name = row.share.name
        try:
            if any(r.share == name for r in engine.recording_list()):  # the engine's word
                await engine.stop_recording(name)
                return
            request = await self.app.push_screen_wait(RecordDialog(name))
            if request is None:
                return
            await engine.start_recording(request.share, request.keys)
        except PairtuiError as exc:
            self.fail(exc, "Recording")
