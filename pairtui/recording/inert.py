"""A recording's output made safe to replay on the host's own terminal."""

from __future__ import annotations

import re

_STRING_START = re.compile("\x1b[\\]P_^X]|[\x90\x98\x9d\x9e\x9f]")
_OSC_END = re.compile("\x07|\x9c|\x1b\\\\")  # an OSC ends with BEL or ST
_STRING_END = re.compile("\x9c|\x1b\\\\")  # DCS, APC, PM and SOS with ST only


class Inert:
    """Drops terminal control strings (OSC, DCS, APC, PM, SOS) from a recording's
    output, across the events they are split over.

    A recording replays what tmux sent its client, and tmux passes some of what a pane
    prints on (OSC 52 with ``set-clipboard on``, anything with ``allow-passthrough``):
    played on the host's own terminal days later, a guest's OSC 52 would set the host's
    clipboard, a title sequence its window title. What guests saw on screen is drawn
    with plain text and CSI sequences, which stay.
    """

    def __init__(self) -> None:
        self._inside: re.Pattern[str] | None = None  # what ends the string we are in
        self._held = ""  # an ESC that ended the last piece: a string may start with it

    def __call__(self, text: str) -> str:
        text, self._held = self._held + text, ""
        out: list[str] = []
        i = 0
        while i < len(text):
            if self._inside is not None:
                end = self._inside.search(text, i)
                if end is None:
                    if text.endswith("\x1b"):
                        self._held = "\x1b"  # perhaps the ESC of an ESC \\
                    return "".join(out)
                self._inside, i = None, end.end()
                continue
            start = _STRING_START.search(text, i)
            if start is None:
                rest = text[i:]
                if rest.endswith("\x1b"):
                    rest, self._held = rest[:-1], "\x1b"
                out.append(rest)
                break
            out.append(text[i : start.start()])
            osc = start.group() in ("\x1b]", "\x9d")
            self._inside, i = (_OSC_END if osc else _STRING_END), start.end()
        return "".join(out)
