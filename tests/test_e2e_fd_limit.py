"""A server out of file descriptors (issue 15, point 4), with real parts.

A real `pairtui serve` runs with its open-file limit (hard and soft) at 128. When more
OpenSSH guests come than fit, none may hang: each is in the share or is told on its
terminal that the host is full; the control socket keeps answering; the audit log loses
nothing; the server's log stays small; and the server takes guests again once there is
room. Connections that never speak cannot keep guests out either.
"""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import SshGuest, TmuxHost, pairtui, share, type_in_host, wait_until

from pairtui.audit import Audit
from pairtui.host import Host
from pairtui.keys import read_key_file

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]
NOFILE = 128
GUESTS = 60
FULL = re.compile(r"pairtui: this host is full \((\d+) guests\); try again later")


class LoggedServer:
    """`pairtui serve` with its output in a file, as the background server's serve.log
    (a pipe nobody reads would stop a server that logs too much)."""

    def __init__(self, log: Path, nofile: int) -> None:
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                ["prlimit", f"--nofile={nofile}:{nofile}", "--",
                 sys.executable, "-m", "pairtui", "serve", "--port", "0"],
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        found = wait_until(self._port, timeout=20, what="pairtui serve to start")
        self.port = int(found[1])

    def _port(self) -> re.Match[str] | None:
        if self.proc.poll() is not None:
            raise AssertionError("pairtui serve exited:\n" + self.text())
        return re.search(r"serving on \S+:(\d+)", self.text())

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def host(tmux_host: TmuxHost) -> TmuxHost:
    type_in_host(tmux_host, "echo MARK-$((20+1))")
    share(tmux_host, "--session", "host", "--name", "main")
    return tmux_host


@pytest.fixture
def server(host: TmuxHost, tmp_path: Path) -> Iterator[LoggedServer]:
    srv = LoggedServer(tmp_path / "serve.log", NOFILE)
    yield srv
    srv.stop()


def register(keys: Callable[[str], Path], count: int) -> list[Path]:
    """``count`` guests with a key each, added in this process (60 CLI runs take long)."""
    host = Host()
    made = []
    for i in range(count):
        key = keys(f"g{i:02}")
        host.add_guest(f"g{i:02}", read_key_file(f"{key}.pub"))
        made.append(key)
    return made


def fate(g: SshGuest) -> str | None:
    """What became of a guest: "in" once it sees the share, "refused" once its ssh
    exited with the message, what it showed if it exited otherwise, None while open."""
    if "MARK-21" in g.text():
        return "in"
    if g.child.isalive():
        return None
    g.pump()
    return "refused" if FULL.search(g.output) else f"exited with {g.output!r}"


def test_sixty_guests_at_128_open_files_none_hangs_and_the_server_recovers(
    keys: Callable[[str], Path], guests: Connect, server: LoggedServer
) -> None:
    made = register(keys, GUESTS + 1)
    # LogLevel INFO, as a plain `ssh` has it.
    crowd = [guests(server.port, key, log_level="INFO") for key in made[:GUESTS]]

    deadline = time.monotonic() + 60
    fates: dict[int, str] = {}
    while len(fates) < GUESTS and time.monotonic() < deadline:
        for i, g in enumerate(crowd):
            if i not in fates and (f := fate(g)) is not None:
                fates[i] = f
        time.sleep(0.1)
    inside = [i for i, f in fates.items() if f == "in"]
    refused = [i for i, f in fates.items() if f == "refused"]
    hung = [i for i in range(GUESTS) if i not in fates]
    odd = {i: f for i, f in fates.items() if f not in {"in", "refused"}}
    summary = f"{len(inside)} in, {len(refused)} refused, {len(hung)} hung, other: {odd}"
    assert not hung and not odd, summary
    assert inside and refused, summary  # 60 do not fit in 128 files; some do
    told = {int(m[1]) for i in refused if (m := FULL.search(crowd[i].output))}
    assert max(told) <= len(inside), summary  # the count of guests it was told is true

    # At its limit the control socket answers: the reserve is kept for it.
    res = pairtui("clients", "--json")
    assert res.returncode == 0, res.stderr
    assert len(re.findall(r'"guest":', res.stdout)) == len(inside)
    res = pairtui("status")
    assert res.returncode == 0, res.stderr
    assert f"{len(inside)} guests" in res.stdout, res.stdout

    for g in crowd:
        g.close()
    late = guests(server.port, made[GUESTS])
    late.wait_for("MARK-21", timeout=30)  # room again: the server recovered
    late.close()

    server.stop()
    log = server.text()
    assert "Traceback" not in log and "Too many open files" not in log, log[-4000:]
    # Small: a line per join and leave at most, and refusals said once per interval.
    assert len(log.splitlines()) < 2 * (len(inside) + 1) + 20, log[-4000:]
    events = Audit().read()
    assert sum(e["event"] == "join" for e in events) == len(inside) + 1  # none lost
    full = [e for e in events if e["event"] == "refused" and "full" in str(e["reason"])]
    assert len(full) <= 2 * (1 + 60 // 10), full  # once per interval, then a count
    assert sum(int(str(e.get("count", 1))) for e in full) == len(refused), full


def test_connections_that_never_speak_cannot_keep_a_guest_out(
    keys: Callable[[str], Path], guests: Connect, server: LoggedServer
) -> None:
    """150 TCP connections that say nothing take every descriptor the server has (128):
    those it cannot accept are closed at once instead of waiting in the kernel's queue,
    those it holds make room once silent for a moment, and a guest who comes then gets
    in well before the login grace time (30 s) would have freed anything."""
    [key] = register(keys, 1)
    silent: list[socket.socket] = []
    try:
        for _ in range(150):
            silent.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
        time.sleep(3)  # silent for longer than a real client ever is (limits.SILENT_AFTER)
        started = time.monotonic()
        g = guests(server.port, key)
        g.wait_for("MARK-21", timeout=15)
        took = time.monotonic() - started
        g.close()
        # Those past the limit were closed, not left waiting in the kernel's queue.
        closed = 0
        for s in silent:
            s.settimeout(0.01)
            with contextlib.suppress(TimeoutError, ConnectionError):
                closed += s.recv(1) == b""
        assert closed > 0
    finally:
        for s in silent:
            s.close()
    server.stop()
    log = server.text()
    assert "Traceback" not in log, log[-4000:]
    assert len(log.splitlines()) < 20, log[-4000:]
    assert took < 15
    assert len(re.findall(r"out of system resource", log)) == 1, log
