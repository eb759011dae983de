"""The Clients tab: who is connected right now, and kicking or switching them."""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.binding import Binding, BindingType
from textual.content import Content

from pairtui.app.dialogs import ConfirmDialog
from pairtui.app.panes.base import DashboardPane
from pairtui.app.widgets import ClientsTable
from pairtui.app.widgets.clients import client_detail
from pairtui.errors import PairtuiError
from pairtui.printable import printable


class ClientsPane(DashboardPane):
    """Connected clients, live from the engine's events (the screen keeps the rows)."""

    TAB = "clients"
    TITLE = "Clients"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k", "kick", "Kick", id="client-kick",
                tooltip="Disconnect the selected client (asks first)"),
        Binding("m", "client_mode", "Mode", id="client-mode",
                tooltip="Switch the selected client's guest between view and pair, live"),
    ]  # fmt: skip

    def make_table(self) -> ClientsTable:
        return ClientsTable(id="clients-table")

    @property
    def table(self) -> ClientsTable:
        return self.query_one(ClientsTable)

    def empty_text(self) -> Content:
        server = self.dashboard.server
        if server.phase in ("error", "stopped"):
            return Content.from_markup("[b]No server.[/b] $message", message=server.message)
        if server.phase == "starting":
            return Content("Starting…")
        return Content.from_markup(
            "[b]No guests connected.[/b]\n\nThey appear here the moment they join; "
            "invite one on the Guests tab (press [b]2[/b], then [b]a[/b])."
        )

    def ready(self, action: str) -> bool:
        dashboard = self.dashboard
        if dashboard.services is None:
            return False
        if action in ("kick", "client_mode"):
            return self.table.selected is not None and dashboard.server.up
        return True

    def detail(self) -> Content:
        client = self.table.selected
        return client_detail(client, self.now) if client else Content()

    @on(ClientsTable.ClientHighlighted)
    def _client_detail(self) -> None:
        self.show_detail()

    @work(group="actions")
    async def action_kick(self) -> None:
        client = self.table.selected
        services = self.dashboard.services
        if client is None or services is None:
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
            await services.kick(client.id)
        except PairtuiError as exc:
            self.fail(exc, "Kick failed")

    @work(group="actions")
    async def action_client_mode(self) -> None:
        client = self.table.selected
        if client is not None and self.dashboard.services is not None:
            await self.set_mode(client.guest, client.mode)
