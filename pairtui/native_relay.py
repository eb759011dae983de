"""A guest terminal's packets in a native thread while nothing else is going on.

Why: what was left of a key's echo through ``pairtui serve`` (1.2-1.4x OpenSSH's) was
the event loop's wake and the Python around AES-GCM, and one process on one core is
what a busy host or a big class makes wait (benchmarks/README, Sixth look). The C
module :mod:`pairtui._relay` (built by ``scripts/build-native``; optional) moves a
steady terminal's CHANNEL_DATA both ways in a thread of its own, without the GIL, the
way sshd's session child does. Everything else stays where it was: asyncssh, the
engine, the PTY bridge.

The rule that keeps it correct is that exactly one side owns the connection at a time:

- :meth:`NativeRelay.start` hands asyncssh's state (IVs, sequence numbers, windows, the
  rekey count) to the thread only when nothing is pending anywhere (the channel's and
  connection's :meth:`quiet`, the session's :meth:`RelayClient.relay_wanted`, no PTY
  input waiting), and stops asyncio reading the socket and the bridge reading the PTY;
- the thread stops at the first thing it does not handle and hands back every byte it
  did not consume, which goes to asyncssh as if it had just arrived;
- before Python sends any packet on the connection, cuts a guest's keys off or changes
  its mode, :meth:`NativeRelay.stop` ends the thread synchronously (the SSH layer calls
  it from ``send_packet``, the session from ``disconnect`` and ``switch_mode``): no byte
  a removed or demoted guest sends after the change reaches a pane.

Input goes straight to the pane only for a pair guest whose share is not being recorded
(the recorder takes typed keys from Python); a view guest's input always comes back to
Python, where focus reports are dropped. ``PAIRTUI_NATIVE=0`` turns it off.
"""

from __future__ import annotations

import asyncio
import enum
import os
from typing import Protocol

from pairtui.log import SERVER
from pairtui.pty_bridge import PtyBridge
from pairtui.ssh_fastpath import ChannelFastPath

try:
    from pairtui._relay import Relay
except ImportError:  # not built (no compiler): guests are served from Python
    Relay = None  # type: ignore[assignment,misc]

# Seconds before asking again whether a terminal that was not quiet is now: doubling up
# to the last (a guest that stops reading costs a check a few times a second, not more).
RETRY, RETRY_MAX = 0.02, 0.32
# Descriptors a terminal's relay holds: its own duplicates of the socket and the PTY
# (never another file's number, whatever closes the originals) and two eventfds.
RELAY_FDS = 4


def available() -> bool:
    """Built, and not turned off with ``PAIRTUI_NATIVE=0``."""
    return Relay is not None and os.environ.get("PAIRTUI_NATIVE", "1") != "0"


def fds() -> int:
    """Descriptors each guest terminal holds for its relay (0 if there is none)."""
    return RELAY_FDS if available() else 0


class Reason(enum.IntEnum):
    """Why the thread stopped (the C module's numbers)."""

    NONE = 0
    STOP = 1  # asked to
    PACKET = 2  # one it does not handle: asyncssh takes it from here
    SOCKET_END = 3
    PTY_END = 4
    WINDOW = 5  # the guest's window is full
    REKEY = 6  # due: asyncssh starts it on its next packet
    SOCKET_FULL = 7  # the guest does not read: the rest waits in asyncio's buffer
    PTY_FULL = 8  # the pane does not read: the rest waits in the PTY bridge
    ERROR = 9


# Reasons after which the thread is not started again: the PTY's or the socket's end is
# Python's to see (the bridge reads the end of file, asyncio the closed socket).
_FOR_GOOD = frozenset({Reason.PTY_END, Reason.SOCKET_END, Reason.ERROR})


class RelayClient(Protocol):
    """What the relay asks of the guest session it serves."""

    def relay_wanted(self) -> bool:
        """The session is steady: shown the share, keys open, nothing paused."""

    def relay_input(self) -> bool:
        """Typed keys may go straight to the pane (a pair guest, share not recorded)."""

    def relay_typed(self, when: float) -> None:
        """The guest typed at ``when`` (wall clock) while the thread ran (told when the
        thread stops, and when the engine asks: :meth:`NativeRelay.last_input`)."""

    def update_reading(self) -> None: ...


