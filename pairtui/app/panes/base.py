"""What every tab of the dashboard is: a table, a text for when it is empty, the detail
of the selected row, and the keys that act on them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.reactive import var
from textual.widget import Widget
from textual.widgets import Static, TabPane

from pairtui.app.dialogs import ConfirmDialog
from pairtui.errors import PairtuiError
from pairtui.printable import printable

if TYPE_CHECKING:
    from pairtui.app.backend import HostState, ServerState, Services
    from pairtui.app.widgets.shares import ShareRow
    from pairtui.invitations import Invitation
    from pairtui.registry import Guest


@runtime_checkable
class Dashboard(Protocol):
    """What a pane asks of the screen that holds it (the screen owns the data)."""

    services: Services | None
    server: ServerState
    host: HostState
    guests: dict[str, Guest]
    invitations: tuple[Invitation, ...]
    default_mode: str
    confirm_pair: bool
    tunnel_states: dict[str, str]

    def reload_guests(self) -> object: ...

    def reload_host(self) -> object: ...

    def copy(self, text: str, what: str) -> None: ...

    def bindings_maybe_changed(self) -> None: ...

    def strings_for(self, row: ShareRow) -> list[str]: ...

    def relays_for(self, share: str | None) -> list[tuple[str, str]]: ...


class DashboardPane(TabPane):
    """A tab that owns its keys: they work while the focus is in it (on its table), so
    no screen keeps a table of which key works on which tab."""

    TAB: ClassVar[str]
    TITLE: ClassVar[str]

    now: var[float] = var(0.0)

    def __init__(self) -> None:
        super().__init__(self.TITLE, id=self.TAB, classes="-empty")
        self._detail_shown: Content | None = None

    def watch_now(self) -> None:
        """Durations in the detail tick every second (the table's are minute-grained)."""
        if self.is_mounted:
            self.show_detail()

    def detail(self) -> Content:
        """The detail of the selected row, as of :attr:`now` (empty: no row)."""
        return Content()

    def show_detail(self) -> None:
        """Redraw the detail, only if its text changed: the clock calls this each second."""
        content = self.detail()
        shown = self._detail_shown
        if shown is not None and (content.plain, content.spans) == (shown.plain, shown.spans):
            return  # (Content's == compares the text only)
        self._detail_shown = content
        self.query_one(f"#{self.TAB}-detail", Static).update(content)

    def make_table(self) -> Widget:
        """This tab's table (a :class:`~pairtui.app.widgets.table.RecordTable`)."""
        raise NotImplementedError

    def make_tables(self) -> list[Widget]:
        """Every table of this tab: one, unless the tab switches between views."""
        return [self.make_table()]

    @property
    def showing_table(self) -> Widget:
        """The table in view, which holds the focus so that the tab's keys work."""
        return self.query_one(f"#{self.TAB}-table")

    def reveal(self, action: str) -> None:
        """Show what ``action`` acts on, before the command palette runs it."""

    def compose(self) -> ComposeResult:
        for table in self.make_tables():
            yield table.data_bind(DashboardPane.now)
        yield Static(id=f"{self.TAB}-empty", classes="empty")
        with VerticalScroll(classes="detail", can_focus=False):
            yield Static(id=f"{self.TAB}-detail")

    @property
    def dashboard(self) -> Dashboard:
        screen = self.screen
        assert isinstance(screen, Dashboard)
        return screen

    @classmethod
    def key_bindings(cls) -> Iterator[Binding]:
        for binding in cls.BINDINGS:
            if isinstance(binding, Binding):
                yield binding

    def empty_text(self) -> Content:
        """What the tab says while its table is empty."""
        raise NotImplementedError

    def ready(self, action: str) -> bool:
        """Whether the action has something to act on (an action that needs nothing is
        always ready)."""
        return True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return True if self.ready(action) else None

    def fail(self, exc: PairtuiError, title: str) -> None:
        self.notify(str(exc), title=title, severity="error", timeout=8)

    async def set_mode(self, guest: str, current: str) -> None:
        """Switch a guest between view and pair: in the registry and on its clients."""
        dashboard = self.dashboard
        assert dashboard.services is not None
        mode = "view" if current == "pair" else "pair"
        if mode == "pair" and dashboard.confirm_pair and not await self._may_type(guest):
            return
        try:
            await dashboard.services.set_guest_mode(guest, mode)
        except PairtuiError as exc:
            self.fail(exc, "Mode not changed")
            return
        self.notify(f"{guest} is now {mode}" + (": can type" if mode == "pair" else ": watches"))
        dashboard.reload_guests()

    async def _may_type(self, guest: str) -> bool:
        """Typing into the host's shell is the one right a key gives away: it asks first,
        as kick does (``[ui] confirm_pair = false`` skips it); watching only never asks."""
        body = Content.from_markup(
            "[b]$guest[/b] will be able to type in what you share: a shell there runs "
            "their commands as you.\n\nPress [b]m[/b] again to make them watch only.",
            guest=printable(guest),
        )
        confirmed: bool = await self.app.push_screen_wait(
            ConfirmDialog(f"Let {guest} type?", body, "Pair")
        )
        return confirmed
