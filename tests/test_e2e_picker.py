"""A guest who may join several shares and names none chooses (issue 16).

Joining the most recent share let ``ssh -p 2222 guest@host`` land in a share from
yesterday the host had forgotten. The picker is drawn by pairtui before any tmux client
exists; a mistyped share name is one line that names only shares the guest may join.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pexpect
import pytest
from support import (
    Server,
    SshGuest,
    TmuxHost,
    add_guest,
    pairtui,
    pairtui_json,
    share,
    start_server,
    type_in_host,
    wait_until,
)

from pairtui.audit import Audit

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]


def two_shares(host: TmuxHost) -> None:
    host.run("new-session", "-d", "-s", "other", "-x", "120", "-y", "40")
    type_in_host(host, "echo FIRST-$((20+1))", target="host")
    type_in_host(host, "echo SECOND-$((20+2))", target="other")
    share(host, "--session", "host", "--name", "first")
    share(host, "--session", "other", "--name", "second")


@pytest.fixture
def srv(tmux_host: TmuxHost) -> Iterator[Server]:
    """Two live shares, first and second, and a running `pairtui serve`."""
    two_shares(tmux_host)
    server = start_server()
    yield server
    server.stop()


def guest_clients(host: TmuxHost) -> list[dict[str, str]]:
    return [c for c in host.clients() if c["session"].startswith("pairtui-")]


def test_a_guest_who_may_join_two_shares_chooses_and_types_nothing_into_tmux_meanwhile(
    tmux_host: TmuxHost, srv: Server, keys: Callable[[str], Path], guests: Connect
) -> None:
    add_guest("alice", keys("alice"), "--mode", "pair")
    g = guests(srv.port, keys("alice"))
    g.wait_for("shares 2 things you may join")
    screen = g.text()
    assert "first   session host" in screen and "second  session other" in screen
    g.send("echo TYPED-$((6*7))")  # typed into the picker: goes nowhere
    assert guest_clients(tmux_host) == []  # no tmux client while choosing
    g.send("\x1b[B")
    wait_until(lambda: "> 2  second" in g.text(), what="the second one marked")
    g.send("\r")
    g.wait_for("SECOND-22")
    [client] = guest_clients(tmux_host)
    assert client["session"] == "pairtui-second-pair"
    assert "TYPED-42" not in tmux_host.capture("other") + tmux_host.capture("host")
    [row] = pairtui_json("clients")
    assert (row["guest"], row["share"]) == ("alice", "second")


def test_a_guest_who_gives_up_in_the_picker_joins_nothing(
    tmux_host: TmuxHost, srv: Server, keys: Callable[[str], Path], guests: Connect
) -> None:
    add_guest("alice", keys("alice"), "--mode", "view")
    g = guests(srv.port, keys("alice"))
    g.wait_for("shares 2 things you may join")
    g.send("q")
    assert g.wait_exit() == 0  # its own choice: not an error, not a refusal
    assert "pairtui: you joined nothing" in g.output
    assert guest_clients(tmux_host) == []
    assert [e for e in Audit().read() if e["event"] == "refused"] == []


def test_a_guest_removed_while_choosing_is_disconnected_and_listed_meanwhile(
    tmux_host: TmuxHost, srv: Server, keys: Callable[[str], Path], guests: Connect
) -> None:
    add_guest("alice", keys("alice"), "--mode", "pair")
    g = guests(srv.port, keys("alice"))
    g.wait_for("shares 2 things you may join")
    # The host sees it (a connection without a terminal yet) and can act on it.
    rows = wait_until(lambda: pairtui_json("clients"), timeout=10, what="listed")
    assert [(r["guest"], r["share"]) for r in rows] == [("alice", "")]
    assert pairtui("guest", "remove", "alice").returncode == 0
    g.wait_exit(timeout=10)
    assert guest_clients(tmux_host) == []
    assert pairtui_json("clients") == []


def test_a_guest_invited_to_one_share_goes_there_without_a_picker(
    tmux_host: TmuxHost, srv: Server, keys: Callable[[str], Path], guests: Connect
) -> None:
    add_guest("bob", keys("bob"), "--mode", "view", "--share", "first")
    g = guests(srv.port, keys("bob"))
    g.wait_for("FIRST-21")
    assert "you may join" not in g.output


def test_a_mistyped_share_name_is_one_line_naming_only_what_the_guest_may_join(
    tmux_host: TmuxHost, srv: Server, keys: Callable[[str], Path], guests: Connect
) -> None:
    add_guest("alice", keys("alice"), "--mode", "view")
    add_guest("bob", keys("bob"), "--mode", "view", "--share", "first")
    g = guests(srv.port, keys("alice"), command="frist")
    assert g.wait_exit() == 1
    assert "pairtui: no share 'frist' for you; you may join: first, second" in g.output
    b = guests(srv.port, keys("bob"), command="second")
    assert b.wait_exit() == 1
    assert "pairtui: no share 'second' for you; you may join: first" in b.output
    assert guest_clients(tmux_host) == []


def test_pairtui_join_under_sshd_offers_the_same_picker(
    tmux_host: TmuxHost, keys: Callable[[str], Path]
) -> None:
    """`pairtui join GUEST` is the forced command of the registry's authorized_keys
    lines under a system sshd: run here as sshd would, in a terminal, with no command."""
    add_guest("alice", keys("alice"), "--mode", "view")
    two_shares(tmux_host)
    env = {**os.environ, "SSH_ORIGINAL_COMMAND": ""}
    child = pexpect.spawn(sys.executable, ["-m", "pairtui", "join", "alice"],
                          env=env, dimensions=(24, 80))  # fmt: skip
    try:
        child.expect("shares 2 things you may join", timeout=10)
        child.send("j")
        child.expect("> 2  second", timeout=10)
        child.send("\r")
        child.expect("SECOND-22", timeout=10)
        [client] = guest_clients(tmux_host)
        assert (client["session"], client["readonly"]) == ("pairtui-second-view", "1")
    finally:
        child.close(force=True)
    gave_up = pexpect.spawn(sys.executable, ["-m", "pairtui", "join", "alice"],
                            env=env, dimensions=(24, 80))  # fmt: skip
    gave_up.expect("shares 2 things you may join", timeout=10)
    gave_up.send("q")
    gave_up.expect("pairtui: you joined nothing", timeout=10)
    gave_up.expect(pexpect.EOF, timeout=10)
    gave_up.close()
    assert gave_up.exitstatus == 0
