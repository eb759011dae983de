"""Revoked means out: every logged-in connection follows the registry, terminal or not.

The guest is OpenSSH with a ControlMaster: it logs in while invited and opens no
terminal (``ssh -N -M -S ctl``); a later ``ssh -S ctl`` opens one over that connection.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import (
    Server,
    SshGuest,
    TmuxHost,
    add_guest,
    pairtui,
    pairtui_json,
    settle_input,
    type_in_host,
    wait_until,
)

from pairtui.audit import Audit
from pairtui.registry import Registry

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]


@pytest.fixture
def control_path() -> Iterator[Path]:
    """A ControlPath short enough for a Unix socket."""
    path = Path(os.environ["TMUX_TMPDIR"]).parent / "ctl"
    yield path
    path.unlink(missing_ok=True)


def idle_rows() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = pairtui_json("clients")
    return [r for r in rows if not r["terminal"]]


@pytest.fixture
def idle_alice(
    shared: tuple[TmuxHost, Server],
    keys: Callable[[str], Path],
    guests: Connect,
    control_path: Path,
) -> SshGuest:
    """Pair guest alice, logged in with no terminal (a ControlMaster), listed as such."""
    _, srv = shared
    add_guest("alice", keys("alice"), "--mode", "pair", "--expires", "1h")
    g = guests(srv.port, keys("alice"), "-N", "-M", "-S", str(control_path), tty=False)
    wait_until(control_path.exists, what="the ControlMaster socket")
    wait_until(idle_rows, what="the idle connection in `pairtui clients`")
    return g


def test_a_login_without_a_terminal_is_listed_and_can_be_kicked(idle_alice: SshGuest) -> None:
    g = idle_alice
    rows = idle_rows()
    assert rows[0]["guest"] == "alice" and rows[0]["share"] == ""
    assert "connected, no terminal" in pairtui("clients").stdout
    res = pairtui("kick", "alice")
    assert res.returncode == 0, res.stderr
    assert g.wait_exit() != 0
    assert "disconnected by the host" in g.output
    wait_until(lambda: not pairtui_json("clients"), what="the kicked connection gone")
    events = [e["event"] for e in Audit().read() if e.get("guest") == "alice"]
    assert events[-2:] == ["connect", "kick"]


def test_removing_a_guest_closes_its_connection_without_a_terminal(
    idle_alice: SshGuest,
    shared: tuple[TmuxHost, Server],
    keys: Callable[[str], Path],
    guests: Connect,
    control_path: Path,
) -> None:
    host, srv = shared
    g = idle_alice
    assert pairtui("guest", "remove", "alice").returncode == 0
    assert g.wait_exit() != 0
    assert "invitation was withdrawn" in g.output
    # A terminal asked for over the old connection finds no connection to use.
    late = guests(srv.port, keys("alice"), "-S", str(control_path), "-o", "ControlMaster=no",
                  command="main")  # fmt: skip
    late.send("echo REVOKED-$((40+2))\r")
    assert late.wait_exit() != 0
    assert "REVOKED-42" not in host.capture()


def test_a_terminal_opened_after_a_demotion_is_a_view_terminal(
    idle_alice: SshGuest,
    shared: tuple[TmuxHost, Server],
    keys: Callable[[str], Path],
    guests: Connect,
    control_path: Path,
) -> None:
    host, srv = shared
    assert pairtui("guest", "set", "alice", "--mode", "view").returncode == 0
    g = guests(srv.port, keys("alice"), "-S", str(control_path))
    g.wait_for("MARK-21")
    g.send("echo DEMOTED-$((40+2))\r")
    settle_input(host, g, "pairtui-view-prefix")
    assert "DEMOTED-42" not in host.capture()
    rows = pairtui_json("clients")
    assert [(r["guest"], r["mode"], r["terminal"]) for r in rows] == [("alice", "view", True)]


def test_an_invitation_that_expires_closes_a_connection_without_a_terminal(
    idle_alice: SshGuest,
) -> None:
    g = idle_alice
    Registry().update("alice", expires=datetime.now(UTC) + timedelta(seconds=1))
    assert g.wait_exit(timeout=6) != 0
    assert "invitation has expired" in g.output


def test_a_view_guest_never_sends_focus_reports_to_the_pane(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    """tmux 3.3 passes focus reports from read-only clients on to the pane."""
    host, srv = shared
    host.run("set-option", "-g", "focus-events", "on")
    add_guest("vera", keys("vera"))
    # The pane asks for focus reports and shows every byte it gets.
    type_in_host(host, "printf '\\033[?1004h'; stty -echo; cat -v\r")
    time.sleep(0.3)
    g = guests(srv.port, keys("vera"))
    g.wait_for("MARK-21")
    type_in_host(host, "BEGIN\r")
    wait_until(lambda: "BEGIN" in host.capture(), what="the pane reading")
    for chunk in (b"\x1b[O", b"\x1b[I", b"\x1b", b"[O", b"\x1b[", b"I", b"\x1b[O\x1b[I"):
        g.send(chunk)
        time.sleep(0.05)
    settle_input(host, g, "pairtui-view-prefix")
    type_in_host(host, "END\r")

    def ended() -> str | None:
        screen = host.capture()
        return screen if "END" in screen else None

    screen = wait_until(ended, what="END in the pane")
    between = screen.split("BEGIN", 1)[1].split("END", 1)[0]
    assert "^[[" not in between, screen
