"""Change a guest's mode, expiry or share restriction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Select

from pairtui.app import fmt
from pairtui.app.dialogs.form import FormDialog
from pairtui.app.widgets.fields import CoreCheck, Field

if TYPE_CHECKING:
    from pairtui.registry import Guest


@dataclass(frozen=True)
class GuestEdit:
    """Arguments for :meth:`Registry.update`; ``expires=False`` keeps the expiry."""

    name: str
    mode: str
    share: str
    expires: datetime | bool | None = False


class EditGuestDialog(FormDialog[GuestEdit]):
    """Leave Expires empty to keep it; ``never`` clears it."""

    BINDINGS = [
        Binding(
            "escape",
            "dismiss(None)",
            "Cancel",
            id="edit-guest-cancel",
            tooltip="Close without changing the guest",
        ),
        Binding(
            "ctrl+s",
            "submit",
            "Save",
            id="edit-guest-submit",
            tooltip="Save the changes (Enter in a field does too)",
        ),
    ]

    def __init__(self, guest: Guest, *, shares: list[str], now: float) -> None:
        super().__init__(classes="dialog")
        self.guest = guest
        self.shares = shares
        self.now = now

    def compose(self) -> ComposeResult:
        guest = self.guest
        with Vertical(id="dialog"):
            yield Label(f"Edit {guest.name}", classes="dialog-title", markup=False)
            with Vertical(classes="field"):
                yield Label("Mode", classes="field-label")
                yield Select(
                    [("view: watches only", "view"), ("pair: can type", "pair")],
                    value=guest.mode.value,
                    allow_blank=False,
                    id="mode",
                )
            yield Field(
                "Expires",
                Input(
                    placeholder=f"keep: {fmt.expiry(guest.expires, self.now)}",
                    id="expires",
                    validators=[CoreCheck(self.check_expiry)],
                ),
                hint="Empty: keep it; or never, 30m, 2h, 7d, 2026-12-01T10:00",
            )
            yield Field(
                "Share",
                Input(
                    guest.share or "",
                    placeholder="any",
                    id="share",
                    validators=[CoreCheck(self.check_share)],
                    suggester=SuggestFromList(self.shares, case_sensitive=True),
                ),
                hint="Only this share (empty: any share)",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Save", id="save", variant="primary")

    def check_expiry(self, value: str) -> str | None:
        from pairtui.registry import parse_expiry

        if value.strip():
            parse_expiry(value)
        return None

    def check_share(self, value: str) -> str | None:
        from pairtui.shares import validate_share_name

        if value.strip():
            validate_share_name(value.strip())
        return None

    OK_ID = "save"

    def result(self) -> GuestEdit:
        from pairtui.registry import parse_expiry

        text = self.query_one("#expires", Input).value.strip()
        return GuestEdit(
            name=self.guest.name,
            mode=str(self.query_one("#mode", Select).value),
            share=self.query_one("#share", Input).value.strip(),
            expires=parse_expiry(text) if text else False,
        )
