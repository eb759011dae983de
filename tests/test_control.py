"""The control socket: one-shot requests, and the ``subscribe`` stream a dashboard attaches to."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import pytest
from support import SshGuest, TmuxHost, share_host_session

from pairtui import __version__, control, paths
from pairtui.authorized_keys import parse_public_keys
from pairtui.engine import Engine
from pairtui.errors import PairtuiError
from pairtui.events import (
    AccessRefused,
    ClientChanged,
    ClientInfo,
    ClientJoined,
    ClientLeft,
    DoorChanged,
    DoorState,
    Event,
)
from pairtui.registry import Mode, Registry
from pairtui.tunnels import Tunnel, TunnelStore

T = TypeVar("T")
Connect = Callable[..., SshGuest]


async def eventually(check: Callable[[], T | None], timeout: float = 10, what: str = "") -> T:
    """Poll without blocking the event loop (the engine under test runs on it)."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or check}: last={last!r}")


def invite(name: str, key: Path, mode: Mode = Mode.PAIR) -> None:
    pub = key.with_name(key.name + ".pub").read_text()
    Registry().add(name, parse_public_keys(pub), mode=mode)


# --- events on the wire ----------------------------------------------------------------


INFO = ClientInfo(
    id="c7",
    guest="alice",
    fingerprint="SHA256:abc",
    peer="127.0.0.1:4000",
    share="main",
    mode="pair",
    since=1000.5,
    last_input=1010.25,
    cols=100,
    rows=30,
    tty="/dev/pts/9",
    pid=42,
)


@pytest.mark.parametrize(
    "event",
    [
        ClientJoined(INFO),
        ClientLeft(INFO, "guest left"),
        ClientLeft(INFO, "you were disconnected by the host", kicked=True),
        ClientChanged(INFO),
        ClientJoined(replace(INFO, peer="198.51.100.7:50312", via="vps")),
        AccessRefused("10.0.0.1:5", "SHA256:zzz", "unknown key"),
        AccessRefused("198.51.100.7:50312", "SHA256:zzz", "unknown key", "vps"),
        DoorChanged(DoorState(1600.25, "main")),
        DoorChanged(DoorState(0.0, ""), timed_out=True),
    ],
    ids=[
        "joined",
        "left",
        "kicked",
        "changed",
        "joined-via-tunnel",
        "refused",
        "refused-via-tunnel",
        "door-opened",
        "door-closed-by-itself",
    ],
)
def test_events_survive_the_wire_exactly(event: Event) -> None:
    line = json.dumps(control.encode_event(event))
    assert control.decode_event(json.loads(line)) == event


def test_clients_from_a_newer_server_keep_the_fields_we_know() -> None:
    data = {**asdict(INFO), "colour": "blue"}
    assert control.decode_client(data) == INFO
    assert control.decode_event({"event": "something-new"}) is None


async def test_without_a_server_requests_say_so() -> None:
    assert control.request("ping") is None
    assert await control.request_async("ping") is None
    with pytest.raises(PairtuiError, match="no pairtui server is running"):
        await control.RemoteEngine().start()


def test_a_socket_that_takes_connections_but_never_answers_is_busy_not_absent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("pairtui.control.client.TIMEOUT", 0.3)
    path = paths.control_socket()
    assert control.probe(path) == control.Probe("none")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stuck:
        stuck.bind(str(path))
        stuck.listen(8)  # the kernel queues connections; nobody accepts them
        with pytest.raises(control.ServerUnreachable, match="does not answer"):
            control.request("clients")
        found = control.probe(path)
        assert found.state == "busy" and "does not answer" in found.error
        assert not control.ping(path)
    found = control.probe(path)  # closed: its socket file is left behind
    assert found == control.Probe("stale")


