"""What one peer may cost the server before and after it logs in.

sshd bounds unauthenticated connections (``MaxStartups``), the time to log in
(``LoginGraceTime``), key offers per connection (``MaxAuthTries``) and sessions per
connection (``MaxSessions``). The embedded server has the same limits, with defaults in
the config's ``[limits]`` table, plus what one Python process on one event loop needs:
refusals from one peer are audited once per interval, not once per attempt, and
resource errors (``EMFILE`` from ``accept``) are logged once per interval.

Out of file descriptors (see :mod:`pairtui.fd_budget`), connections that never speak
make room for newcomers, and a listener that cannot accept has its queue emptied.

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

    from pairtui.fd_budget import SpareFd

REFUSAL_INTERVAL = 10.0  # seconds over which one peer's refusals are counted
REFUSALS_SHOWN = 3  # refusals per peer and interval audited one by one
LOG_INTERVAL = 10.0  # seconds between two log lines about the same resource error
# Seconds after which a connection that has not even sent its SSH version line may go to
# make room when descriptors are short (an ssh client sends it at once).
SILENT_AFTER = 2.0
ACCEPT_ERROR = "socket.accept() out of system resource"  # asyncio's message for EMFILE


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
    knock_timeout: int = 120  # seconds a guest knocking at the door waits for the host
    max_knocks: int = 20  # guests waiting at the door at once, in all
    max_knocks_per_peer: int = 3  # ... and from one address (or key), and per minute
    wrong_tokens: int = 5  # invitation tokens naming nothing, per address and minute


@dataclass(frozen=True)
class RecordingLimits:
    """Config ``[recording]``: a recording (pairtui.recording) ends by itself past either
    cap, so one forgotten ``pairtui record`` cannot fill the disk."""

    max_bytes: int = 500 * 1024 * 1024
    max_seconds: int = 12 * 3600


class Pending(Protocol):
    """An unauthenticated connection, as the gate sees it."""

    def progress(self) -> int:
        """0: nothing received yet, 1: SSH version received, 2: keys exchanged."""
        ...

    def drop(self, reason: str) -> None: ...


class StartupGate:
    """Counts connections that have not logged in yet and makes room when too many."""

    def __init__(
        self,
        limits: Startups,
        rng: Callable[[], float] = random.random,
        fds_short: Callable[[], int] | None = None,
    ) -> None:
        """``fds_short``: how many descriptors are missing
        (:meth:`pairtui.fd_budget.FdBudget.shortfall`); while some are, silent
        connections make room (see :meth:`arrive`, :meth:`prune`)."""
        self.limits = limits
        self._waiting: dict[Pending, float] = {}  # insertion order: oldest first
        self._rng = rng
        self._fds_short = fds_short or (lambda: 0)
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._waiting)

    def arrive(self, conn: Pending) -> None:
        """A new connection: first make room if the limits say so, then count it.

        Short of descriptors, a connection that has said nothing for
        :data:`SILENT_AFTER` seconds goes for each newcomer (one in, one out): connections
        that never speak cannot hold the descriptors guests need. One that speaks is left
        alone: a guest in a burst of logins is refused with a message at login instead.
        """
        if self._waiting and self._fds_short() > 0:
            self._drop_silent(1)
        while self._waiting and self._rng() < self.limits.drop_probability(len(self._waiting)):
            self._drop_one()
            if len(self._waiting) < self.limits.full:
                break
        self._waiting[conn] = time.monotonic()

    def _drop_one(self) -> None:
        victim = min(self._waiting, key=lambda c: (c.progress(), self._waiting[c]))
        self._drop(victim)

    def prune(self) -> int:
        """Short of descriptors with nobody arriving (the process may be too short to
        accept anyone): drop as many silent connections as descriptors are missing.
        Called every second; returns how many went."""
        missing = self._fds_short()
        return self._drop_silent(missing) if missing > 0 and self._waiting else 0

    def _drop_silent(self, most: int) -> int:
        now = time.monotonic()
        silent: list[Pending] = []
        for conn, since in self._waiting.items():  # oldest first
            if now - since < SILENT_AFTER or len(silent) >= most:
                break
            if conn.progress() == 0:
                silent.append(conn)
        for conn in silent:
            self._drop(conn)
        return len(silent)

    def _drop(self, victim: Pending) -> None:
        del self._waiting[victim]
        self.dropped += 1
        victim.drop("too many connections are logging in at once")

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


WRONG_TOKEN_WINDOW = 60.0  # seconds over which wrong invitation tokens are counted


class WrongTokens:
    """Per peer: invitation user names (``inv-TOKEN``) that named no invitation.

    Guessing a token is hopeless (128 random bits), so this is not what keeps an
    invitation safe; it keeps a guesser from costing the host audit lines and key checks
    for nothing, as sshd's ``PerSourcePenalties`` does. Past ``most`` wrong tokens in
    :data:`WRONG_TOKEN_WINDOW` seconds, every invitation login from that peer is refused
    until the window ends, a right token included (a guest behind the same relay
    waits a minute). Bounded: at most 1000 peers are remembered.
    """

    def __init__(self, most: int = 5, window: float = WRONG_TOKEN_WINDOW) -> None:
        self.most, self.window = most, window
        self._peers: dict[Peer, tuple[float, int]] = {}  # -> (window start, count)

    def wait(self, peer: Peer, now: float | None = None) -> float:
        """Seconds until ``peer`` may try an invitation again (0: now)."""
        now = time.monotonic() if now is None else now
        start, count = self._peers.get(peer, (now, 0))
        if now - start >= self.window:
            self._peers.pop(peer, None)
            return 0.0
        return self.window - (now - start) if count >= self.most else 0.0

    def wrong(self, peer: Peer, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        start, count = self._peers.get(peer, (now, 0))
        if now - start >= self.window:
            start, count = now, 0
        self._peers.pop(peer, None)  # re-inserted last: the dict stays oldest first
        self._peers[peer] = (start, count + 1)
        while len(self._peers) > 1000:
            del self._peers[next(iter(self._peers))]


class QuietExceptionHandler:
    """An event loop exception handler: one line per kind of error and interval.

    asyncio logs a traceback for every failed ``accept`` when the process is out of
    file descriptors (and retries a second later): thousands of lines that hide the one
    that matters. Here each message is written once per interval, with how often it
    happened meanwhile. With a :class:`pairtui.fd_budget.SpareFd`, a listener that
    cannot accept also has its queue emptied (those connections are closed at once
    instead of waiting).
    """

    def __init__(
        self,
        write: Callable[[str], None] | None = None,
        interval: float = LOG_INTERVAL,
        spare: SpareFd | None = None,
    ) -> None:
        self._write = write or (lambda line: print(line, file=sys.stderr, flush=True))
        self.interval = interval
        self._spare = spare
        self._last: dict[str, tuple[float, int]] = {}
        self._turned_away = 0  # connections closed unanswered since the last line

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        message = str(context.get("message") or "unexpected error")
        listener = context.get("socket")
        if message == ACCEPT_ERROR and self._spare is not None and listener is not None:
            self._turned_away += self._spare.turn_away(listener.fileno())
        kind = f"{message}: {type(exc).__name__}" if exc else message
        now = time.monotonic()
        last, count = self._last.get(kind, (-self.interval, 0))
        if now - last < self.interval:
            self._last[kind] = (last, count + 1)
            return
        self._last[kind] = (now, 0)
        more = f" (and {count} more like it)" if count else ""
        detail = f": {exc}" if exc else ""
        away = ""
        if message == ACCEPT_ERROR and self._turned_away:
            away = f"; {self._turned_away} waiting connections closed unanswered"
            self._turned_away = 0
        self._write(f"pairtui: {message}{detail}{more}{away}")


def raise_fd_limit() -> tuple[int, int]:
    """Soft ``RLIMIT_NOFILE`` up to the hard limit, as servers do; ``(soft, hard)`` after.

    :mod:`pairtui.fd_budget` says how many guests a limit holds: 327 at the usual soft
    limit of 1024.
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
