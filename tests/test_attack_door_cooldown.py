"""Attack: a denied knocker comes straight back from another address of its own.

A peer the host has just denied is turned away for a while (``DENIED_COOLDOWN``), but
the cooldown is keyed by the peer's exact address (``Door.denied`` / ``room_for``), not
by the key that was denied nor by the network it came from. The same key comes back at
once from a second address (any 127.0.0.0/8 address here; any of the 2^64 addresses of
an IPv6 /64 on the internet), a fresh knock and a fresh menu on the host's tmux.

Real OpenSSH (``ssh -b`` picks the source address), real tmux, real `pairtui serve`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support import Server, SshGuest, TmuxHost, pairtui, pairtui_json, wait_until

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]


def test_a_denied_key_is_not_taken_again_at_once_from_another_address(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    _, srv = shared
    res = pairtui("door", "open", "--for", "5m")
    assert res.returncode == 0, res
    g = guests(srv.port, keys("eve"), "-b", "127.0.0.1")
    g.wait_for("Read this code to the host:")
    [knock] = wait_until(lambda: pairtui_json("knocks"), what="the knock listed")
    assert pairtui("deny", str(knock["id"])).returncode == 0
    assert g.wait_exit() != 0
    # The same key, a moment later, from a second address of the same machine.
    again = guests(srv.port, keys("eve"), "-b", "127.0.0.2")
    wait_until(
        lambda: "Read this code" in again.output or not again.child.isalive(),
        what="a knock taken or turned away",
    )  # fmt: skip
    assert "Read this code" not in again.output, "the denied key knocks again from 127.0.0.2"
    assert pairtui_json("knocks") == []
