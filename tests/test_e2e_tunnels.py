"""Reverse tunnels end to end: a real OpenSSH sshd is the relay, real OpenSSH guests join.

The relay is ``/usr/sbin/sshd -D -e`` with its own config, host key and authorized_keys,
started by each test on 127.0.0.1 (or inside a network namespace) and stopped by PID.
The host logs in as root through ``AuthorizedKeysFile``, so no Unix user is created.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pexpect
import pyte
import pytest
from support import (
    Server,
    SshGuest,
    TmuxHost,
    add_guest,
    keygen,
    pairtui,
    pairtui_json,
    share,
    start_server,
    type_in_host,
    wait_until,
)

from pairtui.audit import Audit

pytestmark = pytest.mark.e2e

SSHD = "/usr/sbin/sshd"
COMEBACK_LIMIT = 10.0  # the forward is back this soon after the relay returns


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (sshd forks one or two per connection), deepest last."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


# --- the relay -------------------------------------------------------------------------


@dataclass
class Relay:
    """A real sshd the test starts and stops; everything it uses lives in ``base``."""

    base: Path
    port: int
    listen: str = "127.0.0.1"
    netns: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        self.host_key = self.base / "ssh_host_ed25519_key"
        if not self.host_key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "relay",
                            "-f", str(self.host_key)], check=True, timeout=30)  # fmt: skip
        self.authorized = self.base / "authorized_keys"
        self.authorized.touch()
        self.log = self.base / "sshd.log"

    @property
    def config(self) -> Path:
        settings = {
            "Port": str(self.port),
            "ListenAddress": self.listen,
            "HostKey": str(self.host_key),
            "AuthorizedKeysFile": str(self.authorized),
            "StrictModes": "no",
            "UsePAM": "no",
            "PasswordAuthentication": "no",
            "KbdInteractiveAuthentication": "no",
            "PermitRootLogin": "prohibit-password",
            "AllowTcpForwarding": "yes",
            "GatewayPorts": "no",
            "PidFile": "none",
            "LogLevel": "VERBOSE",
            **self.options,
        }
        path = self.base / "sshd_config"
        path.write_text("".join(f"{k} {v}\n" for k, v in settings.items()))
        return path

    def authorize(self, private_key: Path, options: str = "") -> None:
        with self.authorized.open("a") as f:
            f.write(f"{options} " if options else "")
            f.write(Path(f"{private_key}.pub").read_text())

    def start(self, timeout: float = 10) -> None:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        config = self.config
        subprocess.run([SSHD, "-t", "-f", str(config)], check=True, timeout=10)
        mark = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [*prefix, SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=log
            )
        wait_until(lambda: b"Server listening on" in self.log.read_bytes()[mark:] or self._died(),
                   timeout, what="the relay sshd to listen")  # fmt: skip
        assert self.proc.poll() is None, self.log.read_text()

    def _died(self) -> bool:
        assert self.proc is not None
        return self.proc.poll() is not None

    def stop(self) -> None:
        """Stop the daemon and the per-connection processes it forked, by PID."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            for pid in [self.proc.pid, *descendants(self.proc.pid)]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def fingerprint(self) -> str:
        out = subprocess.run(["ssh-keygen", "-lf", f"{self.host_key}.pub"], capture_output=True,
                             text=True, check=True, timeout=10).stdout  # fmt: skip
        return out.split()[1]

    def known_hosts_line(self, host: str | None = None) -> str:
        pub = Path(f"{self.host_key}.pub").read_text().split()
        return f"[{host or self.listen}]:{self.port} {pub[0]} {pub[1]}\n"


@pytest.fixture
def relays(tmp_path: Path) -> Iterator[Callable[..., Relay]]:
    """``relays(**options)`` makes a relay (not started); all are stopped at the end."""
    made: list[Relay] = []

    def make(name: str = "relay", **kwargs: Any) -> Relay:
        relay = Relay(tmp_path / name, kwargs.pop("port", None) or free_port(), **kwargs)
        made.append(relay)
        return relay

    yield make
    for relay in made:
        relay.stop()


