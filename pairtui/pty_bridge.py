"""A child process on a pseudo-terminal, pumped both ways with bounds.

The embedded server runs each guest's forced ``tmux attach`` on a PTY of its own. This
module owns that PTY: starting the child on it, its window size, reading its output
only while the guest can take it (tmux copes with slow clients; the server must not
buffer for them), writing typed input with a bound on what the child has not taken,
and stopping the child while forwarding what it prints on its way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import struct
import termios
from collections.abc import Callable

READ_SIZE = 65536
STOP_GRACE = 3.0  # seconds the child has to exit after SIGTERM


class PtyBridge:
    """One child on one PTY.

    Args:
        on_output: gets every chunk the child prints while reading is on.
        on_eof: called once when the child's side closes (it exited).
        input_limit: bytes of input the child may leave unread before ``on_input_full``.
        on_input_full / on_input_ok: stop and resume taking input from the guest; ok
            comes once the backlog is down to half the limit.
    """

    def __init__(
        self,
        on_output: Callable[[bytes], None],
        on_eof: Callable[[], None],
        input_limit: int,
        on_input_full: Callable[[], None],
        on_input_ok: Callable[[], None],
    ) -> None:
        self._on_output = on_output
        self._on_eof = on_eof
        self._input_limit = input_limit
        self._on_input_full = on_input_full
        self._on_input_ok = on_input_ok
        self._loop = asyncio.get_running_loop()
        self._master = -1
        self._proc: asyncio.subprocess.Process | None = None
        self._pending = b""
        self._input_full = False
        self._reading = False
        self.tty = ""
        self.pid = 0

    @property
    def open(self) -> bool:
        return self._master >= 0

    @property
    def fd(self) -> int:
        """The PTY's master side (a native relay reads and writes a duplicate of it)."""
        return self._master

    @property
    def quiet(self) -> bool:
        """Open, with no typed input waiting for the child."""
        return self._master >= 0 and not self._pending

    async def start(self, argv: list[str], env: dict[str, str], rows: int, cols: int) -> None:
        """Start ``argv`` on a new PTY of ``cols`` x ``rows``; raises OSError if it cannot."""
        master, slave = os.openpty()
        try:
            set_winsize(slave, rows, cols)
            self.tty = os.ttyname(slave)
            self._proc = await asyncio.create_subprocess_exec(
                *argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                start_new_session=True, close_fds=True,
            )  # fmt: skip
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        os.set_blocking(master, False)
        self._master = master
        self.pid = self._proc.pid

    def reading(self, want: bool) -> None:
        """Read the child's output (``want``) or leave it in the PTY."""
        want = want and self._master >= 0
        if want and not self._reading:
            self._loop.add_reader(self._master, self._readable)
        elif self._reading and not want:
            self._loop.remove_reader(self._master)
        self._reading = want

    def write(self, data: bytes) -> None:
        """Input for the child; what it does not take at once waits, within the limit."""
        if self._master < 0:
            return
        if self._pending:
            self._pending += data
            self._check_input()
            return
        try:
            n = os.write(self._master, data)
        except BlockingIOError:
            n = 0
        except OSError:
            return
        if n < len(data):
            self._pending = data[n:]
            self._loop.add_writer(self._master, self._flush)
            self._check_input()

    def resize(self, rows: int, cols: int) -> None:
        if self._master < 0:
            return
        set_winsize(self._master, rows, cols)
        if self._proc is not None and self._proc.returncode is None:
            os.kill(self._proc.pid, signal.SIGWINCH)

    async def stop(self, last_output: Callable[[bytes], None]) -> None:
        """End the child (SIGTERM, then SIGKILL) and close the PTY; what the child
        printed on its way out (it restores the guest's terminal) goes to ``last_output``."""
        proc = self._proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), STOP_GRACE)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if self._master < 0:
            return
        self._drain(last_output)
        self.reading(False)
        if self._pending:
            self._loop.remove_writer(self._master)
        os.close(self._master)
        self._master = -1

    def _readable(self) -> None:
        try:
            data = os.read(self._master, READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.reading(False)
            self._on_eof()
            return
        self._on_output(data)

    def _check_input(self) -> None:
        if not self._input_full and len(self._pending) > self._input_limit:
            self._input_full = True
            self._on_input_full()

    def _flush(self) -> None:
        try:
            n = os.write(self._master, self._pending)
        except BlockingIOError:
            return
        except OSError:
            n = len(self._pending)
        self._pending = self._pending[n:]
        if not self._pending:
            self._loop.remove_writer(self._master)
        if self._input_full and len(self._pending) <= self._input_limit // 2:
            self._input_full = False
            self._on_input_ok()

    def _drain(self, sink: Callable[[bytes], None]) -> None:
        for _ in range(64):
            try:
                data = os.read(self._master, READ_SIZE)
            except OSError:
                return
            if not data:
                return
            sink(data)


def set_winsize(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
