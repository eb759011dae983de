"""`pairtui serve` as a host runs it: its arguments, what it says at start, its log (one
line per join, leave, kick, mode change, refusal, error; escaped; bounded), its levels,
its shapes (terminal, file, journal, pipe) and ``--json``. Real processes throughout: the
server, tmux on its own socket, OpenSSH guests in PTYs."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple

import pytest
from support import (
    SshGuest,
    TmuxHost,
    add_guest,
    pairtui,
    pairtui_json,
    type_in_host,
    wait_until,
)

from pairtui import paths

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]
PORT_RE = re.compile(r"serving on \S+:(\d+)")


class Lines:
    """Every line a stream of the server's has written so far (read by a thread, so a
    test waits on what is there, with a deadline, and never blocks on a read)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.raw: list[bytes] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        for line in iter(stream.readline, b""):
            self.raw.append(line)

    @property
    def lines(self) -> list[str]:
        return [b.decode("utf-8", "replace").rstrip("\n") for b in list(self.raw)]

    def matching(self, pattern: str) -> list[str]:
        return [line for line in self.lines if re.search(pattern, line)]

    def wait_for(self, pattern: str, timeout: float = 10) -> str:
        found = wait_until(lambda: self.matching(pattern), timeout,
                           what=f"{pattern!r} in the log:\n" + "\n".join(self.lines))  # fmt: skip
        return found[0]

    def join(self, timeout: float = 10) -> None:
        self._thread.join(timeout)


class Serve:
    """`pairtui serve --port 0 ...` with its standard output and error kept apart."""

    def __init__(self, *extra: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pairtui", "serve", "--port", "0", *extra],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env,
        )  # fmt: skip
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.out = Lines(self.proc.stdout)
        self.log = Lines(self.proc.stderr)

        def started() -> list[str] | int | None:
            said = self.log.matching(PORT_RE.pattern) + self.out.matching(PORT_RE.pattern)
            return said or self.proc.poll()

        found = wait_until(started, timeout=20, what="pairtui serve to start")
        assert isinstance(found, list), "\n".join(self.log.lines)
        m = PORT_RE.search(found[0])
        assert m is not None
        self.port = int(m[1])

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.out.join()
        self.log.join()
        return self.proc.returncode


@pytest.fixture
def serve() -> Iterator[Callable[..., Serve]]:
    started: list[Serve] = []

    def start(*extra: str, env: dict[str, str] | None = None) -> Serve:
        srv = Serve(*extra, env=env)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


@pytest.fixture
def host_shared(tmux_host: TmuxHost) -> TmuxHost:
    type_in_host(tmux_host, "echo MARK-$((20+1))")
    _share(tmux_host, "host", "main")
    return tmux_host


def _share(host: TmuxHost, session: str, name: str) -> None:
    """Shared as `pairtui share` does, without the server it would start."""
    from pairtui.shares import ShareStore
    from pairtui.tmux import Tmux

    ShareStore().create(Tmux(host.socket), session=session, name=name)


# --- arguments --------------------------------------------------------------------------


class BadArgs(NamedTuple):
    test_id: str
    args: list[str]
    said: str


BAD_ARGS = [
    BadArgs("port-too-big", ["--port", "99999"], "--port must be a number from 0 to 65535"),
    BadArgs("port-negative", ["--port", "-1"], "--port must be a number from 0 to 65535"),
    BadArgs("port-not-a-number", ["--port", "22x"], "--port must be a number from 0 to 65535"),
    BadArgs("listen-with-brackets", ["--listen", "[::1]"], "--listen must be an IP address"),
    BadArgs("listen-with-port", ["--listen", "127.0.0.1:22"], "without brackets or a port"),
    BadArgs("listen-not-a-name", ["--listen", "bad host"], "--listen must be an IP address"),
    BadArgs("listen-empty", ["--listen", ""], "--listen must be an IP address"),
    BadArgs("log-level", ["--log-level", "loud"], "--log-level must be one of debug, info"),
]


