"""The guest data fast path: packets it builds and reads must be what asyncssh would.

An asyncssh server with the fast path echoes what a client types; the client is asyncssh
(so window sizes and rekeying can be forced) or the real OpenSSH ``ssh`` (the guest).
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, NamedTuple

import asyncssh
import pytest
from asyncssh.constants import MSG_CHANNEL_DATA, MSG_IGNORE
from support import SshGuest, TmuxHost, holds_for, wait_until

from pairtui import native_relay, ssh_fastpath
from pairtui.authorized_keys import parse_public_keys
from pairtui.engine import Engine
from pairtui.guest_ssh import GuestSession
from pairtui.registry import Mode, Registry

Connect = Callable[..., SshGuest]


class Echo(asyncssh.SSHServerSession[bytes]):
    """Sends back every chunk it gets, through the fast path."""

    paths: list[ssh_fastpath.ChannelFastPath] = []

    def __init__(self, conn_fast: ssh_fastpath.ConnectionFastPath) -> None:
        self.conn_fast = conn_fast

    def connection_made(self, chan: asyncssh.SSHServerChannel[bytes]) -> None:
        self.chan = chan

    def shell_requested(self) -> bool:
        return True

    def session_started(self) -> None:
        self.fast = self.conn_fast.channel(self.chan, self.echo)
        Echo.paths.append(self.fast)

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        self.echo(data)  # what asyncssh delivers when the fast path passes a packet on

    def echo(self, data: bytes) -> None:
        if data == b"burst!":  # more one-byte writes than the client's 4 KB window holds
            for _ in range(6000):
                self.fast.send(b"z")
            return
        self.fast.send(data)


class EchoServer(asyncssh.SSHServer):
    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.fast = ssh_fastpath.ConnectionFastPath(conn)

    def begin_auth(self, username: str) -> bool:
        return False

    def session_requested(self) -> tuple[asyncssh.SSHServerChannel[bytes], Echo]:
        conn = self.conn  # type: ignore[attr-defined]
        chan = conn.create_server_channel(encoding=None, window=4096, max_pktsize=1024)
        return chan, Echo(self.fast)


async def _echo_server(line_editor: bool = False) -> asyncssh.SSHAcceptor:
    key = asyncssh.generate_private_key("ssh-ed25519")

    class Server(EchoServer):
        def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
            self.conn = conn
            super().connection_made(conn)

    return await asyncssh.create_server(
        Server, "127.0.0.1", 0, server_host_keys=[key], encoding=None,
        line_editor=line_editor, encryption_algs=list(ssh_fastpath.AEAD_CIPHERS),
    )  # fmt: skip


@pytest.fixture
async def echo_port() -> AsyncIterator[int]:
    ssh_fastpath.install()
    Echo.paths = []
    server = await _echo_server()
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def _echo_all(port: int, chunks: list[bytes], **options: object) -> bytes:
    async with asyncssh.connect(
        "127.0.0.1", port, known_hosts=None, username="x", encoding=None, **options
    ) as conn:
        writer, reader, _ = await conn.open_session(encoding=None, window=4096)
        got = b""
        for chunk in chunks:
            writer.write(chunk)
            want = len(got) + len(chunk)
            while len(got) < want:
                got += await asyncio.wait_for(reader.read(want - len(got)), 10)
        writer.write_eof()
        return got


async def test_small_packets_echo_through_windows_and_rekeys(echo_port: int) -> None:
    # 3000 one-key packets through a 4 KB window: many window adjusts both ways, and
    # a rekey every 8 KB: the fast path must keep sequence numbers, IVs and windows right.
    chunks = [bytes([65 + i % 26]) * (1 + i % 7) for i in range(3000)]
    got = await _echo_all(echo_port, chunks, rekey_bytes=8192)
    assert got == b"".join(chunks)
    [fast] = Echo.paths
    assert fast.enabled
    assert fast.fast_in > 2500 and fast.fast_out > 2500  # the rest: after a rekey, &c.


async def _echo_once(writer: Any, reader: Any, data: bytes) -> bytes:
    writer.write(data)
    got = b""
    while len(got) < len(data):
        got += await asyncio.wait_for(reader.read(len(data) - len(got)), 10)
    return got


async def test_terminals_sharing_a_connection_each_take_the_fast_path_to_the_end(
    echo_port: int,
) -> None:
    """One connection, two terminals (OpenSSH multiplexing does this): each terminal's
    packets go fast to its own session, also once the other terminal has ended."""
    async with asyncssh.connect(
        "127.0.0.1", echo_port, known_hosts=None, username="x", encoding=None
    ) as conn:
        w1, r1, _ = await conn.open_session(encoding=None)
        w2, r2, _ = await conn.open_session(encoding=None)
        for i in range(20):
            assert await _echo_once(w1, r1, b"one-%d" % i) == b"one-%d" % i
            assert await _echo_once(w2, r2, b"two-%d" % i) == b"two-%d" % i
        first, second = Echo.paths
        assert first.fast_in >= 15 and second.fast_in >= 15
        first.close()  # the first terminal ends: its packets are asyncssh's again
        w1.close()
        taken = second.fast_in
        for i in range(20):
            assert await _echo_once(w2, r2, b"more-%d" % i) == b"more-%d" % i
        assert second.fast_in >= taken + 15


def test_only_the_asyncssh_releases_it_was_tested_with_get_the_fast_path() -> None:
    assert ssh_fastpath.tested("2.24.1") and ssh_fastpath.tested("2.24.0")
    assert not ssh_fastpath.tested("2.25.0") and not ssh_fastpath.tested("2.23.9")
    assert not ssh_fastpath.tested("3.0")


def test_pyproject_allows_no_asyncssh_newer_than_the_fast_path_knows() -> None:
    """Moving to a new asyncssh is deliberate: the bound and TESTED_ASYNCSSH move together."""
    text = (Path(__file__).parent.parent / "pyproject.toml").read_text()
    [spec] = re.findall(r'"asyncssh([^"]*)"', text)
    upper = re.search(r"<\s*(\d+)\.(\d+)", spec)
    assert upper, f"asyncssh{spec} has no upper bound"
    newest = max(tuple(int(p) for p in v.split(".")) for v in ssh_fastpath.TESTED_ASYNCSSH)
    assert (int(upper[1]), int(upper[2])) == (newest[0], newest[1] + 1), spec


async def test_an_asyncssh_it_was_not_tested_with_is_used_as_it_is(
    echo_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ssh_fastpath, "_installed", False)  # what install() does then
    chunks = [b"abc"] * 50
    assert await _echo_all(echo_port, chunks) == b"".join(chunks)
    [fast] = Echo.paths
    assert not fast.enabled and (fast.fast_in, fast.fast_out) == (0, 0)


async def test_big_writes_and_other_ciphers_take_asyncssh_path_and_stay_correct(
    echo_port: int,
) -> None:
    # Bigger than the 1 KB max packet and the 4 KB window: asyncssh splits and queues.
    chunks = [os.urandom(10_000), b"x", os.urandom(3000)]
    got = await _echo_all(echo_port, chunks, encryption_algs=["aes256-gcm@openssh.com"])
    assert got == b"".join(chunks)
    [fast] = Echo.paths
    assert fast.fast_in >= 1 and fast.fast_out >= 1  # the one-byte write went fast


async def test_a_burst_never_overruns_the_guests_window(echo_port: int) -> None:
    async with asyncssh.connect(
        "127.0.0.1", echo_port, known_hosts=None, username="x", encoding=None
    ) as conn:
        writer, reader, _ = await conn.open_session(encoding=None, window=4096)
        writer.write(b"burst!")
        # asyncssh ends the connection ("Window exceeded") if we send past its window.
        assert await asyncio.wait_for(reader.readexactly(6000), 10) == b"z" * 6000
    [fast] = Echo.paths
    assert 4000 <= fast.fast_out <= 4096  # the rest waited in asyncssh's buffer


async def test_a_tampered_packet_is_rejected_not_delivered(echo_port: int) -> None:
    seen: list[bytes] = []
    async with asyncssh.connect(
        "127.0.0.1", echo_port, known_hosts=None, username="x", encoding=None
    ) as conn:
        writer, reader, _ = await conn.open_session(encoding=None)
        writer.write(b"ok")
        assert await asyncio.wait_for(reader.readexactly(2), 10) == b"ok"
        [fast] = Echo.paths
        fast._deliver = seen.append  # what reaches the session from here on
        # A forged packet of the right shape: length, then bytes that are no AES-GCM.
        assert conn._transport is not None
        conn._transport.write((64).to_bytes(4, "big") + os.urandom(64 + 16))
        with pytest.raises((asyncssh.Error, asyncio.IncompleteReadError, ConnectionError)):
            while True:
                if not await asyncio.wait_for(reader.read(1), 10):
                    raise ConnectionError("closed")
    assert seen == []


async def test_a_wrapped_channel_is_left_to_asyncssh() -> None:
    ssh_fastpath.install()
    Echo.paths = []
    server = await _echo_server(line_editor=True)
    try:
        chunks = [b"abc"] * 50
        got = await _echo_all(server.sockets[0].getsockname()[1], chunks)
    finally:
        server.close()
        await server.wait_closed()
    assert got == b"".join(chunks)
    [fast] = Echo.paths
    assert not fast.enabled and (fast.fast_in, fast.fast_out) == (0, 0)


# --- the real guest: OpenSSH's ssh into the engine ------------------------------------


@pytest.fixture(params=["python", "native"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Guests served by the Python fast path, or by the native relay (pairtui/_relay.c,
    which scripts/bootstrap --test builds: its absence is an error, not a skip)."""
    monkeypatch.setenv("PAIRTUI_NATIVE", "1" if request.param == "native" else "0")
    if request.param == "native":
        assert native_relay.available(), "pairtui._relay is not built"
    return str(request.param)