async def test_a_new_control_server_never_takes_over_a_busy_one_s_socket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("pairtui.control.client.TIMEOUT", 0.3)
    path = paths.control_socket()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stuck:
        stuck.bind(str(path))
        stuck.listen(8)
        server = control.ControlServer(None, path)  # type: ignore[arg-type]
        with pytest.raises(PairtuiError, match="does not answer"):
            await server.start()
        assert path.exists()
    await server.start()  # stale now: taken over
    try:
        assert await control.request_async("ping") == {"ok": True}
    finally:
        await server.stop()
    assert not path.exists()


# --- against a real engine ----------------------------------------------------------------


async def test_a_one_shot_request_still_gets_one_reply(engine: Engine) -> None:
    reply = await control.request_async("status")
    assert reply is not None
    assert reply["status"]["port"] == engine.port
    with pytest.raises(PairtuiError, match="unknown request 'nope'"):
        await control.request_async("nope")
    status = reply["status"]
    assert (status["pid"], status["version"]) == (os.getpid(), __version__)
    started = datetime.fromisoformat(status["started"]).timestamp()
    assert int(started) == int(engine.started)


async def test_stop_is_refused_by_a_server_that_did_not_accept_it(
    engine: Engine, tmp_path: Path
) -> None:
    """The dashboard's own engine ends with the dashboard, not with `pairtui stop`."""
    with pytest.raises(PairtuiError, match="quit the dashboard"):
        await control.request_async("stop")
    stopped = asyncio.Event()
    path = tmp_path / "serve.sock"  # another engine, as `pairtui serve` makes it
    served = Engine("127.0.0.1", 0, control_path=path, on_stop=stopped.set)
    await served.start()
    try:
        reply = await control.request_async("stop", path)
        assert reply == {"ok": True, "pid": os.getpid(), "clients": 0}
        await asyncio.wait_for(stopped.wait(), 5)
    finally:
        await served.stop()


async def test_subscribe_streams_joins_changes_and_leaves_to_a_remote_engine(
    engine: Engine, keys: Callable[[str], Path], guests: Connect
) -> None:
    invite("alice", keys("alice"))
    remote = control.RemoteEngine()
    await remote.start()
    try:
        assert (remote.listen, remote.port) == ("127.0.0.1", engine.port)
        assert remote.fingerprint == engine.fingerprint
        assert remote.clients == {}
        events: list[Event] = []
        remote.subscribe(events.append)

        g = guests(engine.port, keys("alice"), size=(90, 30))
        [joined] = await eventually(
            lambda: [e for e in events if isinstance(e, ClientJoined)], what="join streamed"
        )
        cid = joined.client.id
        assert joined.client == engine.clients[cid]  # every field, timestamps included
        assert remote.clients[cid].guest == "alice"

        g.send("x")
        await eventually(
            lambda: remote.clients[cid].last_input, timeout=control.ACTIVITY_INTERVAL * 3
        )

        [changed] = await remote.set_mode(cid, Mode.VIEW)
        assert changed.mode == "view"
        await eventually(
            lambda: [e for e in events if isinstance(e, ClientChanged) and e.client.mode == "view"],
            what="mode change streamed",
        )
        assert remote.clients[cid].mode == "view"

        [kicked] = await remote.kick(cid)
        assert kicked.id == cid
        [left] = await eventually(
            lambda: [e for e in events if isinstance(e, ClientLeft)], what="leave streamed"
        )
        assert left.reason == "you were disconnected by the host"
        assert remote.clients == {}
        await eventually(lambda: not g.child.isalive(), what="the guest's ssh to exit")
    finally:
        await remote.stop()


async def test_a_subscriber_that_hangs_up_is_forgotten(engine: Engine) -> None:
    baseline = len(engine._bus)
    remote = control.RemoteEngine()
    await remote.start()
    await eventually(lambda: len(engine._bus) == baseline + 1, what="subscribed")
    await remote.stop()
    await eventually(lambda: len(engine._bus) == baseline, what="unsubscribed")
    assert await control.request_async("ping") is not None  # the server is fine


