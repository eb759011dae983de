"""The Clients tab: who is connected right now, and kicking or switching them; who
waits at the door, answering them, and opening or closing the door."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from textual import events, on, work
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable

from pairtui.app import fmt
from pairtui.app.dialogs import ConfirmDialog, DoorDialog
from pairtui.app.panes.base import DashboardPane
from pairtui.app.widgets import ClientsTable
from pairtui.app.widgets.clients import KnocksTable, client_detail, knock_detail
from pairtui.errors import PairtuiError
from pairtui.events import DoorState
from pairtui.printable import printable

if TYPE_CHECKING:
    from pairtui.engine_api import KnockView


class ClientsPane(DashboardPane):
    """Connected clients, live from the engine's events, and under them the guests
    waiting at the door (the screen keeps both and asks about knocks one at a time)."""

    TAB = "clients"
    TITLE = "Clients"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k", "kick", "Kick", id="client-kick",
                tooltip="Disconnect the selected client (asks first)"),
        Binding("m", "client_mode", "Mode", id="client-mode",
                tooltip="Switch the selected client's guest between view and pair, live"),
        Binding("a", "answer_knock", "Answer", id="knock-answer",
                tooltip="Admit or deny the guest selected at the door (Enter on it too)"),
        Binding("o", "door", "Door", id="door-toggle",
                tooltip="Open the door to guests whose keys you don't have (asks for how "
                        "long), or close it"),
    ]  # fmt: skip

    @dataclass
    class AnswerKnock(Message):
        """The host asks about this knock now: the screen, which asks about knocks one
        at a time, opens its dialog."""

        pane: ClientsPane
        ident: str

        @property
        def control(self) -> ClientsPane:
            return self.pane

    def __init__(self) -> None:
        super().__init__()
        self.door = DoorState()  # as the engine last said

    def make_table(self) -> ClientsTable:
        return ClientsTable(id="clients-table")

    def make_tables(self) -> list[Widget]:
        return [self.make_table(), KnocksTable(id="knocks-table")]

    @property
    def table(self) -> ClientsTable:
        return self.query_one(ClientsTable)

    @property
    def knocks_table(self) -> KnocksTable:
        return self.query_one(KnocksTable)

    @property
    def showing_table(self) -> Widget:
        """The knocks when the host moved there (Tab) or nobody is connected, else the
        clients: the focus stays where the host put it while rows come and go."""
        knocks = self.knocks_table
        if knocks.row_count and (self.screen.focused is knocks or not self.table.row_count):
            return knocks
        return self.table

    def show_knocks(self, knocks: Sequence[KnockView]) -> None:
        """Who waits at the door now, oldest first."""
        self.knocks_table.replace_all(knocks)
        self.set_class(bool(knocks), "-knocks")
        self.show_detail()

    def show_door(self, door: DoorState) -> None:
        self.door = door

    def empty_text(self) -> Content:
        server = self.dashboard.server
        if server.phase in ("error", "stopped"):
            return Content.from_markup("[b]No server.[/b] $message", message=server.message)
        if server.phase == "starting":
            return Content("Starting…")
        if self.door.is_open(self.now):
            door = (
                "[b]The door is open[/b]: guests whose keys you don't have may knock and "
                "wait here; [b]o[/b] closes it."
            )
        else:
            door = "The door is closed: [b]o[/b] opens it to guests whose keys you don't have."
        lines = ["[b]No guests connected.[/b]", door]
        if not self.knocks_table.row_count:  # else the knocks above need the room
            lines.insert(1, "They appear here the moment they join; invite one on the "
                            "Guests tab (press [b]2[/b], then [b]a[/b]).")  # fmt: skip
        return Content.from_markup("\n\n".join(lines))

    def ready(self, action: str) -> bool:
        dashboard = self.dashboard
        if dashboard.services is None:
            return False
        if action in ("kick", "client_mode"):
            return self.table.selected is not None and dashboard.server.up
        if action == "answer_knock":
            return bool(self.knocks_table.row_count)
        if action == "door":
            return dashboard.server.up
        return True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "answer_knock" and not self.ready(action):
            return False  # in the footer only while someone waits: 80 columns are few
        return super().check_action(action, parameters)

    def detail(self) -> Content:
        knock = self.knocks_table.selected
        client = self.table.selected
        if knock is not None and (self.screen.focused is self.knocks_table or client is None):
            return knock_detail(knock, self.now)
        return client_detail(client, self.now) if client else Content()

    @on(ClientsTable.ClientHighlighted)
    @on(KnocksTable.KnockHighlighted)
    def _client_detail(self) -> None:
        self.show_detail()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self.show_detail()  # the detail follows the table the host is in

    @on(DataTable.RowSelected, "#knocks-table")
    def _knock_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_answer_knock()

    def action_answer_knock(self) -> None:
        table = self.knocks_table
        knock = table.selected or next(iter(table.records.values()), None)
        if knock is not None:
            self.post_message(self.AnswerKnock(self, knock.id))

    @work(group="actions", exclusive=True)
    async def action_door(self) -> None:
        """Close an open door at once (those waiting still wait); open a shut one for as
        long as the host says, through the engine as ``pairtui door`` does."""
        dashboard = self.dashboard
        if dashboard.services is None:
            return
        engine = dashboard.services.engine
        try:
            if engine.door_state().is_open(self.now):
                await engine.close_door()
                waiting = self.knocks_table.row_count
                still = f" ({waiting} still waiting)" if waiting else ""
                self.notify(f"No more knocks{still}", title="The door is closed")
                return
            shares = [s.name for s in dashboard.host.shares]
            request = await self.app.push_screen_wait(DoorDialog(shares=shares, now=self.now))
            if request is None:
                return
            door = await engine.open_door(request.seconds, request.share)
        except PairtuiError as exc:
            self.fail(exc, "Door")
            return
        where = f"share {door.share}" if door.share else "any share"
        self.notify(
            printable(f"For {fmt.duration(request.seconds)} ({where}): guests whose keys you "
                      "don't have may knock; o closes it"),
            title="The door is open",
        )  # fmt: skip

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
