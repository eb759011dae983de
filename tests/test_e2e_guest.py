"""End to end: the real OpenSSH client in a PTY joins `pairtui serve` and a real tmux server."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pexpect
import pytest
from support import (
    SshGuest,
    TmuxHost,
    add_guest,
    client_of,
    key_table,
    pairtui_json,
    settle_input,
    share,
    start_server,
    type_in_host,
    wait_until,
)

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]


@pytest.fixture
def host_client(tmux_host: TmuxHost) -> Iterator[pexpect.spawn]:
    """The host's own terminal, attached to its session at 120x40."""
    child = pexpect.spawn(
        "tmux", ["-S", str(tmux_host.socket), "attach-session", "-t", "host"],
        dimensions=(40, 120), env=dict(os.environ),
    )  # fmt: skip
    wait_until(lambda: any(c["session"] == "host" for c in tmux_host.clients()), what="host client")
    yield child
    child.close(force=True)


def test_view_guest_sees_the_pane_and_its_keys_never_reach_it(
    tmux_host: TmuxHost, keys: Callable[[str], Path], guests: Connect
) -> None:
    type_in_host(tmux_host, "echo HOST-$((40+2))")
    add_guest("alice", keys("alice"), "--mode", "view")
    share(tmux_host)
    srv = start_server()
    try:
        g = guests(srv.port, keys("alice"))
        g.wait_for("HOST-42")
        assert client_of(tmux_host)["readonly"] == "1"
        g.send("echo VIEW-$((6*7))\r")
        g.send("\x02\x02echo VIEW2-$((6*7))\r")  # prefix prefix: send-prefix is not bound for view
        settle_input(tmux_host, g, "pairtui-view-prefix")
        pane = tmux_host.capture()
        assert "VIEW-42" not in pane and "VIEW2-42" not in pane
        assert "echo VIEW" not in pane
    finally:
        srv.stop()


def test_pair_guest_types_into_the_pane(
    tmux_host: TmuxHost, keys: Callable[[str], Path], guests: Connect
) -> None:
    type_in_host(tmux_host, "echo READY")
    add_guest("bob", keys("bob"), "--mode", "pair")
    share(tmux_host)
    srv = start_server()
    try:
        g = guests(srv.port, keys("bob"))
        g.wait_for("READY")
        assert client_of(tmux_host)["readonly"] == "0"
        g.send("echo PAIR-$((6*7))\r")
        wait_until(lambda: "PAIR-42" in tmux_host.capture(), what="pair input in the host pane")
        g.wait_for("PAIR-42")
    finally:
        srv.stop()


def test_guest_resize_reaches_its_tmux_client(
    tmux_host: TmuxHost, keys: Callable[[str], Path], guests: Connect
) -> None:
    type_in_host(tmux_host, "echo READY")
    add_guest("bob", keys("bob"), "--mode", "pair")
    share(tmux_host)
    srv = start_server()
    try:
        g = guests(srv.port, keys("bob"), size=(80, 24))
        g.wait_for("READY")
        assert client_of(tmux_host)["size"] == "80x24"
        g.resize(101, 33)
        wait_until(lambda: client_of(tmux_host)["size"] == "101x33", what="resized client")
        clients = pairtui_json("clients")
        assert clients[0]["size"] == "101x33"
    finally:
        srv.stop()


# Every default prefix binding that switches or chooses sessions/windows/clients, opens a
# prompt or a menu, detaches or kills something, plus window/pane creation and movement.
ESCAPE_KEYS = [
    "(", ")", "s", "w", "L", "D", ":", "$", ",", "&", "x", "!", "c", "n", "p", "l",
    "0", "1", "2", "9", "'", ".", "f", "i", "q", "r", "t", "?", "~", "%", '"', "<", ">",
    "{", "}", "z", "o", ";", "[", "]", "=", "#", "-", "M", "m", "E", "\x0f", "\x1a",
]  # fmt: skip


def _press_everything(host: TmuxHost, g: SshGuest, mode: str) -> None:
    """Press prefix + each key, waiting each time until tmux has dispatched it."""
    tty = client_of(host)["tty"]
    root = f"pairtui-{mode}"
    for key in ESCAPE_KEYS:
        g.send("\x02")
        wait_until(lambda: key_table(host, tty) == f"{root}-prefix", what=f"prefix before {key!r}")
        g.send(key)
        wait_until(lambda: key_table(host, tty) == root, what=f"{key!r} dispatched")
        if key == "[" and mode == "pair":  # copy mode is a pair guest's to use; leave it
            g.send("q")
    # Mouse: a click on the status line (tmux's root table would switch windows there).
    g.send("\x1b[<0;5;24M\x1b[<0;5;24m")


