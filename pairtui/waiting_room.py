"""The waiting room: the terminal of a guest knocking at the door (see :mod:`pairtui.door`).

It is drawn by pairtui and never reaches tmux: the guest's keys are drained (Ctrl-C or
Ctrl-D leaves), window-size changes only redraw it, exec and subsystems are refused.
Admitted, the same SSH channel goes on as an ordinary guest terminal (a
:class:`pairtui.guest_ssh.GuestSession` takes it over), so the guest does not
reconnect; denied or not answered in time, it is told in one line and closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

import asyncssh

from pairtui.door import Knock
from pairtui.picker import HOST

LEAVE_KEYS = (b"\x03", b"\x04")  # Ctrl-C, Ctrl-D


class Door(Protocol):
    def knock_gone(self, knock: Knock, state: str = "gone") -> None: ...


class Connection(Protocol):
    def close(self, reason: str, event: str) -> None: ...


class WaitingSession(asyncssh.SSHServerSession[bytes]):
    """``guest``: makes the ordinary guest terminal that takes the channel over once the
    guest is admitted (a :class:`pairtui.guest_ssh.GuestSession`)."""

    def __init__(
        self, engine: Door, conn: Connection, knock: Knock,
        guest: Callable[[], asyncssh.SSHServerSession[bytes]],
    ) -> None:  # fmt: skip
        self.engine, self.conn, self.knock, self._make_guest = engine, conn, knock, guest
        self._chan: asyncssh.SSHServerChannel[bytes] | None = None
        self._pty: tuple[str, tuple[int, int, int, int], Any] | None = None
        self._guest: asyncssh.SSHServerSession[bytes] | None = None  # once admitted
        self._timer: asyncio.TimerHandle | None = None
        knock.decide = self._decided

    # --- while waiting ---------------------------------------------------------------

    def connection_made(self, chan: asyncssh.SSHServerChannel[bytes]) -> None:
        self._chan = chan

    def pty_requested(self, term_type: str, term_size: tuple[int, int, int, int],
                      term_modes: Any) -> bool:  # fmt: skip
        self._pty = (term_type, term_size, term_modes)
        return True

    def shell_requested(self) -> bool:
        return True

    def exec_requested(self, command: str) -> bool:
        return False  # a waiting guest runs nothing, and names no share yet

    def subsystem_requested(self, subsystem: str) -> bool:
        return False

    def session_started(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(
            self.knock.timeout, self._decided, ("deny", "the host did not answer")
        )
        self._write(self._screen())

    def _screen(self) -> bytes:
        k = self.knock
        lines = [
            f"pairtui: you are knocking at {HOST}.",
            "The host has been asked to let you in; please wait.",
            f"Your key: {k.fingerprint}",
            f"Read this code to the host: {k.code}",
            "Ctrl-C to give up.",
        ]
        return b"\x1b[H\x1b[2J" + "\r\n".join(lines).encode() + b"\r\n"

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        if self._guest is not None:
            self._guest.data_received(data, datatype)
        elif any(k in data for k in LEAVE_KEYS):
            self._decided(("deny", "you stopped waiting"))
        # Anything else a waiting guest types goes nowhere.

    def terminal_size_changed(self, width: int, height: int, pixw: int, pixh: int) -> None:
        if self._guest is not None:
            self._guest.terminal_size_changed(width, height, pixw, pixh)
        elif self._pty is not None:
            term, _, modes = self._pty
            self._pty = (term, (width, height, pixw, pixh), modes)

    def eof_received(self) -> bool:
        return self._guest.eof_received() if self._guest is not None else True

    def pause_writing(self) -> None:
        if self._guest is not None:
            self._guest.pause_writing()

    def resume_writing(self) -> None:
        if self._guest is not None:
            self._guest.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._guest is not None:
            self._guest.connection_lost(exc)
        else:
            # Its channel closed while it waited: the connection goes too. Left open, it
            # stayed logged in with a key nobody admitted, listed nowhere, and its place
            # in the waiting room went to the next knock: the bounds bounded nothing.
            self.engine.knock_gone(self.knock)
            self.conn.close("you stopped waiting", "refused")

    # --- the decision ----------------------------------------------------------------

    def _decided(self, decision: tuple[Any, ...]) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.knock.decide = None
        admitted = decision[0] == "admit"
        state = "admitted" if admitted else str(decision[2]) if len(decision) > 2 else "gone"
        self.engine.knock_gone(self.knock, state)
        if decision[0] == "admit":
            self._go_in()
            return
        why = str(decision[1])
        chan = self._chan
        if chan is not None and not chan.is_closing():
            chan.write_stderr(f"\r\npairtui: {why}\r\n".encode())
            chan.exit(1)
        self.conn.close(why, "refused")

    def _go_in(self) -> None:
        """The same channel, now an ordinary guest terminal: into the share."""
        chan = self._chan
        if chan is None or chan.is_closing():
            return
        self._write(b"\x1b[H\x1b[2J")
        guest = self._make_guest()
        guest.connection_made(chan)
        if self._pty is not None:
            guest.pty_requested(*self._pty)
        self._guest = guest
        guest.session_started()

    def _write(self, data: bytes) -> None:
        chan = self._chan
        if chan is not None and not chan.is_closing():
            chan.write(data)
