"""The control socket lives in ``$XDG_RUNTIME_DIR/pairtui`` (issue 16); a server that
listens where older versions put it (the state dir) is still found and stopped.

The older server is a real ``pairtui serve`` started without a runtime dir: that is
exactly where, and how, pairtui 0.1 listened.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import Server, pairtui, start_server

pytestmark = pytest.mark.e2e


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for srv in started:
        srv.stop()


def _old_style_server(monkeypatch: pytest.MonkeyPatch, servers: list[Server]) -> Server:
    """A server with its socket in the state dir, as pairtui 0.1 made it."""
    runtime = os.environ["XDG_RUNTIME_DIR"]
    with monkeypatch.context() as mp:
        mp.delenv("XDG_RUNTIME_DIR")
        srv = start_server()
    servers.append(srv)
    assert os.environ["XDG_RUNTIME_DIR"] == runtime
    return srv


def _status_pid() -> int:
    res = pairtui("status", "--json")
    assert res.returncode == 0, res.stderr
    return int(json.loads(res.stdout)["server"]["pid"])


def test_a_server_started_before_the_move_is_found_then_stopped_and_the_next_moves(
    monkeypatch: pytest.MonkeyPatch, servers: list[Server]
) -> None:
    old_socket = Path(os.environ["PAIRTUI_STATE_DIR"]) / "control.sock"
    new_socket = Path(os.environ["XDG_RUNTIME_DIR"]) / "pairtui" / "control.sock"
    old = _old_style_server(monkeypatch, servers)
    assert old_socket.exists() and not new_socket.exists()

    assert _status_pid() == old.proc.pid
    second = pairtui("serve", "--port", "0", timeout=20)
    assert second.returncode == 1 and "already running" in second.stderr  # not a second one
    res = pairtui("stop", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["pid"] == old.proc.pid
    assert old.proc.wait(10) == 0
    assert not old_socket.exists()

    new = start_server()
    servers.append(new)
    assert new_socket.exists() and not old_socket.exists()
    assert _status_pid() == new.proc.pid
    assert pairtui("stop").returncode == 0
    assert new.proc.wait(10) == 0
    assert not new_socket.exists()


def test_the_socket_a_killed_old_server_left_is_taken_over_once(
    monkeypatch: pytest.MonkeyPatch, servers: list[Server]
) -> None:
    old_socket = Path(os.environ["PAIRTUI_STATE_DIR"]) / "control.sock"
    new_socket = Path(os.environ["XDG_RUNTIME_DIR"]) / "pairtui" / "control.sock"
    old = _old_style_server(monkeypatch, servers)
    old.proc.send_signal(signal.SIGKILL)
    old.proc.wait(10)
    assert old_socket.exists()  # kill -9 leaves it behind

    # The next server cleans it up where it lies; the one after it is in the new place.
    for expected in (old_socket, new_socket):
        srv = start_server()
        servers.append(srv)
        assert expected.exists()
        assert _status_pid() == srv.proc.pid
        assert pairtui("stop").returncode == 0
        srv.proc.wait(10)
        assert not old_socket.exists() and not new_socket.exists()