def _assert_still_in_share(
    host: TmuxHost, g: SshGuest, share_session: str, secrets: list[str]
) -> None:
    client = client_of(host)
    assert client["session"] == share_session
    screen = g.output
    for secret in secrets:
        assert secret not in screen, f"{secret} reached the guest"
    sessions = host.run("list-sessions", "-F", "#{session_name}").split()
    assert sorted(sessions) == sorted(["host", "secret", *_share_sessions(share_session)])
    assert host.run("list-windows", "-t", "host", "-F", "#{window_id}").split() == ["@0"]
    assert host.run("display-message", "-p", "-t", "host", "#{pane_in_mode}").strip() == "0"


def _share_sessions(session: str) -> list[str]:
    base = session.rsplit("-", 1)[0]
    return [f"{base}-view", f"{base}-pair"]


@pytest.mark.parametrize("mode", ["view", "pair"])
def test_no_prefix_key_takes_a_guest_out_of_its_share(
    mode: str,
    tmux_host: TmuxHost,
    host_client: pexpect.spawn,
    keys: Callable[[str], Path],
    guests: Connect,
) -> None:
    tmux_host.run("new-session", "-d", "-s", "secret", "-x", "120", "-y", "40")
    type_in_host(tmux_host, "echo SECRET-SESSION-$((1+1))", target="secret")
    type_in_host(tmux_host, "echo SHARED-$((2+2))")
    size_before = tmux_host.window_size()
    add_guest("eve", keys("eve"), "--mode", mode)
    share(tmux_host, "--session", "host", "--name", "demo")
    srv = start_server()
    try:
        g = guests(srv.port, keys("eve"), size=(60, 20))
        g.wait_for("SHARED-4")
        assert tmux_host.window_size() == size_before, "a small guest resized the host's window"
        pane_before = tmux_host.capture()
        _press_everything(tmux_host, g, mode)
        if mode == "view":
            settle_input(tmux_host, g, "pairtui-view-prefix")
            assert tmux_host.capture() == pane_before  # nothing a view guest pressed got in
        else:
            g.send("\x15echo STILL-HERE-$((3+3))\r")  # ^U: drop what the keys typed
            wait_until(lambda: "STILL-HERE-6" in tmux_host.capture(), what="pair input")
        _assert_still_in_share(tmux_host, g, f"pairtui-demo-{mode}", ["SECRET-SESSION"])
        assert any(c["session"] == "host" for c in tmux_host.clients()), "host was detached"
        assert tmux_host.window_size() == size_before
    finally:
        srv.stop()


def test_pane_share_shows_only_that_window(
    tmux_host: TmuxHost, keys: Callable[[str], Path], guests: Connect
) -> None:
    tmux_host.run("new-window", "-d", "-t", "host:1")
    type_in_host(tmux_host, "echo OTHER-WINDOW-$((5+5))", target="host:1")
    type_in_host(tmux_host, "echo PANE-$((7+7))", target="host:0")
    pane = tmux_host.run("display-message", "-p", "-t", "host:0", "#{pane_id}").strip()
    add_guest("carol", keys("carol"), "--mode", "pair")
    info = share(tmux_host, "--pane", pane, "--name", "pane")
    assert info["kind"] == "window"
    srv = start_server()
    try:
        g = guests(srv.port, keys("carol"))
        g.wait_for("PANE-14")
        for key in ["n", "p", "1", "0", "w", "s", "(", ")"]:
            g.send("\x02" + key)
        g.send("echo TYPED-$((8+8))\r")
        wait_until(lambda: "TYPED-16" in tmux_host.capture("host:0"), what="typed in the pane")
        assert "OTHER-WINDOW" not in g.output
        assert host_windows(tmux_host, "pairtui-pane-pair") == [
            tmux_host.run("display-message", "-p", "-t", "host:0", "#{window_id}").strip()
        ]
    finally:
        srv.stop()


def host_windows(host: TmuxHost, session: str) -> list[str]:
    return host.run("list-windows", "-t", f"={session}", "-F", "#{window_id}").split()
