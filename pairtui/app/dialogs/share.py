"""Share one of the host's tmux sessions under a name guests can ask for."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from pairtui.app.widgets.fields import CoreCheck, Field
from pairtui.errors import PairtuiError


def suggested_name(session: str) -> str:
    """The name ``pairtui share`` would pick for a session."""
    from pairtui.shares import _sanitize  # TODO(core): make it public in pairtui/shares.py

    return _sanitize(session)


class ShareDialog(ModalScreen[tuple[str, str] | None]):
    """Dismisses with ``(session, share name)``."""

    BINDINGS = [
        Binding(
            "escape",
            "dismiss(None)",
            "Cancel",
            id="share-cancel",
            tooltip="Close without sharing anything",
        ),
    ]

    def __init__(self, sessions: list[str], *, selected: str | None, taken: set[str]) -> None:
        super().__init__(classes="dialog")
        self.sessions = sessions
        self.selected = selected if selected in sessions else sessions[0]
        self.taken = taken

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Share a tmux session", classes="dialog-title")
            with Vertical(classes="field"):
                yield Label("Session", classes="field-label")
                yield Select(
                    [(s, s) for s in self.sessions],
                    value=self.selected,
                    allow_blank=False,
                    id="session",
                )
            yield Field(
                "Share name",
                Input(
                    suggested_name(self.selected),
                    id="name",
                    validators=[CoreCheck(self.check_name)],
                ),
                hint="What guests type after the host to pick this share.",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Share", id="share", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()  # Enter shares the suggested name

    def check_name(self, value: str) -> str | None:
        from pairtui.shares import validate_share_name

        validate_share_name(value.strip())
        if value.strip() in self.taken:
            raise PairtuiError(f"there is already a share named {value.strip()!r}")
        return None

    def on_select_changed(self, event: Select.Changed) -> None:
        name = self.query_one("#name", Input)
        if event.value != Select.BLANK:
            name.value = suggested_name(str(event.value))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "share":
            self.submit()
        else:
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.submit()

    def submit(self) -> None:
        field = self.query_one(Field)
        error = field.error
        field.show(error)
        if error is None:
            session = str(self.query_one("#session", Select).value)
            self.dismiss((session, field.input.value.strip()))
