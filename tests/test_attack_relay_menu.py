"""Attack: a relay's word for where a guest came from runs as a shell command on the host.

A reverse tunnel's relay says where each guest connected from (the ``forwarded-tcpip``
channel's originator address); pairtui keeps it as the guest's peer. docs/security.md
counts relays among those whose words are shown, never obeyed. But a knock's tmux menu
(``Tmux.ask_host``) is started as ``run-shell -b -C "display-menu … -T TITLE …"``: the
title is expanded as a tmux format twice (by ``run-shell``, then by ``display-menu``),
and ``_message`` doubles ``#`` only once, so ``#(cmd)`` in the peer runs ``cmd`` as the
host the moment the menu opens.

A hostile relay written with asyncssh (any login, the forward accepted, guests bridged
in with a chosen originator address); the real OpenSSH client as the knocking guest;
real tmux with the host's client attached; real `pairtui serve` with the tunnel.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncssh
import pexpect
import pyte
import pytest
from support import (
    Server,
    SshGuest,
    TmuxHost,
    keygen,
    pairtui,
    share,
    start_server,
    type_in_host,
    wait_until,
)

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class HostileRelay(threading.Thread):
    """An SSH server that lets pairtui's tunnel in and claims every guest it brings came
    from ``origin``."""

    def __init__(self, origin: str) -> None:
        super().__init__(daemon=True)
        self.origin = origin
        self.key = asyncssh.generate_private_key("ssh-ed25519")
        self.port = 0
        self.bridge_port = 0
        self.forward: tuple[str, int] | None = None
        self.conn: asyncssh.SSHServerConnection | None = None
        self.started = threading.Event()
        self.loop = asyncio.new_event_loop()
        self._halt: asyncio.Event | None = None

    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.key.export_public_key().decode().strip()}\n"

    def run(self) -> None:
        self.loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._halt = asyncio.Event()
        relay = self

        class Server(asyncssh.SSHServer):
            def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
                relay.conn = conn

            def begin_auth(self, username: str) -> bool:
                return False  # whoever comes

            def server_requested(self, listen_host: str, listen_port: int) -> bool:
                relay.forward = (listen_host, listen_port)
                return True

        server = await asyncssh.create_server(Server, "127.0.0.1", 0, server_host_keys=[self.key])
        bridge = await asyncio.start_server(self._bridge, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self.bridge_port = bridge.sockets[0].getsockname()[1]
        self.started.set()
        await self._halt.wait()
        bridge.close()
        server.close()

    async def _bridge(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """A guest at the relay's port, handed to the tunnel as coming from ``origin``."""
        assert self.conn is not None and self.forward is not None
        sreader, swriter = await self.conn.open_connection(
            self.forward[0], self.forward[1], self.origin, 4242
        )

        async def pump(src: asyncio.StreamReader | asyncssh.SSHReader[bytes],
                       dst: asyncio.StreamWriter | asyncssh.SSHWriter[bytes]) -> None:  # fmt: skip
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
            with contextlib.suppress(Exception):
                dst.write_eof()

        await asyncio.gather(pump(reader, swriter), pump(sreader, writer))
        writer.close()

    def stop(self) -> None:
        if self._halt is not None:
            self.loop.call_soon_threadsafe(self._halt.set)
        self.join(5)


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[HostileRelay]:
    canary = tmp_path / "ran"
    r = HostileRelay(f"#(echo ran >> {canary})")
    r.start()
    assert r.started.wait(10)
    yield r
    r.stop()


@pytest.fixture
def tunnelled(tmux_host: TmuxHost, relay: HostileRelay) -> Iterator[Server]:
    ssh_dir = Path.home() / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    keygen(ssh_dir, "id_ed25519")
    (ssh_dir / "known_hosts").write_text(relay.known_hosts_line())
    type_in_host(tmux_host, "echo MARK-$((20+1))")
    share(tmux_host, "--session", "host", "--name", "main")
    res = pairtui("tunnel", "add", "evil", f"me@127.0.0.1:{relay.port}",
                  "--remote-port", str(free_port()))  # fmt: skip
    assert res.returncode == 0, res.stderr
    srv = start_server()
    yield srv
    srv.stop()


def test_a_relays_word_for_a_guests_address_never_runs_on_the_host(
    tmux_host: TmuxHost, tunnelled: Server, relay: HostileRelay, keys: Callable[[str], Path],
    guests: Connect, tmp_path: Path,
) -> None:  # fmt: skip
    canary = tmp_path / "ran"
    me = pexpect.spawn("tmux", ["-S", str(tmux_host.socket), "attach-session", "-t", "host"],
                       dimensions=(40, 160), env=dict(os.environ))  # fmt: skip
    screen = pyte.Screen(160, 40)
    stream = pyte.ByteStream(screen)

    def shown() -> str:
        with contextlib.suppress(pexpect.TIMEOUT, pexpect.EOF):
            while True:
                stream.feed(me.read_nonblocking(65536, timeout=0.05))
        return "\n".join(screen.display)

    def runs() -> int:
        return len(canary.read_text().splitlines()) if canary.exists() else 0

    try:
        wait_until(lambda: relay.forward is not None, timeout=20, what="the tunnel's forward")
        res = pairtui("door", "open", "--for", "5m")
        assert res.returncode == 0, res
        g = guests(relay.bridge_port, keys("mallory"))
        g.wait_for("Read this code to the host:", timeout=20)
        wait_until(lambda: "Admit as pair" in shown(), what="the knock's menu on the host")
        time.sleep(1)  # bounded: a #() job runs at once
        assert runs() == 0, "the menu's title ran the relay's #(...) as the host"
        me.send("k\r")  # the host turns it away: up from "Not now" is the last item, Deny
        g.wait_exit(timeout=10)
        time.sleep(1)
        assert runs() == 0, "the Deny answer ran the relay's #(...) as the host"
    finally:
        me.close(force=True)
