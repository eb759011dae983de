"""Someone knocks at the door: admit them (as view or pair, once or remembered) or not.

The host checks the code the guest reads out against the one shown here before
admitting: the address and the key say where the knock comes from, not who it is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Checkbox, Input, Label, Static

from pairtui.app.dialogs.form import FormDialog
from pairtui.app.widgets.fields import CoreCheck, Field
from pairtui.engine_api import KnockView
from pairtui.events import where
from pairtui.printable import printable


@dataclass(frozen=True)
class KnockAnswer:
    """The host's answer for :meth:`EngineAPI.admit_knocker` or ``deny_knocker``."""

    ident: str
    admit: bool
    mode: str = "view"
    remember: bool = False
    expires: str | None = None  # with ``remember``: until when ("7d", a date); None: never
    name: str = ""  # "" to name the guest after its key


class KnockDialog(FormDialog[KnockAnswer]):
    """Dismisses with a :class:`KnockAnswer`, or ``None`` (Escape) to answer later: the
    guest keeps waiting, and the tmux menu can still answer."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Later", id="knock-later",
                tooltip="Close; the guest keeps waiting (the tmux menu can still answer)"),
        Binding("v", "admit('view')", "Admit as view", id="knock-admit-view",
                tooltip="Let the guest in to watch only"),
        Binding("p", "admit('pair')", "Admit as pair", id="knock-admit-pair",
                tooltip="Let the guest in to type too"),
        Binding("d", "deny", "Deny", id="knock-deny",
                tooltip="Turn the guest away"),
        Binding("r", "toggle_remember", "Remember", id="knock-remember",
                tooltip="Keep the key as a guest instead of admitting it once"),
    ]  # fmt: skip

    AUTO_FOCUS = "#admit-view"  # not a field: v, p, d and r work at once

    KEY_GRACE = 1.0
    """Seconds after it opens before an answer counts: it opens unasked, over whatever
    the host was typing, and a ``p`` meant for something else must not admit a pair."""

    def __init__(self, knock: KnockView) -> None:
        super().__init__(classes="dialog")
        self.knock = knock
        self.ended = ""  # how the knock ended elsewhere, once it has
        self._mode = "view"
        self._opened = time.monotonic()

    @property
    def ready(self) -> bool:
        """Answers count from now on (see :data:`KEY_GRACE`)."""
        return time.monotonic() - self._opened >= self.KEY_GRACE

    def compose(self) -> ComposeResult:
        k = self.knock
        with Vertical(id="dialog", classes="-wide"):
            yield Label(
                f"Someone knocks: {printable(k.code)}", classes="dialog-title", markup=False
            )
            rows = [
                ("Code", f"{k.code}  (admit only if the guest reads you this one)"),
                ("From", where(k.peer, k.via)),
                ("Key", k.fingerprint),
            ]
            if k.invitation:
                rows.append(("Invitation", f"{k.invitation} (asks for {k.mode})"))
            if k.share:
                rows.append(("Share", k.share))
            body = "\n".join(f"{label:<12}{printable(value)}" for label, value in rows)
            yield Static(Content(body), id="knock-facts", classes="dialog-body")
            yield Checkbox("Remember this key as a guest (r)", id="remember")
            with Horizontal(classes="field-row"):
                yield Field(
                    "Expires",
                    Input(
                        placeholder="never",
                        id="expires",
                        disabled=True,
                        validators=[CoreCheck(self.check_expiry)],
                    ),
                    hint="With remember: 7d, a date, or never",
                )
                yield Field(
                    "Guest name",
                    Input(
                        placeholder="guest-…", id="name", validators=[CoreCheck(self.check_name)]
                    ),
                    hint="Empty: after their key",
                )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Deny (d)", id="deny", variant="error")
                yield Button("Admit as view (v)", id="admit-view", variant="primary")
                yield Button("Admit as pair (p)", id="admit-pair", variant="warning")

    def end(self, state: str) -> None:
        """The knock ended elsewhere (``admitted``, ``denied``, ``gone``): close, now or
        as soon as a screen over this one (help, the palette) closes."""
        self.ended = state
        if self.app.screen is self:
            self.dismiss(None)

    def on_screen_resume(self) -> None:
        if self.ended and self.app.screen is self:  # not its first resume, come late
            self.dismiss(None)

    # --- checks (the core's own rules) -----------------------------------------------

    @property
    def remember(self) -> bool:
        return self.query_one("#remember", Checkbox).value

    def check_expiry(self, value: str) -> str | None:
        from pairtui.registry import parse_expiry

        if parse_expiry(value) is None:
            return "never: kept until you remove it"
        return None

    def check_name(self, value: str) -> str | None:
        from pairtui.registry import validate_name

        if value.strip():
            validate_name(value.strip())
        return None

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        event.stop()
        expires = self.query_one("#expires", Input)
        expires.disabled = not event.value
        if not event.value:  # admitted once: an expiry typed before does not count
            expires.value = ""

    def action_toggle_remember(self) -> None:
        if self.ready:
            self.query_one("#remember", Checkbox).toggle()

    # --- answering --------------------------------------------------------------------

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        event.prevent_default()  # not FormDialog's: three answers, not OK and Cancel
        if event.button.id == "deny":
            self.action_deny()
        elif event.button.id in ("admit-view", "admit-pair"):
            self.action_admit(event.button.id.removeprefix("admit-"))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in a field admits no one: it moves on to the admit buttons."""
        event.stop()
        event.prevent_default()  # not FormDialog's submit
        self.query_one("#admit-view", Button).focus()

    def action_admit(self, mode: str) -> None:
        if not self.ready:
            return
        self._mode = mode
        self.action_submit()

    def action_deny(self) -> None:
        if self.ready:
            self.dismiss(KnockAnswer(self.knock.id, admit=False))

    def result(self) -> KnockAnswer:
        remember = self.remember
        expires = self.query_one("#expires", Input).value.strip()
        return KnockAnswer(
            self.knock.id,
            admit=True,
            mode=self._mode,
            remember=remember,
            expires=(expires or None) if remember else None,
            name=self.query_one("#name", Input).value.strip(),
        )
