"""Ask for one line of text, checked as it is typed (e.g. a share's new name)."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label

from pairtui.app.dialogs.form import FormDialog
from pairtui.app.widgets.fields import CoreCheck, Field


class PromptDialog(FormDialog[str]):
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

    def result(self) -> str:
        return self.query_one(Field).input.value.strip()