class NativeRelay:
    """One guest terminal's native relay: started whenever quiet, stopped on demand."""

    def __init__(self, client: RelayClient, fast: ChannelFastPath, pty: PtyBridge) -> None:
        self._client = client
        self._fast = fast
        self._pty = pty
        self._loop = asyncio.get_running_loop()
        self._relay: Relay | None = None
        self._keys: tuple[bytes, bytes, int] | None = None
        self._retry: asyncio.Handle | None = None
        self._delay = RETRY
        self._resuming = False
        self._closed = False
        self._finished = False  # the PTY or socket ended: no new start
        self.stops: dict[Reason, int] = {}  # why the thread stopped, how often
        self._packets = (0, 0)  # CHANNEL_DATA relayed by threads that stopped (in, out)
        fast.relays.append(self.stop)

    @property
    def running(self) -> bool:
        """The thread owns the connection now."""
        return self._live() is not None

    def _live(self) -> Relay | None:
        """The relay whose thread runs now, if one does."""
        return self._relay if self._relay is not None and self._relay.running else None

    @property
    def packets_in(self) -> int:
        """CHANNEL_DATA packets the threads took from the guest (for tests, benchmarks)."""
        return self._packets[0] + (live.packets_in if (live := self._live()) else 0)

    @property
    def packets_out(self) -> int:
        return self._packets[1] + (live.packets_out if (live := self._live()) else 0)

    @property
    def last_input(self) -> float:
        """When the running thread last delivered a key (wall clock; 0: not since it
        started). The engine reads it once a second: stopping the thread to say so
        cost one key in 25 its fast echo."""
        return live.last_input if (live := self._live()) else 0.0

    @property
    def active(self) -> bool:
        """The thread owns the connection, or what it handed back is not yet taken."""
        return self.running or self._resuming

    def close(self) -> None:
        """For good (the terminal ends): stopped, its descriptors closed."""
        if self._closed:
            return
        self.stop()
        self._closed = True
        if self._retry is not None:
            self._retry.cancel()
        if self.stop in self._fast.relays:
            self._fast.relays.remove(self.stop)
        self._drop()

    def start(self) -> None:
        """Hand the terminal to the thread if nothing is pending; else ask again soon."""
        self._retry = None
        if self._closed or self._finished or self.active:
            return
        fast, pty = self._fast, self._pty
        if not (self._client.relay_wanted() and fast.quiet() and pty.quiet and fast.alone):
            self._retry = self._loop.call_later(self._delay, self.start)
            self._delay = min(2 * self._delay, RETRY_MAX)
            return
        self._delay = RETRY
        keys = fast.keys()
        try:
            if self._relay is None or keys != self._keys:  # first, or keys exchanged again
                self._drop()
                self._relay = Relay(fast.transport_fd, pty.fd, keys[0], keys[1], keys[2])
                self._keys = keys
                self._loop.add_reader(self._relay.notefd, self._ended)
            self._relay.start(
                **fast.hand_over(),
                input=self._client.relay_input(),
            )
        except (OSError, ValueError) as exc:  # out of descriptors or threads: as before
            SERVER.warning("native relay unavailable for this terminal: %s", exc)
            self.close()
            return
        # asyncio reads the socket and the PTY only between callbacks, so from here on
        # the thread alone does.
        fast.transport.pause_reading()
        pty.reading(False)

    def stop(self) -> None:
        """End the thread now (if it runs) and give asyncssh its state back."""
        if self.running:
            self._take_back(deferred=True)

    def _ended(self) -> None:
        if self.running:
            self._take_back(deferred=False)

    def _take_back(self, deferred: bool) -> None:
        """The thread is stopped: the state, then what it left, to asyncssh and the PTY.

        From :meth:`stop` (inside ``send_packet``, say) the bytes it read but did not
        consume go to asyncssh on the loop's next turn, never from within its own call;
        the socket stays unread until then, so they keep their place in the stream. If
        the state cannot be taken back, the connection is dropped: sealing another
        packet with an IV the thread already used would reuse an AES-GCM nonce.
        """
        assert self._relay is not None
        transport = self._fast.transport
        try:
            state = self._relay.stop()
            if state is None:
                return
            self._fast.take_back(
                state["recv_iv"], state["send_iv"], state["recv_seq"], state["send_seq"],
                state["recv_window"], state["send_window"], state["rekey_sent"],
            )  # fmt: skip
        except Exception:
            self._finished = True
            if transport is not None:
                transport.abort()
            raise
        reason = Reason(state["reason"])
        self.stops[reason] = self.stops.get(reason, 0) + 1
        self._packets = (
            self._packets[0] + state["packets_in"],
            self._packets[1] + state["packets_out"],
        )
        if reason in _FOR_GOOD:  # Python sees the end itself (or serves it from now on)
            self._finished = True
            if reason is Reason.ERROR:
                SERVER.warning("native relay stopped (errno %d); serving from Python", state["err"])
        if transport is None or transport.is_closing():  # the connection is gone already
            self._finished = True
            return
        if state["unsent"]:  # before anything else is sent: it is the stream's next bytes
            transport.write(state["unsent"])
        if state["pty_input"]:
            self._pty.write(state["pty_input"])
        if state["last_input"]:
            self._client.relay_typed(state["last_input"])
        self._resuming = True
        if deferred:
            self._loop.call_soon(self._resume, state["leftover"])
        else:
            self._resume(state["leftover"])

    def _resume(self, leftover: bytes) -> None:
        self._resuming = False
        transport = self._fast.transport
        if transport is not None and not transport.is_closing():  # (else: the guest is gone)
            transport.resume_reading()
            if leftover:
                self._fast.receive(leftover)
        self._client.update_reading()
        if not (self._closed or self._finished) and self._retry is None:
            self._retry = self._loop.call_soon(self.start)

    def _drop(self) -> None:
        if self._relay is not None:
            self._loop.remove_reader(self._relay.notefd)
            self._relay = None  # its descriptors close with it
