"""A recording's timeline, under its screen: where the player is, who joined, left or
changed mode when, and (``--input`` recordings) who typed when.

::

    paused 0:40 / 1:03 · 1x · bob left
     0:40 ━━━━━━━━━━━━━━━━━━━━━━━━━━━●───────────────── 1:03
    marks   A     B          b   A
    alice   ▂▅ █    ▂
    bob         ▂▂

A mark is the guest's initial: capital where they joined, small where they left,
``~`` where their mode changed, ``◆`` for anything else (why the recording stopped);
``+`` where several share a column. Names and marker texts are the guests' words:
escaped, and drawn as text, never markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from pairtui.printable import printable
from pairtui.recording.player import clock
from pairtui.recording.replay import Mark, Typing

GUTTER_MAX = 12  # the widest a guest's name may take on the left
LEVELS = "▂▃▅▆█"  # more keys in one column, a taller mark
KIND_STYLE = {
    "join": "bold $text-success",
    "leave": "bold $text-error",
    "mode": "bold $text-warning",
    "note": "$text-muted",
}


@dataclass(frozen=True)
class Position:
    """What the player says now: drawn as the status line and the bar."""

    state: str = "paused"  # "playing", "paused" or "ended"
    at: float = 0.0
    duration: float = 0.0
    speed: float = 1.0
    marker: str = ""  # the last marker passed


def symbol(mark: Mark) -> str:
    """One cell for a mark: the guest's initial (capital: joined, small: left), ``~``
    for a mode change, ``◆`` for a note."""
    if mark.kind == "mode":
        return "~"
    initial = printable(mark.guest)[:1]
    if mark.kind == "note" or not initial or cell_len(initial) != 1:
        return "◆" if mark.kind == "note" else "•"
    return initial.upper() if mark.kind == "join" else initial.lower()


def column(at: float, duration: float, width: int) -> int:
    if width <= 1 or duration <= 0:
        return 0
    return min(width - 1, max(0, round(at / duration * (width - 1))))


def fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` cells, with ``…`` when cut."""
    if cell_len(text) <= width:
        return text
    out = ""
    for ch in text:
        if cell_len(out + ch) > width - 1:
            break
        out += ch
    return out + "…"


class Timeline(Widget):
    """The bar, the marks and the typing lanes; as tall as it has lanes."""

    position: reactive[Position] = reactive(Position, layout=False)

    def __init__(
        self, marks: Sequence[Mark], typing: Sequence[Typing], input_recorded: bool,
        *, id: str | None = None,
    ) -> None:  # fmt: skip
        super().__init__(id=id)
        self.marks = tuple(marks)
        self.typing = tuple(typing)
        self.input_recorded = input_recorded
        names = [printable(t.guest) for t in self.typing]
        self.label_width = min(GUTTER_MAX, max([5, *(cell_len(n) for n in names)]))

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        lanes = len(self.typing) or (1 if self.input_recorded else 0)
        return 3 + lanes

    def render(self) -> Content:
        pos = self.position
        width = self.content_region.width or self.size.width
        g = self.label_width
        end = clock(pos.duration)
        bar_width = max(4, width - g - 2 - len(end))
        lines = [self._status(pos, width), self._bar(pos, bar_width, end),
                 self._marks(pos, bar_width)]  # fmt: skip
        lines += [self._lane(lane, pos.duration, bar_width) for lane in self.typing]
        if self.input_recorded and not self.typing:
            lines.append(Content.assemble(("typed".ljust(g + 1), "$text-muted"),
                                          ("nobody typed", "$text-muted italic")))  # fmt: skip
        return Content("\n").join(lines)

    def _status(self, pos: Position, width: int) -> Content:
        icon = {"playing": "▶", "paused": "⏸", "ended": "■"}.get(pos.state, " ")
        speed = f"{pos.speed:g}x"
        parts: list[tuple[str, str] | str] = [
            (f"{icon} {pos.state} ", "bold"),
            f"{clock(pos.at)} / {clock(pos.duration)} · ",
            (speed, "bold $accent" if pos.speed != 1 else ""),
        ]
        if pos.marker:
            parts += [" · ", (printable(pos.marker), "$text-muted")]
        return Content.assemble(*parts).truncate(width, ellipsis=True)

    def _bar(self, pos: Position, width: int, end: str) -> Content:
        head = column(pos.at, pos.duration, width)
        return Content.assemble(
            clock(pos.at).rjust(self.label_width) + " ",
            ("━" * head, "$accent"),
            ("●", "bold $accent"),
            ("─" * (width - head - 1), "$text-muted"),
            " " + end,
        )

    def _marks(self, pos: Position, width: int) -> Content:
        cells: dict[int, Mark | None] = {}  # None: several marks share the column
        for mark in self.marks:
            col = column(mark.at, pos.duration, width)
            cells[col] = mark if col not in cells else None
        parts: list[tuple[str, str] | str] = [("marks".ljust(self.label_width + 1), "$text-muted")]
        for col in range(width):
            if col not in cells:
                parts.append(" ")
                continue
            only = cells[col]
            if only is None:
                parts.append(("+", "bold"))
            else:
                parts.append((symbol(only), KIND_STYLE[only.kind]))
        return Content.assemble(*parts)

    def _lane(self, lane: Typing, duration: float, width: int) -> Content:
        counts = [0] * width
        for at in lane.times:
            counts[column(at, duration, width)] += 1
        top = max(counts) or 1
        marks = "".join(
            LEVELS[min(len(LEVELS) - 1, (n * len(LEVELS) - 1) // top)] if n else " " for n in counts
        )
        name = fit(printable(lane.guest), self.label_width)
        name += " " * (self.label_width - cell_len(name))
        return Content.assemble((name + " ", "bold"), (marks, "$pairtui-pair"))
