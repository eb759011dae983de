"""A new invitation's ssh strings and the host key, shown this once: only the token's hash
is kept, so nothing can show them again. Copy takes the highlighted string."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Label, OptionList, Static
from textual.widgets.option_list import Option

from pairtui.app.widgets.invitations import invitation_about

if TYPE_CHECKING:
    from pairtui.invitations import Invitation


class InvitationMadeDialog(ModalScreen[None]):
    """Stays open until the host closes it, however often they copy."""

    BINDINGS = [
        Binding("c", "copy", "Copy", id="invitation-copy",
                tooltip="Copy the highlighted ssh string (tmux buffer and clipboard)"),
        Binding("escape", "dismiss(None)", "Done", id="invitation-done",
                tooltip="Close: the ssh string cannot be shown again"),
    ]  # fmt: skip

    def __init__(
        self,
        invitation: Invitation,
        strings: list[str],
        *,
        fingerprint: str,
        now: float,
        copy: Callable[[str, str], None],
        server_up: bool = True,
    ) -> None:
        super().__init__(classes="dialog")
        self.invitation = invitation
        self.strings = strings
        self.fingerprint = fingerprint
        self.now = now
        self.copy = copy
        self.server_up = server_up

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="-wide"):
            yield Label(
                f"Invitation {self.invitation.id}: send one line, shown only this once",
                classes="dialog-title",
                markup=False,
            )
            yield Static(invitation_about(self.invitation, self.now), classes="dialog-body")
            yield OptionList(
                *(Option(Content.styled(cmd, "$pairtui-ssh bold"), id=cmd) for cmd in self.strings),
                id="invitation-strings",
            )
            lines = [
                Content.from_markup("[$text-muted]Host key[/]  $fp", fp=self.fingerprint or "…"),
                Content.from_markup(
                    "[$text-muted]Whoever logs in with it, with any key, becomes a guest.[/]"
                ),
            ]
            if not self.server_up:
                lines.append(
                    Content.from_markup(
                        "[$text-error]The server is not running: the line works once it is.[/]"
                    )
                )
            yield Static(Content("\n").join(lines), classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Done (esc)", id="done")
                yield Button("Copy (c)", id="copy", variant="primary")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def action_copy(self) -> None:
        strings = self.query_one(OptionList)
        index = strings.highlighted if strings.highlighted is not None else 0
        if self.strings:
            self.copy(self.strings[index], f"the ssh string of invitation {self.invitation.id}")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()  # Enter on a string copies it
        self.action_copy()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "copy":
            self.action_copy()
        else:
            self.dismiss(None)
