"""What the CLI prints about shares, ssh strings and clients, with real tmux, a real
`pairtui serve` (or none) and a real OpenSSH guest."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import (
    Server,
    SshGuest,
    TmuxHost,
    add_guest,
    pairtui,
    pairtui_json,
    type_in_host,
    wait_until,
)

from pairtui import control

SSH_KEYS = {"command", "host", "port", "user", "share", "fingerprint", "via", "jump"}


@pytest.fixture
def background_server(isolated_env: Path) -> Iterator[None]:
    """Config port 0 (no clash with anyone's 2222); whatever server a command started in
    the background is stopped afterwards, by its pid."""
    cfg = Path(os.environ["PAIRTUI_CONFIG_DIR"])
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "config.toml").write_text("[server]\nport = 0\n")
    yield
    found = control.probe()
    if found.status:
        pid = int(found.status["pid"])
        res = pairtui("stop")
        if res.returncode != 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_share_starts_the_server_when_none_runs_and_says_so(
    tmux_host: TmuxHost, background_server: None
) -> None:
    assert control.probe().state == "none"
    res = pairtui("share", "--tmux-socket", str(tmux_host.socket), "--session", "host")
    assert res.returncode == 0, res.stderr
    started = [line for line in res.stdout.splitlines() if "pairtui server" in line]
    assert len(started) == 1 and started[0].startswith("started a pairtui server in the back")
    status = control.probe().status
    assert status is not None
    # The string it printed reaches that server.
    assert f"ssh -p {status['port']} guest@localhost" in res.stdout
    again = pairtui("share", "--tmux-socket", str(tmux_host.socket), "--session", "host",
                    "--name", "two", "--json")  # fmt: skip
    assert json.loads(again.stdout)["server_started"] is False


def test_share_with_no_server_and_ssh_string_warn_that_none_runs(
    tmux_host: TmuxHost, background_server: None
) -> None:
    res = pairtui("share", "--tmux-socket", str(tmux_host.socket), "--no-server")
    assert res.returncode == 0, res.stderr
    assert control.probe().state == "none"
    for argv in (("share", "list"), ("ssh-string",)):
        res = pairtui(*argv)
        assert res.returncode == 0, res.stderr
        assert "guest@localhost" in res.stdout
        [warning] = res.stderr.splitlines()
        assert warning.startswith("pairtui: warning: no pairtui server is running"), warning
    data = pairtui_json("ssh-string")
    assert data["server_running"] is False


def test_invite_starts_the_server_and_puts_its_line_in_tmuxs_paste_buffer(
    tmux_host: TmuxHost, background_server: None
) -> None:
    """An invitation line is of no use while nothing listens, and is pasted more often
    than typed: as the tmux key does, invite starts a server and copies the line."""
    sock = str(tmux_host.socket)
    res = pairtui("invite", "--tmux-socket", sock)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    status = control.probe().status
    assert status is not None
    [first] = [x.strip() for x in res.stdout.splitlines() if x.startswith("    ssh ")][:1]
    assert first.startswith(f"ssh -p {status['port']} inv-")  # the port it serves on
    assert tmux_host.run("show-buffer", "-b", "pairtui") == first
    assert "in tmux's paste buffer" in res.stdout
    assert "started a pairtui server in the background" in res.stdout
    again = json.loads(pairtui("invite", "--json", "--tmux-socket", sock).stdout)
    assert (again["server_started"], again["copied"]) == (False, True)


def test_invite_without_a_server_or_tmux_says_so_and_copies_nothing(
    background_server: None,
) -> None:
    res = pairtui("invite", "--no-server")
    assert res.returncode == 0, res.stderr
    [warning] = res.stderr.splitlines()
    assert warning.startswith("pairtui: warning: no pairtui server is running"), warning
    assert "paste buffer" not in res.stdout
    assert control.probe().state == "none"


def test_one_shape_for_an_ssh_string_and_windows_named_as_tmux_does(
    tmux_host: TmuxHost, server: Server
) -> None:
    tmux_host.run("new-window", "-d", "-t", "host:1", "-n", "vim")
    pane = tmux_host.run("display-message", "-p", "-t", "host:1", "#{pane_id}").strip()
    res = pairtui("share", "--tmux-socket", str(tmux_host.socket), "--session", "host",
                  "--name", "main")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "sharing session host as 'main'" in res.stdout
    res = pairtui("share", "--tmux-socket", str(tmux_host.socket), "--pane", pane,
                  "--name", "ed")  # fmt: skip
    assert "sharing window host:1 (vim) as 'ed'" in res.stdout, res.stdout

    listed = {row["name"]: row for row in pairtui_json("share", "list")}
    assert listed["ed"]["shows"] == "window host:1 (vim)"
    assert listed["main"]["shows"] == "session host"
    text = pairtui("share", "list").stdout
    assert re.search(r"^ed  window host:1 \(vim\)$", text, re.MULTILINE), text
    ssh_string = pairtui_json("ssh-string", "ed")
    for row in (listed["ed"]["ssh"][0], ssh_string["ssh"][0]):
        assert set(row) == SSH_KEYS
    assert listed["ed"]["ssh"][0] == ssh_string["ssh"][0]
    assert ssh_string["ssh"][0] == {
        "command": f"ssh -t -p {server.port} guest@localhost ed", "host": "localhost",
        "port": server.port, "user": "guest", "share": "ed", "fingerprint": server.fingerprint,
        "via": None, "jump": None,
    }  # fmt: skip
    assert ssh_string["server_running"] is True


def test_clients_is_a_table_with_a_header_and_how_long_each_is_in(
    tmux_host: TmuxHost,
    server: Server,
    keys: Callable[[str], Path],
    guests: Callable[..., SshGuest],
) -> None:
    srv = server
    type_in_host(tmux_host, "echo MARK-$((20+1))")
    res = pairtui("share", "--tmux-socket", str(tmux_host.socket), "--name", "main", "--session",
                  "host", "--no-server")  # fmt: skip
    assert res.returncode == 0, res.stderr
    add_guest("alice", keys("alice"))
    g = guests(srv.port, keys("alice"))
    g.wait_for("MARK-21")
    wait_until(lambda: pairtui_json("clients"), what="alice listed")
    lines = pairtui("clients").stdout.splitlines()
    header = lines[0].split()
    assert header == ["ID", "GUEST", "MODE", "SHARE", "FROM", "CONNECTED", "IDLE", "SIZE", "KEY"]
    [row] = lines[1:]
    cells = row.split()
    assert cells[1:4] == ["alice", "view", "main"]
    assert cells[4].startswith("127.0.0.1:")
    connected = row[lines[0].index("CONNECTED") : lines[0].index("IDLE")].strip()
    assert re.fullmatch(r"\d+s|\d+m \d\ds", connected), row
    # Columns line up under their header.
    assert row.index("alice") == lines[0].index("GUEST")
    assert row.index(cells[4]) == lines[0].index("FROM")
