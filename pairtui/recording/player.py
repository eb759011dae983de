"""`pairtui play`: a recording replayed on this terminal, with pause, step and seek.

Two halves, so the timing can be tested without a terminal:

- :class:`Player` is pure: cues (output and markers on the player's timeline) and a
  clock reading in, the bytes to write out. Seeking back resets the terminal and
  replays every output up to the target at once, which draws exactly the screen that
  playing to that point drew (a terminal's screen is a function of the bytes it got).
- :func:`play` is the thin terminal part (its keys in
  :mod:`pairtui.recording.player_keys`): raw mode (always restored: on return, on an
  error, on SIGTERM or SIGHUP), reading keys, sleeping until the next cue is due, and a
  status line while paused.

The recorded output reaches the terminal as it was recorded (that is what a player
is for); everything pairtui adds to the screen (markers, the status) is escaped.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import select
import signal
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from pairtui.errors import PairtuiError
from pairtui.printable import printable
from pairtui.recording import cast
from pairtui.recording.inert import Inert
from pairtui.recording.player_keys import HINTS, SHORT_HINTS, Action, KeyReader

SEEK_STEP = 5.0  # seconds, for the arrow keys
RESET = b"\x1bc"  # RIS: the terminal as new, before a replay
NOTICE_DELAY = 1.5  # seconds to read "this terminal is smaller" before playing
MARKER_WIDTH = 32  # the most of a marker the status line shows
TICK = 0.25  # the longest select: a resize or a signal is seen within it

# Modes a recording may leave set that would change how the terminal behaves after
# `pairtui play`: mouse and focus reports, bracketed paste, application keys, a scroll
# region, a hidden cursor. Turned off on the way out.
RESTORE_MODES = (
    b"\x1b[0m\x1b[?25h\x1b[?1l\x1b>\x1b[?7h"
    b"\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1005l\x1b[?1006l\x1b[?1015l"
    b"\x1b[?1004l\x1b[?2004l\x1b[r"
)
_ALT_ON = ("\x1b[?1049h", "\x1b[?1047h", "\x1b[?47h")
_ALT_OFF = ("\x1b[?1049l", "\x1b[?1047l", "\x1b[?47l")


@dataclass(frozen=True)
class Cue:
    """An output or a marker, at its time on the player's timeline."""

    at: float  # seconds, pauses longer than the idle limit cut to it
    code: str  # "o" or "m"
    data: str


def timeline(events: Iterable[cast.Event], idle_limit: float | None = None) -> list[Cue]:
    """The cues to play: outputs and markers, every pause between two events cut to
    ``idle_limit`` seconds (the first one too), as asciinema's ``--idle-time-limit``.
    Outputs lose their terminal control strings (:class:`~pairtui.recording.inert.Inert`)."""
    cues: list[Cue] = []
    last = at = 0.0
    inert = Inert()
    for event in events:
        if event.code not in ("o", "m"):
            continue
        gap = max(0.0, event.time - last)
        last = max(last, event.time)
        at += gap if idle_limit is None else min(gap, idle_limit)
        data = inert(event.data) if event.code == "o" else event.data
        cues.append(Cue(at, event.code, data))
    return cues


@dataclass(frozen=True)
class Status:
    state: str  # "playing", "paused" or "ended"
    position: float  # seconds on the timeline
    duration: float
    marker: str  # the last marker played ("alice joined (pair)"), else ""

    def line(self, width: int = 0, hints: Sequence[str] = ()) -> str:
        """``paused 0:12 / 1:03 · alice joined (pair)``, escaped, then the first of
        ``hints`` that fits in ``width`` columns (0: no limit); a long marker is cut."""
        text = f"{self.state} {clock(self.position)} / {clock(self.duration)}"
        if self.marker:
            marker = printable(self.marker)
            if width > 0 and len(marker) > MARKER_WIDTH:
                marker = marker[: MARKER_WIDTH - 1] + "…"
            text += f" · {marker}"
        fits = [h for h in hints if width <= 0 or len(text) + 3 + len(h) <= width]
        text += f"   {fits[0]}" if fits else ""
        return text[:width] if width > 0 else text


def clock(seconds: float) -> str:
    """``0:05``, ``12:40``, ``1:02:03``: a player's clock."""
    s = max(0, int(seconds))
    if s >= 3600:
        return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


