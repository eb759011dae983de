"""Tunnels without a real sshd: definitions, strings, backoff, host keys, the manager.

The manager is driven against an in-process asyncssh server standing in for the relay
(on 127.0.0.1, port 0), with a TCP proxy in between that can go silent like a NAT that
dropped its mapping. The real-sshd and network-namespace tests are in
``test_e2e_tunnels.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import asyncssh
import pytest
from support import TmuxHost, keygen, pairtui, pairtui_json

from pairtui import control, paths
from pairtui.engine import Engine
from pairtui.errors import PairtuiError
from pairtui.events import Event, TunnelChanged, TunnelInfo
from pairtui.tunnels import (
    Backoff,
    Tunnel,
    TunnelError,
    TunnelManager,
    TunnelStore,
    guest_strings,
    host_pattern,
    known_keys,
    load_known_hosts,
    openssh_command,
    parse_relay,
    trust_host_key,
)

T = TypeVar("T")


async def eventually(check: Callable[[], T | None], timeout: float = 10, what: str = "") -> T:
    """Poll without blocking the event loop (the manager under test runs on it)."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or check}: last={last!r}")


# --- relay specs ---------------------------------------------------------------------------


class RelayCase(NamedTuple):
    test_id: str
    spec: str
    parsed: tuple[str, str, int]


RELAYS = [
    RelayCase("host", "me@relay.example.org", ("me", "relay.example.org", 22)),
    RelayCase("host-port", "me@relay.example.org:2022", ("me", "relay.example.org", 2022)),
    RelayCase("ipv4", "root@192.0.2.7:22", ("root", "192.0.2.7", 22)),
    RelayCase("ipv6", "me@[2001:db8::1]:2022", ("me", "2001:db8::1", 2022)),
    RelayCase("ipv6-bare", "me@2001:db8::1", ("me", "2001:db8::1", 22)),
    RelayCase("dotted-user", "first.last@h", ("first.last", "h", 22)),
]


@pytest.mark.parametrize("case", RELAYS, ids=[c.test_id for c in RELAYS])
def test_relay_specs_parse(case: RelayCase) -> None:
    assert parse_relay(case.spec) == case.parsed


class BadRelay(NamedTuple):
    test_id: str
    spec: str
    says: str


BAD_RELAYS = [
    BadRelay("no-user", "relay.example.org", "must be USER@HOST[:PORT]"),
    BadRelay("empty-user", "@relay", "must be USER@HOST[:PORT]"),
    BadRelay("port-zero", "me@relay:0", "port must be 1-65535"),
    BadRelay("port-word", "me@relay:ssh", "port must be 1-65535"),
    BadRelay("port-big", "me@relay:70000", "port must be 1-65535"),
    BadRelay("space-host", "me@re lay", "is not a host name"),
    BadRelay("option-user", "-oProxyCommand=x@relay", "not a valid user name"),
    BadRelay("bad-v6", "me@[2001:db8::1", "IPv6"),
]


@pytest.mark.parametrize("case", BAD_RELAYS, ids=[c.test_id for c in BAD_RELAYS])
def test_bad_relay_specs_are_one_clear_error(case: BadRelay) -> None:
    with pytest.raises(PairtuiError, match=None) as err:
        parse_relay(case.spec)
    assert case.says in str(err.value)


# --- the tunnels file ----------------------------------------------------------------------


def test_tunnels_persist_in_a_private_json_file() -> None:
    store = TunnelStore()
    store.add(Tunnel("vps", "me", "relay.example.org", 2022, 2300, "0.0.0.0", "/k/id"))
    store.add(Tunnel("lab", "me", "lab.example.org"))
    assert store.path == paths.config_dir() / "tunnels.json"
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    data = json.loads(store.path.read_text())
    assert [row["name"] for row in data] == ["vps", "lab"]
    assert data[0] == {
        "name": "vps",
        "user": "me",
        "host": "relay.example.org",
        "port": 2022,
        "remote_port": 2300,
        "remote_bind": "0.0.0.0",
        "identity": "/k/id",
        "enabled": True,
    }
    assert TunnelStore().load() == store.load()

    assert store.set_enabled("vps", False).enabled is False
    assert store.get("vps").enabled is False
    assert store.remove("lab").host == "lab.example.org"
    assert [t.name for t in store.load()] == ["vps"]


