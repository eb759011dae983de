"""Who gets in and what they get: refusals, forced command, no forwarding, host key."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import subprocess
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import (
    Server,
    SshGuest,
    TmuxHost,
    add_guest,
    pairtui,
    share,
    start_server,
    type_in_host,
    wait_until,
)

from pairtui.audit import Audit
from pairtui.registry import Registry

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]


def refusals() -> list[dict[str, object]]:
    return [e for e in Audit().read() if e["event"] == "refused"]


def test_unknown_key_is_refused_with_a_banner_that_names_only_the_key(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    _, srv = shared
    add_guest("alice", keys("alice"))
    g = guests(srv.port, keys("mallory"), user="alice", log_level="INFO")
    assert g.wait_exit() == 255
    fp = _fingerprint(keys("mallory"))
    assert f"key {fp} is not registered with this host" in g.output
    assert "Permission denied (publickey)" in g.output
    assert "alice" not in g.output.replace("alice@127.0.0.1", "")  # no guest names leak
    assert "main" not in g.output  # no share names leak
    assert refusals()[-1]["reason"] == "unknown key"


def test_expired_key_is_refused(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    _, srv = shared
    add_guest("alice", keys("alice"), "--expires", "1h")
    Registry().update("alice", expires=datetime.now(UTC) - timedelta(seconds=1))
    g = guests(srv.port, keys("alice"), log_level="INFO")
    assert g.wait_exit() == 255
    assert "has expired" in g.output
    assert refusals()[-1]["reason"] == "expired"


def test_removed_guest_is_refused_and_a_connected_one_is_disconnected(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    _, srv = shared
    add_guest("alice", keys("alice"))
    g = guests(srv.port, keys("alice"))
    g.wait_for("MARK-21")
    assert pairtui("guest", "remove", "alice").returncode == 0
    assert g.wait_exit() != 0
    assert "invitation was withdrawn" in g.output
    again = guests(srv.port, keys("alice"), log_level="INFO")
    assert again.wait_exit() == 255
    assert "not registered" in again.output


def test_guest_restricted_to_another_share_is_turned_away(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    host, srv = shared
    host.run("new-session", "-d", "-s", "other", "-x", "80", "-y", "24")
    type_in_host(host, "echo OTHER-$((30+3))", target="other")
    share(host, "--session", "other", "--name", "other")
    add_guest("alice", keys("alice"), "--share", "main")
    add_guest("bob", keys("bob"))
    # alice asks for "other" by name: refused, with a reason, not attached anywhere
    g = guests(srv.port, keys("alice"), command="other")
    assert g.wait_exit() == 1
    # The same line as for a share that does not exist: "other" is not told of.
    assert "pairtui: no share 'other' for you; you may join: main\r\n" in g.output
    assert "OTHER-33" not in g.output
    # alice without a command lands in her own share, although "other" is the newest
    g2 = guests(srv.port, keys("alice"))
    g2.wait_for("MARK-21")
    # bob may join either: without a command he chooses (tests/test_e2e_picker.py)
    g3 = guests(srv.port, keys("bob"))
    g3.wait_for("shares 2 things you may join")
    g3.send("2")
    g3.wait_for("OTHER-33")
    g4 = guests(srv.port, keys("bob"), command="main")
    g4.wait_for("MARK-21")


def test_requested_commands_are_never_run(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect, tmp_path: Path
) -> None:
    _, srv = shared
    add_guest("alice", keys("alice"), "--mode", "pair")
    canary = tmp_path / "canary"
    # Without a terminal: a one-line refusal, nothing runs.
    g = guests(srv.port, keys("alice"), command=f"touch {canary}; cat /etc/passwd", tty=False)
    assert g.wait_exit() == 1
    assert "a terminal is required" in g.output
    assert "root:" not in g.output
    # With a terminal: a command is only ever a share's name; anything else is one line.
    g2 = guests(srv.port, keys("alice"), command=f"touch {canary}; cat /etc/passwd")
    assert g2.wait_exit() == 1
    assert "pairtui: no share 'touch " in g2.output and "you may join: main" in g2.output
    assert "root:" not in g2.output
    g3 = guests(srv.port, keys("alice"), command="bash")
    assert g3.wait_exit() == 1
    assert "pairtui: no share 'bash' for you; you may join: main" in g3.output
    assert not canary.exists()


def test_sftp_subsystem_is_refused(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], tmp_path: Path
) -> None:
    _, srv = shared
    add_guest("alice", keys("alice"))
    res = subprocess.run(
        ["sftp", "-F", "/dev/null", "-P", str(srv.port), "-i", str(keys("alice")),
         "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", "-b", "-", "guest@127.0.0.1"],
        input="ls /\n", capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert res.returncode != 0
    assert "bin" not in res.stdout
    g = SshGuest(srv.port, keys("alice"), "-s", command="sftp", tty=False, log_level="INFO")
    try:
        assert g.wait_exit() != 0
        assert "subsystem request failed" in g.output
    finally:
        g.close()
    assert any(str(r["reason"]).startswith("subsystem") for r in refusals())


@pytest.fixture
def tcp_service() -> Iterator[int]:
    """A loopback TCP service a forward would reach if it were allowed."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(b"SECRET-SERVICE\n")

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield int(srv.getsockname()[1])
    stop.set()
    t.join(5)
    srv.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_port_forwarding_is_refused(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect, tcp_service: int
) -> None:
    _, srv = shared
    add_guest("alice", keys("alice"), "--mode", "pair")
    # -W (stdio forward): refused outright
    w = guests(srv.port, keys("alice"), "-W", f"127.0.0.1:{tcp_service}", tty=False)
    assert w.wait_exit() == 255
    assert "SECRET-SERVICE" not in w.output
    # -L: the session works, the forward gets nothing
    local = _free_port()
    g = guests(srv.port, keys("alice"), "-L", f"127.0.0.1:{local}:127.0.0.1:{tcp_service}")
    g.wait_for("MARK-21")
    got = b""
    with socket.create_connection(("127.0.0.1", local), timeout=5) as c:
        c.settimeout(5)
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            got = c.recv(100)
    assert b"SECRET-SERVICE" not in got
    # -R: the relay-style forward is refused too
    r = guests(srv.port, keys("alice"), "-N", "-o", "ExitOnForwardFailure=yes",
               "-R", f"127.0.0.1:0:127.0.0.1:{tcp_service}", tty=False)  # fmt: skip
    assert r.wait_exit() == 255
    reasons = {r["reason"] for r in refusals()}
    assert {"port forwarding", "remote port forwarding"} <= reasons


