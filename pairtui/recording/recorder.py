"""One recording of one share: a read-only tmux client that sees what a view guest sees.

The recorder attaches to the share's view session exactly as a view guest's forced
command does (``tmux attach -f read-only,ignore-size``), on a PTY of its own the size of
the shared window plus its status line, and writes what tmux draws for it into an
asciicast (:mod:`pairtui.recording.cast`). What is recorded is therefore what a view
guest at that size saw: the shared window, pairtui's status line, the window changes.
``ignore-size`` keeps the recorder from ever changing the window's size for anyone; the
recorder follows the window instead: its size is read (one tmux command) at most every
:data:`SIZE_EVERY`, and only when tmux drew something since the last look (a resized
window is redrawn, so a recorder with nothing to draw has nothing to follow), and the
PTY resized (an ``"r"`` event) when it changed. Reading it every half second was half
of what recording cost the server (benchmarks/, ``--phases record``).

Bounded: a recording ends by itself at its size or age cap (config ``[recording]``),
and when a write fails (a full disk) it ends with that reason. Sharing never depends
on it: every failure ends the recording, not the share, and the caller is told why.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from pairtui.errors import PairtuiError
from pairtui.limits import RecordingLimits
from pairtui.pty_bridge import PtyBridge
from pairtui.recording import cast
from pairtui.registry import Mode
from pairtui.shares import Share

TICK = 0.5  # seconds between two flushes
SIZE_EVERY = 2.0  # seconds: the most often the window's size is read
TERM = "xterm-256color"  # what the recorder's terminal (and the player) is


class Recorder:
    """Records ``share`` into ``path`` until :meth:`stop`, a cap, a failed write or the
    share's end; ``on_end(reason)`` is called once, after the file is closed."""

    def __init__(
        self,
        share: Share,
        path: Path,
        *,
        keys: bool,
        limits: RecordingLimits,
        on_end: Callable[[str], None],
    ) -> None:
        self.share = share
        self.path = path
        self.keys = keys
        self.limits = limits
        self.started = time.time()
        self.typed: dict[str, int] = {}  # keys typed per guest (the audit's count)
        self._on_end = on_end
        self._writer: cast.CastWriter | None = None
        self._pty: PtyBridge | None = None
        self._size = (0, 0)  # cols, rows of the recorder's terminal
        self._ticker: asyncio.Task[None] | None = None
        self._drawn = False  # tmux drew something since the window's size was last read
        self._ending: asyncio.Task[None] | None = None
        self.ended = ""  # why, once it has

    @property
    def size(self) -> int:
        return self._writer.size if self._writer is not None else 0

    async def start(self) -> None:
        """Attach and start writing; raises PairtuiError (nothing left behind) if it cannot."""
        tmux = self.share.tmux()
        session = self.share.sessions.for_mode(False)
        size = await asyncio.to_thread(tmux.window_size, session)
        if size is None:
            gone = f"share {self.share.name!r} is gone (its tmux session no longer exists)"
            raise PairtuiError(gone)
        cols, rows = size[0], size[1] + 1  # and the status line
        env = {"TERM": TERM, "SHELL": os.environ.get("SHELL", "/bin/sh")}
        header = cast.Header(cols, rows, int(self.started), f"pairtui: {self.share.name}", env)
        try:
            self._writer = cast.CastWriter(self.path, header, keys=self.keys)
        except OSError as exc:
            raise PairtuiError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        self._pty = PtyBridge(self._output, self._eof, 64 * 1024, _nothing, _nothing)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/"),
            "TERM": TERM,
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "TMUX_TMPDIR": os.environ.get("TMUX_TMPDIR", "/tmp"),
        }
        try:
            await self._pty.start(self.share.attach_argv(Mode.VIEW), env, rows, cols)
        except OSError as exc:
            self._writer.close()
            raise PairtuiError(f"cannot start tmux: {exc.strerror or exc}") from None
        self._size = (cols, rows)
        self._pty.reading(True)
        self._ticker = asyncio.get_running_loop().create_task(self._tick())

    # --- what the engine tells it -----------------------------------------------------

    def marker(self, text: str) -> None:
        self._guard(lambda w: w.marker(text))

    def input(self, guest: str, data: bytes) -> None:
        """A pair guest typed ``data``: counted, and kept with ``--input``."""
        self.typed[guest] = self.typed.get(guest, 0) + len(data)
        if self.keys:
            self._guard(lambda w: w.input(guest, data))

    def stop(self, reason: str) -> asyncio.Task[None]:
        """End it (once): the marker, the tmux client, the file. Await the task to wait."""
        if self._ending is None:
            self._ending = asyncio.get_running_loop().create_task(self._end(reason))
        return self._ending

    # --- inside ---------------------------------------------------------------------

    def _output(self, data: bytes) -> None:
        self._drawn = True
        self._guard(lambda w: w.output(data))

    def _eof(self) -> None:
        self.stop("the share ended")

    def _guard(self, write: Callable[[cast.CastWriter], None]) -> None:
        """A write that fails (a full disk) ends the recording, never the share."""
        if self._writer is None or self._ending is not None:
            return
        try:
            write(self._writer)
        except OSError as exc:
            self._writer_failed(exc)
            return
        # What is kept, output and typed keys alike, counts toward the cap (the keys
        # of a guest typing into a pane that echoes nothing are all input).
        if self._writer.size + self._writer.pending > self.limits.max_bytes:
            self.stop(f"it reached its size cap ({self.limits.max_bytes // (1024 * 1024)} MiB)")

    def _writer_failed(self, exc: OSError) -> None:
        self.stop(f"cannot write {self.path.name}: {exc.strerror or exc}")

    async def _tick(self) -> None:
        tmux = self.share.tmux()
        session = self.share.sessions.for_mode(False)
        looked = time.monotonic()
        while self._ending is None:
            await asyncio.sleep(TICK)
            if self._writer is None or self._ending is not None:
                return
            try:
                self._writer.flush()
            except OSError as exc:
                self._writer_failed(exc)
                return
            if time.time() - self.started > self.limits.max_seconds:
                hours = self.limits.max_seconds / 3600
                self.stop(f"it reached its age cap ({hours:g} h)")
                return
            if not self._drawn or time.monotonic() - looked < SIZE_EVERY:
                continue
            self._drawn, looked = False, time.monotonic()
            with contextlib.suppress(PairtuiError, OSError):
                size = await asyncio.to_thread(tmux.window_size, session)
                if size is not None and (size[0], size[1] + 1) != self._size:
                    self._size = (size[0], size[1] + 1)
                    assert self._pty is not None
                    self._pty.resize(self._size[1], self._size[0])
                    self._guard(lambda w: w.resize(*self._size))

    async def _end(self, reason: str) -> None:
        self.ended = reason
        if self._ticker is not None and self._ticker is not asyncio.current_task():
            self._ticker.cancel()
        writer = self._writer
        if self._pty is not None:
            # What tmux prints on its way out ("[exited]", the terminal restored) is not
            # what guests saw: the recording's last frame stays the share's last screen.
            with contextlib.suppress(OSError):
                await self._pty.stop(lambda _data: None)
        if writer is not None:
            with contextlib.suppress(OSError):
                writer.marker(cast.stopped(reason))
            with contextlib.suppress(OSError):
                writer.close()
        self._on_end(reason)


def _nothing() -> None:
    """A recorder types nothing: its input limits never trip."""