class StoreError(NamedTuple):
    test_id: str
    action: Callable[[TunnelStore], object]
    says: str


STORE_ERRORS = [
    StoreError("duplicate-name", lambda s: s.add(Tunnel("vps", "x", "other")), "exists already"),
    StoreError(
        "same-relay-port",
        lambda s: s.add(Tunnel("two", "me", "relay", 22, 2222)),
        "already forwards port 2222",
    ),
    StoreError("bad-name", lambda s: s.add(Tunnel("../x", "me", "r")), "tunnel name"),
    StoreError(
        "bad-bind", lambda s: s.add(Tunnel("b", "me", "r", remote_bind="10.0.0.1")), "--remote-bind"
    ),
    StoreError(
        "bad-remote-port", lambda s: s.add(Tunnel("p", "me", "r", remote_port=0)), "--remote-port"
    ),
    StoreError("remove-unknown", lambda s: s.remove("nope"), "no tunnel named 'nope'"),
    StoreError("enable-unknown", lambda s: s.set_enabled("nope", True), "no tunnel named"),
]


@pytest.mark.parametrize("case", STORE_ERRORS, ids=[c.test_id for c in STORE_ERRORS])
def test_store_refuses_bad_changes_and_keeps_the_file(case: StoreError) -> None:
    store = TunnelStore()
    store.add(Tunnel("vps", "me", "relay"))
    before = store.path.read_text()
    with pytest.raises(PairtuiError) as err:
        case.action(store)
    assert case.says in str(err.value)
    assert store.path.read_text() == before


def test_a_broken_tunnels_file_is_one_clear_error() -> None:
    path = paths.tunnels_file()
    path.write_text('{"name": "x"')
    with pytest.raises(PairtuiError, match=r"tunnels.json: not a valid tunnels file"):
        TunnelStore().load()
    path.write_text('[{"name": "x", "user": "me"}]')
    with pytest.raises(PairtuiError, match="not a valid tunnels file"):
        TunnelStore().load()
    res = pairtui("tunnel", "list")
    assert res.returncode == 1
    assert res.stderr.startswith("pairtui: ") and "Traceback" not in res.stderr


def test_concurrent_adds_from_several_processes_lose_nothing() -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "pairtui", "tunnel", "add", f"t{i}", f"me@relay{i}.example"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for i in range(8)
    ]
    for p in procs:
        assert p.wait(60) == 0
    assert sorted(t.name for t in TunnelStore().load()) == [f"t{i}" for i in range(8)]


# --- what guests type ------------------------------------------------------------------------


def test_ssh_strings_public_bind_and_proxyjump() -> None:
    public = Tunnel("pub", "me", "relay.example.org", 2022, 2300, "0.0.0.0")
    jump = Tunnel("jmp", "me", "relay.example.org", 2022, 2300, "127.0.0.1")
    assert [s.command for s in guest_strings(public)] == ["ssh -p 2300 guest@relay.example.org"]
    assert [s.command for s in guest_strings(jump)] == [
        "ssh -J me@relay.example.org:2022 -p 2300 guest@localhost"
    ]
    assert [s.command for s in guest_strings(jump, "pairing")] == [
        "ssh -t -J me@relay.example.org:2022 -p 2300 guest@localhost pairing"
    ]
    v6 = Tunnel("v6", "me", "2001:db8::1", 22, 22, "0.0.0.0")
    assert [s.command for s in guest_strings(v6)] == ["ssh guest@[2001:db8::1]"]
    assert guest_strings(public)[0].to_json() == {
        "command": "ssh -p 2300 guest@relay.example.org",
        "host": "relay.example.org",
        "port": 2300,
        "share": None,
    }


def test_the_plain_openssh_equivalent() -> None:
    t = Tunnel("vps", "me", "relay.example.org", 2022, 2300, "0.0.0.0", "/home/me/.ssh/relay")
    assert openssh_command(t, "0.0.0.0", 2222) == (
        "ssh -N -p 2022 -i /home/me/.ssh/relay -o ExitOnForwardFailure=yes "
        "-o ServerAliveInterval=15 -o ServerAliveCountMax=3 "
        "-R 0.0.0.0:2300:127.0.0.1:2222 me@relay.example.org"
    )
    plain = Tunnel("lab", "me", "lab.example.org")
    assert openssh_command(plain, "127.0.0.1", 2222).endswith(
        "-R 127.0.0.1:2222:127.0.0.1:2222 me@lab.example.org"
    )


