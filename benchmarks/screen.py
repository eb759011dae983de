"""A terminal emulator (pyte) that understands what tmux sends to an xterm.

pyte 0.8 ignores ``CSI n S`` / ``CSI n T`` (scroll up/down), which tmux uses to scroll
several lines at once when the terminal's terminfo has ``indn``; without them the
replayed screen lags behind the real one.
"""

from __future__ import annotations

from typing import Any

import pyte


class Screen(pyte.Screen):
    def scroll_up(self, count: int = 1, *args: Any, **kwargs: Any) -> None:
        bottom = (self.margins or pyte.screens.Margins(0, self.lines - 1)).bottom
        saved = self.cursor.y
        self.cursor.y = bottom
        for _ in range(max(count, 1)):
            self.index()
        self.cursor.y = saved

    def scroll_down(self, count: int = 1, *args: Any, **kwargs: Any) -> None:
        top = (self.margins or pyte.screens.Margins(0, self.lines - 1)).top
        saved = self.cursor.y
        self.cursor.y = top
        for _ in range(max(count, 1)):
            self.reverse_index()
        self.cursor.y = saved


class Stream(pyte.ByteStream):
    csi = {**pyte.ByteStream.csi, "S": "scroll_up", "T": "scroll_down"}


def terminal(cols: int, rows: int) -> tuple[Screen, Stream]:
    screen = Screen(cols, rows)
    return screen, Stream(screen)


def rows_of(screen: Screen, count: int) -> list[str]:
    """The first ``count`` rows as text, trailing blanks removed."""
    return [str(line).rstrip() for line in screen.display[:count]]
