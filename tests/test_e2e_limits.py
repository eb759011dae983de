"""One peer cannot exhaust the host: limits before and after login, with real parts.

The attackers are hand-written: raw TCP sockets that never speak, OpenSSH offering key
after key, and asyncssh clients that ask for absurd terminals, open session after
session, stop reading, or flood input. The server is a real `pairtui serve`.
"""

from __future__ import annotations

import asyncio
import re
import resource
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncssh
import pytest
from support import (
    Server,
    SshGuest,
    TmuxHost,
    add_guest,
    pairtui_json,
    start_server,
    type_in_host,
    wait_until,
)

from pairtui import paths
from pairtui.audit import Audit

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]
MB = 1024 * 1024


@pytest.fixture
def host(tmux_host: TmuxHost) -> TmuxHost:
    type_in_host(tmux_host, "echo MARK-$((20+1))\r")
    wait_until(lambda: "MARK-21" in tmux_host.capture(), what="MARK-21 in the host pane")
    from support import share

    share(tmux_host, "--session", "host", "--name", "main")
    return tmux_host


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(**kwargs: object) -> Server:
        srv = start_server(**kwargs)  # type: ignore[arg-type]
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


def rss(pid: int) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    m = re.search(r"VmRSS:\s+(\d+) kB", text)
    assert m is not None
    return int(m[1]) * 1024


def open_fds(pid: int) -> int:
    return sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())


def write_limits(text: str) -> None:
    path = paths.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"[limits]\n{text}\n")


async def connect(srv: Server, key: Path) -> asyncssh.SSHClientConnection:
    return await asyncssh.connect(
        "127.0.0.1", srv.port, username="guest", client_keys=[str(key)], known_hosts=None,
        agent_path=None, config=[],
    )  # fmt: skip


class Screen(asyncssh.SSHClientSession[bytes]):
    """What a hand-written guest was sent."""

    def __init__(self) -> None:
        self.data = b""

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        self.data += data


async def open_terminal(
    conn: asyncssh.SSHClientConnection, **kwargs: object
) -> tuple[asyncssh.SSHClientChannel[bytes], Screen]:
    kwargs.setdefault("term_type", "xterm")
    kwargs.setdefault("term_size", (80, 24))
    chan, screen = await conn.create_session(Screen, encoding=None, **kwargs)  # type: ignore[arg-type]
    assert isinstance(screen, Screen)
    return chan, screen


