"""Plain tables for people: a header row, then columns aligned by two spaces (as ``ps``
and ``tmux ls`` read); scripts take ``--json`` instead."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from pairtui.printable import printable


def width(text: str) -> int:
    """Terminal columns ``text`` takes: wide (CJK, emoji) characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in {"W", "F"} else 1 for ch in text)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """The lines of the table; every cell is escaped (names and peers may be a guest's)."""
    cells = [list(header), *([printable(c) for c in row] for row in rows)]
    widths = [max(width(row[i]) for row in cells) for i in range(len(header))]
    return [
        "  ".join(c + " " * (w - width(c)) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]
