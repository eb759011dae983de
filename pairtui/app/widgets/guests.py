"""Invited guests and their keys, from the registry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual.content import Content
from textual.message import Message

from pairtui.app import fmt
from pairtui.app.widgets.table import RecordTable
from pairtui.printable import printable

if TYPE_CHECKING:
    from pairtui.host import KeyLines
    from pairtui.registry import Guest


@dataclass(frozen=True)
class GuestRow:
    """A guest and how many of its clients are connected right now."""

    guest: Guest
    online: int = 0


class GuestsTable(RecordTable[GuestRow]):
    """Everyone holding an invitation, in registry order."""

    COLUMNS = [
        ("name", "Guest"),
        ("mode", "Mode"),
        ("share", "Share"),
        ("expires", "Expires"),
        ("keys", "Keys"),
        ("online", "Online"),
    ]

    @dataclass
    class GuestHighlighted(Message):
        """The cursor moved to another guest (``None``: no guests)."""

        table: GuestsTable
        row: GuestRow | None

        @property
        def control(self) -> GuestsTable:
            return self.table

    @dataclass
    class GuestChosen(Message):
        """Enter or a click on a guest's row: the host wants to edit it."""

        table: GuestsTable
        row: GuestRow

        @property
        def control(self) -> GuestsTable:
            return self.table

    def key_of(self, record: GuestRow) -> str:
        return record.guest.name

    def cells(self, record: GuestRow) -> dict[str, Text]:
        guest = record.guest
        expires = fmt.expiry(guest.expires, self.now)
        keys = guest.keys
        kinds = sorted({k.algorithm.removeprefix("ssh-") for k in keys})
        return {
            "name": Text(printable(guest.name), style="bold"),
            "mode": self.mode_cell(guest.mode.value),
            "share": Text(printable(guest.share or "any")),
            "expires": Text(
                expires, style=self.colour("text-error") if expires == "expired" else ""
            ),
            "keys": Text(f"{len(keys)} ({', '.join(kinds)})" if keys else "0"),
            "online": Text(str(record.online) if record.online else "·", justify="right"),
        }

    def highlighted_message(self, record: GuestRow | None) -> Message:
        return self.GuestHighlighted(self, record)

    def on_data_table_row_selected(self, event: RecordTable.RowSelected) -> None:
        event.stop()
        row = self.selected
        if row is not None:
            self.post_message(self.GuestChosen(self, row))


def guest_detail(row: GuestRow, now: float, lines: KeyLines) -> Content:
    """Keys with full fingerprints, and each key's authorized_keys line (what sshd would
    run: ``lines.in_use``).

    Key comments are the guests' own words (a file or a forge gave them): shown escaped.
    """
    guest = row.guest
    parts = [
        Content.from_markup(
            "[b]$name[/b] · $mode · share: $share · expires: $expires · $online",
            name=printable(guest.name),
            mode=guest.mode.value,
            share=printable(guest.share or "any"),
            expires=fmt.expiry(guest.expires, now),
            online=f"{row.online} connected" if row.online else "not connected",
        )
    ]
    for key, line in zip(guest.keys, lines.in_use, strict=True):
        parts.append(
            Content.from_markup(
                "[$text-muted]key[/] $algo $fp $comment\n[$pairtui-ssh]$line[/]",
                algo=key.algorithm,
                fp=key.fingerprint,
                comment=printable(key.comment),
                line=printable(line),
            )
        )
    return Content("\n").join(parts)
