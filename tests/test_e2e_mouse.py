"""A guest's mouse: what a pane's program may get, and nothing tmux would act on.

Pair sessions have ``mouse on``, so every mouse event of a pair guest is a key looked up
in its key table and passes the same guard as its keys (a chooser the host opens in a
shared pane never gets one: tests/test_e2e_confinement.py, the same-pass races). These
tests hold the other side: a program that asked for the mouse still gets a pair
guest's clicks, a click selects the pane under it, and a view guest's clicks reach
nothing. Real OpenSSH guests, real tmux, real `pairtui serve`.
"""

from __future__ import annotations

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
    settle_input,
    share,
    start_server,
    type_in_host,
    wait_until,
)

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]

# A program that asks for the mouse (SGR reports) and shows every byte it reads.
READS_THE_MOUSE = "printf '\\033[?1000h\\033[?1006h'; stty -echo; cat -v"


def _click(col: int, row: int, button: int = 0) -> str:
    """A press and release at ``col``, ``row`` (1-based), as a terminal reports them."""
    return f"\x1b[<{button};{col};{row}M\x1b[<{button};{col};{row}m"


def _between(host: TmuxHost, start: str, end: str, target: str = "host") -> str:
    """What the pane printed between two lines the host typed."""
    type_in_host(host, end, target=target)

    def printed() -> str | None:
        screen = host.capture(target)
        return screen if end in screen.split(start, 1)[-1] else None

    screen = wait_until(printed, what=f"{end} in the pane")
    return screen.split(start, 1)[1].split(end, 1)[0]


def test_a_program_that_asked_for_the_mouse_gets_a_pair_guests_clicks(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    host, srv = shared
    add_guest("alice", keys("alice"), "--mode", "pair")
    type_in_host(host, READS_THE_MOUSE)
    g = guests(srv.port, keys("alice"), size=(120, 41))  # the whole window: no crop
    g.wait_for("MARK-21")
    type_in_host(host, "BEGIN")
    wait_until(lambda: "BEGIN" in host.capture(), what="the pane reading")
    g.send(_click(7, 3))
    settle_input(host, g, "pairtui-pair-prefix")
    between = _between(host, "BEGIN", "END")
    # tmux hands the program the click in its own coordinates (here the same: one pane).
    assert "^[[<0;7;3M^[[<0;7;3m" in between, between


def test_a_pair_guests_click_selects_the_pane_under_it(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    host, srv = shared
    host.run("split-window", "-h", "-t", "host:0", "-l", "60")  # right pane: columns 60-119
    host.run("select-pane", "-t", "host:0.0")
    add_guest("alice", keys("alice"), "--mode", "pair")
    g = guests(srv.port, keys("alice"), size=(120, 41))
    g.wait_for("MARK-21")

    def active() -> str:
        return host.run("display-message", "-p", "-t", "host:0", "#{pane_index}").strip()

    assert active() == "0"
    g.send(_click(100, 10))
    wait_until(lambda: active() == "1", what="the clicked pane active")
    g.send(_click(10, 10))
    wait_until(lambda: active() == "0", what="the first pane active again")


def test_a_view_guests_clicks_reach_nothing_and_its_terminal_keeps_its_own_mouse(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    """View sessions keep ``mouse off``: tmux asks a view guest's terminal for the mouse
    only when the pane's program does (the guest can select text as usual meanwhile),
    and drops the read-only client's clicks even then."""
    host, srv = shared
    add_guest("vera", keys("vera"))
    g = guests(srv.port, keys("vera"), size=(120, 41))
    g.wait_for("MARK-21")
    settle_input(host, g, "pairtui-view-prefix")
    time.sleep(0.2)  # a redraw tmux may still send
    g.pump()
    assert b"\x1b[?1000h" not in g.raw and b"\x1b[?1002h" not in g.raw
    type_in_host(host, READS_THE_MOUSE)
    type_in_host(host, "BEGIN")
    wait_until(lambda: "BEGIN" in host.capture(), what="the pane reading")
    g.send(_click(7, 3))
    g.send(_click(7, 3, button=2))
    settle_input(host, g, "pairtui-view-prefix")
    assert client_of(host)["readonly"] == "1"
    assert "^[[" not in _between(host, "BEGIN", "END")


def test_a_share_made_before_the_mouse_guard_gets_it_when_the_server_starts(
    tmux_host: TmuxHost,
) -> None:
    """tmux outlives pairtui: a share's sessions keep the options they were made with."""
    share(tmux_host, "--session", "host", "--name", "old")
    pair = "=pairtui-old-pair:"
    tmux_host.run("set-option", "-t", pair, "mouse", "off")  # as an older pairtui made it
    tmux_host.run("unbind-key", "-T", "pairtui-pair", "MouseDown1Pane")
    srv = start_server()
    try:
        assert tmux_host.run("show-options", "-v", "-t", pair, "mouse").strip() == "on"
        assert "send-keys -M" in tmux_host.run("list-keys", "-T", "pairtui-pair")
        view = "=pairtui-old-view:"
        assert tmux_host.run("show-options", "-v", "-t", view, "mouse").strip() == "off"
    finally:
        srv.stop()
