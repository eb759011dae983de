"""A guest whose terminal is smaller than the host's window is told it sees part of it
(issue 16): tmux crops silently, following the cursor."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pexpect
import pytest
from support import SshGuest, TmuxHost, add_guest, wait_until

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]


def status_line(g: SshGuest) -> str:
    return g.text().splitlines()[-1] if g.text() else ""


@pytest.mark.parametrize("mode", ["view", "pair"])
def test_a_cropped_view_says_so_while_it_lasts(
    mode: str, shared: tuple[TmuxHost, object], keys: Callable[[str], Path], guests: Connect
) -> None:
    host, srv = shared
    # The host's own terminal, 120x40, sets the window's size (guests are ignore-size).
    me = pexpect.spawn("tmux", ["-S", str(host.socket), "attach-session", "-t", "host"],
                       dimensions=(41, 120), env=dict(os.environ))  # fmt: skip
    wait_until(lambda: host.window_size() == "120x40", what="the host's window 120x40")
    add_guest("alice", keys("alice"), "--mode", mode)
    g = guests(srv.port, keys("alice"), size=(80, 24))  # type: ignore[attr-defined]
    g.wait_for("MARK-21")
    wait_until(lambda: "you see 80x23 of 120x40" in status_line(g), what="the crop said")
    g.resize(140, 50)  # bigger than the window: all of it is seen
    wait_until(lambda: "you see" not in g.text(), what="the mark gone")
    g.resize(140, 30)  # wide enough, not tall enough (one row is the status line)
    wait_until(lambda: "you see 140x29 of 120x40" in status_line(g), what="rows cropped")
    assert f"{mode} · C-b d to leave" in status_line(g)  # short, to leave room for it
    g.resize(120, 41)  # just the window: the whole status line again
    wait_until(lambda: f"{mode} · main shared by" in status_line(g), what="full status")
    assert "you see" not in g.text()
    me.close(force=True)
