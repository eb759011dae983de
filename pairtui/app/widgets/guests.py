"""Invited guests and their keys, from the registry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual.content import Content
from textual.message import Message

from pairtui.app import fmt
from pairtui.app.widgets.table import RecordTable
from pairtui.printable import printable

if TYPE_CHECKING:
    from pairtui.registry import Guest
    from pairtui.shares import Share


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


@dataclass(frozen=True)
class KeyLines:
    """A guest's authorized_keys lines, one per key: the registry's (``pairtui join``)
    and, once system guests are set up, the system guest's, which sshd runs for them
    (the literal tmux attach: the guest user cannot read the registry)."""

    join: tuple[str, ...]
    system: tuple[str, ...] = ()
    system_user: str | None = None  # None: system guests are not set up

    @property
    def in_use(self) -> tuple[str, ...]:
        """The lines sshd runs for this guest on this host."""
        return self.join if self.system_user is None else self.system

    def text(self) -> str:
        """For the clipboard: with system guests, both sets under ``#`` labels (comments
        to sshd), the system guest's first."""
        if self.system_user is None:
            return "\n".join(self.join)
        where = f"{self.system_user} ~/.ssh/authorized_keys (pairtui system setup)"
        return "\n".join(
            [
                f"# {where}: the tmux attach",
                *self.system,
                "# a sshd of your own, reading pairtui's registry: pairtui join",
                *self.join,
            ]
        )


def key_lines(guest: Guest, shares: Sequence[Share]) -> KeyLines:
    """Blocks for a stat (are system guests set up?) and, if they are, a read of their
    record.

    Raises:
        PairtuiError: tmux is not installed (a system guest's line names it).
    """
    from pairtui import system
    from pairtui.registry import authorized_line

    join = tuple(authorized_line(guest, key) for key in guest.keys)
    if not system.state_file().exists():
        return KeyLines(join)
    from pairtui.errors import PairtuiError
    from pairtui.system.keys_file import forced_command, key_line
    from pairtui.system.state import load_state

    try:
        state = load_state()
    except PairtuiError:
        state = None
    command = forced_command(guest, list(shares))
    return KeyLines(
        join,
        tuple(key_line(guest, key, command) for key in guest.keys),
        f"{state.user}'s" if state else "the system guest's",
    )


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