# --- backoff and states ------------------------------------------------------------------------


def test_backoff_grows_is_capped_and_jittered() -> None:
    b = Backoff()
    assert [b.delay(n, lambda: 0.0) for n in range(1, 8)] == [0.5, 1, 2, 4, 5, 5, 5]
    assert [round(b.delay(n, lambda: 1.0), 2) for n in (1, 4, 9)] == [0.35, 2.8, 3.5]
    delays = {b.delay(3) for _ in range(50)}
    assert len(delays) > 1 and all(1.4 <= d <= 2.0 for d in delays)
    # A relay that returns is retried within the cap, leaving time to connect in 10 s.
    assert max(b.delay(n) for n in range(1, 50)) <= b.cap <= 5.0


class Describe(NamedTuple):
    test_id: str
    info: TunnelInfo
    text: str


NOW = 1_000_000.0
BASE = TunnelInfo("vps", "me@relay", "127.0.0.1:2222", "disabled", since=NOW - 10)
DESCRIBE = [
    Describe("disabled", BASE, "disabled"),
    Describe(
        "connecting", BASE.__class__(**{**BASE.__dict__, "state": "connecting"}), "connecting"
    ),
    Describe(
        "reconnecting",
        TunnelInfo("vps", "r", "x", "connecting", reason="refused", attempts=2),
        "connecting (attempt 3; last: refused)",
    ),
    Describe(
        "retrying",
        TunnelInfo("vps", "r", "x", "retrying", reason="connection refused", retry_at=NOW + 3.2),
        "retrying in 4 s (connection refused)",
    ),
    Describe("failed", TunnelInfo("vps", "r", "x", "failed", reason="bad key"), "failed: bad key"),
]


@pytest.mark.parametrize("case", DESCRIBE, ids=[c.test_id for c in DESCRIBE])
def test_states_read_as_one_line(case: Describe) -> None:
    assert case.info.describe(NOW) == case.text


def test_up_since_is_local_clock_time() -> None:
    info = TunnelInfo("vps", "r", "x", "up", since=time.mktime((2026, 1, 2, 14, 3, 22, 0, 0, -1)))
    assert info.describe() == "up since 14:03:22"
    assert info.to_json()["summary"] == "up since 14:03:22"


def test_tunnel_events_survive_the_control_wire() -> None:
    event = TunnelChanged(
        TunnelInfo("vps", "me@r", "127.0.0.1:2222", "retrying", 12.5, "refused", 15.0, 3, 7)
    )
    line = json.dumps(control.encode_event(event))
    assert control.decode_event(json.loads(line)) == event
    newer = {"event": "tunnel", "tunnel": {**json.loads(line)["tunnel"], "colour": "red"}}
    assert control.decode_event(newer) == event


# --- relay host keys ----------------------------------------------------------------------------


def test_trust_records_the_key_once_per_host_and_port() -> None:
    tunnel = Tunnel("vps", "me", "relay.example.org", 2022)
    k1, k2 = (asyncssh.generate_private_key("ssh-ed25519") for _ in range(2))
    path = paths.tunnel_known_hosts()
    path.write_text(
        "# mine\nother.example.org ssh-ed25519 " + k1.export_public_key().decode().split()[1] + "\n"
    )
    trust_host_key(tunnel, k1)
    trust_host_key(tunnel, k2)  # the relay was reinstalled: the old entry goes
    lines = path.read_text().splitlines()
    assert lines[0] == "# mine" and lines[1].startswith("other.example.org ")
    assert lines[2:] == [f"[relay.example.org]:2022 {k2.export_public_key().decode().strip()}"]
    assert known_keys("relay.example.org", 2022) == [k2.convert_to_public()]
    assert known_keys("relay.example.org", 22) == []
    assert host_pattern("relay.example.org", 22) == "relay.example.org"


def test_hashed_openssh_known_hosts_are_honoured_and_bad_lines_skipped(tmp_path: Path) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    ssh_dir = Path.home() / ".ssh"
    ssh_dir.mkdir(mode=0o700)
    known = ssh_dir / "known_hosts"
    known.write_text(f"[relay.example.org]:2022 {key.export_public_key().decode()}")
    subprocess.run(
        ["ssh-keygen", "-q", "-H", "-f", str(known)], check=True, timeout=30, capture_output=True
    )
    assert "relay.example.org" not in known.read_text()  # hashed now
    with known.open("a") as f:
        f.write("garbage-without-a-key\n@nonsense x y\n")
    assert known_keys("relay.example.org", 2022) == [key.convert_to_public()]
    assert load_known_hosts() is not None


