"""The background server (what prefix+P starts): `pairtui stop`, its log, `status --json`."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import stat
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from support import (
    SshGuest,
    TmuxHost,
    add_guest,
    pairtui,
    share,
    start_server,
    type_in_host,
    wait_until,
)

from pairtui import __version__, control, paths
from pairtui.audit import Audit
from pairtui.cli.serve import ensure_server, is_running

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]


@pytest.fixture
def config_port(isolated_env: Path) -> int:
    """A free port in the config: the background server takes no --port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    cfg = Path(os.environ["PAIRTUI_CONFIG_DIR"])
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "config.toml").write_text(f"[server]\nport = {port}\n")
    return port


@pytest.fixture
def started_pids() -> Iterator[list[int]]:
    """Background servers this test started: any still running at the end is killed."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if is_running(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_pairtui_stop_ends_the_background_server_gracefully(
    tmux_host: TmuxHost,
    keys: Callable[[str], Path],
    guests: Connect,
    config_port: int,
    started_pids: list[int],
) -> None:
    type_in_host(tmux_host, "echo MARK-$((20+1))")
    share(tmux_host, "--session", "host", "--name", "main", "--no-server")
    add_guest("alice", keys("alice"))
    log = paths.server_log()
    log.write_text("from an older version\n")
    log.chmod(0o644)

    assert ensure_server() is True
    res = pairtui("status", "--json")
    started_pids.append(control.request("status")["status"]["pid"])  # type: ignore[index]
    assert res.returncode == 0, res.stderr
    server = json.loads(res.stdout)["server"]
    assert stat.S_IMODE(log.stat().st_mode) == 0o600  # private, like every other file
    assert is_running(server["pid"])
    assert (server["listen"], server["port"]) == ("127.0.0.1", config_port)
    assert server["version"] == __version__
    assert abs(datetime.fromisoformat(server["started"]).timestamp() - log.stat().st_mtime) < 60

    g = guests(config_port, keys("alice"))
    g.wait_for("MARK-21")
    wait_until(lambda: pairtui("clients", "--json").stdout.count('"alice"'), what="alice in")

    res = pairtui("stop", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {"stopped": True, "pid": server["pid"], "clients": 1}
    # Stopped, not killed: alice was told why, her leave is audited, the socket is gone.
    assert not is_running(server["pid"])
    assert not paths.control_socket().exists()
    assert g.wait_exit() != 0
    assert "the host stopped sharing" in g.output
    events = [e["event"] for e in Audit().read() if e.get("guest") == "alice"]
    assert events == ["join", "leave"]
    assert "stopping (`pairtui stop`)" in log.read_text()

    res = pairtui("stop")
    assert (res.returncode, res.stdout) == (1, "")
    assert res.stderr.splitlines() == ["pairtui: no pairtui server is running"]


def test_pairtui_stop_in_words_and_for_a_foreground_server() -> None:
    srv = start_server()
    try:
        res = pairtui("stop")
        assert res.returncode == 0, res.stderr
        assert res.stdout.splitlines() == [
            f"stopped the pairtui server (pid {srv.proc.pid}); 0 clients disconnected"
        ]
        assert srv.proc.wait(5) == 0
    finally:
        srv.stop()
    assert "stopping (`pairtui stop`): disconnecting guests" in srv.output
