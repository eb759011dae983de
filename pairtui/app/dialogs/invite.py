"""Make an invitation: mode, share, expiry, uses, the guest's name and how it is admitted,
each with a default, so Enter alone makes a view invitation for one key, open for an hour,
that lets its guest in at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Select

from pairtui.app import fmt
from pairtui.app.dialogs.form import FormDialog
from pairtui.app.widgets.fields import CoreCheck, Field, check_share_name
from pairtui.errors import PairtuiError

DEFAULT_EXPIRES = "1h"


@dataclass(frozen=True)
class InviteDraft:
    """Arguments for :meth:`Host.invite`, the expiry resolved against the dashboard's clock."""

    mode: str
    share: str  # "" for any share
    expires: datetime | None  # None: never
    uses: int
    name: str  # "" to name the guest after its key
    admit: str = "auto"  # "ask": its guest knocks and the host admits it (pairtui.door)


class InviteDialog(FormDialog[InviteDraft]):
    """Dismisses with an :class:`InviteDraft`; the token is made only after it closes."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel", id="invite-cancel",
                tooltip="Close without making an invitation"),
        Binding("ctrl+s", "submit", "Invite", id="invite-submit",
                tooltip="Make the invitation (Enter in any field does too)"),
    ]  # fmt: skip

    def __init__(self, *, shares: list[str], now: float) -> None:
        super().__init__(classes="dialog")
        self.shares = shares
        self.now = now

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="-wide"):
            yield Label("Invite with a line, not a key", classes="dialog-title")
            with Horizontal(classes="field-row"):
                with Vertical(classes="field"):
                    yield Label("Mode", classes="field-label")
                    yield Select(
                        [("view: watches only", "view"), ("pair: can type", "pair")],
                        value="view",
                        allow_blank=False,
                        id="mode",
                    )
                yield Field(
                    "Share",
                    Input(
                        placeholder="any",
                        id="share",
                        validators=[CoreCheck(self.check_share)],
                        suggester=SuggestFromList(self.shares, case_sensitive=True),
                    ),
                    hint="Only this share (empty: any)",
                )
            with Horizontal(classes="field-row"):
                yield Field(
                    "Expires",
                    Input(DEFAULT_EXPIRES, id="expires", validators=[CoreCheck(self.check_expiry)]),
                    hint="30m, 2h, 7d, a time, or never",
                )
                yield Field(
                    "Uses",
                    Input("1", id="uses", validators=[CoreCheck(self.check_uses)]),
                    hint="How many keys it lets in",
                )
            with Horizontal(classes="field-row"):
                yield Field(
                    "Guest name",
                    Input(placeholder="guest-…", id="name",
                          validators=[CoreCheck(self.check_name)]),
                    hint="Empty: guest- and their key's start",
                )  # fmt: skip
                with Vertical(classes="field"):
                    yield Label("Admit", classes="field-label")
                    yield Select(
                        [("at once: any key", "auto"), ("I admit each: knock", "ask")],
                        value="auto",
                        allow_blank=False,
                        id="admit",
                    )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Invite", id="invite", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#expires", Input).focus()  # Enter takes every default

    # --- checks (the core's own rules) -----------------------------------------------

    def _expires(self, value: str) -> datetime | None:
        from pairtui.registry import parse_expiry

        return parse_expiry(value, now=datetime.fromtimestamp(self.now, UTC))

    def check_expiry(self, value: str) -> str | None:
        when = self._expires(value)
        if when is None:
            return "never: open until used or withdrawn"
        return f"open for {fmt.duration(when.timestamp() - self.now)}"

    def check_uses(self, value: str) -> str | None:
        try:
            uses = int(value.strip())
        except ValueError:
            raise PairtuiError("a whole number, 1 or more") from None
        if uses < 1:
            raise PairtuiError("1 or more")
        return None

    def check_share(self, value: str) -> str | None:
        return check_share_name(value, self.shares)

    def check_name(self, value: str) -> str | None:
        from pairtui.registry import validate_name

        if value.strip():
            validate_name(value.strip())
        return None

    # --- submitting -------------------------------------------------------------------

    OK_ID = "invite"

    def result(self) -> InviteDraft:
        def text(selector: str) -> str:
            return self.query_one(selector, Input).value.strip()

        return InviteDraft(
            mode=str(self.query_one("#mode", Select).value),
            share=text("#share"),
            expires=self._expires(text("#expires")),
            uses=int(text("#uses")),
            name=text("#name"),
            admit=str(self.query_one("#admit", Select).value),
        )
