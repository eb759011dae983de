"""Moving a live guest client between view and pair (Tmux.set_client_mode) with other
guests in the other session: each client's own read-only flag decides, and towards
view the client ends read-only whatever it was before.

Found by the soak benchmark: the flag was read with ``display-message -c TTY``, which
tmux 3.3 expands for another client when TTY is in another session, so a guest moved to
view could stay writable (its keys reached the pane) and a pair guest stay read-only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pexpect
import pytest
from support import TmuxHost, wait_until

from pairtui.tmux import Tmux


class Guest:
    """A real tmux client in a PTY, attached as pairtui attaches guests."""

    def __init__(self, host: TmuxHost, session: str, readonly: bool) -> None:
        before = {c["tty"] for c in host.clients()}
        argv = Tmux(host.socket).attach_argv(session, readonly=readonly)
        self.child = pexpect.spawn(argv[0], argv[1:], dimensions=(24, 80), env=dict(os.environ))
        self.tty: str = wait_until(
            lambda: next((c["tty"] for c in host.clients() if c["tty"] not in before), None),
            what=f"a client on {session}",
        )


@pytest.fixture
def guests(tmux_host: TmuxHost) -> Iterator[list[Guest]]:
    made: list[Guest] = []
    yield made
    for g in made:
        g.child.close(force=True)


def flags(host: TmuxHost) -> dict[str, tuple[str, str]]:
    return {c["tty"]: (c["session"], c["readonly"]) for c in host.clients()}


def test_each_move_acts_on_the_clients_own_flag_with_others_in_the_other_session(
    tmux_host: TmuxHost, guests: list[Guest]
) -> None:
    tmux = Tmux(tmux_host.socket)
    names = tmux.create_share("main", session="host", host="me")
    viewers = [Guest(tmux_host, names.view, readonly=True) for _ in range(2)]
    pairers = [Guest(tmux_host, names.pair, readonly=False) for _ in range(2)]
    guests += viewers + pairers
    for _ in range(3):  # back and forth, each time with guests left in both sessions
        for g in pairers:
            tmux.set_client_mode(g.tty, names.view, readonly=True)
            assert flags(tmux_host)[g.tty] == (names.view, "1")
        for g in viewers:
            tmux.set_client_mode(g.tty, names.pair, readonly=False)
            assert flags(tmux_host)[g.tty] == (names.pair, "0")
        viewers, pairers = pairers, viewers
    # Asked twice, the answer stays: a move to where a client is changes nothing.
    g = viewers[0]
    for _ in range(2):
        tmux.set_client_mode(g.tty, names.view, readonly=True)
        assert flags(tmux_host)[g.tty] == (names.view, "1")
    for _ in range(2):
        tmux.set_client_mode(g.tty, names.pair, readonly=False)
        assert flags(tmux_host)[g.tty] == (names.pair, "0")
