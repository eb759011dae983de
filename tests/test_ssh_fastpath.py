"""The guest data fast path: packets it builds and reads must be what asyncssh would.

An asyncssh server with the fast path echoes what a client types; the client is asyncssh
(so window sizes and rekeying can be forced) or the real OpenSSH ``ssh`` (the guest).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncssh
import pytest
from support import SshGuest

from pairtui import ssh_fastpath
from pairtui.registry import Mode, Registry, parse_public_keys
from pairtui.server import Engine

Connect = Callable[..., SshGuest]


class Echo(asyncssh.SSHServerSession[bytes]):
    """Sends back every chunk it gets, through the fast path."""

    paths: list[ssh_fastpath.ChannelFastPath] = []

    def connection_made(self, chan: asyncssh.SSHServerChannel[bytes]) -> None:
        self.chan = chan

    def shell_requested(self) -> bool:
        return True

    def session_started(self) -> None:
        conn = self.chan.get_extra_info("connection")
        self.fast = ssh_fastpath.ChannelFastPath(conn, self.chan, self.echo)
        self.fast.start()
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
        ssh_fastpath.tune(conn)

    def begin_auth(self, username: str) -> bool:
        return False

    def session_requested(self) -> tuple[asyncssh.SSHServerChannel[bytes], Echo]:
        conn = self.conn  # type: ignore[attr-defined]
        return conn.create_server_channel(encoding=None, window=4096, max_pktsize=1024), Echo()


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


@pytest.mark.parametrize("compress", [False, True])
async def test_openssh_guest_types_and_sees_through_the_fast_path(
    engine: Engine, keys: Callable[[str], Path], guests: Connect, compress: bool
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
    if compress:  # zlib between us: asyncssh's path, every packet
        assert (session.fast.fast_in, session.fast.fast_out) == (0, 0)
    else:
        assert session.fast.fast_in >= 15 and session.fast.fast_out >= 1
