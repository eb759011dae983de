"""What one peer may cost the server before and after it logs in.

sshd bounds unauthenticated connections (``MaxStartups``), the time to log in
(``LoginGraceTime``), key offers per connection (``MaxAuthTries``) and sessions per
connection (``MaxSessions``). The embedded server has the same limits, with defaults in
the config's ``[limits]`` table, plus what one Python process on one event loop needs:
refusals from one peer are audited once per interval, not once per attempt, and
resource errors (``EMFILE`` from ``accept``) are logged once per interval.

One difference from sshd, on purpose: when the unauthenticated connections reach the
limit, sshd refuses the newcomer, so 1000 connections that never finish lock every real
guest out. Here the newcomer stays and an older connection that has made the least
progress (no SSH version line yet, then no key exchange) is dropped: a slow attacker
holds a slot for a moment, a real guest logs in within a round trip.
"""

from __future__ import annotations

import random
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pairtui.errors import PairtuiError

if TYPE_CHECKING:
    import asyncio

REFUSAL_INTERVAL = 10.0  # seconds over which one peer's refusals are counted
REFUSALS_SHOWN = 3  # refusals per peer and interval audited one by one
LOG_INTERVAL = 10.0  # seconds between two log lines about the same resource error


@dataclass(frozen=True)
class Startups:
    """sshd's ``start:rate:full``: from ``start`` unauthenticated connections on, each
    newcomer makes room by dropping an older one with a probability that rises from
    ``rate`` % to 100 % at ``full``, which is never exceeded."""

    start: int = 64
    rate: int = 30
    full: int = 256

    @classmethod
    def parse(cls, text: str) -> Startups:
        parts = text.split(":")
        try:
            if len(parts) == 1:
                n = int(parts[0])
                value = cls(n, 100, n)
            elif len(parts) == 3:
                value = cls(int(parts[0]), int(parts[1]), int(parts[2]))
            else:
                raise ValueError
        except ValueError:
            raise PairtuiError(
                f"max_startups must be N or START:RATE:FULL (e.g. '64:30:256'), not {text!r}"
            ) from None
        if not (1 <= value.start <= value.full and 0 <= value.rate <= 100):
            raise PairtuiError(
                f"max_startups {text!r}: need 1 <= START <= FULL and RATE from 0 to 100"
            )
        return value

    def __str__(self) -> str:
        return f"{self.start}:{self.rate}:{self.full}"

    def drop_probability(self, waiting: int) -> float:
        """How likely a newcomer makes room, with ``waiting`` connections not logged in."""
        if waiting < self.start:
            return 0.0
        if waiting >= self.full:
            return 1.0
        span = self.full - self.start
        return (self.rate + (100 - self.rate) * (waiting - self.start) / span) / 100


@dataclass(frozen=True)
class Limits:
    """The server's limits (config ``[limits]``); defaults suit a class of 200."""

    max_startups: Startups = Startups()
    login_grace_time: int = 30  # seconds from connect to logged in
    max_auth_tries: int = 6  # keys refused on one connection before it is closed
    max_sessions: int = 10  # terminals open at once on one connection
    output_buffer: int = 256 * 1024  # bytes of unsent screen output per guest
    input_buffer: int = 64 * 1024  # bytes of typed input a pane has not read yet


class Pending(Protocol):
    """An unauthenticated connection, as the gate sees it."""

    def progress(self) -> int:
        """0: nothing received yet, 1: SSH version received, 2: keys exchanged."""
        ...

    def drop(self, reason: str) -> None: ...


class StartupGate:
    """Counts connections that have not logged in yet and makes room when too many."""

    def __init__(self, limits: Startups, rng: Callable[[], float] = random.random) -> None:
        self.limits = limits
        self._waiting: dict[Pending, float] = {}  # insertion order: oldest first
        self._rng = rng
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._waiting)

    def arrive(self, conn: Pending) -> None:
        """A new connection: first make room if the limits say so, then count it."""
        while self._waiting and self._rng() < self.limits.drop_probability(len(self._waiting)):
            victim = min(self._waiting, key=lambda c: (c.progress(), self._waiting[c]))
            del self._waiting[victim]
            self.dropped += 1
            victim.drop("too many connections are logging in at once")
            if len(self._waiting) < self.limits.full:
                break
        self._waiting[conn] = time.monotonic()

    def leave(self, conn: Pending) -> None:
        """Logged in, or gone: it no longer counts."""
        self._waiting.pop(conn, None)


Peer = tuple[str, str]  # (host, the tunnel it came through or "")


class RefusalCounter:
    """Per peer host: the first few refusals of an interval in full, the rest counted.

    Returns, for each refusal, whether to record it; :meth:`flush` yields the counts of
    those held back, once their interval is over.
    """

    def __init__(self, interval: float = REFUSAL_INTERVAL, shown: int = REFUSALS_SHOWN) -> None:
        self.interval = interval
        self.shown = shown
        self._peers: dict[Peer, tuple[float, int]] = {}  # -> (interval start, count)

    def allow(self, peer: Peer, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        start, count = self._peers.get(peer, (now, 0))
        if now - start >= self.interval:
            start, count = now, 0
        self._peers[peer] = (start, count + 1)
        return count < self.shown

    def flush(self, now: float | None = None) -> list[tuple[Peer, int]]:
        """``(peer, held back)`` for every interval that is over; they are forgotten."""
        now = time.monotonic() if now is None else now
        out = []
        for peer, (start, count) in list(self._peers.items()):
            if now - start >= self.interval:
                del self._peers[peer]
                if count > self.shown:
                    out.append((peer, count - self.shown))
        return out


class QuietExceptionHandler:
    """An event loop exception handler: one line per kind of error and interval.

    asyncio logs a traceback for every failed ``accept`` when the process is out of
    file descriptors (and retries a second later): thousands of lines that hide the one
    that matters. Here each message is written once per interval, with how often it
    happened meanwhile.
    """

    def __init__(
        self, write: Callable[[str], None] | None = None, interval: float = LOG_INTERVAL
    ) -> None:
        self._write = write or (lambda line: print(line, file=sys.stderr, flush=True))
        self.interval = interval
        self._last: dict[str, tuple[float, int]] = {}

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        message = str(context.get("message") or "unexpected error")
        kind = f"{message}: {type(exc).__name__}" if exc else message
        now = time.monotonic()
        last, count = self._last.get(kind, (-self.interval, 0))
        if now - last < self.interval:
            self._last[kind] = (last, count + 1)
            return
        self._last[kind] = (now, 0)
        more = f" (and {count} more like it)" if count else ""
        detail = f": {exc}" if exc else ""
        self._write(f"pairtui: {message}{detail}{more}")


def raise_fd_limit() -> tuple[int, int]:
    """Soft ``RLIMIT_NOFILE`` up to the hard limit, as servers do; ``(soft, hard)`` after.

    Each guest holds about four descriptors (its socket, its PTY, its tmux process's
    pidfd and a pipe while starting), so the usual soft limit of 1024 means ~250 guests.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    hard_cap = 1 << 20 if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < hard_cap:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard_cap, hard))
            soft = hard_cap
        except (ValueError, OSError):
            pass
    return soft, hard