@pytest.mark.parametrize("case", BAD_ARGS, ids=[c.test_id for c in BAD_ARGS])
def test_every_bad_argument_is_one_line_and_a_non_zero_exit(case: BadArgs) -> None:
    res = pairtui("serve", *case.args)
    assert res.returncode != 0
    assert res.stdout == ""
    [line] = res.stderr.splitlines()  # no traceback, no usage
    assert line.startswith("pairtui: ") and case.said in line, res.stderr
    assert not paths.control_socket().exists()  # nothing started, nothing left behind

    res = pairtui("serve", *case.args, "--json")
    assert res.returncode != 0
    assert case.said in json.loads(res.stdout)["error"]
    assert len(res.stderr.splitlines()) == 1


def test_a_bad_listen_address_in_the_config_is_one_line_naming_the_file() -> None:
    paths.config_file().parent.mkdir(parents=True, exist_ok=True)
    paths.config_file().write_text('[server]\nlisten = "not an address"\n')
    res = pairtui("serve", "--port", "0")
    assert res.returncode != 0
    [line] = res.stderr.splitlines()
    assert f"server.listen in {paths.config_file()}" in line, line


# --- what it says at start --------------------------------------------------------------


def test_start_lists_the_shares_and_how_guests_join_them(
    host_shared: TmuxHost, serve: Callable[..., Serve]
) -> None:
    host_shared.run("new-session", "-d", "-s", "brief")
    _share(host_shared, "brief", "gone")
    host_shared.run("kill-session", "-t", "pairtui-gone-view")  # the share's tmux is gone
    host_shared.run("new-session", "-d", "-s", "other")
    _share(host_shared, "other", "docs")
    srv = serve()
    fp = srv.log.wait_for(r"host key fingerprint: SHA256:").rsplit(" ", 1)[1]
    assert fp == pairtui_json("status")["server"]["fingerprint"]
    # The same shares, defaults and ssh strings as `pairtui share list` gives.
    expected = []
    for row in pairtui_json("share", "list"):
        what = f"share {row['name']} (session {row['target']}"
        what += ", the default)" if row["default"] else ")"
        if not row["live"]:
            expected.append(f"{what} is gone: its tmux session no longer exists")
            continue
        for s in row["ssh"]:
            expected.append(f"{what}: {s['command'] if isinstance(s, dict) else s}")
    assert "share gone (session brief) is gone: its tmux session no longer exists" in expected
    assert {line.split(" (", 1)[0] for line in expected} == {"share main", "share gone",
                                                              "share docs"}  # fmt: skip
    assert any(f"-p {srv.port} " in line for line in expected)
    assert srv.log.matching(r"^share ") == expected


def test_start_says_when_nothing_is_shared(serve: Callable[..., Serve]) -> None:
    srv = serve()
    srv.log.wait_for("nothing is shared yet: run `pairtui share` in tmux")


# --- the log ----------------------------------------------------------------------------

HOSTILE = "\x1b]52;c;aGFja2Vk\x07\x1b[2J"  # writes the clipboard, clears the screen


def test_joins_mode_changes_kicks_and_leaves_are_one_line_each(
    host_shared: TmuxHost, keys: Callable[[str], Path], guests: Connect,
    serve: Callable[..., Serve],
) -> None:  # fmt: skip
    add_guest("alice", keys("alice"))
    add_guest("bob", keys("bob"), "--mode", "pair")
    srv = serve()
    alice = guests(srv.port, keys("alice"))
    alice.wait_for("MARK-21")
    joined = srv.log.wait_for(r"^alice joined")
    assert re.fullmatch(
        r"alice joined share main in view mode from 127\.0\.0\.1:\d+ "
        r"\(client c\d+, key SHA256:\S+\)", joined,
    ), joined  # fmt: skip

    assert pairtui("mode", "alice", "pair").returncode == 0
    srv.log.wait_for(r"^alice is now in pair mode on share main \(client c\d+\)$")
    assert pairtui("kick", "alice").returncode == 0
    alice.wait_exit()
    kicked = srv.log.wait_for(r"^alice was kicked")
    assert re.fullmatch(r"alice was kicked from share main after \d+s: you were disconnected "
                        r"by the host \(client c\d+\)", kicked), kicked  # fmt: skip

    bob = guests(srv.port, keys("bob"))
    bob.wait_for("MARK-21")
    srv.log.wait_for(r"^bob joined share main in pair mode")
    bob.close()  # the guest's ssh goes away
    srv.log.wait_for(r"^bob left share main after \d+s: (guest left|connection lost)")

    assert srv.stop() == 0
    said = [line for line in srv.log.lines if line.startswith(("alice ", "bob "))]
    assert len(said) == 5, "\n".join(said)  # join, mode, kick; join, leave: one line each
    assert srv.log.matching(r"^stopping \(SIGTERM\): disconnecting guests$")