# --- the host side ---------------------------------------------------------------------


def host_key_for_tunnels() -> Path:
    """The host's own default key, ``~/.ssh/id_ed25519`` (HOME is a temp dir)."""
    ssh_dir = Path.home() / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    key = ssh_dir / "id_ed25519"
    if not key.exists():
        keygen(ssh_dir, "id_ed25519")
    return key


def trust_in_openssh_known_hosts(relay: Relay) -> None:
    path = Path.home() / ".ssh" / "known_hosts"
    path.parent.mkdir(mode=0o700, exist_ok=True)
    with path.open("a") as f:
        f.write(relay.known_hosts_line())


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(netns: str | None = None) -> Server:
        srv = start_server(netns=netns)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()
        assert tunnel_tracebacks(srv.output) == [], "\n".join(srv.output)


def tunnel_tracebacks(lines: list[str]) -> list[str]:
    """Tracebacks in a server's output that involve the tunnels."""
    blocks: list[list[str]] = []
    for line in lines:
        if line.startswith(("Traceback", "Exception in callback")):
            blocks.append([])
        if blocks:
            blocks[-1].append(line)
    return ["\n".join(b) for b in blocks if any("tunnel" in line.lower() for line in b)]


def tunnel_state(name: str) -> dict[str, Any]:
    rows = {row["name"]: row for row in pairtui_json("tunnel", "list")}
    status: dict[str, Any] = rows[name]["status"]
    return status


def wait_state(name: str, state: str, timeout: float = 15) -> dict[str, Any]:
    return wait_until(
        lambda: (s := tunnel_state(name)) and s["state"] == state and s,
        timeout, interval=0.1, what=f"tunnel {name} {state}",
    )  # fmt: skip


def add_tunnel(name: str, relay: Relay, *extra: str, host: str | None = None) -> None:
    res = pairtui("tunnel", "add", name, f"root@{host or relay.listen}:{relay.port}", *extra)
    assert res.returncode == 0, res.stderr


# --- guests ----------------------------------------------------------------------------


class Guest(SshGuest):
    """An OpenSSH guest running a given command line (an ssh string as pairtui prints it)."""

    def __init__(self, argv: list[str], netns: str | None = None) -> None:
        self.cols, self.rows = 80, 24
        self.argv = argv
        prefix = ["ip", "netns", "exec", netns] if netns else []
        cmd = [*prefix, *argv]
        self.child = pexpect.spawn(cmd[0], cmd[1:], dimensions=(self.rows, self.cols),
                                   env=dict(os.environ))  # fmt: skip
        self.screen = pyte.Screen(self.cols, self.rows)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = b""


def guest_config(directory: Path, key: Path) -> Path:
    """An ssh config for a guest: ``-F`` reaches ProxyJump's inner ssh too, ``-o`` does not."""
    path = directory / f"{key.name}.ssh_config"
    path.write_text(
        "Host *\n"
        f"  IdentityFile {key}\n"
        "  IdentitiesOnly yes\n  IdentityAgent none\n  BatchMode yes\n"
        "  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n"
        "  LogLevel ERROR\n  ConnectTimeout 10\n"
    )
    return path


@pytest.fixture
def run_guest(tmp_path: Path) -> Iterator[Callable[..., Guest]]:
    """``run_guest(command, key)`` runs an ssh string as printed, with a test ssh config."""
    started: list[Guest] = []

    def start(command: str, key: Path, netns: str | None = None) -> Guest:
        argv = shlex.split(command)
        assert argv[0] == "ssh", command
        g = Guest(["ssh", "-F", str(guest_config(tmp_path, key)), "-tt", *argv[1:]], netns)
        started.append(g)
        return g

    yield start
    for g in started:
        g.close()


def tunnel_ssh(name: str) -> list[str]:
    data = pairtui_json("ssh-string")
    [row] = [t for t in data["tunnels"] if t["name"] == name]
    return [s["command"] for s in row["ssh"]]


