"""Pick a tunnel to bring up or down; shows each tunnel's state as the engine has it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option


class TunnelDialog(ModalScreen[str | None]):
    """Dismisses with the chosen tunnel's name, or ``None``."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel", id="tunnel-cancel",
                tooltip="Close without changing any tunnel"),
    ]  # fmt: skip

    def __init__(self, tunnels: list[tuple[str, bool, str]]) -> None:
        """``tunnels``: (name, enabled, state in words)."""
        super().__init__(classes="dialog")
        self.tunnels = tunnels

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Tunnels: Enter brings one up or down", classes="dialog-title")
            yield OptionList(
                *(
                    Option(f"{name}  ({'bring down' if on else 'bring up'})  {state}", id=name)
                    for name, on, state in self.tunnels
                ),
                id="tunnel-list",
            )
            yield Static("Escape closes", classes="dialog-body")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)
