"""What the open-file limit leaves for guests, and what to do when nothing is left.

Out of file descriptors, a server hangs its newcomers (``accept`` fails and leaves them
in the kernel's queue) and fails whatever it opens next: a guest's PTY, the audit log,
the control socket's answers. :class:`FdBudget` keeps a reserve that guests never take
and tells when one more guest does not fit, early enough for SSH to tell the guest so;
:class:`SpareFd` empties a listener's queue when the process is out of descriptors
anyway, so nobody waits there for an answer that cannot come.

How many guests fit: ``(limit - base - RESERVE_FDS) // GUEST_FDS``, where ``base`` is
what the server holds with no guest (about 9): 29 at a limit of 128, 71 at 256, 327 at
1024 (measured with OpenSSH guests at 128 and 256). The native relay
(:mod:`pairtui.native_relay`) holds :data:`~pairtui.native_relay.RELAY_FDS` more per
terminal: 12, 30 and 140 guests then. The server raises its soft limit to the hard one
at start, which is 524,288 or more on most Linux systems.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

# Descriptors one guest holds once its terminal runs: its socket, the PTY's master side
# and its `tmux attach` child's pidfd (measured; see FdBudget). Each further terminal on
# the same connection holds a PTY and a pidfd.
GUEST_FDS = 3
TERMINAL_FDS = 2
# Descriptors guests never take: control-socket requests and dashboards, the audit log,
# the registry and shares files, tmux commands run in worker threads (up to six
# descriptors each while they run) and a terminal's start (the PTY's other side, the
# child's exec pipe).
RESERVE_FDS = 32
# Listing the open descriptors costs ~0.4 ms per thousand: far from the limit they are
# counted once a second (each question in between counted as one more descriptor);
# within this many descriptors of the reserve, at every question.
RECOUNT_AFTER = 1.0
COUNT_MARGIN = 128


class SpareFd:
    """One descriptor held back for the moment the process runs out of them.

    Out of descriptors, ``accept`` fails and leaves the connection in the kernel's
    queue: its client waits for an answer that cannot come (an ``ssh`` hangs with no
    message). With the spare given back, each waiting connection is accepted and closed
    at once (its client sees the connection closed), then the spare is taken again.
    """

    def __init__(self) -> None:
        self._fd = -1
        self._take()

    def _take(self) -> None:
        if self._fd < 0:
            try:
                self._fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                self._fd = -1  # out of descriptors already: taken again next time

    @property
    def held(self) -> bool:
        return self._fd >= 0

    def turn_away(self, listener: int, most: int = 1000) -> int:
        """Close up to ``most`` connections waiting on the (non-blocking) listening
        socket ``listener``; returns how many were closed."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        closed = 0
        try:
            sock = socket.socket(fileno=listener)  # the listener's own descriptor
        except OSError:
            self._take()
            return 0
        try:
            while closed < most:
                try:
                    conn, _ = sock.accept()
                except OSError:  # nothing more waits (EAGAIN), or still out of descriptors
                    break
                conn.close()
                closed += 1
        finally:
            sock.detach()  # the listener stays open: it is the event loop's
            self._take()
        return closed

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def open_fds() -> int:
    """Descriptors this process has open now (one directory listing)."""
    for where in ("/proc/self/fd", "/dev/fd"):
        try:
            # Less one: the listing's own descriptor is in it.
            return sum(1 for _ in Path(where).iterdir()) - 1
        except OSError:
            continue
    return 0


def full_message(guests: int) -> str:
    """What a guest who does not fit is told (``ssh`` prints it)."""
    return f"this host is full ({guests} guest{'' if guests == 1 else 's'}); try again later"


class FdBudget:
    """What the open-file limit leaves for guests.

    Counting the descriptors open now is not enough: connections that have been let in
    but have no terminal yet will each take a PTY and a pidfd in a moment, so a burst of
    logins would all see room and then fail at once. Those are counted ``starting`` from
    :meth:`admit` until :meth:`settle` (their terminal runs, or they left), and
    :data:`RESERVE_FDS` stay free for everything that is not a guest.
    """

    def __init__(
        self,
        limit: int,
        reserve: int = RESERVE_FDS,
        count: Callable[[], int] = open_fds,
        relay_fds: int = 0,
    ) -> None:
        self.limit = limit
        self.reserve = reserve
        # Each terminal's native relay (if built) holds this many more.
        self.guest_fds, self.terminal_fds = GUEST_FDS + relay_fds, TERMINAL_FDS + relay_fds
        self._count = count
        self._starting: set[object] = set()
        self.base = count()  # what the server holds with no guest (listeners, files)
        self._counted, self._counted_at, self._asked = self.base, time.monotonic(), 0

    def capacity(self) -> int:
        """Guests with one terminal each that fit from a fresh start."""
        return max(0, (self.limit - self.base - self.reserve) // self.guest_fds)

    def _left(self) -> int:
        """Descriptors free once every starting connection has its terminal."""
        return self.limit - self._open() - self.terminal_fds * len(self._starting)

    def _open(self) -> int:
        """The descriptors open now: counted, or (far from the limit, within a second of
        the last count) an estimate that takes each question since as one more."""
        now = time.monotonic()
        self._asked += 1
        estimate = self._counted + self._asked
        near = (
            self.reserve + self.guest_fds + COUNT_MARGIN + self.terminal_fds * len(self._starting)
        )
        if now - self._counted_at < RECOUNT_AFTER and self.limit - estimate >= near:
            return estimate
        self._counted, self._counted_at, self._asked = self._count(), now, 0
        return self._counted

    def shortfall(self) -> int:
        """Descriptors missing for the reserve and one more guest: connections that
        have not logged in must make room for newcomers (see :class:`StartupGate`)."""
        return max(0, self.reserve + self.guest_fds - self._left())

    def admit(self, who: object) -> bool:
        """Whether ``who`` (a connection about to log in) fits; if so it is counted as
        starting until :meth:`settle`."""
        if who in self._starting:
            return True
        if self._left() - self.terminal_fds < self.reserve:
            return False
        self._starting.add(who)
        return True

    def terminal(self, who: object) -> bool:
        """Whether ``who`` (a logged-in connection) may open a terminal: its first was
        counted when it was admitted; any other needs room of its own."""
        return who in self._starting or self._left() - self.terminal_fds >= self.reserve

    def settle(self, who: object) -> None:
        """``who``'s terminal runs (its descriptors are open now), or it is gone."""
        self._starting.discard(who)
