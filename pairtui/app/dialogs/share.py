"""Share one of the host's tmux sessions, or one window of it, under a name guests ask for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Select

from pairtui.app.dialogs.form import FormDialog
from pairtui.app.widgets.fields import CoreCheck, Field
from pairtui.errors import PairtuiError

if TYPE_CHECKING:
    from pairtui.app.backend import Shareable
    from pairtui.tmux import HostWindow

WHOLE = ""  # the "what" choice that shares the whole session (windows are pane ids)


@dataclass(frozen=True)
class ShareRequest:
    """What the host picked: a whole session, or the window of ``pane``."""

    session: str
    pane: str | None
    name: str


class ShareDialog(FormDialog[ShareRequest]):
    """Dismisses with a :class:`ShareRequest`."""

    BINDINGS = [
        Binding(
            "escape",
            "dismiss(None)",
            "Cancel",
            id="share-cancel",
            tooltip="Close without sharing anything",
        ),
    ]

    def __init__(self, sessions: list[Shareable], *, selected: str | None, taken: set[str]) -> None:
        super().__init__(classes="dialog")
        self.sessions = {s.session: s for s in sessions}
        self.selected = selected if selected in self.sessions else sessions[0].session
        self.taken = taken

    def compose(self) -> ComposeResult:
        what = self._choices(self.selected)
        with Vertical(id="dialog"):
            yield Label("Share a tmux session or window", classes="dialog-title")
            with Vertical(classes="field"):
                yield Label("Session", classes="field-label")
                yield Select(
                    [(s, s) for s in self.sessions],
                    value=self.selected,
                    allow_blank=False,
                    id="session",
                )
            with Vertical(classes="field"):
                yield Label("Share", classes="field-label")
                yield Select(what, value=what[0][1], allow_blank=False, id="what")
            yield Field(
                "Share name",
                Input(
                    self._suggestion(self.selected, what[0][1]),
                    id="name",
                    validators=[CoreCheck(self.check_name)],
                ),
                hint="What guests type after the host to pick this share.",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Share", id="share", variant="primary")

    def _choices(self, session: str) -> list[tuple[str, str]]:
        """The whole session first (when free), then each free window; guests of a
        window share see that window only, with its panes."""
        offer = self.sessions[session]
        whole = [("the whole session", WHOLE)] if offer.whole else []
        return whole + [(f"only window {w.index}: {w.name}", w.pane) for w in offer.windows]

    def _window(self, session: str, what: str) -> HostWindow | None:
        return next((w for w in self.sessions[session].windows if w.pane == what), None)

    def _suggestion(self, session: str, what: str) -> str:
        """The name ``pairtui share`` would pick for the same thing."""
        from pairtui.shares import suggested_name  # the core loads after the first paint

        window = self._window(session, what)
        return suggested_name(session if window is None else f"{session}-{window.index}")

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()  # Enter shares the suggested name

    def check_name(self, value: str) -> str | None:
        from pairtui.shares import validate_share_name

        validate_share_name(value.strip())
        if value.strip() in self.taken:
            raise PairtuiError(f"there is already a share named {value.strip()!r}")
        return None

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        session = self.query_one("#session", Select)
        what = self.query_one("#what", Select)
        if not isinstance(session.value, str):
            return
        if event.select is session:
            what.set_options(self._choices(session.value))  # picks the first, as compose
        if isinstance(what.value, str):
            self.query_one("#name", Input).value = self._suggestion(session.value, what.value)

    OK_ID = "share"

    def result(self) -> ShareRequest:
        session = str(self.query_one("#session", Select).value)
        what = str(self.query_one("#what", Select).value)
        window = self._window(session, what)
        pane = None if window is None else window.pane
        return ShareRequest(session, pane, self.query_one(Field).input.value.strip())