def local_guest_still_joins(srv: Server, key: Path, connect: Callable[..., SshGuest]) -> None:
    """A guest of the local server (not through any tunnel) lands in the share."""
    g = connect(srv.port, key)
    g.wait_for("SHARED-42")
    g.close()


@pytest.fixture
def shared_host(tmux_host: TmuxHost, keys: Callable[[str], Path]) -> TmuxHost:
    """The host's session, shared as ``main``; ``SHARED-42`` on a guest's screen proves it."""
    type_in_host(tmux_host, "echo SHARED-$((40+2))")
    wait_until(lambda: "SHARED-42" in tmux_host.capture(), what="host pane ready")
    add_guest("alice", keys("alice"), "--mode", "view")
    share(tmux_host, "--session", "host", "--name", "main")
    return tmux_host


# --- through the tunnel -----------------------------------------------------------------


def test_guest_joins_through_the_relay_port_and_with_proxyjump(
    shared_host: TmuxHost, relays: Callable[..., Relay], serve: Callable[..., Server],
    run_guest: Callable[..., Guest], keys: Callable[[str], Path],
) -> None:  # fmt: skip
    relay = relays()
    relay.authorize(host_key_for_tunnels())
    rport = free_port()
    # ProxyJump logs the guest into the relay: with the jump-only line docs/tunnels.md gives.
    jump_only = f'restrict,port-forwarding,permitopen="localhost:{rport}",command="/bin/false"'
    relay.authorize(keys("alice"), jump_only)
    relay.start()
    trust_in_openssh_known_hosts(relay)  # ~/.ssh/known_hosts is honoured
    add_tunnel("vps", relay, "--remote-port", str(rport))
    srv = serve()
    up = wait_state("vps", "up")
    assert up["summary"].startswith("up since ")

    [jump] = tunnel_ssh("vps")
    assert jump == f"ssh -J root@127.0.0.1:{relay.port} -p {rport} guest@localhost"
    g = run_guest(jump, keys("alice"))
    g.wait_for("SHARED-42")

    # The relay's loopback port itself, as a guest on the relay machine would use it.
    direct = run_guest(f"ssh -p {rport} guest@127.0.0.1", keys("alice"))
    direct.wait_for("SHARED-42")
    # A guest of the server itself, from the same loopback: not taken for a tunnel's.
    local = run_guest(f"ssh -p {srv.port} guest@127.0.0.1", keys("alice"))
    local.wait_for("SHARED-42")
    clients = pairtui_json("clients")
    assert len(clients) == 3
    assert {c["guest"] for c in clients} == {"alice"}
    # Both jumps happen on the relay, so the relay reports its own loopback for them.
    assert sorted(c["via"] for c in clients) == ["", "vps", "vps"]
    assert all(c["peer"].startswith("127.0.0.1:") for c in clients)
    assert tunnel_state("vps")["forwarded"] >= 2
    assert srv.proc.poll() is None


