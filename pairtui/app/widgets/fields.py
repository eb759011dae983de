"""Form fields that validate as you type with the core's own checks."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.validation import ValidationResult, Validator
from textual.widgets import Input, Label, Static

from pairtui.errors import PairtuiError
from pairtui.printable import printable


class CoreCheck(Validator):
    """Wraps a core check that raises :class:`PairtuiError`; its message is the error shown.

    The check may also return a string: a hint that is not an error.
    """

    def __init__(self, check: Callable[[str], str | None]) -> None:
        super().__init__()
        self.check = check
        self.hint: str | None = None

    def validate(self, value: str) -> ValidationResult:
        try:
            self.hint = self.check(value)
        except PairtuiError as exc:
            self.hint = None
            return self.failure(str(exc))
        return self.success()


class Field(Vertical):
    """A label, an input, and under it the error (or hint) for what was typed."""

    def __init__(
        self,
        label: str,
        input: Input,
        *,
        hint: str = "",
        id: str | None = None,
    ) -> None:
        super().__init__(id=id, classes="field")
        self.label = label
        self.input = input
        self.default_hint = hint

    def compose(self) -> ComposeResult:
        yield Label(self.label, classes="field-label")
        yield self.input
        yield Static(self.default_hint, classes="field-message")

    @property
    def error(self) -> str | None:
        """The first failure of the input's validators for its current value."""
        result = self.input.validate(self.input.value)
        if result is None or result.is_valid:
            return None
        return result.failure_descriptions[0] if result.failure_descriptions else "invalid"

    def show(self, error: str | None) -> None:
        message = self.query_one(".field-message", Static)
        hints = [v.hint for v in self.input.validators if isinstance(v, CoreCheck) and v.hint]
        # Plain text: a message may quote what was typed or pasted (a key, a path).
        message.update(Content(printable(error or (hints[0] if hints else self.default_hint))))
        message.set_class(error is not None, "-error")
        self.input.set_class(error is not None, "-invalid")

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.show(self.error if event.value else None)


def check_share_name(value: str, shares: list[str]) -> str | None:
    """A share field's check (a CoreCheck's): empty is any share; a name is checked
    as the core checks it, and one not shared yet is said, not refused."""
    from pairtui.shares import validate_share_name

    name = value.strip()
    if name:
        validate_share_name(name)
        if name not in shares:
            return f"no share {name!r} yet"
    return None