async def test_the_stream_ends_with_a_reason_when_the_server_stops(tmux_host: TmuxHost) -> None:
    share_host_session(tmux_host)
    eng = Engine("127.0.0.1", 0)
    await eng.start()
    remote = control.RemoteEngine()
    try:
        await remote.start()
        await eng.stop()
        reason = await asyncio.wait_for(remote.wait_closed(), 10)
        assert reason == "the pairtui server stopped"
        assert not paths.control_socket().exists()
    finally:
        await remote.stop()
        await eng.stop()


async def test_a_remote_engine_follows_and_drives_the_server_s_tunnels(
    tmux_host: TmuxHost,
) -> None:
    with socket.socket() as s:  # nothing listens here: the tunnel keeps retrying
        s.bind(("127.0.0.1", 0))
        closed = int(s.getsockname()[1])
    TunnelStore().add(Tunnel("vps", "me", "127.0.0.1", closed, 2300))
    eng = Engine("127.0.0.1", 0)
    await eng.start()
    remote = control.RemoteEngine()
    try:
        await eventually(lambda: eng.tunnels.infos()[0].state == "retrying", what="retrying")
        await remote.start()
        [info] = remote.tunnels.infos()  # from the snapshot, exactly as the engine has it
        assert info == eng.tunnels.infos()[0]
        assert remote.tunnels.error == ""
        down = await remote.tunnels.down("vps")
        assert down is not None and down.state == "disabled"
        await eventually(lambda: remote.tunnels.infos()[0].state == "disabled", what="streamed")
        assert remote.tunnels.status()[0]["summary"] == "disabled"
        up = await remote.tunnels.up("vps")
        assert up.state == "connecting"
        with pytest.raises(PairtuiError, match="no tunnel named 'nope'"):
            await remote.tunnels.up("nope")
        assert await remote.tunnels.down("nope") is None
    finally:
        await remote.stop()
        await eng.stop()


def test_a_knock_survives_the_wire_exactly() -> None:
    from pairtui.events import Knocked, KnockInfo

    event = Knocked(KnockInfo("k1234", "482-193", "127.0.0.1:5", "SHA256:x", "vps", "main",
                              "a1b2c3", "pair", 1000.5), "waiting")  # fmt: skip
    line = json.dumps(control.encode_event(event))
    assert control.decode_event(json.loads(line)) == event


async def test_a_remote_engine_lists_admits_and_denies_knocks(
    engine: Engine, keys: Callable[[str], Path], guests: Connect
) -> None:
    """The dashboard's knock dialog answers through these (issue 17)."""
    from pairtui.events import Knocked

    engine.door.open(300, "")
    remote = control.RemoteEngine()
    await remote.start()
    try:
        events: list[Event] = []
        remote.subscribe(events.append)

        def knocked(state: str) -> list[Knocked]:
            return [e for e in events if isinstance(e, Knocked) and e.state == state]

        guests(engine.port, keys("carol"))
        [first] = await eventually(lambda: knocked("waiting"), what="the knock streamed")
        assert first.knock == engine.knocks()[0].info()
        assert remote.knocks() == [first.knock]
        late = control.RemoteEngine()  # attached after the knock: asks who waits
        await late.start()
        try:
            [seen] = late.knocks()
            assert (seen.id, seen.code, seen.fingerprint) == (
                first.knock.id, first.knock.code, first.knock.fingerprint)  # fmt: skip
        finally:
            await late.stop()
        admitted = await remote.admit_knocker(first.knock.id, Mode.PAIR, True, "1d", "carol")
        assert admitted.id == first.knock.id
        await eventually(lambda: knocked("admitted"), what="the admission streamed")
        assert remote.knocks() == []
        assert Registry().guests()["carol"].mode == Mode.PAIR

        guests(engine.port, keys("dave"))
        [second] = await eventually(lambda: knocked("waiting")[1:], what="the second knock")
        denied = await remote.deny_knocker(second.knock.id)
        assert denied.id == second.knock.id
        await eventually(lambda: knocked("denied"), what="the denial streamed")
        assert remote.knocks() == []
        with pytest.raises(PairtuiError, match="nobody is waiting"):
            await remote.deny_knocker(second.knock.id)
    finally:
        await remote.stop()