def test_tunnel_list_and_add_print_the_plain_openssh_command_which_works_too(
    shared_host: TmuxHost, relays: Callable[..., Relay], run_guest: Callable[..., Guest],
    keys: Callable[[str], Path], serve: Callable[..., Server], tmp_path: Path,
) -> None:  # fmt: skip
    relay = relays()
    relay.authorize(host_key_for_tunnels())
    relay.start()
    trust_in_openssh_known_hosts(relay)
    rport = free_port()
    res = pairtui("tunnel", "add", "vps", f"root@127.0.0.1:{relay.port}",
                  "--remote-port", str(rport))  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "ssh -N -p" in res.stdout
    pairtui("tunnel", "down", "vps")  # the host prefers its own ssh for this one
    srv = serve()
    [row] = pairtui_json("tunnel", "list")
    assert row["state"] == "disabled"
    command = row["openssh"]
    assert command == (  # it points at the running server's port
        f"ssh -N -p {relay.port} -o ExitOnForwardFailure=yes -o ServerAliveInterval=15 "
        f"-o ServerAliveCountMax=3 -R 127.0.0.1:{rport}:127.0.0.1:{srv.port} root@127.0.0.1"
    )
    listing = pairtui("tunnel", "list").stdout
    assert command in listing
    argv = shlex.split(command)
    known = tmp_path / "relay_known_hosts"
    known.write_text(relay.known_hosts_line())
    ssh = subprocess.Popen(
        [argv[0], "-F", "/dev/null", "-o", f"UserKnownHostsFile={known}", "-o", "BatchMode=yes",
         "-i", str(host_key_for_tunnels()), *argv[1:]],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        g = wait_until(lambda: _joined(run_guest, rport, keys("alice")), timeout=15,
                       what="a guest through the plain OpenSSH tunnel")  # fmt: skip
        assert g is not None
    finally:
        ssh.terminate()
        ssh.wait(10)


def _joined(run_guest: Callable[..., Guest], port: int, key: Path) -> Guest | None:
    g = run_guest(f"ssh -p {port} guest@127.0.0.1", key)
    try:
        g.wait_for("SHARED-42", timeout=3)
    except AssertionError:
        g.close()
        return None
    return g


# --- faults ---------------------------------------------------------------------------------


def test_relay_restart_shows_retrying_then_the_forward_is_back_within_10s(
    shared_host: TmuxHost, relays: Callable[..., Relay], serve: Callable[..., Server],
    run_guest: Callable[..., Guest], keys: Callable[[str], Path],
) -> None:  # fmt: skip
    relay = relays()
    relay.authorize(host_key_for_tunnels())
    relay.start()
    trust_in_openssh_known_hosts(relay)
    rport = free_port()
    add_tunnel("vps", relay, "--remote-port", str(rport))
    serve()
    wait_state("vps", "up")
    first = run_guest(f"ssh -p {rport} guest@127.0.0.1", keys("alice"))
    first.wait_for("SHARED-42")

    relay.stop()
    retrying = wait_state("vps", "retrying")
    assert re.fullmatch(r"retrying in \d+ s \(.+\)", retrying["summary"]), retrying
    # It keeps trying while the relay is away, and says why.
    wait_until(lambda: "connection refused" in tunnel_state("vps")["summary"], timeout=10,
               what="the refused reconnect attempt")  # fmt: skip
    time.sleep(6)  # long enough for the backoff to reach its cap
    assert tunnel_state("vps")["attempts"] >= 3

    relay.start()
    back = time.monotonic()
    wait_state("vps", "up", timeout=COMEBACK_LIMIT)
    assert time.monotonic() - back < COMEBACK_LIMIT
    again = run_guest(f"ssh -p {rport} guest@127.0.0.1", keys("alice"))
    again.wait_for("SHARED-42")


def test_unknown_relay_key_is_refused_until_trusted_with_its_fingerprint(
    shared_host: TmuxHost, relays: Callable[..., Relay], serve: Callable[..., Server],
    run_guest: Callable[..., Guest], keys: Callable[[str], Path],
) -> None:  # fmt: skip
    relay = relays()
    relay.authorize(host_key_for_tunnels())
    relay.start()
    rport = free_port()
    add_tunnel("vps", relay, "--remote-port", str(rport))
    serve()
    failed = wait_state("vps", "failed")
    fp = relay.fingerprint()
    assert "host key is unknown" in failed["summary"]
    assert fp in failed["summary"]
    assert "pairtui tunnel trust vps" in failed["summary"]
    assert "Accepted publickey" not in relay.log.read_text()  # never logged in

    wrong = pairtui("tunnel", "trust", "vps", "--fingerprint", "SHA256:" + "A" * 43)
    assert wrong.returncode == 1
    assert wrong.stderr.startswith("pairtui: ") and "not trusted" in wrong.stderr
    asked = pairtui("tunnel", "trust", "vps")  # no terminal: it says how to confirm
    assert asked.returncode == 1 and f"--fingerprint {fp}" in asked.stderr
    assert tunnel_state("vps")["state"] == "failed"

    ok = pairtui("tunnel", "trust", "vps", "--fingerprint", fp)
    assert ok.returncode == 0, ok.stderr
    assert fp in ok.stdout
    wait_state("vps", "up")
    run_guest(f"ssh -p {rport} guest@127.0.0.1", keys("alice")).wait_for("SHARED-42")


def test_changed_relay_key_is_refused_with_both_fingerprints(
    shared_host: TmuxHost, relays: Callable[..., Relay], serve: Callable[..., Server],
    guests: Callable[..., SshGuest], keys: Callable[[str], Path], tmp_path: Path,
) -> None:  # fmt: skip
    relay = relays()
    relay.authorize(host_key_for_tunnels())
    relay.start()
    impostor = Relay(tmp_path / "old-relay", relay.port)  # the key known_hosts remembers
    known = Path.home() / ".ssh" / "known_hosts"
    known.parent.mkdir(mode=0o700, exist_ok=True)
    known.write_text(impostor.known_hosts_line())
    add_tunnel("vps", relay, "--remote-port", str(free_port()))
    srv = serve()
    failed = wait_state("vps", "failed")
    assert "host key CHANGED" in failed["summary"]
    assert relay.fingerprint() in failed["summary"]
    assert impostor.fingerprint() in failed["summary"]
    assert "pairtui tunnel trust vps" in failed["summary"]
    local_guest_still_joins(srv, keys("alice"), guests)


class Fault(NamedTuple):
    test_id: str
    setup: Callable[[Relay, Path], None]
    state: str
    says: str


def _unreachable(relay: Relay, key: Path) -> None:
    trust_in_openssh_known_hosts(relay)  # known, but nothing listens there


def _bad_credentials(relay: Relay, key: Path) -> None:
    relay.authorize(keygen(relay.base, "someone-else"))  # not the host's key
    relay.start()
    trust_in_openssh_known_hosts(relay)


def _forwarding_off(relay: Relay, key: Path) -> None:
    relay.options["AllowTcpForwarding"] = "no"
    relay.authorize(key)
    relay.start()
    trust_in_openssh_known_hosts(relay)


FAULTS = [
    Fault("unreachable", _unreachable, "retrying", "connection refused by 127.0.0.1"),
    Fault("bad-credentials", _bad_credentials, "failed", "the relay refused our keys for root"),
    Fault("forwarding-off", _forwarding_off, "failed", "does not allow TCP forwarding"),
]


@pytest.mark.parametrize("fault", FAULTS, ids=[f.test_id for f in FAULTS])
def test_relay_faults_are_clear_states_and_local_guests_still_join(
    fault: Fault, shared_host: TmuxHost, relays: Callable[..., Relay],
    serve: Callable[..., Server], guests: Callable[..., SshGuest], keys: Callable[[str], Path],
) -> None:  # fmt: skip
    relay = relays()
    fault.setup(relay, host_key_for_tunnels())
    add_tunnel("vps", relay, "--remote-port", str(free_port()))
    srv = serve()
    status = wait_state("vps", fault.state)
    assert fault.says in status["summary"], status
    assert "Traceback" not in status["summary"]
    local_guest_still_joins(srv, keys("alice"), guests)
    assert srv.proc.poll() is None
    listing = pairtui("tunnel", "list")
    assert listing.returncode == 0 and listing.stderr == ""
    assert fault.says in listing.stdout


def test_port_taken_on_the_relay_retries_and_comes_up_once_it_is_free(
    shared_host: TmuxHost, relays: Callable[..., Relay], serve: Callable[..., Server],
    guests: Callable[..., SshGuest], run_guest: Callable[..., Guest], keys: Callable[[str], Path],
) -> None:  # fmt: skip
    relay = relays()
    relay.authorize(host_key_for_tunnels())
    relay.start()
    trust_in_openssh_known_hosts(relay)
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    rport = int(squatter.getsockname()[1])
    try:
        add_tunnel("vps", relay, "--remote-port", str(rport))
        srv = serve()
        status = wait_until(
            lambda: (s := tunnel_state("vps"))["state"] == "retrying" and "in use" in s["summary"]
            and s, timeout=15, what="port taken",
        )  # fmt: skip
        assert f"port {rport} on the relay is already in use" in status["summary"]
        local_guest_still_joins(srv, keys("alice"), guests)
    finally:
        squatter.close()
    wait_state("vps", "up", timeout=COMEBACK_LIMIT)
    run_guest(f"ssh -p {rport} guest@127.0.0.1", keys("alice")).wait_for("SHARED-42")


def test_tunnel_down_and_up_persist_and_act_on_the_running_server(
    shared_host: TmuxHost, relays: Callable[..., Relay], serve: Callable[..., Server],
) -> None:  # fmt: skip
    relay = relays()
    relay.authorize(host_key_for_tunnels())
    relay.start()
    trust_in_openssh_known_hosts(relay)
    rport = free_port()
    add_tunnel("vps", relay, "--remote-port", str(rport))
    srv = serve()
    wait_state("vps", "up")
    res = pairtui("tunnel", "down", "vps")
    assert res.returncode == 0, res.stderr
    assert tunnel_state("vps")["state"] == "disabled"
    wait_until(lambda: _refused(rport), what="the relay port closed")
    srv.stop()
    srv2 = serve()  # a disabled tunnel stays down across restarts
    time.sleep(1)
    assert tunnel_state("vps")["state"] == "disabled"
    res = pairtui("tunnel", "up", "vps")
    assert res.returncode == 0, res.stderr
    assert "up since" in res.stdout
    res = pairtui("tunnel", "remove", "vps")
    assert res.returncode == 0, res.stderr
    wait_until(lambda: _refused(rport), what="the relay port closed after remove")
    assert pairtui_json("tunnel", "list") == []
    assert srv2.proc.poll() is None


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


# --- NAT for real: host, relay and guest in their own network namespaces ----------------


@dataclass
class Nat:
    """Three namespaces: the guest and the host each reach only the relay."""

    host: str
    relay: str
    guest: str
    relay_addr: str = "203.0.113.10"  # the relay's "public" address, on its loopback

    def run(self, ns: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True,
                              text=True, timeout=30, check=check)  # fmt: skip


def _ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, timeout=30, capture_output=True)