def _relayed(session: GuestSession, path: str) -> tuple[int, int]:
    """CHANNEL_DATA packets (in, out) that took ``path`` (asyncssh's own path: neither)."""
    if path == "native":
        return (
            (0, 0)
            if session.relay is None
            else (session.relay.packets_in, session.relay.packets_out)
        )
    assert session.fast is not None and session.relay is None
    return session.fast.fast_in, session.fast.fast_out


@pytest.mark.parametrize("compress", [False, True])
async def test_openssh_guest_types_and_sees_through_the_fast_path(
    engine: Engine, keys: Callable[[str], Path], guests: Connect, compress: bool, path: str
) -> None:
    pub = keys("alice").with_name("alice.pub").read_text()
    Registry().add("alice", parse_public_keys(pub), mode=Mode.PAIR)
    g = guests(engine.port, keys("alice"), *(["-C"] if compress else []))
    await asyncio.to_thread(g.wait_for, "pair · main")
    for ch in "echo FAST-$((6*7))\r":
        g.send(ch)
        await asyncio.sleep(0.01)
    await asyncio.to_thread(g.wait_for, "FAST-42")
    [session] = engine._sessions.values()
    assert session.fast is not None
    taken_in, taken_out = _relayed(session, path)
    if compress:  # zlib between us: asyncssh's path, every packet
        assert (taken_in, taken_out) == (0, 0)
        assert (session.fast.fast_in, session.fast.fast_out) == (0, 0)
    else:
        # (The native relay hands a key back to Python every half second of typing.)
        assert taken_in >= 10 and taken_out >= 1


