"""The one way a form dialog submits: its OK button, Enter in any field or its submit
key all check every field, show each field's error, focus the first bad one, and only
then dismiss with what the dialog builds; Cancel and Escape dismiss with ``None``."""

from __future__ import annotations

from typing import ClassVar, Generic, TypeVar

from textual.screen import ModalScreen
from textual.widgets import Button, Input

from pairtui.app.widgets.fields import Field

T = TypeVar("T")


class FormDialog(ModalScreen[T | None], Generic[T]):
    """Subclasses name their OK button (``OK_ID``) and build their answer in
    :meth:`result`; :meth:`problem` may refuse what each field accepts on its own."""

    OK_ID: ClassVar[str] = "ok"

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == self.OK_ID:
            self.action_submit()
        else:
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def action_submit(self) -> None:
        first_bad: Field | None = None
        for field in self.query(Field):
            error = field.error or self.problem(field)
            field.show(error)
            if error and first_bad is None:
                first_bad = field
        if first_bad is not None:
            first_bad.input.focus()
            return
        self.accepted()

    def problem(self, field: Field) -> str | None:
        """Why ``field`` cannot be submitted beyond its own check (e.g. it is required)."""
        return None

    def accepted(self) -> None:
        """Every field is fine: dismiss with the answer (a subclass may do more first)."""
        self.dismiss(self.result())

    def result(self) -> T:
        raise NotImplementedError
