"""What one guest's join or leave costs everyone else (issue 15, point 6).

With OpenSSH sshd and a forced ``tmux attach``, a guest who joins costs the others
nothing. pairtui tells the host (a message and its status segment); that must reach the
host's own clients only, never redraw the guests, and keep up with a class joining at
once: the host's status is right within half a second of the last join.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import (
    SshGuest,
    TmuxHost,
    add_guest,
    share,
    start_server,
    wait_until,
)

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]

CLASS_SIZE = 200
BATCH = 25  # joins at once: under the server's unauthenticated-connection limit (64)


def host_status(host: TmuxHost) -> str:
    """What ``#{@pairtui_status}`` in the host's status line shows right now."""
    return host.run("display-message", "-p", "#{@pairtui_status}").strip()


def guest_clients(host: TmuxHost) -> int:
    return sum(c["session"].startswith("pairtui-") for c in host.clients())


def quiet(guest: SshGuest, seconds: float = 0.6) -> None:
    """Read until the guest's terminal has had nothing new for ``seconds``."""
    deadline = time.monotonic() + 15
    last, since = len(guest.raw), time.monotonic()
    while time.monotonic() - since < seconds:
        assert time.monotonic() < deadline, "the guest's screen never settled"
        guest.pump(0.05)
        if len(guest.raw) != last:
            last, since = len(guest.raw), time.monotonic()


class Class:
    """Many real OpenSSH guests with one key, their output thrown away (no screens)."""

    def __init__(self, port: int, key: Path) -> None:
        self.port, self.key = port, key
        self.procs: list[subprocess.Popen[bytes]] = []

    def join(self, n: int) -> None:
        for _ in range(n):
            argv = [
                "ssh", "-F", "/dev/null", "-p", str(self.port), "-i", str(self.key),
                "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "IdentityAgent=none",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", "-tt", "guest@127.0.0.1",
            ]  # fmt: skip
            self.procs.append(
                subprocess.Popen(
                    argv,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        for p in self.procs:
            p.wait(10)


@pytest.fixture
def klass(tmp_path: Path) -> Iterator[Callable[[int, Path], Class]]:
    made: list[Class] = []

    def make(port: int, key: Path) -> Class:
        made.append(Class(port, key))
        return made[-1]

    yield make
    for c in made:
        c.close()


def test_a_join_or_leave_sends_not_one_byte_to_the_guests_already_in(
    tmux_host: TmuxHost, keys: Callable[[str], Path], guests: Connect
) -> None:
    add_guest("alice", keys("alice"), "--mode", "view")
    add_guest("bob", keys("bob"), "--mode", "pair")
    share(tmux_host, "--session", "host", "--name", "main")
    srv = start_server()
    try:
        alice = guests(srv.port, keys("alice"))
        alice.wait_for("[pairtui]")
        quiet(alice)
        before = len(alice.raw)
        for _ in range(3):  # joins and leaves, each an event the host is told of
            bob = guests(srv.port, keys("bob"))
            bob.wait_for("[pairtui]")
            wait_until(lambda: guest_clients(tmux_host) == 2, what="bob in")
            wait_until(lambda: host_status(tmux_host) == "2 guests: main(2)", what="status 2")
            bob.close()
            wait_until(lambda: guest_clients(tmux_host) == 1, what="bob out")
            wait_until(lambda: host_status(tmux_host) == "1 guest: main(1)", what="status 1")
        quiet(alice)
        sent = alice.raw[before:]
        assert sent == b"", f"{len(sent)} bytes to a guest who did nothing: {sent[:200]!r}"
    finally:
        srv.stop()


def test_the_hosts_status_is_right_half_a_second_after_a_class_joined(
    tmux_host: TmuxHost, keys: Callable[[str], Path], klass: Callable[[int, Path], Class]
) -> None:
    add_guest("student", keys("student"), "--mode", "view")
    share(tmux_host, "--session", "host", "--name", "main")
    srv = start_server()
    try:
        room = klass(srv.port, keys("student"))
        for joined in range(BATCH, CLASS_SIZE + 1, BATCH):
            room.join(BATCH)
            deadline = time.monotonic() + 60
            while guest_clients(tmux_host) < joined:  # polled tightly: the last join's time
                assert time.monotonic() < deadline, f"{joined} students never got in"
                time.sleep(0.01)
        last_join = time.monotonic()
        want = f"{CLASS_SIZE} guests: main({CLASS_SIZE})"
        wait_until(lambda: host_status(tmux_host) == want, timeout=10, interval=0.01,
                   what=want)  # fmt: skip
        lag = time.monotonic() - last_join
        print(f"host status right {lag * 1000:.0f} ms after the last of {CLASS_SIZE} joins")
        assert lag <= 0.5, f"the host's status was {lag:.2f} s behind"
    finally:
        srv.stop()