# --- hand-written packets: framing the protocol forbids ends the connection -----------
#
# A hand-written client: a real asyncssh connection whose keys seal packets framed as
# each test says, written straight to the socket (its sequence number kept in step).


class RawGuest:
    """Seals packets with an asyncssh client's own keys, framed as the caller says."""

    def __init__(self, conn: asyncssh.SSHClientConnection, chan: Any) -> None:
        self.conn: Any = conn
        self.chan_id: int = chan._send_chan  # the server's number for our channel

    def data(self, data: bytes) -> bytes:
        return b"%c%b%b%b" % (
            MSG_CHANNEL_DATA,
            self.chan_id.to_bytes(4, "big"),
            len(data).to_bytes(4, "big"),
            data,
        )

    def seal(self, payload: bytes, padding: int | None = None) -> bytes:
        """One packet; by default padded as RFC 4253 says (4 or more, to 16 bytes)."""
        if padding is None:
            padding = 4 + (-(1 + len(payload) + 4) % 16)
        body = bytes([padding]) + payload + os.urandom(padding)
        header = len(body).to_bytes(4, "big")
        sealed, tag = self.conn._send_encryption.encrypt_packet(self.conn._send_seq, header, body)
        self.conn._send_seq = (self.conn._send_seq + 1) & 0xFFFFFFFF
        return bytes(sealed + tag)

    def write(self, *packets: bytes) -> None:
        self.conn._transport.write(b"".join(packets))


def _padding_under_4(g: RawGuest, keys: bytes) -> bytes:
    while -(1 + len(g.data(keys))) % 16 >= 4:  # a length that needs 0-3 bytes to align
        keys += b"."
    payload = g.data(keys)
    return g.seal(payload, padding=-(1 + len(payload)) % 16)


def _length_not_a_multiple_of_16(g: RawGuest, keys: bytes) -> bytes:
    payload = g.data(keys)
    padding = 4 + (-(1 + len(payload) + 4) % 16) + 1  # one more than aligns
    return g.seal(payload, padding=padding)


def _data_over_max_packet_size(g: RawGuest, keys: bytes) -> bytes:
    return g.seal(g.data(keys + b" " * (60_000 - len(keys))))  # the engine allows 32,768


def _ignore_with_trailing_bytes(g: RawGuest, keys: bytes) -> bytes:
    ignore = b"%c%b" % (MSG_IGNORE, (0).to_bytes(4, "big")) + b"junk"  # asyncssh: check_end
    return g.seal(ignore) + g.seal(g.data(keys))


class Framing(NamedTuple):
    test_id: str
    build: Callable[[RawGuest, bytes], bytes]  # packets that carry (or are followed by) keys
    refusal: str  # in the reason of the server's disconnect


