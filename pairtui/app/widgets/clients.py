"""Connected guests, live: one row per SSH session the engine holds; and under them the
guests waiting at the door, one row per knock."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.content import Content
from textual.message import Message

from pairtui.app import fmt
from pairtui.app.widgets.table import RecordTable
from pairtui.engine_api import KnockView
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


class KnocksTable(RecordTable[KnockView]):
    """Guests whose keys are not registered, waiting at the door for the host's answer,
    oldest first: a knock put off with Escape stays here until it is answered, given up
    or timed out."""

    COLUMNS = [
        ("code", "Code"),
        ("peer", "From"),
        ("key", "Key"),
        ("asks", "Asks"),
        ("waiting", "Waiting"),
    ]
    ELASTIC = "key"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Waiting at the door"

    @dataclass
    class KnockHighlighted(Message):
        """The cursor moved to another knock (``None``: nobody waits)."""

        table: KnocksTable
        knock: KnockView | None

        @property
        def control(self) -> KnocksTable:
            return self.table

    def key_of(self, record: KnockView) -> str:
        return record.id

    def cells(self, record: KnockView) -> dict[str, Text]:
        return {
            "code": Text(printable(record.code), style="bold"),
            "peer": Text(printable(where(fmt.peer_host(record.peer), record.via))),
            "key": Text(printable(fmt.fit_fingerprint(record.fingerprint, self.room))),
            "asks": Text(asks(record)),
            # Seconds count here: a knock waits two minutes at most.
            "waiting": Text(fmt.duration(self.now - record.since), justify="right"),
        }

    def highlighted_message(self, record: KnockView | None) -> Message:
        return self.KnockHighlighted(self, record)


def asks(knock: KnockView) -> str:
    """``view``, ``pair · inv a1b2c3``, ``view · main``: what admitting it gives by
    default (an invitation's mode, else view) and where (escaped)."""
    parts = [knock.mode]
    if knock.share:
        parts.append(knock.share)
    if knock.invitation:
        parts.append(f"inv {knock.invitation}")
    return printable(" · ".join(parts))


def knock_detail(knock: KnockView, now: float) -> Content:
    """Everything about one knock, for the pane under the tables (all of it escaped: the
    address and the invitation came over the wire or from a relay)."""
    return Content.from_markup(
        "[b]$code[/b] from $peer · waiting $waiting\n"
        "[$text-muted]key[/]   $fp\n"
        "[$text-muted]asks[/]  $asks · [b]a[/b] answers: admit only if they read you this code",
        code=printable(knock.code),
        peer=printable(where(knock.peer, knock.via)),
        waiting=fmt.duration(now - knock.since),
        asks=asks(knock),
        fp=printable(knock.fingerprint),
    )