@pytest.fixture
def nat() -> Iterator[Nat]:
    tag = uuid.uuid4().hex[:6]
    names = Nat(f"pt{tag}-host", f"pt{tag}-relay", f"pt{tag}-guest")
    made: list[str] = []
    links = [f"pt{tag}h", f"pt{tag}rh", f"pt{tag}rg", f"pt{tag}g"]
    try:
        for ns in (names.host, names.relay, names.guest):
            _ip("netns", "add", ns)
            made.append(ns)
        # Each veth end is created inside its namespace: nothing touches the root one.
        _ip("link", "add", links[0], "netns", names.host, "type", "veth",
            "peer", "name", links[1], "netns", names.relay)  # fmt: skip
        _ip("link", "add", links[3], "netns", names.guest, "type", "veth",
            "peer", "name", links[2], "netns", names.relay)  # fmt: skip
        for ns, link, addr in (
            (names.host, links[0], "192.0.2.1/24"),
            (names.relay, links[1], "192.0.2.2/24"),
            (names.relay, links[2], "198.51.100.1/24"),
            (names.guest, links[3], "198.51.100.2/24"),
        ):
            _ip("-n", ns, "addr", "add", addr, "dev", link)
            _ip("-n", ns, "link", "set", link, "up")
        for ns in made:
            _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", names.relay, "addr", "add", f"{names.relay_addr}/32", "dev", "lo")
        # One host route each, to the relay; no default route anywhere, and the relay
        # does not forward (ip_forward is 0 in a new namespace).
        _ip("-n", names.host, "route", "add", f"{names.relay_addr}/32", "via", "192.0.2.2")
        _ip("-n", names.guest, "route", "add", f"{names.relay_addr}/32", "via", "198.51.100.1")
        yield names
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], check=False, timeout=30)
        for link in links:  # gone with their namespaces; make sure none was left behind
            subprocess.run(["ip", "link", "del", link], check=False, timeout=30,
                           capture_output=True)  # fmt: skip