# --- the manager against an in-process relay ------------------------------------------------------


class RelayServer(asyncssh.SSHServer):
    """Lets the host's key in and listens where asked, like sshd with forwarding on."""

    def __init__(self, relay: FakeRelay) -> None:
        self.relay = relay

    def begin_auth(self, username: str) -> bool:
        return True

    def server_requested(self, listen_host: str, listen_port: int) -> bool:
        if self.relay.refuse_listens:
            self.relay.refuse_listens -= 1
            return False
        return self.relay.allow_listen

    def connection_requested(self, dest_host: str, dest_port: int, *_: object) -> bool:
        return self.relay.allow_connect


@dataclass
class FakeRelay:
    """An asyncssh relay behind a proxy that can go silent (a NAT that lost its mapping)."""

    server: asyncssh.SSHAcceptor
    proxy: asyncio.Server
    host_key: asyncssh.SSHKey
    allow_listen: bool = True
    allow_connect: bool = True
    refuse_listens: int = 0  # refuse this many listen requests, then go by allow_listen
    silent: bool = False
    links: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = field(default_factory=list)

    @property
    def port(self) -> int:
        """Where the host connects: the proxy."""
        return int(self.proxy.sockets[0].getsockname()[1])

    def trust(self) -> None:
        ssh_dir = Path.home() / ".ssh"
        ssh_dir.mkdir(mode=0o700, exist_ok=True)
        line = f"[127.0.0.1]:{self.port} {self.host_key.export_public_key().decode()}"
        (ssh_dir / "known_hosts").write_text(line)


