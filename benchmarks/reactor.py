"""One epoll loop that drives every guest terminal the harness holds open.

A guest is a real client (``ssh -tt`` or ``tmux attach``) on its own PTY; the harness
is the terminal. The loop is deliberately small (epoll plus a timer heap, no asyncio)
so that reading 100 PTYs costs little next to the servers it measures; the harness
reports its own CPU and how late its timers fired, so its overhead is on the record.
"""

from __future__ import annotations

import contextlib
import fcntl
import heapq
import itertools
import os
import re
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Callable, Mapping, Sequence

from benchmarks.procs import Reaper

READ_SIZE = 65536
_ESCAPES = re.compile(rb"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()*+][ -~]|.)")


def visible(data: bytes) -> bytes:
    """Terminal output with escape sequences removed (enough to spot a marker)."""
    return _ESCAPES.sub(b"", data)


class Reactor:
    """epoll over guest PTYs plus a timer heap; single-threaded and bounded."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._guests: dict[int, Guest] = {}
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self.lags: list[float] = []  # how late each tracked timer fired, seconds

    def close(self) -> None:
        self._epoll.close()

    def add(self, guest: Guest) -> None:
        self._guests[guest.fd] = guest
        self._epoll.register(guest.fd, select.EPOLLIN)

    def discard(self, guest: Guest) -> None:
        if self._guests.pop(guest.fd, None) is not None:
            with contextlib.suppress(OSError, ValueError):
                self._epoll.unregister(guest.fd)

    def call_at(self, when: float, fn: Callable[[], None], *, track: bool = False) -> None:
        if track:
            inner = fn

            def fn() -> None:
                self.lags.append(time.perf_counter() - when)
                inner()

        heapq.heappush(self._timers, (when, next(self._seq), fn))

    def run(self, until: Callable[[], bool], timeout: float) -> bool:
        """Serve reads and timers until ``until()`` holds (True) or ``timeout`` (False).

        ``until`` is checked after every wake-up (a read or a timer), so it must depend
        on those, not on the clock alone: use :meth:`sleep_until` for that.
        """
        deadline = time.perf_counter() + timeout
        timers = self._timers
        while True:
            if until():
                return True
            now = time.perf_counter()
            if now >= deadline:
                return False
            wait = deadline - now
            if timers:
                wait = min(wait, max(timers[0][0] - now, 0.0))
            for fd, _ in self._epoll.poll(wait):
                guest = self._guests.get(fd)
                if guest is not None:
                    guest.readable()
            now = time.perf_counter()
            while timers and timers[0][0] <= now:
                heapq.heappop(timers)[2]()

    def sleep(self, seconds: float) -> None:
        """Keep reading (so PTYs never back up) for ``seconds``."""
        self.run(lambda: False, seconds)

    def sleep_until(self, when: float) -> None:
        self.run(lambda: False, max(when - time.perf_counter(), 0.0))


class Guest:
    """A client on a PTY whose output the reactor reads and inspects.

    Two watches are supported: a marker (ASCII text that must become visible, with
    escape sequences ignored) and one pending key (bytes that must appear in the
    output after they were typed). ``record`` keeps every chunk with its arrival time
    for checking the rendered screen afterwards.
    """

    def __init__(
        self,
        reactor: Reactor,
        reaper: Reaper,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        size: tuple[int, int] = (80, 24),
        record: bool = False,
    ) -> None:
        self.reactor = reactor
        self.reaper = reaper
        master, slave = os.openpty()
        cols, rows = size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.spawned = time.perf_counter()
        try:
            self.proc = reaper.spawn(
                argv, stdin=slave, stdout=slave, stderr=slave, env=dict(env),
                start_new_session=True, preexec_fn=_take_controlling_tty, close_fds=True,
            )  # fmt: skip
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        os.set_blocking(master, False)
        self.fd = master
        self.pid = self.proc.pid
        self.closed = False
        self.nbytes = 0
        self.last_data = self.spawned
        self.record = record
        self.chunks: list[tuple[float, bytes]] = []
        self.marker: bytes | None = None
        self.marker_at: float | None = None
        self.on_marker: Callable[[Guest], None] | None = None
        self._mtail = b""
        self.pending: bytes | None = None
        self.sent_at = 0.0
        self.on_echo: Callable[[float], None] | None = None
        self._ktail = b""
        reactor.add(self)

    # --- watches ---------------------------------------------------------------

    def watch(self, marker: str, on_marker: Callable[[Guest], None] | None = None) -> None:
        self.marker, self.marker_at, self.on_marker = marker.encode(), None, on_marker
        self._mtail = b""

    def type_key(self, key: bytes, on_echo: Callable[[float], None]) -> None:
        """Type ``key``; ``on_echo(latency)`` runs when it shows up in the output."""
        self.pending, self.on_echo, self._ktail = key, on_echo, b""
        self.write(key)
        self.sent_at = time.perf_counter()

    def forget_key(self) -> None:
        self.pending = self.on_echo = None

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        deadline = time.perf_counter() + 5
        while view and time.perf_counter() < deadline:
            try:
                n = os.write(self.fd, view)
            except BlockingIOError:
                time.sleep(0.001)
                continue
            except OSError:
                return
            view = view[n:]

    # --- reading ---------------------------------------------------------------

    def readable(self) -> None:
        try:
            data = os.read(self.fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError:  # EIO: the client is gone
            data = b""
        if not data:
            self.closed = True
            self.reactor.discard(self)
            return
        now = time.perf_counter()
        self.nbytes += len(data)
        self.last_data = now
        if self.record:
            self.chunks.append((now, data))
        if self.pending is not None:
            hay = self._ktail + data
            if self.pending in hay:
                latency = now - self.sent_at
                callback = self.on_echo
                self.pending = self.on_echo = None
                if callback is not None:
                    callback(latency)
            else:
                self._ktail = hay[-8:]
        if self.marker is not None and self.marker_at is None:
            hay = self._mtail + data
            if self.marker in visible(hay):
                self.marker_at = now
                if self.on_marker is not None:
                    self.on_marker(self)
            else:
                self._mtail = hay[-512:]

    # --- ending ----------------------------------------------------------------

    def hang_up(self) -> None:
        """Ask the client to end (SIGTERM) without waiting."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)

    def close(self, timeout: float = 5.0) -> None:
        """End the client, reap it and close the PTY."""
        self.hang_up()
        deadline = time.perf_counter() + timeout
        while self.proc.poll() is None and time.perf_counter() < deadline:
            self.reactor.run(lambda: self.proc.poll() is not None or self.closed, 0.05)
            if self.closed:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(0.2)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.reaper.forget(self.proc)
        self.reactor.discard(self)
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        self.closed = True


def close_all(guests: Sequence[Guest], timeout: float = 10.0) -> None:
    """Hang up on many guests at once, then reap them (bounded)."""
    for g in guests:
        g.hang_up()
    deadline = time.perf_counter() + timeout
    for g in guests:
        g.close(max(deadline - time.perf_counter(), 0.1))


def _take_controlling_tty() -> None:
    # The child is a session leader (start_new_session); make the PTY its terminal,
    # as a terminal emulator would.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
