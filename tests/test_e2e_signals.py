"""Signals and a server that is gone or stuck: a real `pairtui serve`, real OpenSSH guests.

SIGHUP (the terminal running the server closed) ends it as SIGTERM does; `pairtui
status` and `pairtui clients` tell a killed server (stale socket) and a busy one (takes
connections, does not answer) from a running one, and never call a busy one "not running".
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import (
    SshGuest,
    TmuxHost,
    add_guest,
    pairtui,
    pairtui_json,
    share,
    start_server,
    type_in_host,
    wait_until,
)

from pairtui import paths
from pairtui.audit import Audit

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]


class TerminalServer:
    """`pairtui serve` in a terminal of its own (a PTY it has as controlling terminal), as
    a host runs it; closing the terminal is what sends it SIGHUP."""

    def __init__(self) -> None:
        self.master, slave = pty.openpty()

        def own_terminal() -> None:  # after setsid: the PTY becomes our controlling tty
            import fcntl

            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pairtui", "serve", "--port", "0"],
            stdin=slave, stdout=slave, stderr=slave,
            start_new_session=True, preexec_fn=own_terminal,  # noqa: PLW1509 - no threads yet
        )  # fmt: skip
        os.close(slave)
        self.out = b""
        m = wait_until(self._started, timeout=20, what="pairtui serve to start")
        self.port = int(m[1])
        self.closed = False

    def _started(self) -> re.Match[bytes] | None:
        self._read()
        return re.search(rb"serving on \S+:(\d+)", self.out)

    def _read(self) -> None:
        while select.select([self.master], [], [], 0.05)[0]:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: the server is gone
                return
            if not data:
                return
            self.out += data

    def close_terminal(self) -> None:
        os.close(self.master)
        self.closed = True

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        if not self.closed:
            self.close_terminal()


@pytest.fixture
def terminal_server() -> Iterator[TerminalServer]:
    srv = TerminalServer()
    yield srv
    srv.kill()


def test_closing_the_servers_terminal_ends_it_as_gracefully_as_sigterm(
    tmux_host: TmuxHost,
    keys: Callable[[str], Path],
    guests: Connect,
    terminal_server: TerminalServer,
) -> None:
    type_in_host(tmux_host, "echo MARK-$((20+1))")
    share(tmux_host, "--session", "host", "--name", "main")
    add_guest("alice", keys("alice"), "--mode", "pair")
    g = guests(terminal_server.port, keys("alice"))
    g.wait_for("MARK-21")
    wait_until(lambda: pairtui_json("clients"), what="alice listed")

    terminal_server.close_terminal()  # the kernel sends the server SIGHUP

    # The server finished its shutdown and exited on its own (not killed by SIGHUP).
    assert terminal_server.proc.wait(20) == 0
    assert g.wait_exit() != 0
    assert "the host stopped sharing" in g.output  # the guest was told why
    events = [e["event"] for e in Audit().read() if e.get("guest") == "alice"]
    assert events.count("join") == 1 and events.count("leave") == 1, events
    assert not paths.control_socket().exists()
    res = pairtui("status")
    assert (res.returncode, res.stdout.strip()) == (0, "no pairtui server is running")


def test_status_tells_a_killed_server_from_a_running_one() -> None:
    srv = start_server()
    try:
        live = pairtui_json("status")
        assert (live["running"], live["state"]) == (True, "running")
        assert live["server"]["pid"] == srv.proc.pid
    finally:
        srv.proc.send_signal(signal.SIGKILL)
        srv.stop()
    assert paths.control_socket().exists()  # kill -9 leaves it behind

    dead = pairtui_json("status")
    assert (dead["running"], dead["state"], dead["server"]) == (False, "stale", None)
    res = pairtui("status")
    assert res.returncode == 0
    assert res.stdout.strip() == "no pairtui server is running (the last one did not exit cleanly)"
    res = pairtui("stop")
    assert res.returncode == 1
    assert res.stderr.splitlines() == [
        "pairtui: no pairtui server is running (the last one did not exit cleanly)"
    ]
    # A new server cleans up after the dead one.
    again = start_server()
    try:
        assert pairtui_json("status")["server"]["pid"] == again.proc.pid
    finally:
        again.stop()


def test_a_stuck_server_is_busy_never_not_running(
    tmux_host: TmuxHost, keys: Callable[[str], Path], guests: Connect
) -> None:
    """A server that takes connections but does not answer (stopped here with SIGSTOP;
    out of file descriptors in the field) is "busy": exit 1, and no second server takes
    its socket over."""
    type_in_host(tmux_host, "echo MARK-$((20+1))")
    share(tmux_host, "--session", "host", "--name", "main")
    add_guest("alice", keys("alice"))
    srv = start_server()
    backlog: list[socket.socket] = []
    try:
        g = guests(srv.port, keys("alice"))
        g.wait_for("MARK-21")
        os.kill(srv.proc.pid, signal.SIGSTOP)
        # It accepts (the kernel queues the connection) but never answers.
        res = pairtui("clients")
        assert res.returncode == 1, res.stdout
        assert "does not answer" in res.stderr and "no pairtui server" not in res.stdout
        assert len(res.stderr.splitlines()) == 1

        # Its queue full: connect fails with EAGAIN at once.
        backlog = _fill_backlog(paths.control_socket())
        res = pairtui("status", "--json")
        assert res.returncode == 1
        busy = json.loads(res.stdout)
        assert (busy["running"], busy["state"]) == (None, "busy")
        res = pairtui("status")
        assert (res.returncode, res.stdout) == (1, "")
        assert "does not answer" in res.stderr
        res = pairtui("clients", "--json")
        assert res.returncode == 1 and "does not answer" in res.stderr
        res = pairtui("status", "--tmux")  # the host's status line says so
        assert (res.returncode, res.stdout.strip()) == (1, "pairtui: not answering")
        res = pairtui("serve", "--port", "0", timeout=30)
        assert res.returncode == 1 and "does not answer" in res.stderr
        assert paths.control_socket().exists()  # not taken over

        for s in backlog:
            s.close()
        os.kill(srv.proc.pid, signal.SIGCONT)
        rows = wait_until(lambda: _clients_or_none(), what="the server answering again")
        assert [r["guest"] for r in rows] == ["alice"]
    finally:
        for s in backlog:
            s.close()
        with contextlib.suppress(ProcessLookupError):
            os.kill(srv.proc.pid, signal.SIGCONT)
        srv.stop()


def _clients_or_none() -> list[dict[str, object]] | None:
    res = pairtui("clients", "--json")
    return json.loads(res.stdout) if res.returncode == 0 else None


def _fill_backlog(path: Path, most: int = 5000) -> list[socket.socket]:
    """Connect to a server that does not accept until the kernel refuses with EAGAIN."""
    held: list[socket.socket] = []
    deadline = time.monotonic() + 10
    while len(held) < most and time.monotonic() < deadline:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(str(path))
        except BlockingIOError:
            s.close()
            return held
        held.append(s)
    for s in held:
        s.close()
    raise AssertionError(f"the control socket took {len(held)} connections without EAGAIN")


def test_pairtui_stop_stops_a_server_that_does_not_answer(
    tmux_host: TmuxHost, keys: Callable[[str], Path], guests: Connect
) -> None:
    """The kernel names the process behind the socket; `stop` sends it SIGTERM."""
    type_in_host(tmux_host, "echo MARK-$((20+1))")
    share(tmux_host, "--session", "host", "--name", "main")
    add_guest("alice", keys("alice"))
    srv = start_server()
    stopper: subprocess.Popen[str] | None = None
    try:
        g = guests(srv.port, keys("alice"))
        g.wait_for("MARK-21")
        os.kill(srv.proc.pid, signal.SIGSTOP)
        res = pairtui("status", "--json")
        busy = json.loads(res.stdout)
        assert (res.returncode, busy["state"], busy["pid"]) == (1, "busy", srv.proc.pid)

        stopper = subprocess.Popen(
            [sys.executable, "-m", "pairtui", "stop"], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        wait_until(lambda: _pending(srv.proc.pid, signal.SIGTERM), what="SIGTERM sent")
        os.kill(srv.proc.pid, signal.SIGCONT)
        out, err = stopper.communicate(timeout=30)
        assert stopper.returncode == 0, err
        assert out.splitlines() == [
            f"stopped the pairtui server (pid {srv.proc.pid}), which did not answer, with SIGTERM"
        ]
        assert srv.proc.wait(10) == 0
        assert g.wait_exit() != 0
        assert "the host stopped sharing" in g.output
        assert [e["event"] for e in Audit().read() if e.get("guest") == "alice"] == [
            "join",
            "leave",
        ]
        assert not paths.control_socket().exists()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(srv.proc.pid, signal.SIGCONT)
        if stopper is not None and stopper.poll() is None:
            stopper.kill()
            stopper.wait(5)
        srv.stop()


def _pending(pid: int, sig: signal.Signals) -> bool:
    """Whether ``sig`` waits to be delivered to ``pid`` (a stopped process keeps it)."""
    fields = dict(
        line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    mask = int(fields["ShdPnd"], 16) | int(fields["SigPnd"], 16)
    return bool(mask & (1 << (sig - 1)))