def test_what_a_guest_sends_is_escaped_in_the_log(
    host_shared: TmuxHost, keys: Callable[[str], Path], guests: Connect,
    serve: Callable[..., Serve], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    add_guest("alice", keys("alice"))
    srv = serve()
    # A subsystem name of its choosing, and a TERM: both reach the log.
    asks = guests(srv.port, keys("alice"), "-s", command=f"evil{HOSTILE}")
    asks.wait_exit()
    refused = srv.log.wait_for(r"^warning: refused alice from 127\.0\.0\.1:\d+")
    monkeypatch.setenv("TERM", f"xterm{HOSTILE}")
    term = guests(srv.port, keys("alice"))
    term.wait_for("MARK-21")
    error = srv.log.wait_for(r"unusable TERM replaced")
    srv.stop()

    assert "evil\\x1b]52;c;aGFja2Vk\\x07\\x1b[2J" in refused, refused
    assert "xterm\\x1b]52;c;aGFja2Vk\\x07\\x1b[2J" in error, error
    raw = b"".join(srv.log.raw)
    assert b"\x1b" not in raw and b"\x07" not in raw, raw


def test_refusals_stay_bounded_in_the_log_as_in_the_audit_log(
    keys: Callable[[str], Path], guests: Connect, serve: Callable[..., Serve]
) -> None:
    """A key nobody registered, six times from one peer: three lines, then a count."""
    srv = serve()
    for _ in range(6):
        g = guests(srv.port, keys("stranger"))
        assert g.wait_exit() != 0
    wait_until(lambda: len(srv.log.matching(r"^warning: refused ")) >= 3, what="refusals")
    srv.stop()  # counts still held back are said at the stop
    refused = srv.log.matching(r"^warning: refused ")
    assert len(refused) == 4, refused
    assert all(re.search(r"\(key SHA256:\S+\): unknown key$", line) for line in refused[:3])
    assert re.fullmatch(r"warning: refused 127\.0\.0\.1: 3 more refusals \(not logged one by "
                        r"one\)", refused[3]), refused[3]  # fmt: skip


class Level(NamedTuple):
    test_id: str
    args: list[str]
    joins: bool
    resizes: bool


LEVEL_CASES = [
    Level("default-info", [], joins=True, resizes=False),
    Level("warning", ["--log-level", "warning"], joins=False, resizes=False),
    Level("debug", ["--log-level", "debug"], joins=True, resizes=True),
    Level("v", ["-v"], joins=True, resizes=True),
]


@pytest.mark.parametrize("case", LEVEL_CASES, ids=[c.test_id for c in LEVEL_CASES])
def test_the_log_level_changes_what_is_shown(
    case: Level, host_shared: TmuxHost, keys: Callable[[str], Path], guests: Connect,
    serve: Callable[..., Serve],
) -> None:  # fmt: skip
    add_guest("alice", keys("alice"))
    srv = serve(*case.args)
    g = guests(srv.port, keys("alice"))
    g.wait_for("MARK-21")
    wait_until(lambda: pairtui_json("clients"), what="alice listed")
    g.resize(100, 30)
    wait_until(lambda: pairtui_json("clients")[0]["size"] == "100x30", what="resized")
    stranger = guests(srv.port, keys("stranger"))
    stranger.wait_exit()
    srv.log.wait_for(r"^warning: refused ")  # warnings show at every level but error
    srv.stop()
    assert bool(srv.log.matching(r"^alice joined share main")) is case.joins
    assert bool(srv.log.matching(r"^debug: alice resized to 100x30")) is case.resizes
    # What is shared shows whatever the level.
    assert srv.log.matching(r"^share main \(session host, the default\): ssh ")


# --- where the log goes: terminal, file, journal, pipe ----------------------------------


def _run_briefly(stderr: int | IO[Any], env: dict[str, str] | None = None) -> None:
    """Start a server with its standard error on ``stderr``; stop it once it serves."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pairtui", "serve", "--port", "0"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, env=env,
    )  # fmt: skip
    try:
        wait_until(lambda: pairtui_json("status")["running"], timeout=20, what="serving")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)


def test_the_log_in_a_file_has_the_full_utc_time(tmp_path: Path) -> None:
    path = tmp_path / "serve.log"
    with path.open("wb") as f:
        _run_briefly(f)
    lines = path.read_text().splitlines()
    assert lines, lines
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ "
    assert all(re.match(stamp, line) for line in lines), lines
    assert re.fullmatch(stamp + r"pairtui \S+ serving on 127\.0\.0\.1:\d+ \(pid \d+\)", lines[0])


def test_the_log_under_systemd_has_priorities_and_no_time() -> None:
    """systemd sets JOURNAL_STREAM to the device and inode of the stream it gave us."""
    r, w = os.pipe()
    st = os.fstat(w)
    env = {**os.environ, "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
    try:
        _run_briefly(w, env)
    finally:
        os.close(w)
    with os.fdopen(r, "rb") as f:
        lines = f.read().decode().splitlines()
    assert re.fullmatch(r"<6>pairtui \S+ serving on 127\.0\.0\.1:\d+ \(pid \d+\)", lines[0])
    assert all(re.match(r"<[3-7]>\D", line) for line in lines), lines


def test_the_log_in_a_terminal_has_a_short_time() -> None:
    master, slave = pty.openpty()
    try:
        _run_briefly(slave)
    finally:
        os.close(slave)
    out = b""
    while select.select([master], [], [], 0.5)[0]:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: every writer is gone
            break
        if not data:
            break
        out += data
    os.close(master)
    lines = out.decode().splitlines()
    assert re.fullmatch(r"\d\d:\d\d:\d\d pairtui \S+ serving on 127\.0\.0\.1:\d+ \(pid \d+\)\r?",
                        lines[0]), lines  # fmt: skip
    assert re.fullmatch(r"\d\d:\d\d:\d\d stopped\r?", lines[-1]), lines


# --- --json ------------------------------------------------------------------------------


def test_json_writes_the_start_and_every_event_as_json_lines(
    host_shared: TmuxHost, keys: Callable[[str], Path], guests: Connect,
    serve: Callable[..., Serve],
) -> None:  # fmt: skip
    add_guest("alice", keys("alice"))
    srv = serve("--json")
    g = guests(srv.port, keys("alice"))
    g.wait_for("MARK-21")
    assert pairtui("kick", "alice").returncode == 0
    g.wait_exit()
    wait_until(lambda: any('"left"' in line for line in srv.out.lines), what="left")
    srv.stop()

    rows = [json.loads(line) for line in srv.out.lines]  # every line is JSON
    events = [r["event"] for r in rows]
    assert events[0] == "serving" and events[-1] == "stopped", events
    assert {"joined", "left"} <= set(events), events
    start = rows[0]
    assert start["port"] == srv.port and start["fingerprint"].startswith("SHA256:")
    assert [(s["name"], s["default"], s["live"]) for s in start["shares"]] == [("main", True, True)]
    assert start["shares"][0]["ssh"] == [f"ssh -p {srv.port} guest@localhost"]
    joined = next(r for r in rows if r["event"] == "joined")
    assert (joined["client"]["guest"], joined["client"]["share"]) == ("alice", "main")
    left = next(r for r in rows if r["event"] == "left")
    assert left["reason"] == "you were disconnected by the host"
    assert rows[-1]["reason"] == "SIGTERM"
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["ts"]) for r in rows)
    # The log stays on standard error, in words.
    assert srv.log.matching(r"^alice joined share main")


# --- help -----------------------------------------------------------------------------------


def test_serve_stop_and_join_have_help_with_an_example_and_join_is_not_listed() -> None:
    for command in ("serve", "stop", "join"):
        res = pairtui(command, "--help")
        assert res.returncode == 0, res.stderr
        assert "example" in res.stdout and f"pairtui {command}" in res.stdout, res.stdout
    top = pairtui("--help")
    assert top.returncode == 0, top.stderr
    commands = re.findall(r"^    (\S+)", top.stdout, re.MULTILINE)
    assert "serve" in commands and "stop" in commands and "join" not in commands, top.stdout