class Player:
    """The timing and the seeking, on whatever clock the caller reads (``now``).

    Positions are on the timeline (:func:`timeline`); ``speed`` maps them to the clock.
    The player never sleeps: :meth:`wait` says how long until the next cue is due.
    Reaching the end pauses it there, so the last screen stays and seeking still works.
    """

    def __init__(self, cues: Sequence[Cue], *, speed: float = 1.0, now: float = 0.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.cues = cues
        self.speed = speed
        self.duration = cues[-1].at if cues else 0.0
        self.paused = False
        self.quit = False
        self.alt_screen = False  # the output played so far left the alternate screen on
        self._index = 0  # the next cue to play
        self._pos = 0.0  # the position at _wall (the position itself while paused)
        self._wall = now
        self._marker = ""

    @property
    def ended(self) -> bool:
        return self._index >= len(self.cues)

    def position(self, now: float) -> float:
        if self.paused:
            return self._pos
        return min(self.duration, self._pos + max(0.0, now - self._wall) * self.speed)

    def status(self, now: float) -> Status:
        state = ("ended" if self.ended else "stopped" if self.quit
                 else "paused" if self.paused else "playing")  # fmt: skip
        return Status(state, self.position(now), self.duration, self._marker)

    def wait(self, now: float) -> float | None:
        """Seconds until the next cue is due; None while paused or at the end."""
        if self.paused or self.ended:
            return None
        due = self._wall + (self.cues[self._index].at - self._pos) / self.speed
        return max(0.0, due - now)

    def advance(self, now: float) -> bytes:
        """What is due by ``now``."""
        if self.paused:
            return b""
        out = self._play_to(self.position(now))
        self._stop_at_end(now)
        return out

    def press(self, action: Action, now: float) -> bytes:
        """Act on a key; what to write (a seek's catch-up or replay)."""
        pos = self.position(now)
        if action is Action.QUIT:
            self.quit = True
        elif action is Action.PAUSE and not self.ended:
            self._pos, self._wall, self.paused = pos, now, not self.paused
        elif action is Action.STEP and self.paused:
            frame = next((c.at for c in self._ahead() if c.code == "o"), self.duration)
            return self.seek(frame, now)
        elif action is Action.FORWARD:
            return self.seek(pos + SEEK_STEP, now)
        elif action is Action.BACK:
            return self.seek(pos - SEEK_STEP, now)
        elif action is Action.NEXT_MARKER:
            after = next((c.at for c in self._ahead() if c.code == "m" and c.at > pos), None)
            return b"" if after is None else self.seek(after, now)
        elif action is Action.PREVIOUS_MARKER:
            before = (c.at for c in reversed(self.cues) if c.code == "m" and c.at < pos - 1e-6)
            return self.seek(next(before, 0.0), now)
        return b""

    def seek(self, target: float, now: float) -> bytes:
        """Go to ``target`` seconds, playing or paused as before: forward, what lies
        between is written at once; back, the terminal is reset and replayed."""
        target = min(max(0.0, target), self.duration)
        out = b""
        if target < self.position(now) or target == 0.0:
            out, self._index, self._marker, self.alt_screen = RESET, 0, "", False
        out += self._play_to(target)
        self._pos, self._wall = target, now
        self._stop_at_end(now)
        return out

    def redraw(self) -> bytes:
        """The screen as it is now, from a reset terminal (after something covered it)."""
        return RESET + "".join(c.data for c in self.cues[: self._index] if c.code == "o").encode()

    def _ahead(self) -> Iterator[Cue]:
        return itertools.islice(self.cues, self._index, None)

    def _play_to(self, position: float) -> bytes:
        out: list[str] = []
        while self._index < len(self.cues) and self.cues[self._index].at <= position:
            cue = self.cues[self._index]
            if cue.code == "o":
                out.append(cue.data)
            else:
                self._marker = cue.data
            self._index += 1
        text = "".join(out)
        on = max(text.rfind(s) for s in _ALT_ON)
        off = max(text.rfind(s) for s in _ALT_OFF)
        if on != off:  # both -1: the output did not say
            self.alt_screen = on > off
        return text.encode()

    def _stop_at_end(self, now: float) -> None:
        if self.ended:
            self._pos, self._wall, self.paused = self.duration, now, True


# --- the terminal -------------------------------------------------------------------


class _Screen:
    """Where the status line goes: the terminal's last row. Below a smaller recording it
    covers nothing; over a recording as tall as the terminal it covers its last row, so
    resuming redraws the screen."""

    def __init__(self, fd: int, recording_rows: int) -> None:
        self.fd = fd
        self.recording_rows = recording_rows
        self.cols, self.rows = os.get_terminal_size(fd)
        self.covered = False

    def resized(self) -> None:
        self.cols, self.rows = os.get_terminal_size(self.fd)

    def show(self, text: str) -> bytes:
        """``text`` (cut to the width already) on the last row; the cursor stays put."""
        self.covered = self.rows <= self.recording_rows
        return f"\x1b7\x1b[{self.rows};1H\x1b[0;7m{text}\x1b[0m\x1b[K\x1b8".encode()

    def hide(self) -> bytes:
        return f"\x1b7\x1b[{self.rows};1H\x1b[0m\x1b[2K\x1b8".encode()


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [], TICK)
            continue
        view = view[n:]