def test_nat_guest_and_host_reach_only_the_relay_and_the_guest_joins_through_it(
    nat: Nat, shared_host: TmuxHost, relays: Callable[..., Relay],
    serve: Callable[..., Server], run_guest: Callable[..., Guest], keys: Callable[[str], Path],
) -> None:  # fmt: skip
    relay = relays(listen=nat.relay_addr, netns=nat.relay, port=2022,
                   options={"GatewayPorts": "clientspecified"})  # fmt: skip
    relay.authorize(host_key_for_tunnels())
    relay.authorize(keys("alice"))
    relay.start()
    srv = serve(nat.host)
    # Trust the relay from inside the host's network, as a host behind NAT would.
    add_tunnel("public", relay, "--remote-port", "2222", "--remote-bind", "0.0.0.0")
    add_tunnel("jump", relay, "--remote-port", "2223")
    fp = relay.fingerprint()
    trusted = nat.run(nat.host, sys.executable, "-m", "pairtui", "tunnel", "trust", "public",
                      "--fingerprint", fp, check=False)  # fmt: skip
    assert trusted.returncode == 0, trusted.stderr
    pairtui("tunnel", "up", "jump")  # same relay key: it was failed until now
    wait_state("public", "up")
    wait_state("jump", "up")

    # The guest cannot reach the host; the host cannot reach the guest.
    probe = "import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 3)"
    no_route = nat.run(nat.guest, sys.executable, "-c", probe, "192.0.2.1", str(srv.port),
                       check=False)  # fmt: skip
    assert no_route.returncode != 0 and "unreachable" in no_route.stderr
    no_route = nat.run(nat.host, sys.executable, "-c", probe, "198.51.100.2", "22", check=False)
    assert no_route.returncode != 0 and "unreachable" in no_route.stderr

    strings = pairtui_json("ssh-string")["tunnels"]
    by_name = {t["name"]: [s["command"] for s in t["ssh"]] for t in strings}
    assert by_name["public"] == [f"ssh -p 2222 guest@{nat.relay_addr}"]
    assert by_name["jump"] == [f"ssh -J root@{nat.relay_addr}:2022 -p 2223 guest@localhost"]
    g1 = run_guest(by_name["public"][0], keys("alice"), nat.guest)
    g1.wait_for("SHARED-42")
    g2 = run_guest(by_name["jump"][0], keys("alice"), nat.guest)
    g2.wait_for("SHARED-42")
    # Who is in, and from where: the address the relay accepted each guest from.
    seen = {(c["peer"].rsplit(":", 1)[0], c["via"]) for c in pairtui_json("clients")}
    assert seen == {("198.51.100.2", "public"), ("127.0.0.1", "jump")}
    listing = pairtui("clients").stdout
    assert re.search(r"198\.51\.100\.2:\d+ via public ", listing), listing
    joins = {(str(e["peer"]).rsplit(":", 1)[0], e.get("via")) for e in Audit().read()
             if e["event"] == "join"}  # fmt: skip
    assert joins == seen


def test_nat_relay_unreachable_from_the_host_network_is_a_clear_state(
    nat: Nat, shared_host: TmuxHost, serve: Callable[..., Server],
) -> None:  # fmt: skip
    serve(nat.host)
    res = pairtui("tunnel", "add", "far", "root@198.51.100.2:22")  # the guest's net: no route
    assert res.returncode == 0, res.stderr
    status = wait_state("far", "retrying")
    assert "cannot reach 198.51.100.2:22" in status["summary"]
    assert "unreachable" in status["summary"].lower()