def test_agent_and_x11_forwarding_are_refused(
    shared: tuple[TmuxHost, Server],
    keys: Callable[[str], Path],
    guests: Connect,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, srv = shared
    add_guest("alice", keys("alice"), "--mode", "pair")
    agent_sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(agent_sock)], stdout=subprocess.DEVNULL)
    try:
        wait_until(agent_sock.exists, what="ssh-agent socket")
        monkeypatch.setenv("SSH_AUTH_SOCK", str(agent_sock))
        monkeypatch.setenv("DISPLAY", "127.0.0.1:77")
        g = guests(
            srv.port, keys("alice"), "-o", f"IdentityAgent={agent_sock}",
            "-A", "-X", "-v", "-o", "ForwardX11Trusted=yes", log_level="DEBUG1",
        )  # fmt: skip
        g.wait_for("MARK-21")
        assert "Requesting authentication agent forwarding" in g.output
        assert "X11 forwarding request failed" in g.output
        # Nothing the guest could use was handed to the attach process.
        pid = int(json.loads(pairtui("clients", "--json").stdout)[0]["pid"])
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert not any(v.startswith((b"SSH_AUTH_SOCK=", b"DISPLAY=")) for v in environ)
        # asyncssh would put a forwarded agent's socket in the server's temp dir.
        tmp = Path(os.environ.get("TMPDIR", "/tmp"))
        agent_dirs = [p for p in tmp.glob("asyncssh-*") if p.stat().st_uid == os.getuid()]
        assert not [p for d in agent_dirs for p in d.glob("agent*")]
    finally:
        agent.terminate()
        agent.wait(5)


def test_passwords_are_never_offered(shared: tuple[TmuxHost, Server], tmp_path: Path) -> None:
    _, srv = shared
    res = subprocess.run(
        ["ssh", "-F", "/dev/null", "-p", str(srv.port), "-o", "PubkeyAuthentication=no",
         "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", "guest@127.0.0.1", "true"],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert res.returncode == 255
    assert "Permission denied (publickey)" in res.stderr


def test_host_key_persists_with_0600_and_matches_what_ssh_sees(
    tmux_host: TmuxHost, keys: Callable[[str], Path], guests: Connect, tmp_path: Path
) -> None:
    type_in_host(tmux_host, "echo MARK-$((20+1))")
    share(tmux_host)
    add_guest("alice", keys("alice"))
    first = start_server()
    try:
        key_file = Path(os.environ["PAIRTUI_STATE_DIR"]) / "ssh_host_ed25519_key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        scan = subprocess.run(
            ["ssh-keyscan", "-p", str(first.port), "-t", "ed25519", "127.0.0.1"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout  # fmt: skip
    finally:
        first.stop()
    known = tmp_path / "known_hosts"
    known.write_text(scan)
    fp = subprocess.run(["ssh-keygen", "-lf", str(known)], capture_output=True, text=True,
                        check=True).stdout.split()[1]  # fmt: skip
    assert fp == first.fingerprint
    second = start_server("--port", str(first.port))
    try:
        assert second.fingerprint == first.fingerprint
        g = guests(second.port, keys("alice"), known_hosts=known)
        g.wait_for("MARK-21")
        ssh_string = json.loads(pairtui("ssh-string", "--json").stdout)
        assert ssh_string["fingerprint"] == fp
    finally:
        second.stop()


def _fingerprint(private: Path) -> str:
    out = subprocess.run(["ssh-keygen", "-lf", f"{private}.pub"], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    return out.split()[1]