class _Signalled(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def _raw_terminal(fd_in: int, on_resize: Callable[[], None]) -> Iterator[None]:
    """Raw mode for the player; the terminal's settings and the signal handlers as they
    were on the way out, whatever ends it (SIGTERM and SIGHUP end it as an exception)."""
    import termios
    import tty

    def stop(signum: int, frame: FrameType | None) -> None:
        raise _Signalled(signum)

    def resize(signum: int, frame: FrameType | None) -> None:
        on_resize()

    saved = termios.tcgetattr(fd_in)
    handlers = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    handlers[signal.SIGWINCH] = signal.signal(signal.SIGWINCH, resize)
    try:
        tty.setraw(fd_in)
        yield
    finally:
        with contextlib.suppress(termios.error):
            termios.tcsetattr(fd_in, termios.TCSADRAIN, saved)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def play(
    path: Path,
    *,
    speed: float = 1.0,
    idle_limit: float | None = None,
    fd_in: int = 0,
    fd_out: int = 1,
    now: Callable[[], float] = time.monotonic,
) -> Status:
    """Play the cast at ``path`` on this process's terminal until the viewer quits;
    where it stopped.

    Raises:
        PairtuiError: not a recording, or no terminal to play it on.
        SystemExit: SIGTERM or SIGHUP (128 + the signal), the terminal restored first.
    """
    if not (os.isatty(fd_in) and os.isatty(fd_out)):
        raise PairtuiError("no terminal to play on: standard input and output must be one")
    header, events = cast.read(path)
    cues = timeline(events, idle_limit)
    screen = _Screen(fd_out, header.height)
    delay = 0.0
    if screen.cols < header.width or screen.rows < header.height:
        _write(fd_out, (f"pairtui: the recording is {header.width}x{header.height}, this "
                        f"terminal {screen.cols}x{screen.rows}: lines may wrap or scroll\n"
                        ).encode())  # fmt: skip
        delay = NOTICE_DELAY
    player = Player(cues, speed=speed, now=now() + delay)
    resized = [False]
    try:
        with _raw_terminal(fd_in, lambda: resized.__setitem__(0, True)):
            try:
                _run(player, screen, fd_in, now, resized)
            finally:
                with contextlib.suppress(OSError):  # the terminal may be gone (SIGHUP)
                    _write(fd_out, _leave(player, screen))
    except _Signalled as exc:
        raise SystemExit(128 + exc.signum) from None
    return player.status(now())


def _run(
    player: Player, screen: _Screen, fd_in: int, now: Callable[[], float], resized: list[bool]
) -> None:
    keys = KeyReader()
    shown = ""  # the status line on the screen, "" when none
    while not player.quit:
        out = player.advance(now())
        if resized[0]:
            resized[0] = False
            screen.resized()
            shown = ""
        if player.paused:
            line = player.status(now()).line(screen.cols - 1, (HINTS, SHORT_HINTS))
            if line != shown:
                out += screen.show(line)
                shown = line
        elif shown:
            out += player.redraw() if screen.covered else screen.hide()
            shown = ""
        if out:
            _write(screen.fd, out)
        wait = player.wait(now())
        ready, _, _ = select.select([fd_in], [], [], TICK if wait is None else min(wait, TICK))
        if not ready:
            continue
        data = os.read(fd_in, 1024)
        if not data:  # the terminal is gone
            return
        for action in keys.feed(data):
            out = player.press(action, now())
            if out:
                shown = ""  # a catch-up or a replay may have drawn over it
                _write(screen.fd, out)
            if player.quit:
                return


def _leave(player: Player, screen: _Screen) -> bytes:
    """The terminal as a shell expects it, the cursor on its last row (cleared)."""
    out = b"\x1b[?1049l" if player.alt_screen else b""
    return out + RESTORE_MODES + f"\x1b[{screen.rows};1H\x1b[2K".encode()
