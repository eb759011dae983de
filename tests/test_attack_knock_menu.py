"""Attack: a stranger knocking at an open door steals the host's keystrokes.

A knock opens a tmux menu (``display-menu``) on every host client at once, whatever
the host is doing. A tmux menu takes the client's keys, and this one answers single
letters: ``v`` admit as view, ``p`` admit as pair, ``r`` admit and remember, ``d``
deny. A host typing in its shell when the menu pops up (``git push``) admits the
stranger as a *pair* guest with the ``p`` of ``push``, without ever reading the menu
or the knock's code. And a stranger may give up and knock again at once, as often as
it likes, each knock a new menu: no rate, no cooldown (only a *denied* peer waits).

Real OpenSSH, real tmux with the host's own client attached on a PTY, real
`pairtui serve`.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pexpect
import pyte
import pytest
from support import Server, SshGuest, TmuxHost, pairtui, pairtui_json, wait_until

from pairtui.audit import Audit

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]


class HostTerminal:
    """The host's own tmux client on a PTY, its screen rendered with pyte."""

    def __init__(self, host: TmuxHost) -> None:
        self.me = pexpect.spawn(
            "tmux", ["-S", str(host.socket), "attach-session", "-t", "host"],
            dimensions=(40, 120), env=dict(os.environ),
        )  # fmt: skip
        self.screen = pyte.Screen(120, 40)
        self.stream = pyte.ByteStream(self.screen)

    def shown(self) -> str:
        with contextlib.suppress(pexpect.TIMEOUT, pexpect.EOF):
            while True:
                self.stream.feed(self.me.read_nonblocking(65536, timeout=0.05))
        return "\n".join(self.screen.display)

    def close(self) -> None:
        self.me.close(force=True)


@pytest.fixture
def me(shared: tuple[TmuxHost, Server]) -> Iterator[HostTerminal]:
    host, _ = shared
    term = HostTerminal(host)
    wait_until(lambda: any(c["session"] == "host" for c in host.clients()), what="host")
    yield term
    term.close()


def open_door() -> None:
    res = pairtui("door", "open", "--for", "5m")
    assert res.returncode == 0, res


def test_a_host_typing_in_its_shell_does_not_admit_a_stranger_whose_menu_popped_up(
    shared: tuple[TmuxHost, Server], me: HostTerminal, keys: Callable[[str], Path],
    guests: Connect,
) -> None:  # fmt: skip
    host, srv = shared
    open_door()
    stranger = guests(srv.port, keys("mallory"))
    stranger.wait_for("Read this code to the host:")
    wait_until(lambda: "Admit as pair" in me.shown(), what="the knock's menu on the host")
    # The host has not looked up: it goes on typing a command in its shell.
    me.me.send("git push\r")
    time.sleep(3)  # bounded: whatever the keys did, they did it by now
    assert "MARK-21" not in stranger.text(), "the stranger reached the share"
    assert pairtui_json("guest", "list") == [], "the stranger's key was registered"
    admits = [e for e in Audit().read() if e["event"] == "admit"]
    assert admits == [], admits
    assert not [c for c in host.clients() if c["session"].startswith("pairtui-")]


def test_a_stranger_cannot_knock_again_and_again_to_pop_menus_on_the_host(
    shared: tuple[TmuxHost, Server], me: HostTerminal, keys: Callable[[str], Path],
    guests: Connect,
) -> None:  # fmt: skip
    """Each knock that finds nobody waiting opens a menu on the host's clients; giving
    up (Ctrl-C) is not a denial, so the same address knocks again at once."""
    _, srv = shared
    open_door()
    taken = 0
    for _ in range(8):
        g = guests(srv.port, keys("mallory"))
        try:
            g.wait_for("Read this code to the host:", timeout=10)
        except AssertionError:
            g.close()
            break  # turned away: what a bounded door does
        taken += 1
        g.send("\x03")
        g.wait_exit()
        wait_until(lambda: pairtui_json("knocks") == [], what="the knock gone")
    knocks = [e for e in Audit().read() if e["event"] == "knock"]
    assert taken == len(knocks)
    assert taken < 8, f"{taken} knocks in a row from one address, each one a menu on the host"
