"""Ask for one line of text, checked as it is typed (e.g. a share's new name)."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from pairtui.app.widgets.fields import CoreCheck, Field


class PromptDialog(ModalScreen[str | None]):
    """Dismisses with the text once ``check`` accepts it, or ``None`` on Escape."""

    BINDINGS = [
        Binding(
            "escape",
            "dismiss(None)",
            "Cancel",
            id="prompt-cancel",
            tooltip="Close without changing anything",
        ),
    ]

    def __init__(
        self,
        title: str,
        label: str,
        check: Callable[[str], str | None],
        *,
        value: str = "",
        placeholder: str = "",
        ok: str = "OK",
    ) -> None:
        super().__init__(classes="dialog")
        self.title_text = title
        self.label = label
        self.check = check
        self.value = value
        self.placeholder = placeholder
        self.ok = ok

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            yield Field(
                self.label,
                Input(
                    self.value,
                    placeholder=self.placeholder,
                    validators=[CoreCheck(self.check)],
                    validate_on=["changed", "submitted"],
                    id="prompt-input",
                ),
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button(self.ok, id="ok", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "ok":
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
            self.dismiss(field.input.value.strip())
