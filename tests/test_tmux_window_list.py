"""A guest's status line shows the share's windows as they are now.

What it shows must follow each change: a rename by the host, the guest's own window
switch, a window added or closed, a zoom, and another share ending or this one being
renamed (a window list kept in a session option and refreshed by hooks was tried to
make pair guests' keys cheaper for tmux, and these tests were written for it: see
benchmarks/README, "tmux's own cost"). A real tmux server on its own socket and a real
tmux client in a PTY as the guest; its status line is read from the terminal it draws
(pyte).
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import termios
from collections.abc import Iterator

import pyte
import pytest
from support import TmuxHost, wait_until

from pairtui.tmux import Tmux

COLS, ROWS = 100, 8


class GuestTerminal:
    """A tmux client attached as a guest, its screen emulated."""

    def __init__(self, argv: list[str]) -> None:
        self.screen = pyte.Screen(COLS, ROWS)
        self.stream = pyte.ByteStream(self.screen)
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the guest's tmux client
            os.environ["TERM"] = "xterm-256color"
            os.execvp(argv[0], argv)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))

    def status(self) -> str:
        while select.select([self.fd], [], [], 0.05)[0]:
            try:
                self.stream.feed(os.read(self.fd, 65536))
            except OSError:
                break
        return str(self.screen.display[-1])

    def close(self) -> None:
        os.kill(self.pid, 9)
        os.waitpid(self.pid, 0)
        os.close(self.fd)


@pytest.fixture
def terminals() -> Iterator[list[GuestTerminal]]:
    opened: list[GuestTerminal] = []
    yield opened
    for term in opened:
        term.close()


def shows(term: GuestTerminal, *parts: str) -> None:
    wait_until(lambda: all(p in term.status() for p in parts), timeout=5,
               what=f"the status line to show {parts}")  # fmt: skip


def test_a_session_shares_window_list_follows_renames_switches_new_windows_and_zoom(
    tmux_host: TmuxHost, terminals: list[GuestTerminal]
) -> None:
    tmux_host.run("rename-window", "-t", "host:0", "editor")
    tmux_host.run("new-window", "-d", "-t", "host:1", "-n", "logs")
    tmux = Tmux(tmux_host.socket)
    names = tmux.create_share("whole", session="host", host="me")
    pair = GuestTerminal(tmux.attach_argv(names.pair, readonly=False))
    view = GuestTerminal(tmux.attach_argv(names.view, readonly=True))
    terminals += [pair, view]
    shows(pair, "[pairtui] 0:editor* 1:logs", "shared by me")

    tmux_host.run("rename-window", "-t", "host:1", "tests")
    shows(pair, "0:editor* 1:tests")
    shows(view, "0:editor* 1:tests")

    tmux_host.run("select-window", "-t", f"={names.pair}:1")  # as a pair guest's prefix 1
    shows(pair, "0:editor- 1:tests*")
    shows(view, "0:editor* 1:tests")  # the view guests' own current window

    tmux_host.run("new-window", "-d", "-t", "host:2", "-n", "build")
    shows(pair, "1:tests* 2:build")
    tmux_host.run("kill-window", "-t", "host:0")
    wait_until(lambda: "editor" not in pair.status(), timeout=5, what="editor gone")

    tmux_host.run("split-window", "-d", "-t", "host:1")
    tmux_host.run("resize-pane", "-Z", "-t", "host:1.0")
    shows(pair, "1:tests*Z")


def test_a_window_shares_list_follows_the_hosts_rename_and_survives_other_shares_ending(
    tmux_host: TmuxHost, terminals: list[GuestTerminal]
) -> None:
    tmux_host.run("new-window", "-d", "-t", "host:1", "-n", "logs")
    tmux = Tmux(tmux_host.socket)
    tmux.create_share("other", session="host", host="me")
    names = tmux.create_share("win", window="host:1", host="me")
    guest = GuestTerminal(tmux.attach_argv(names.pair, readonly=False))
    terminals.append(guest)
    shows(guest, "[pairtui] 1:logs*")

    tmux.kill_share("other")
    tmux_host.run("rename-window", "-t", "host:1", "tail")
    shows(guest, "1:tail*")
    # A renamed share keeps its list current too.
    renamed = tmux.rename_share("win", "logs", host="me")
    tmux_host.run("rename-window", "-t", "host:1", "errors")
    shows(guest, "1:errors*")
    assert renamed.pair in tmux_host.run("list-sessions", "-F", "#{session_name}")