FORBIDDEN = [
    Framing("padding-under-4", _padding_under_4, "padding"),
    Framing("length-not-a-multiple-of-16", _length_not_a_multiple_of_16, "block size"),
    Framing("data-over-max-packet-size", _data_over_max_packet_size, "maximum packet size"),
    Framing("ignore-with-trailing-bytes", _ignore_with_trailing_bytes, "Unexpected data"),
]


def _pane(host: TmuxHost) -> str:
    """The host's pane with its scrollback (60,000 typed bytes scroll off the screen)."""
    return host.run("capture-pane", "-p", "-J", "-S", "-", "-t", "host")


class _Dropped(asyncssh.SSHClient):
    """Remembers why the server ended the connection."""

    def __init__(self) -> None:
        self.lost: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(exc)


@pytest.mark.parametrize("case", FORBIDDEN, ids=[c.test_id for c in FORBIDDEN])
async def test_forbidden_framing_never_reaches_the_pane_and_ends_the_connection(
    engine: Engine, keys: Callable[[str], Path], tmux_host: TmuxHost, case: Framing, path: str
) -> None:
    pub = keys("alice").with_name("alice.pub").read_text()
    Registry().add("alice", parse_public_keys(pub), mode=Mode.PAIR)
    client = _Dropped()
    conn = await asyncssh.connect(
        "127.0.0.1", engine.port, known_hosts=None, username="alice", agent_path=None,
        client_keys=[str(keys("alice"))], encoding=None, client_factory=lambda: client,
    )  # fmt: skip
    try:
        writer, _, _ = await conn.open_session(
            term_type="xterm-256color", term_size=(100, 30), encoding=None
        )
        for _ in range(200):  # the fast path starts once tmux is attached
            if any(s.fast and s.fast.enabled for s in engine._sessions.values()):
                break
            await asyncio.sleep(0.05)
        [session] = engine._sessions.values()
        assert session.fast is not None and session.fast.enabled
        g = RawGuest(conn, writer.channel)
        if path == "native":  # the relay runs (a packet sent meanwhile would stop it)
            await asyncio.to_thread(wait_until, lambda: session.relay and session.relay.active)
        # Well framed, the same hand-written packet reaches the host's pane...
        g.write(g.seal(g.data(b"echo GOOD-$((6*7))\r")))
        await asyncio.to_thread(wait_until, lambda: "GOOD-42" in tmux_host.capture())
        taken = _relayed(session, path)[0]
        assert taken >= 1
        # ... framed as the protocol forbids, nothing in it (or after it) does.
        g.write(case.build(g, b"BAD-KEYS"))
        try:
            exc = await asyncio.wait_for(asyncio.shield(client.lost), 5)
        except TimeoutError:
            await asyncio.sleep(1)  # what the guest's packet did meanwhile, for the message
            reached = "BAD-KEYS" in _pane(tmux_host)
            pytest.fail(f"the connection stayed up; the keys reached the pane: {reached}")
        assert isinstance(exc, asyncssh.ProtocolError), exc
        # asyncssh's refusal, not a MAC error: the fast path left the IV as it was.
        assert case.refusal in exc.reason
        assert _relayed(session, path)[0] == taken
        await asyncio.to_thread(holds_for, lambda: "BAD-KEYS" not in _pane(tmux_host), 0.5)
    finally:
        conn.abort()


async def test_a_length_over_asyncssh_limit_is_left_to_asyncssh(echo_port: int) -> None:
    client = _Dropped()
    async with asyncssh.connect(
        "127.0.0.1", echo_port, known_hosts=None, username="x", encoding=None,
        client_factory=lambda: client,
    ) as conn:  # fmt: skip
        writer, reader, _ = await conn.open_session(encoding=None)
        writer.write(b"ok")
        assert await asyncio.wait_for(reader.readexactly(2), 10) == b"ok"
        [fast] = Echo.paths
        seen: list[bytes] = []
        fast._deliver = seen.append  # what reaches the session from here on
        g = RawGuest(conn, writer.channel)
        limit = 256 * 1024  # asyncssh's largest packet: 'Max packet size exceeded' above
        ignore = g.seal(b"%c%b" % (MSG_IGNORE, limit.to_bytes(4, "big")) + bytes(limit))
        # asyncio reads 256 KiB at a time, so such a packet reaches the fast path in one
        # piece only from an event loop with bigger reads: hand it over as one would.
        fast._owner.receive(ignore + g.seal(g.data(b"BAD-KEYS")))
        assert seen == []
        exc = await asyncio.wait_for(client.lost, 5)
    assert isinstance(exc, asyncssh.ProtocolError), exc
    assert "Max packet size exceeded" in exc.reason
