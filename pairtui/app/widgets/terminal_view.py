"""A recorded terminal, drawn in the dashboard: bytes in, pyte's screen out, as cells
with their colours and attributes.

pyte emulates the terminal (the recording is what a guest's terminal got); this widget
only draws pyte's buffer. A recording larger than the room it gets is cropped, not
squeezed (text does not scale): the view scrolls to the rest, and :attr:`cropped`
says so, for the screen to tell the host.

Recorded output is the guests' and the host's programs' bytes: pyte acts on the
control sequences, and a character it leaves in a cell that a terminal would act on
(a C0 or C1 control, a bidi override) is drawn as ``�``, never sent to the host's
terminal.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Any

import pyte
from rich.color import Color, ColorParseError
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from pairtui.printable import HIDDEN
from pairtui.recording.replay import MAX_COLUMNS, MAX_ROWS

REPLACEMENT = "\N{REPLACEMENT CHARACTER}"


class _Screen(pyte.Screen):
    """pyte's screen, plus xterm's window resize (``CSI 8 ; rows ; cols t``), which is
    how a replay's resizes reach it (:mod:`pairtui.recording.replay`)."""

    def window_op(self, *params: int, **kwargs: Any) -> None:
        if len(params) == 3 and params[0] == 8:
            rows, cols = params[1] or self.lines, params[2] or self.columns
            self.resize(min(rows, MAX_ROWS), min(cols, MAX_COLUMNS))


class _Stream(pyte.Stream):
    csi = {**pyte.Stream.csi, "t": "window_op"}


@lru_cache(maxsize=512)
def colour(name: str) -> Color | None:
    """A pyte colour as Rich's: ``default`` is the widget's own (the theme's); names
    (``red``, ``brightbrown``) are the terminal's sixteen; six hex digits are RGB."""
    if name == "default":
        return None
    if len(name) == 6:
        try:
            int(name, 16)
        except ValueError:
            pass
        else:
            return Color.parse(f"#{name}")
    bright = name.startswith("bright")
    base = name.removeprefix("bright")
    base = "yellow" if base == "brown" else base  # pyte's name for ANSI 33
    try:
        return Color.parse(f"bright_{base}" if bright else base)
    except ColorParseError:
        return None


@lru_cache(maxsize=1024)
def cell_style(
    fg: str, bg: str, bold: bool, italics: bool, underscore: bool, strike: bool, reverse: bool
) -> Style:
    return Style(
        color=colour(fg),
        bgcolor=colour(bg),
        bold=bold or None,
        italic=italics or None,
        underline=underscore or None,
        strike=strike or None,
        reverse=reverse or None,
    )


def shown(data: str) -> str:
    """A cell's text as it may reach the host's terminal."""
    if data.isprintable():
        return data
    kept = "".join(ch for ch in data if unicodedata.category(ch) not in HIDDEN)
    return kept if kept and unicodedata.category(kept[0]) not in ("Mn", "Me") else REPLACEMENT


class TerminalView(ScrollView, can_focus=False):
    """The recorded screen at its recorded size; scrolls when it does not fit."""

    def __init__(self, columns: int, rows: int, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.term = _Screen(min(max(1, columns), MAX_COLUMNS), min(max(1, rows), MAX_ROWS))
        self._stream = _Stream(self.term)
        self._rows: dict[int, Strip] = {}  # drawn rows, until pyte marks them dirty
        self._cursor: tuple[int, int, bool] = (0, 0, False)
        self.virtual_size = Size(self.term.columns, self.term.lines)

    @property
    def columns(self) -> int:
        return int(self.term.columns)

    @property
    def lines(self) -> int:
        return int(self.term.lines)

    @property
    def cropped(self) -> bool:
        """Part of the recorded screen is out of view."""
        room = self.scrollable_content_region.size
        return self.columns > room.width or self.lines > room.height

    def feed(self, data: bytes) -> None:
        """Play bytes of the recording into the screen (what a player wrote)."""
        if not data:
            return
        size = (self.columns, self.lines)
        self._stream.feed(data.decode("utf-8", "replace"))
        if (self.columns, self.lines) != size:
            self._rows.clear()
            self.virtual_size = Size(self.columns, self.lines)
        cursor = self.term.cursor
        now = (int(cursor.x), int(cursor.y), bool(cursor.hidden))
        dirty = set(self.term.dirty) | {self._cursor[1], now[1]}
        self.term.dirty.clear()
        self._cursor = now
        for y in dirty:
            self._rows.pop(y, None)
        self.refresh()

    def text(self) -> list[str]:
        """The screen's rows as text (trailing spaces kept), as the cells show them."""
        return ["".join(seg.text for seg in self._row(y)) for y in range(self.lines)]

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._rows.clear()  # the default colours are the widget's (the theme changed)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        row = y + scroll_y
        if row >= self.lines:
            return Strip.blank(width, self.rich_style)
        return self._row(row).crop_extend(scroll_x, scroll_x + width, self.rich_style)

    def _row(self, y: int) -> Strip:
        strip = self._rows.get(y)
        if strip is not None:
            return strip
        base = self.rich_style
        line = self.term.buffer[y]
        cursor_x, cursor_y, hidden = self._cursor
        segments: list[Segment] = []
        text: list[str] = []
        style: Style | None = None
        wide = False
        for x in range(self.columns):
            char = line[x]
            if wide and not char.data:
                wide = False
                continue  # the second half of a wide character
            data = shown(char.data) if char.data else " "
            wide = Segment(data).cell_length > 1
            reverse = bool(char.reverse) ^ (x == cursor_x and y == cursor_y and not hidden)
            cell = base + cell_style(
                char.fg,
                char.bg,
                char.bold,
                char.italics,
                char.underscore,
                char.strikethrough,
                reverse,
            )
            if cell != style and text:
                segments.append(Segment("".join(text), style))
                text = []
            style = cell
            text.append(data)
        if text:
            segments.append(Segment("".join(text), style))
        strip = Strip(segments).adjust_cell_length(self.columns, base)
        self._rows[y] = strip
        return strip
