"""Record a share: what its guests see, and only if the host ticks it, what pair guests
type, as ``pairtui record SHARE [--input]`` does.

Keys are off by default: what a guest types may be a password, and the file keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Label, Static

from pairtui.printable import printable


@dataclass(frozen=True)
class RecordRequest:
    """Arguments for :meth:`EngineAPI.start_recording`."""

    share: str
    keys: bool = False  # pair guests' keys too (``--input``)


class RecordDialog(ModalScreen[RecordRequest | None]):
    """Dismisses with a :class:`RecordRequest`, or ``None`` (Escape): nothing recorded.

    Enter records the screen only (the Record button has the focus); ``i`` ticks the
    keys box first.
    """

    BINDINGS = [
        Binding("escape,n", "dismiss(None)", "Cancel", id="record-cancel",
                tooltip="Close; nothing is recorded"),
        Binding("i", "toggle_input", "Keys too", id="record-input",
                tooltip="Also keep what pair guests type, with who typed it (--input)"),
        Binding("y", "record", "Record", id="record-start",
                tooltip="Start recording; the share's guests are told and see REC"),
    ]  # fmt: skip

    AUTO_FOCUS = "#record"

    def __init__(self, share: str) -> None:
        super().__init__(classes="dialog")
        self.share = share

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Record {printable(self.share)}?", classes="dialog-title", markup=False)
            yield Static(
                Content.from_markup(
                    "What a view guest of [b]$share[/b] sees is written to a file until you "
                    "stop it (R again). Its guests are told, and see REC while it lasts.",
                    share=printable(self.share),
                ),
                classes="dialog-body",
            )
            yield Checkbox("Also keep what pair guests type: --input (i)", id="record-keys")
            yield Static(
                "Kept with who typed each key, in a file beside the recording: "
                "it may hold passwords.",
                id="record-keys-hint",
                classes="field-message",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel (n)", id="cancel")
                yield Button("Record (y)", id="record", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "record":
            self.action_record()
        else:
            self.dismiss(None)

    def action_toggle_input(self) -> None:
        self.query_one("#record-keys", Checkbox).toggle()

    def action_record(self) -> None:
        self.dismiss(RecordRequest(self.share, self.query_one("#record-keys", Checkbox).value))
