"""Connected guests, live: one row per SSH session the engine holds."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.content import Content
from textual.message import Message

from pairtui.app import fmt
from pairtui.app.widgets.table import RecordTable
from pairtui.events import ClientInfo, where
from pairtui.printable import printable


class ClientsTable(RecordTable[ClientInfo]):
    """Guests connected right now, in the order they joined."""

    COLUMNS = [
        ("guest", "Guest"),
        ("peer", "From"),
        ("key", "Key"),
        ("share", "Share"),
        ("mode", "Mode"),
        ("connected", "Joined"),
        ("idle", "Idle"),
        ("size", "Size"),
    ]
    ELASTIC = "key"  # the whole fingerprint when there is room (the detail always has it)

    @dataclass
    class ClientHighlighted(Message):
        """The cursor moved to another client (``None``: the table is empty)."""

        table: ClientsTable
        client: ClientInfo | None

        @property
        def control(self) -> ClientsTable:
            return self.table

    def key_of(self, record: ClientInfo) -> str:
        return record.id

    def cells(self, record: ClientInfo) -> dict[str, Text]:
        idle_since = record.last_input or record.since
        return {
            "guest": Text(printable(record.guest), style="bold"),
            "peer": Text(
                printable(where(fmt.peer_host(record.peer), record.via))
            ),  # a relay's word
            "key": Text(fmt.fit_fingerprint(record.fingerprint, self.room)),
            "share": Text(record.share or "no terminal", style="" if record.share else "italic"),
            "mode": self.mode_cell(record.mode),
            "connected": Text(fmt.coarse(self.now - record.since), justify="right"),
            "idle": Text(fmt.coarse(self.now - idle_since), justify="right"),
            "size": Text(f"{record.cols}x{record.rows}", justify="right"),
        }

    def highlighted_message(self, record: ClientInfo | None) -> Message:
        return self.ClientHighlighted(self, record)


def client_detail(client: ClientInfo, now: float) -> Content:
    """Everything about one client, for the pane under the table (what came over the wire
    shows escaped)."""
    return Content.from_markup(
        "[b]$guest[/b] from $peer · client $id on tmux $tty (pid $pid)\n"
        "[$text-muted]key[/]   $fp\n"
        "[$text-muted]share[/] $share as [b]$mode[/b] · connected $connected · idle $idle · $size",
        guest=printable(client.guest),
        peer=printable(client.origin),
        id=printable(client.id),
        tty=printable(client.tty or "?"),
        pid=str(client.pid or "?"),
        fp=client.fingerprint,
        share=client.share or "none (connected, no terminal)",
        mode=client.mode,
        connected=fmt.duration(now - client.since),
        idle=fmt.duration(now - (client.last_input or client.since)),
        size=f"{client.cols}x{client.rows}",
    )
