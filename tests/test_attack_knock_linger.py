"""Attack: a knocking connection that closes its terminal stays logged in for ever.

A knock is bounded in time (``knock_timeout``): its waiting room says "the host did
not answer" and closes the connection. But when the knocker closes its *channel*
(not the connection), ``WaitingSession.connection_lost`` drops the knock, so
``Admission._knock_timed_out`` later finds nothing and closes nothing, and the
connection may open no other terminal. It stays: unregistered, listed neither in
``pairtui knocks`` nor ``pairtui clients`` (``_list_if_idle`` skips a connection
without a guest), holding a socket and its descriptors, and every such knock frees its
place in the waiting room for the next. The door's bounds then bound nothing.

A hand-written asyncssh client (the knock, then the channel closed); real tmux, real
`pairtui serve` with a 2 s knock timeout.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncssh
import pytest
from support import Server, TmuxHost, pairtui, pairtui_json, share, start_server

pytestmark = pytest.mark.e2e

KNOCKERS = 6


@pytest.fixture
def quick_door(tmux_host: TmuxHost) -> Iterator[Server]:
    cfg = Path(os.environ["PAIRTUI_CONFIG_DIR"])
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "config.toml").write_text(
        "[limits]\nmax_knocks = 20\nmax_knocks_per_peer = 6\nknock_timeout = 2\n"
    )
    share(tmux_host, "--session", "host", "--name", "main")
    srv = start_server()
    yield srv
    srv.stop()


async def knock_then_hang_up_the_terminal(port: int, key: Path) -> asyncssh.SSHClientConnection:
    conn = await asyncssh.connect(
        "127.0.0.1", port, username="guest", client_keys=[str(key)], known_hosts=None,
        agent_path=None, config=None,
    )  # fmt: skip
    seen = asyncio.Event()
    text = b""

    class Session(asyncssh.SSHClientSession[bytes]):
        def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
            nonlocal text
            text += data
            if b"Read this code" in text:
                seen.set()

    chan, _ = await conn.create_session(Session, term_type="xterm", encoding=None)
    await asyncio.wait_for(seen.wait(), 10)
    chan.close()
    await asyncio.wait_for(chan.wait_closed(), 10)
    return conn


async def still_open(conn: asyncssh.SSHClientConnection, seconds: float) -> bool:
    try:
        await asyncio.wait_for(conn.wait_closed(), seconds)
    except TimeoutError:
        return True
    return False


async def test_a_knock_whose_terminal_closed_does_not_keep_its_connection(
    quick_door: Server, keys: Callable[[str], Path]
) -> None:
    res = await asyncio.to_thread(pairtui, "door", "open", "--for", "5m")
    assert res.returncode == 0, res
    conns = []
    try:
        for i in range(KNOCKERS):  # one after the other, as many as may knock in a minute
            conns.append(await knock_then_hang_up_the_terminal(quick_door.port, keys(f"m{i}")))
        assert await asyncio.to_thread(pairtui_json, "knocks") == []
        assert await asyncio.to_thread(pairtui_json, "clients") == []  # nobody to kick
        # Well past the knock timeout (2 s): each should have been closed by now.
        lingering = [c for c in await asyncio.gather(*(still_open(c, 8) for c in conns)) if c]
        assert lingering == [], f"{len(lingering)} knocking connections still logged in"
    finally:
        for c in conns:
            c.close()
