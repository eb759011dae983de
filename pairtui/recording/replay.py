"""A recording as the dashboard's player needs it: the cues to play, the markers as
events on a timeline (who joined, left or changed mode), and who typed when.

Pure and terminal-free, like :class:`~pairtui.recording.player.Player`, which times
the cues. Two things the terminal player does not need:

- Resizes play as cues too: a ``"r"`` event becomes the xterm sequence that resizes a
  terminal (``CSI 8 ; rows ; cols t``), and the first cue sets the header's size, so a
  replay after a seek back starts at the size the recording started at and a terminal
  emulator that honours the sequence follows every resize in order with the output.
- The keys sidecar (``NAME.keys.jsonl``, written with ``--input``) becomes one lane of
  times per guest; a damaged line is skipped, as a cut-off cast line is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pairtui.recording import cast
from pairtui.recording.player import Cue, timeline

MAX_COLUMNS = 1000
MAX_ROWS = 500
"""The largest screen a replay draws: a file's header or resizes are not trusted to
size a buffer."""


def resize_sequence(cols: int, rows: int) -> str:
    """xterm's "resize the text area" (``CSI 8 ; rows ; cols t``), sizes bounded."""
    cols = min(max(1, cols), MAX_COLUMNS)
    rows = min(max(1, rows), MAX_ROWS)
    return f"\x1b[8;{rows};{cols}t"


@dataclass(frozen=True)
class Mark:
    """A marker on the timeline, and what it says about whom."""

    at: float  # seconds on the timeline
    kind: str  # "join", "leave", "mode" (a guest's), or "note" (e.g. why it stopped)
    guest: str  # "" for a note
    text: str  # the marker as recorded (a guest's name is in it: escape to show it)


@dataclass(frozen=True)
class Typing:
    """When one guest typed (``--input`` recordings only)."""

    guest: str
    times: tuple[float, ...]  # seconds on the timeline, in order


@dataclass(frozen=True)
class Replay:
    width: int  # as the recording started
    height: int
    cues: list[Cue]  # for a Player: outputs (resizes among them) and markers
    marks: tuple[Mark, ...]
    typing: tuple[Typing, ...]  # empty without --input
    input_recorded: bool

    @property
    def duration(self) -> float:
        return self.cues[-1].at if self.cues else 0.0


def mark(at: float, text: str) -> Mark:
    """What a marker says: ``alice joined (pair)``, ``alice left``, ``alice now view``,
    else a note (``recording stopped: …``)."""
    kind, guest = cast.marker_kind(text)
    return Mark(at, kind, guest, text)


def load(path: Path) -> Replay:
    """Read a cast (and its keys sidecar) whole, for playing.

    Raises:
        PairtuiError: not a recording pairtui can play.
    """
    header, events = cast.read(path)
    cues = timeline(_with_resizes(header, events))
    marks = tuple(mark(c.at, c.data) for c in cues if c.code == "m")
    keys = cast.keys_path(path)
    end = cues[-1].at if cues else 0.0
    typing = typed(keys, end) if keys.is_file() else ()
    return Replay(header.width, header.height, cues, marks, typing, keys.is_file())


def _with_resizes(header: cast.Header, events: Iterable[cast.Event]) -> Iterator[cast.Event]:
    yield cast.Event(0.0, "o", resize_sequence(header.width, header.height))
    for event in events:
        if event.code == "r":
            cols, _, rows = event.data.partition("x")
            if cols.isdigit() and rows.isdigit():
                yield cast.Event(event.time, "o", resize_sequence(int(cols), int(rows)))
        elif event.code in ("o", "m"):
            yield cast.Event(event.time, event.code, _whole(event.data))


def _whole(text: str) -> str:
    """``text`` without lone surrogates (a damaged file's ``"\\ud800"``), which no
    terminal can be sent: each becomes ``?``."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode()
    return text


def typed(keys: Path, end: float) -> tuple[Typing, ...]:
    """Who typed when, from a keys sidecar, guests in the order they first typed; times
    past ``end`` (the last cue) are put at the end. An unreadable file is no typing."""
    lanes: dict[str, list[float]] = {}
    try:
        with keys.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    at, guest, _data = json.loads(line)
                    at = min(max(0.0, float(at)), end)
                except (ValueError, TypeError):
                    continue  # cut off or damaged: the others still count
                lanes.setdefault(str(guest), []).append(at)
    except OSError:
        return ()
    return tuple(Typing(g, tuple(sorted(ts))) for g, ts in lanes.items())