async def _pump(
    relay: FakeRelay, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while data := await reader.read(65536):
            if not relay.silent:
                writer.write(data)
                await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@pytest.fixture
async def relay() -> AsyncIterator[FakeRelay]:
    host_ssh = Path.home() / ".ssh"
    host_ssh.mkdir(mode=0o700, exist_ok=True)
    client_key = keygen(host_ssh, "id_ed25519")
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    holder: list[FakeRelay] = []
    server = await asyncssh.create_server(
        lambda: RelayServer(holder[0]),
        "127.0.0.1",
        0,
        server_host_keys=[host_key],
        authorized_client_keys=asyncssh.import_authorized_keys(
            Path(f"{client_key}.pub").read_text()
        ),
    )
    upstream = int(server.sockets[0].getsockname()[1])

    async def link(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream)
        holder[0].links.append((writer, up_writer))
        await asyncio.gather(
            _pump(holder[0], reader, up_writer), _pump(holder[0], up_reader, writer)
        )

    proxy = await asyncio.start_server(link, "127.0.0.1", 0)
    holder.append(FakeRelay(server, proxy, host_key))
    yield holder[0]
    proxy.close()
    for a, b in holder[0].links:
        a.close()
        b.close()
    server.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(server.wait_closed(), 5)


@pytest.fixture
async def target() -> AsyncIterator[int]:
    """Stands in for the pairtui server: says hello to whoever the tunnel brings."""

    async def hello(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello from the host\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(hello, "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1])
    server.close()


@dataclass
class Harness:
    manager: TunnelManager
    events: list[TunnelInfo]

    def states(self, name: str = "vps") -> list[str]:
        return [e.state for e in self.events if e.name == name]

    def info(self, name: str = "vps") -> TunnelInfo:
        return next(i for i in self.manager.infos() if i.name == name)

    async def reach(self, state: str, name: str = "vps", timeout: float = 10) -> TunnelInfo:
        def check() -> TunnelInfo | None:
            info = self.info(name)
            return info if info.state == state else None

        return await eventually(check, timeout, what=f"tunnel {name} {state}")


@pytest.fixture
def harness(target: int) -> Iterator[Callable[..., Harness]]:
    made: list[TunnelManager] = []

    def make(**kwargs: Any) -> Harness:
        events: list[TunnelInfo] = []

        def emit(event: Event) -> None:
            assert isinstance(event, TunnelChanged)
            events.append(event.tunnel)

        manager = TunnelManager(lambda: ("0.0.0.0", target), emit, **kwargs)
        made.append(manager)
        return Harness(manager, events)

    yield make
    for manager in made:
        assert all(r.task is None or r.task.done() for r in manager._runners.values()), (
            "stop() left a tunnel task running"
        )


async def _through(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        return await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_tunnel_comes_up_and_forwards_to_the_server(
    relay: FakeRelay, harness: Callable[..., Harness]
) -> None:
    relay.trust()
    rport = _free_port()
    TunnelStore().add(Tunnel("vps", "me", "127.0.0.1", relay.port, rport))
    h = harness()
    await h.manager.start()
    try:
        await eventually(lambda: h.info().state == "up", what="tunnel up")
        assert h.states()[:2] == ["connecting", "up"]
        assert await _through(rport) == b"hello from the host\n"
        assert h.info().forwarded == 1
        assert h.manager.status()[0]["state"] == "up"
    finally:
        await h.manager.stop()


async def test_a_silent_relay_is_noticed_by_keepalive_and_the_forward_returns(
    relay: FakeRelay, harness: Callable[..., Harness]
) -> None:
    relay.trust()
    rport = _free_port()
    TunnelStore().add(Tunnel("vps", "me", "127.0.0.1", relay.port, rport))
    h = harness(keepalive_interval=0.2, keepalive_count_max=2)
    await h.manager.start()
    try:
        await eventually(lambda: h.info().state == "up", what="tunnel up")
        relay.silent = True  # packets vanish; nobody closes anything
        lost = time.monotonic()
        await eventually(lambda: h.info().state == "retrying", what="keepalive noticed")
        assert time.monotonic() - lost < 3
        assert "stopped answering" in h.info().reason
        relay.silent = False
        await eventually(lambda: h.info().state == "up", timeout=10, what="back up")
        assert await _through(rport) == b"hello from the host\n"
    finally:
        await h.manager.stop()


async def test_unknown_relay_key_fails_without_logging_in(
    relay: FakeRelay, harness: Callable[..., Harness]
) -> None:
    TunnelStore().add(Tunnel("vps", "me", "127.0.0.1", relay.port, _free_port()))
    h = harness()
    await h.manager.start()
    try:
        info = await h.reach("failed")
        fp = relay.host_key.get_fingerprint("sha256")
        assert "host key is unknown" in info.reason and fp in info.reason
        assert "pairtui tunnel trust vps" in info.reason
        await asyncio.sleep(0.5)
        assert h.info().state == "failed"  # it waits for the user, no retry loop
    finally:
        await h.manager.stop()


async def test_refused_listen_on_a_free_port_is_a_failed_state(
    relay: FakeRelay, harness: Callable[..., Harness]
) -> None:
    relay.trust()
    relay.allow_listen = relay.allow_connect = False
    TunnelStore().add(Tunnel("vps", "me", "127.0.0.1", relay.port, _free_port()))
    h = harness()
    await h.manager.start()
    try:
        info = await h.reach("failed")
        assert "refused to listen on 127.0.0.1:" in info.reason
        relay.allow_listen = True
        assert (await h.manager.up("vps")).name == "vps"
        await eventually(lambda: h.info().state == "up", what="up after `tunnel up`")
    finally:
        await h.manager.stop()


async def test_a_port_freed_between_refusal_and_probe_is_asked_for_again(
    relay: FakeRelay, harness: Callable[..., Harness]
) -> None:
    """The old session let the port go just after the relay refused it: not a failure.

    Refused, and then nothing listens there: that reads as the relay's own rules, which
    would fail the tunnel for good. Asked once more, the relay gives the port.
    """
    relay.trust()
    relay.refuse_listens = 1
    TunnelStore().add(Tunnel("vps", "me", "127.0.0.1", relay.port, _free_port()))
    h = harness()
    await h.manager.start()
    try:
        await h.reach("up")
        assert h.states()[:2] == ["connecting", "up"]
        assert relay.refuse_listens == 0  # it was refused once
    finally:
        await h.manager.stop()


async def test_stopping_ends_a_tunnel_whose_cancel_was_swallowed(
    harness: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before Python 3.12 ``asyncio.wait_for`` can swallow a cancel (seen once in CI as
    an engine that never stopped); stopping must still end the tunnel, and say no more."""
    swallowed: list[bool] = []

    async def connect_swallowing_the_cancel(self: TunnelManager, runner: object) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if swallowed:
                raise
            swallowed.append(True)  # once, as a racing wait_for does: carry on as if timed out
        raise TunnelError("the relay did not answer")

    monkeypatch.setattr(TunnelManager, "_connect_and_serve", connect_swallowing_the_cancel)
    TunnelStore().add(Tunnel("vps", "me", "127.0.0.1", _free_port(), _free_port()))
    h = harness()
    await h.manager.start()
    await eventually(lambda: h.info().state == "connecting", what="connecting")
    await asyncio.sleep(0.05)
    await asyncio.wait_for(h.manager.stop(), 5)
    assert swallowed == [True]
    assert h.states() == ["connecting"]  # no "retrying" from a halted tunnel


async def test_down_up_and_removal_follow_the_file(
    relay: FakeRelay, harness: Callable[..., Harness]
) -> None:
    relay.trust()
    rport = _free_port()
    store = TunnelStore()
    store.add(Tunnel("vps", "me", "127.0.0.1", relay.port, rport))
    store.add(Tunnel("off", "me", "127.0.0.1", relay.port, _free_port(), enabled=False))
    h = harness()
    await h.manager.start()
    try:
        await eventually(lambda: h.info().state == "up", what="up")
        assert h.info("off").state == "disabled"
        info = await h.manager.down("vps")
        assert info is not None and info.state == "disabled"
        assert store.get("vps").enabled is False
        await eventually(lambda: _refused(rport), what="the relay port closed")
        await h.manager.up("vps")
        assert store.get("vps").enabled is True
        await eventually(lambda: h.info().state == "up", what="up again")
        store.remove("vps")
        assert await h.manager.down("vps") is None
        assert [i.name for i in h.manager.infos()] == ["off"]
    finally:
        await h.manager.stop()


async def test_a_broken_file_does_not_stop_the_manager(harness: Callable[..., Harness]) -> None:
    paths.tunnels_file().write_text("not json")
    h = harness()
    await h.manager.start()
    assert h.manager.infos() == []
    assert "not a valid tunnels file" in h.manager.error
    await h.manager.stop()


async def test_missing_identity_is_a_failed_state(harness: Callable[..., Harness]) -> None:
    TunnelStore().add(Tunnel("vps", "me", "127.0.0.1", 1, identity="/nonexistent/key"))
    h = harness()
    await h.manager.start()
    try:
        info = await h.reach("failed")
        assert info.reason == "identity file /nonexistent/key does not exist"
    finally:
        await h.manager.stop()


# --- the engine and its control socket ---------------------------------------------------------


async def test_the_engine_runs_tunnels_and_answers_tunnel_requests(tmux_host: TmuxHost) -> None:
    closed = _free_port()  # nothing listens: the tunnel retries
    TunnelStore().add(Tunnel("vps", "me", "127.0.0.1", closed, 2300))
    eng = Engine("127.0.0.1", 0)
    await eng.start()
    remote = control.RemoteEngine()
    try:
        await eventually(lambda: eng.tunnels.infos()[0].state == "retrying", what="retrying")
        tunnels = eng.status()["tunnels"]
        assert isinstance(tunnels, list)
        [row] = tunnels
        assert row["state"] == "retrying"
        assert f"connection refused by 127.0.0.1:{closed}" in row["summary"]

        events: list[Event] = []
        await remote.start()
        remote.subscribe(events.append)
        reply = await control.request_async("tunnels")
        assert reply is not None and reply["tunnels"][0]["name"] == "vps"
        down = await control.request_async("tunnel-down", name="vps")
        assert down is not None and down["tunnel"]["state"] == "disabled"
        await eventually(
            lambda: [
                e for e in events if isinstance(e, TunnelChanged) and e.tunnel.state == "disabled"
            ],
            what="streamed",
        )
        up = await control.request_async("tunnel-up", name="vps")
        assert up is not None and up["tunnel"]["state"] == "connecting"
        with pytest.raises(PairtuiError, match="no tunnel named 'nope'"):
            await control.request_async("tunnel-up", name="nope")
    finally:
        await remote.stop()
        await eng.stop()
    assert all(r.task is None for r in eng.tunnels._runners.values())


# --- the command line --------------------------------------------------------------------------


def test_cli_add_prints_strings_relay_needs_and_the_openssh_command(tmp_path: Path) -> None:
    key = keygen(tmp_path, "relay-key")
    res = pairtui(
        "tunnel",
        "add",
        "vps",
        "me@relay.example.org:2022",
        "--remote-port",
        "2300",
        "--remote-bind",
        "0.0.0.0",
        "--identity",
        str(key),
    )
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "guests: ssh -p 2300 guest@relay.example.org" in out
    assert "GatewayPorts clientspecified" in out
    assert (
        f"ssh -N -p 2022 -i {key} -o ExitOnForwardFailure=yes -o ServerAliveInterval=15 "
        "-o ServerAliveCountMax=3 -R 0.0.0.0:2300:127.0.0.1:2222 me@relay.example.org"
    ) in out
    assert "pairtui tunnel trust vps" in out
    assert "comes up when `pairtui serve`" in out

    [row] = pairtui_json("tunnel", "list")
    assert row["name"] == "vps" and row["state"] == "stopped"
    assert row["summary"] == "not running (no pairtui server)"
    assert row["ssh"][0]["command"] == "ssh -p 2300 guest@relay.example.org"
    assert row["host_key_known"] is False

    data = pairtui_json("ssh-string")
    assert data["tunnels"][0]["ssh"][0]["command"] == "ssh -p 2300 guest@relay.example.org"
    assert data["tunnels"][0]["state"] == "stopped"
    plain = pairtui("ssh-string").stdout
    assert "ssh -p 2300 guest@relay.example.org    # through tunnel vps" in plain


def test_cli_up_down_remove_persist_without_a_server() -> None:
    assert pairtui("tunnel", "add", "vps", "me@relay").returncode == 0
    res = pairtui("tunnel", "down", "vps")
    assert res.returncode == 0 and "stays disabled" in res.stdout
    assert pairtui_json("tunnel", "list")[0]["state"] == "disabled"
    res = pairtui("tunnel", "up", "vps")
    assert res.returncode == 0 and "comes up when `pairtui serve` starts" in res.stdout
    assert TunnelStore().get("vps").enabled
    assert pairtui("tunnel", "remove", "vps").returncode == 0
    assert pairtui_json("tunnel", "list") == []
    assert "no tunnels" in pairtui("tunnel", "list").stdout


class CliError(NamedTuple):
    test_id: str
    argv: tuple[str, ...]
    says: str


CLI_ERRORS = [
    CliError("bad-relay", ("add", "vps", "relay.example.org"), "must be USER@HOST[:PORT]"),
    CliError("no-identity", ("add", "vps", "me@r", "--identity", "/nope"), "does not exist"),
    CliError("unknown-up", ("up", "nope"), "no tunnel named 'nope'"),
    CliError("unknown-down", ("down", "nope"), "no tunnel named 'nope'"),
    CliError("unknown-remove", ("remove", "nope"), "no tunnel named 'nope'"),
    CliError("unknown-trust", ("trust", "nope"), "no tunnel named 'nope'"),
]


@pytest.mark.parametrize("case", CLI_ERRORS, ids=[c.test_id for c in CLI_ERRORS])
def test_cli_errors_are_one_line(case: CliError) -> None:
    res = pairtui("tunnel", *case.argv)
    assert res.returncode == 1
    assert res.stderr.startswith("pairtui: ") and res.stderr.count("\n") == 1
    assert case.says in res.stderr


def test_cli_trust_of_an_unreachable_relay_is_one_line() -> None:
    assert pairtui("tunnel", "add", "vps", f"me@127.0.0.1:{_free_port()}").returncode == 0
    res = pairtui("tunnel", "trust", "vps", "--yes")
    assert res.returncode == 1
    assert res.stderr.startswith("pairtui: cannot get the host key of 127.0.0.1:")
    assert "connection refused" in res.stderr and res.stderr.count("\n") == 1


def test_cli_rejects_bad_bind_and_port_through_argparse() -> None:
    res = pairtui("tunnel", "add", "vps", "me@r", "--remote-bind", "10.0.0.1")
    assert res.returncode == 2 and "invalid choice" in res.stderr
    res = pairtui("tunnel", "add", "vps", "me@r", "--remote-port", "99999")
    assert res.returncode == 2 and "1-65535" in res.stderr
    assert not paths.tunnels_file().exists()