async def until(check: Callable[[], object], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


# --- before login --------------------------------------------------------------------


def test_a_guest_gets_in_within_a_second_while_a_thousand_connections_idle(
    host: TmuxHost, keys: Callable[[str], Path], guests: Connect, serve: Callable[..., Server]
) -> None:
    """A slowloris: 1000 TCP connections that never say a word. The server starts with
    the usual soft limit of 1024 open files (it raises it) and makes room for newcomers."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    srv = serve(nofile=(1024, hard))
    add_guest("alice", keys("alice"))
    idle: list[socket.socket] = []
    try:
        for _ in range(1000):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            idle.append(s)
        time.sleep(0.5)
        started = time.monotonic()
        g = guests(srv.port, keys("alice"))
        g.wait_for("MARK-21", timeout=5)
        took = time.monotonic() - started
    finally:
        for s in idle:
            s.close()
    assert took < 1.0, f"the guest took {took:.2f}s to get in"
    limits = Path(f"/proc/{srv.proc.pid}/limits").read_text()
    soft = re.search(r"Max open files\s+(\d+)\s+(\d+)", limits)
    assert soft is not None and soft[1] == soft[2], limits
    srv.stop()
    assert "Traceback" not in "\n".join(srv.output)


def test_running_out_of_files_is_one_log_line_and_the_server_recovers(
    host: TmuxHost, keys: Callable[[str], Path], guests: Connect, serve: Callable[..., Server]
) -> None:
    srv = serve(nofile=(64, 64))
    add_guest("alice", keys("alice"))
    flood: list[socket.socket] = []
    try:
        for _ in range(150):
            flood.append(socket.create_connection(("127.0.0.1", srv.port), timeout=5))
        time.sleep(3.5)  # asyncio retries accept() every second
    finally:
        for s in flood:
            s.close()
    g = wait_until(lambda: _joined(srv, keys("alice"), guests), timeout=15, what="a guest in")
    g.close()
    srv.stop()
    log = "\n".join(srv.output)
    assert "Traceback" not in log
    assert len(re.findall(r"out of system resource", log)) == 1, log


def _joined(srv: Server, key: Path, guests: Connect) -> SshGuest | None:
    g = guests(srv.port, key)
    try:
        g.wait_for("MARK-21", timeout=3)
    except AssertionError:
        g.close()
        return None
    return g


def test_a_connection_that_does_not_log_in_in_time_is_closed(
    host: TmuxHost, serve: Callable[..., Server]
) -> None:
    write_limits("login_grace_time = 1")
    srv = serve()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(b"SSH-2.0-slowpoke\r\n")
        started = time.monotonic()
        while s.recv(65536):  # the server's version and key exchange, then EOF
            pass
        assert time.monotonic() - started < 5


def test_key_after_key_is_cut_off_and_refusals_are_counted_not_each_written(
    host: TmuxHost, keys: Callable[[str], Path], guests: Connect, serve: Callable[..., Server]
) -> None:
    srv = serve()
    add_guest("alice", keys("alice"))
    many = [a for i in range(1, 12) for a in ("-i", str(keys(f"mallory{i}")))]
    g = guests(srv.port, keys("mallory0"), *many, log_level="INFO")
    assert g.wait_exit() == 255
    banners = re.findall(r"pairtui: key SHA256:\S+ is not registered", g.output)
    assert len(banners) == 6, g.output  # sshd's MaxAuthTries
    assert "too many authentication failures" in g.output
    for i in range(5):  # more refusals from the same peer
        g = guests(srv.port, keys(f"mallory{i}"))
        assert g.wait_exit() == 255
    srv.stop()
    refused = [e for e in Audit().read() if e["event"] == "refused"]
    one_by_one = [e for e in refused if "count" not in e]
    counted = [e for e in refused if "count" in e]
    assert len(one_by_one) == 3
    assert [e["count"] for e in counted] == [6 + 5 - 3]


def test_one_connection_opens_at_most_max_sessions_terminals(
    host: TmuxHost, keys: Callable[[str], Path], serve: Callable[..., Server]
) -> None:
    write_limits("max_sessions = 2")
    srv = serve()
    add_guest("alice", keys("alice"))

    async def attack() -> None:
        async with await connect(srv, keys("alice")) as conn:
            opened = [await open_terminal(conn) for _ in range(2)]
            with pytest.raises(asyncssh.ChannelOpenError):
                await open_terminal(conn)
            for _, screen in opened:
                await until(lambda s=screen: b"MARK-21" in s.data, "a terminal's screen")  # type: ignore[misc]
            rows = await asyncio.to_thread(pairtui_json, "clients")
            assert len(rows) == 2

    asyncio.run(attack())


# --- terminals ------------------------------------------------------------------------


def test_absurd_terminal_sizes_and_terms_are_clamped_and_leak_nothing(
    host: TmuxHost, keys: Callable[[str], Path], serve: Callable[..., Server]
) -> None:
    srv = serve()
    add_guest("alice", keys("alice"))
    asyncio.run(_absurd_terminals(srv, keys("alice"), rounds=1))  # warm up
    before = open_fds(srv.proc.pid)
    asyncio.run(_absurd_terminals(srv, keys("alice"), rounds=10))
    wait_until(lambda: not pairtui_json("clients"), what="every terminal gone")
    assert open_fds(srv.proc.pid) <= before
    srv.stop()
    errors = [e for e in Audit().read() if e["event"] == "error"]
    assert errors and all(e["reason"] == "unusable TERM replaced" for e in errors)


async def _absurd_terminals(srv: Server, key: Path, rounds: int) -> None:
    for i in range(rounds):
        async with await connect(srv, key) as conn:
            size = (70000, 70000) if i % 2 else (65535, 65535)
            chan, screen = await open_terminal(
                conn, term_type="xterm\0\x1b]52;c;AAAA\x07", term_size=size
            )
            await until(lambda s=screen: b"MARK-21" in s.data, "the guest's screen")  # type: ignore[misc]
            rows = await asyncio.to_thread(pairtui_json, "clients")
            assert [r["size"] for r in rows] == ["1000x1000"]
            chan.change_terminal_size(99999, 0)
            await asyncio.sleep(0.1)
            rows = await asyncio.to_thread(pairtui_json, "clients")
            assert [r["size"] for r in rows] == ["1000x1000"]
            chan.close()


def test_a_guest_that_stops_reading_does_not_grow_the_server(
    host: TmuxHost, keys: Callable[[str], Path], guests: Connect, serve: Callable[..., Server]
) -> None:
    srv = serve()
    add_guest("vera", keys("vera"))
    add_guest("bob", keys("bob"))
    bob = guests(srv.port, keys("bob"))
    bob.wait_for("MARK-21")

    async def attack() -> int:
        async with await connect(srv, keys("vera")) as conn:
            _, screen = await open_terminal(conn, window=1 << 30, term_size=(250, 80))
            await until(lambda: b"MARK-21" in screen.data, "vera's screen")
            transport = conn._transport  # the attack: stop reading
            assert transport is not None
            transport.pause_reading()
            start = rss(srv.proc.pid)
            type_in_host(host, "base64 -w 240 /dev/urandom\r")
            await asyncio.sleep(10)
            grown = rss(srv.proc.pid) - start
            host.run("send-keys", "-t", "host", "C-c")
        return grown

    grown = asyncio.run(attack())
    assert grown < 24 * MB, f"the server grew by {grown / MB:.0f} MB"
    type_in_host(host, "clear; echo AFTER-$((40+2))\r")
    bob.wait_for("AFTER-42")  # the host and other guests carry on


def test_a_guest_flooding_input_does_not_grow_the_server(
    host: TmuxHost, keys: Callable[[str], Path], serve: Callable[..., Server]
) -> None:
    srv = serve()
    add_guest("alice", keys("alice"), "--mode", "pair")
    type_in_host(host, "sleep 600\r")  # the pane reads nothing

    async def attack() -> int:
        async with await connect(srv, keys("alice")) as conn:
            chan, screen = await open_terminal(conn)
            await until(lambda: b"MARK-21" in screen.data, "alice's screen")
            start = rss(srv.proc.pid)
            chunk = b"x" * 32768
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if chan.get_write_buffer_size() < MB:  # as fast as the window lets it
                    chan.write(chunk)
                else:
                    await asyncio.sleep(0.001)
            grown = rss(srv.proc.pid) - start
        return grown  # noqa: RET504 - after the block: mypy counts on `async with` returning

    grown = asyncio.run(attack())
    host.run("send-keys", "-t", "host", "C-c")
    assert grown < 24 * MB, f"the server grew by {grown / MB:.0f} MB"
