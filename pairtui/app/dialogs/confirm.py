"""Yes or no before something that cannot be undone (kick, remove, unshare, quit)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from pairtui.printable import printable


class ConfirmDialog(ModalScreen[bool]):
    """Dismisses with ``True`` only on an explicit yes; Escape is always no."""

    BINDINGS = [
        Binding(
            "escape,n",
            "dismiss(False)",
            "Cancel",
            id="confirm-no",
            tooltip="Close without doing anything",
        ),
        Binding("y", "dismiss(True)", "Yes", id="confirm-yes", tooltip="Go ahead"),
    ]

    def __init__(self, title: str, body: Content, yes: str = "Yes", *, danger: bool = True) -> None:
        super().__init__(classes="dialog")
        self.title_text = title
        self.body = body
        self.yes = yes
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="-confirm"):
            yield Label(printable(self.title_text), classes="dialog-title", markup=False)
            yield Static(self.body, classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel (n)", id="no")
                yield Button(
                    f"{self.yes} (y)", id="yes", variant="error" if self.danger else "primary"
                )

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()  # the safe choice has the focus

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")
