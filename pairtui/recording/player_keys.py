"""The keys of `pairtui play`: bytes from the terminal in, the player's actions out.

A recording plays on the viewer's own terminal, so it can turn on mouse or focus
reports there, or application cursor keys: every escape sequence is taken whole and
the unknown ones dropped, so a mouse click's bytes never read as a space or a ``q``,
and both forms of each arrow are known.
"""

from __future__ import annotations

import enum


class Action(enum.Enum):
    PAUSE = "pause"  # or resume
    STEP = "step"  # one frame, while paused
    FORWARD = "forward"
    BACK = "back"
    NEXT_MARKER = "next marker"
    PREVIOUS_MARKER = "previous marker"
    QUIT = "quit"


KEYS: dict[bytes, Action] = {
    b" ": Action.PAUSE,
    b".": Action.STEP,
    b"\x1b[C": Action.FORWARD,
    b"\x1bOC": Action.FORWARD,  # the right arrow in application cursor mode
    b"\x1b[D": Action.BACK,
    b"\x1bOD": Action.BACK,
    b"]": Action.NEXT_MARKER,
    b"[": Action.PREVIOUS_MARKER,
    b"q": Action.QUIT,
    b"Q": Action.QUIT,
    b"\x03": Action.QUIT,  # Ctrl-C: raw mode makes it a key, not a signal
}
HINTS = "space play · . step · ←→ 5s · [ ] markers · q quit"
SHORT_HINTS = "space . ←→ [ ] q"  # when a marker leaves no room for the words


class KeyReader:
    """Keys as they come, in any pieces; half an escape sequence waits for the rest."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> list[Action]:
        data = self._pending + data
        self._pending = b""
        actions: list[Action] = []
        while data:
            key, rest = _next_key(data)
            if key is None:  # half an escape sequence: wait for the rest
                self._pending = data
                break
            data = rest
            if key in KEYS:
                actions.append(KEYS[key])
        return actions


def _next_key(data: bytes) -> tuple[bytes | None, bytes]:
    if data[:1] != b"\x1b":
        return data[:1], data[1:]
    if len(data) == 1:  # Escape is no key here: wait, it may start an arrow
        return None, data
    if data[1:2] == b"O":
        return (data[:3], data[3:]) if len(data) >= 3 else (None, data)
    if data[1:2] != b"[":
        return b"\x1b", data[1:]
    if data[2:3] == b"M":  # an X10 mouse report: three raw bytes follow
        return (data[:6], data[6:]) if len(data) >= 6 else (None, data)
    for end in range(2, min(len(data), 32)):
        if 0x40 <= data[end] <= 0x7E:
            return data[: end + 1], data[end + 1 :]
    return (None, data) if len(data) < 32 else (data[:32], data[32:])
