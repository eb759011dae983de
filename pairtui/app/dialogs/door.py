"""Open the door: for how long (10m unless the host says) and for which share, so that
guests whose keys the host does not have may knock, as ``pairtui door open`` does."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Static

from pairtui.app import fmt
from pairtui.app.dialogs.form import FormDialog
from pairtui.app.widgets.fields import CoreCheck, Field, check_share_name
from pairtui.door import DEFAULT_OPEN, open_for


@dataclass(frozen=True)
class DoorRequest:
    """Arguments for :meth:`EngineAPI.open_door`."""

    seconds: float
    share: str  # "" for any share


class DoorDialog(FormDialog[DoorRequest]):
    """Dismisses with a :class:`DoorRequest`, or ``None`` (Escape): the door stays shut.

    Enter alone opens it for ten minutes to any share. The time is read against the
    dashboard's clock, as the answer says when it closes.
    """

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel", id="door-cancel",
                tooltip="Close; the door stays shut"),
        Binding("ctrl+s", "submit", "Open", id="door-submit",
                tooltip="Open the door (Enter in any field does too)"),
    ]  # fmt: skip

    OK_ID = "open"

    def __init__(self, *, shares: list[str], now: float) -> None:
        super().__init__(classes="dialog")
        self.shares = shares
        self.now = now

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Open the door", classes="dialog-title")
            yield Static(
                Content.from_markup(
                    "While it is open, a guest whose key you do not have may knock "
                    "instead of being refused; you admit or deny each one here, once "
                    "they read you their code. It closes by itself."
                ),
                classes="dialog-body",
            )
            with Horizontal(classes="field-row"):
                yield Field(
                    "Open for",
                    Input(DEFAULT_OPEN, id="door-for", validators=[CoreCheck(self.check_for)]),
                    hint="10m, 1h: at most 24h",
                )
                yield Field(
                    "Share",
                    Input(
                        placeholder="any",
                        id="door-share",
                        validators=[CoreCheck(self.check_share)],
                        suggester=SuggestFromList(self.shares, case_sensitive=True),
                    ),
                    hint="Admitted guests join it (empty: any)",
                )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Open", id="open", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#door-for", Input).focus()  # Enter takes every default

    # --- checks (the core's own rules) -----------------------------------------------

    def check_for(self, value: str) -> str | None:
        return f"open for {fmt.duration(open_for(value, now=self.now))}"

    def check_share(self, value: str) -> str | None:
        return check_share_name(value, self.shares)

    # --- submitting -------------------------------------------------------------------

    def result(self) -> DoorRequest:
        text = self.query_one("#door-for", Input).value
        share = self.query_one("#door-share", Input).value.strip()
        return DoorRequest(open_for(text, now=self.now), share)
