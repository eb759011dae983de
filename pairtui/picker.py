"""The share picker a guest sees when it may join several shares and named none.

Joining "the most recent share" let a guest land in a share the host had forgotten, so a
guest who may join more than one is asked. The picker is drawn by pairtui itself on the
guest's terminal, before any tmux client exists: nothing the guest types reaches tmux
until it has chosen, and what it chose is checked again like a share named on the
command line. It knows nothing of SSH: keys in, screen bytes out.
"""

from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass, field

# Who shares, as the picker and the waiting room say: this host's user and machine.
HOST = f"{getpass.getuser()}@{socket.gethostname()}"

ENTER_SCREEN = b"\x1b[?1049h\x1b[?25l"  # alternate screen, cursor hidden
LEAVE_SCREEN = b"\x1b[?25h\x1b[?1049l"

UP = (b"\x1b[A", b"\x1bOA", b"k")
DOWN = (b"\x1b[B", b"\x1bOB", b"j")
CHOOSE = (b"\r", b"\n")
GIVE_UP = (b"q", b"\x03", b"\x04", b"\x1b")  # q, Ctrl-C, Ctrl-D, a lone Escape


@dataclass(frozen=True)
class Choice:
    name: str  # the share's name, as a guest would type it after the ssh command
    about: str  # what it is: "session main", "window host:0 (vim)"


@dataclass(frozen=True)
class Chosen:
    name: str


@dataclass(frozen=True)
class GaveUp:
    pass


@dataclass
class Picker:
    """Arrow keys (or j/k, or a digit) and Enter; q, Escape or Ctrl-C to leave.

    Only names and descriptions the host made are drawn (share names are restricted to
    ``[A-Za-z0-9_-]``; the descriptions come from the host's tmux).
    """

    host: str
    choices: list[Choice]
    index: int = 0
    _pending: bytes = field(default=b"", repr=False)

    def feed(self, data: bytes) -> Chosen | GaveUp | None:
        """Take the guest's keys; a result once it chose or gave up, else None."""
        data = self._pending + data
        self._pending = b""
        while data:
            key, data = _next_key(data)
            if key is None:  # the start of an escape sequence: wait for the rest
                self._pending = data
                return None
            if key in UP:
                self.index = (self.index - 1) % len(self.choices)
            elif key in DOWN:
                self.index = (self.index + 1) % len(self.choices)
            elif key in CHOOSE:
                return Chosen(self.choices[self.index].name)
            elif key in GIVE_UP:
                return GaveUp()
            elif key.isdigit() and 1 <= int(key) <= min(9, len(self.choices)):
                return Chosen(self.choices[int(key) - 1].name)
        return None

    def screen(self, cols: int, rows: int) -> bytes:
        """The whole picker, drawn from the top left of a cleared screen."""
        lines = [
            f"pairtui: {self.host} shares {len(self.choices)} things you may join.",
            "",
        ]
        width = max(len(c.name) for c in self.choices)
        room = max(1, rows - 5)
        first = max(0, self.index - room + 1)  # scrolled so the highlighted row shows
        for i in range(first, min(len(self.choices), first + room)):
            c = self.choices[i]
            number = f"{i + 1}" if i < 9 else " "
            row = f" {number}  {c.name.ljust(width)}  {c.about}"[: max(1, cols - 2)]
            lines.append(f"\x1b[7m>{row}\x1b[m" if i == self.index else f" {row}")
        lines += ["", "Up/Down and Enter to join, a digit to jump, q to leave."[:cols]]
        return b"\x1b[H\x1b[2J" + "\r\n".join(lines).encode()


def _next_key(data: bytes) -> tuple[bytes | None, bytes]:
    """One key from the front of ``data``, or None if it holds half an escape sequence."""
    if data[:1] != b"\x1b":
        return data[:1], data[1:]
    if len(data) == 1:
        return b"\x1b", b""  # a lone Escape, as a terminal sends it on its own
    if data[1:2] in (b"[", b"O"):
        for end in range(2, min(len(data), 16)):
            if 0x40 <= data[end] <= 0x7E:
                return data[: end + 1], data[end + 1 :]
        return (None, data) if len(data) < 16 else (data[:16], data[16:])
    return b"\x1b", data[1:]


def pick_on_terminal(picker: Picker, fd_in: int = 0, fd_out: int = 1) -> str | None:
    """Run ``picker`` on this process's terminal (``pairtui join`` under sshd); the share
    chosen, or None if the guest gave up or there is no terminal to ask on."""
    import os
    import termios
    import tty

    if not (os.isatty(fd_in) and os.isatty(fd_out)):
        return None
    saved = termios.tcgetattr(fd_in)
    try:
        tty.setraw(fd_in)
        cols, rows = os.get_terminal_size(fd_out)
        os.write(fd_out, ENTER_SCREEN + picker.screen(cols, rows))
        while True:
            data = os.read(fd_in, 1024)
            if not data:
                return None
            result = picker.feed(data)
            if isinstance(result, Chosen):
                return result.name
            if isinstance(result, GaveUp):
                return None
            cols, rows = os.get_terminal_size(fd_out)
            os.write(fd_out, picker.screen(cols, rows))
    finally:
        os.write(fd_out, LEAVE_SCREEN)
        termios.tcsetattr(fd_in, termios.TCSADRAIN, saved)
