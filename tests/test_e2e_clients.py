"""Live clients: listing, kicking, switching modes, unsharing, and the audit log."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support import (
    Server,
    SshGuest,
    TmuxHost,
    add_guest,
    client_of,
    holds_for,
    pairtui,
    pairtui_json,
    type_in_host,
    wait_until,
)

from pairtui.audit import Audit
from pairtui.events import SESSION_ENDED, SHARE_STOPPED
from pairtui.shares import ShareStore

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]


def test_clients_lists_a_guest_within_a_second_and_kick_ends_it(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    host, srv = shared
    add_guest("alice", keys("alice"), "--mode", "pair")
    add_guest("mallory-not", keys("other"))
    g = guests(srv.port, keys("alice"), size=(90, 30))
    g.wait_for("MARK-21")
    seen = time.monotonic()
    rows = wait_until(lambda: pairtui_json("clients"), timeout=5, what="client listed")
    assert time.monotonic() - seen < 1.0
    [row] = rows
    assert row["guest"] == "alice"
    assert row["mode"] == "pair"
    assert row["share"] == "main"
    assert row["peer"].startswith("127.0.0.1:")
    assert row["fingerprint"].startswith("SHA256:")
    assert row["size"] == "90x30"
    assert row["tmux_client"] == client_of(host)["tty"]
    g.send("x")
    wait_until(lambda: pairtui_json("clients")[0]["last_input"], what="last input recorded")

    res = pairtui("kick", "alice")
    assert res.returncode == 0, res.stderr
    assert g.wait_exit() != 0
    assert "disconnected by the host" in g.output
    assert pairtui_json("clients") == []
    wait_until(lambda: not [c for c in host.clients() if c["session"].startswith("pairtui-")],
               what="no stray tmux client")  # fmt: skip

    res = pairtui("kick", "alice")
    assert res.returncode == 1
    assert res.stderr.startswith("pairtui: no connected guest")


def test_audit_log_records_join_leave_kick_and_refusals(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    _, srv = shared
    add_guest("alice", keys("alice"))
    add_guest("bob", keys("bob"))
    a = guests(srv.port, keys("alice"))
    a.wait_for("MARK-21")
    a.send("\x02d")  # the guest leaves on its own
    assert a.wait_exit() == 0
    b = guests(srv.port, keys("bob"))
    b.wait_for("MARK-21")
    wait_until(lambda: pairtui_json("clients"), what="bob listed")
    assert pairtui("kick", "bob").returncode == 0
    b.wait_exit()
    m = guests(srv.port, keys("mallory"))
    m.wait_exit()
    events = Audit().read()
    kinds = [(e["event"], e.get("guest")) for e in events]
    assert kinds == [
        ("join", "alice"), ("leave", "alice"), ("join", "bob"), ("kick", "bob"), ("refused", None)
    ]  # fmt: skip
    assert all(e["ts"] and e.get("peer") for e in events)
    # append-only JSON lines, one object per line
    lines = Path(Audit().path).read_text().splitlines()
    assert [json.loads(line)["event"] for line in lines] == [k for k, _ in kinds]


def test_switching_a_live_guest_between_view_and_pair(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    host, srv = shared
    add_guest("alice", keys("alice"), "--mode", "view")
    g = guests(srv.port, keys("alice"))
    g.wait_for("MARK-21")
    assert client_of(host)["readonly"] == "1"
    assert pairtui("mode", "alice", "pair").returncode == 0
    wait_until(lambda: client_of(host)["readonly"] == "0", what="client writable")
    assert client_of(host)["session"] == "pairtui-main-pair"
    flags = host.run("list-clients", "-F", "#{client_flags}")
    assert "ignore-size" in flags  # still never resizes the host's window
    g.send("echo NOW-PAIR-$((1+2))\r")
    wait_until(lambda: "NOW-PAIR-3" in host.capture(), what="pair input")
    # The server's registry watch (every second) must not undo a live switch.
    holds_for(lambda: client_of(host)["readonly"] == "0", 2.5)
    # Changing the registry applies to the live client too.
    assert pairtui("guest", "set", "alice", "--mode", "view").returncode == 0
    wait_until(lambda: client_of(host)["readonly"] == "1", what="client read-only again")
    assert client_of(host)["session"] == "pairtui-main-view"
    assert pairtui_json("clients")[0]["mode"] == "view"


def test_unshare_disconnects_the_share_guests(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    host, srv = shared
    add_guest("alice", keys("alice"))
    g = guests(srv.port, keys("alice"))
    g.wait_for("MARK-21")
    res = pairtui("unshare", "main")
    assert res.returncode == 0, res.stderr
    g.wait_exit()
    assert pairtui_json("share", "list") == []
    assert not [s for s in host.run("list-sessions", "-F", "#{session_name}").split()
                if s.startswith("pairtui-")]  # fmt: skip
    again = guests(srv.port, keys("alice"))
    assert again.wait_exit() == 1
    assert "nothing is shared" in again.output


@pytest.mark.parametrize(
    ("ending", "reason"),
    [
        # As another pairtui process would remove it: the engine is not told.
        (lambda host: ShareStore().remove("main"), SHARE_STOPPED),
        # The shared session's last window: the session group ends.
        (lambda host: host.run("kill-window", "-t", "host:0"), SESSION_ENDED),
    ],
    ids=["share-removed", "session-ended"],
)
def test_a_guest_whose_tmux_ends_under_it_is_told_why(
    shared: tuple[TmuxHost, Server],
    keys: Callable[[str], Path],
    guests: Connect,
    ending: Callable[[TmuxHost], object],
    reason: str,
) -> None:
    """Removing a share kills its tmux sessions, so the guest's tmux client may end before
    the engine hears of it: the guest and the log must still say why, not "guest left"."""
    host, srv = shared
    add_guest("alice", keys("alice"))
    g = guests(srv.port, keys("alice"))
    g.wait_for("MARK-21")
    ending(host)
    assert g.wait_exit() == 1
    assert f"pairtui: {reason}" in g.output
    [left] = [e for e in Audit().read() if e["event"] == "leave"]
    assert left["guest"] == "alice" and left["reason"] == reason


def test_renaming_a_share_keeps_its_guests_connected(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    host, srv = shared
    add_guest("alice", keys("alice"), "--share", "main")  # invited to this share by name
    add_guest("bob", keys("bob"), "--mode", "pair")
    ga = guests(srv.port, keys("alice"))
    gb = guests(srv.port, keys("bob"))
    ga.wait_for("MARK-21")
    gb.wait_for("MARK-21")
    res = pairtui("share", "rename", "main", "demo")
    assert res.returncode == 0, res.stderr
    assert "stay connected" in res.stdout
    wait_until(lambda: sorted(c["share"] for c in pairtui_json("clients")) == ["demo", "demo"],
               timeout=5, what="clients on the renamed share")  # fmt: skip
    # Nobody was disconnected, and the guests still see and (bob) type into the pane.
    holds_for(lambda: ga.child.isalive() and gb.child.isalive(), 2.0)
    assert [s["name"] for s in pairtui_json("share", "list")] == ["demo"]
    assert {g["name"]: g["share"] for g in pairtui_json("guest", "list")} == {
        "alice": "demo", "bob": None,
    }  # fmt: skip
    sessions = host.run("list-sessions", "-F", "#{session_name}").split()
    assert sorted(s for s in sessions if s.startswith("pairtui-")) == [
        "pairtui-demo-pair", "pairtui-demo-view",
    ]  # fmt: skip
    ga.wait_for("demo shared by")  # the guests' status line names the share
    type_in_host(host, "echo AFTER-$((40+2))")
    ga.wait_for("AFTER-42")
    gb.send("echo BOB-$((50+5))\r")
    ga.wait_for("BOB-55")
    events = [json.loads(line) for line in Audit().path.read_text().splitlines()]
    renames = sorted((e["guest"], e["was"], e["share"]) for e in events if e["event"] == "rename")
    assert renames == [("alice", "main", "demo"), ("bob", "main", "demo")]
    # A new guest joins by the new name; the old one is gone.
    again = guests(srv.port, keys("bob"), command="demo")
    again.wait_for("AFTER-42")
    res = pairtui("share", "rename", "nope", "other")
    assert res.returncode == 1 and "no share named 'nope'" in res.stderr


def test_serve_shuts_down_cleanly_on_sigterm(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    host, srv = shared
    add_guest("alice", keys("alice"))
    g = guests(srv.port, keys("alice"))
    g.wait_for("MARK-21")
    assert srv.stop() == 0
    g.wait_exit()
    assert "stopped sharing" in g.output
    assert not [c for c in host.clients() if c["session"].startswith("pairtui-")]
    assert "Traceback" not in "\n".join(srv.output)


def test_port_in_use_is_one_clear_error(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        res = pairtui("serve", "--port", str(port), timeout=20)
    assert res.returncode == 1
    assert res.stderr.strip() == (
        f"pairtui: port {port} on 127.0.0.1 is already in use "
        "(is another pairtui running? choose one with --port)"
    )


def test_second_server_for_the_same_user_is_refused(shared: tuple[TmuxHost, Server]) -> None:
    res = pairtui("serve", "--port", "0", timeout=20)
    assert res.returncode == 1
    assert "already running" in res.stderr
    assert "Traceback" not in res.stderr


def test_tmux_not_running_or_missing_is_one_clear_error(tmp_path: Path) -> None:
    res = pairtui("share", "--tmux-socket", str(tmp_path / "nope"))
    assert res.returncode == 1
    assert res.stderr.startswith("pairtui: tmux is not running on")
    assert "Traceback" not in res.stderr
    empty = tmp_path / "bin"
    empty.mkdir()
    res = subprocess.run(
        [sys.executable, "-m", "pairtui", "serve", "--port", "0"],
        capture_output=True, text=True, timeout=20, check=False,
        env={"PATH": str(empty), "HOME": str(tmp_path)},
    )  # fmt: skip
    assert res.returncode == 1
    assert (
        res.stderr.strip()
        == "pairtui: tmux is not installed (install it, e.g. `apt-get install tmux`)"
    )


def test_share_whose_sessions_are_gone_is_reported_to_the_guest(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    host, srv = shared
    add_guest("alice", keys("alice"))
    host.run("kill-session", "-t", "=pairtui-main-view")
    host.run("kill-session", "-t", "=pairtui-main-pair")
    g = guests(srv.port, keys("alice"))
    assert g.wait_exit() == 1
    assert "share 'main' is gone" in g.output
    listed = pairtui_json("share", "list")
    assert listed[0]["live"] is False


def test_an_invitation_expiring_mid_session_disconnects_the_guest(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    from datetime import UTC, datetime, timedelta

    from pairtui.registry import Registry

    _, srv = shared
    add_guest("alice", keys("alice"), "--expires", "1h")
    g = guests(srv.port, keys("alice"))
    g.wait_for("MARK-21")
    # A change the server is not told about (as if edited by hand): its watch picks it up.
    Registry().update("alice", expires=datetime.now(UTC) - timedelta(seconds=1))
    assert g.wait_exit(timeout=10) != 0
    assert "invitation has expired" in g.output
    assert [e["event"] for e in Audit().read()][-1] == "kick"


def test_a_guest_killed_mid_output_is_cleaned_up_without_a_traceback(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    host, srv = shared
    add_guest("alice", keys("alice"))
    g = guests(srv.port, keys("alice"))
    g.wait_for("MARK-21")
    type_in_host(host, "i=0; while [ $i -lt 20000 ]; do echo line-$i; i=$((i+1)); done")
    g.child.kill(9)  # the guest's ssh dies while the pane is printing
    wait_until(lambda: pairtui_json("clients") == [], what="client gone")
    wait_until(lambda: not [c for c in host.clients() if c["session"].startswith("pairtui-")],
               what="its tmux client gone")  # fmt: skip
    assert [e["event"] for e in Audit().read()][-1] == "leave"
    srv.stop()
    assert "Traceback" not in "\n".join(srv.output)
