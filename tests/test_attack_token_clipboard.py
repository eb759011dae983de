"""Attack: `pairtui invite` sends the invitation's token to a guest's clipboard.

`pairtui invite` puts its ssh line in tmux's paste buffer with ``set-buffer -w``
(``Tmux.copy_to_buffer``), and ``-w`` also sends it over OSC 52 to *a* client's
terminal. Run from outside tmux (a script, the CLI in another terminal, the background
server), tmux picks that client as its "best" one: the most recently active, whatever
its session, so a guest's own terminal when a guest pressed a key last. A view guest
then holds, in its clipboard, an ``inv-TOKEN`` that registers any key it likes with
the invitation's mode: pair, when the host was inviting someone else to type.

Real OpenSSH (the view guest's terminal is what receives it), real tmux with the
host's client attached, real `pairtui serve` and `pairtui invite`.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import pexpect
import pytest
from support import Server, SshGuest, TmuxHost, add_guest, pairtui, wait_until

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]


def clipboard_writes(raw: bytes) -> list[bytes]:
    """What OSC 52 sequences in a terminal's input would put in its clipboard."""
    found = re.findall(rb"\x1b\]52;[a-z]*;([A-Za-z0-9+/=]*)", raw)
    return [base64.b64decode(b) for b in found]


def test_the_invitation_line_never_reaches_a_guests_clipboard(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    host, srv = shared
    me = pexpect.spawn("tmux", ["-S", str(host.socket), "attach-session", "-t", "host"],
                       dimensions=(40, 120), env=dict(os.environ))  # fmt: skip
    try:
        wait_until(lambda: any(c["session"] == "host" for c in host.clients()), what="host")
        me.send("x")  # the host typed a moment ago
        add_guest("bob", keys("bob"), "--mode", "view")
        bob = guests(srv.port, keys("bob"))
        bob.wait_for("MARK-21")
        time.sleep(0.5)
        bob.send("j")  # the view guest pressed a key last (a key tmux drops, read-only)
        time.sleep(0.5)
        res = pairtui("invite", "--json", "--mode", "pair", "--tmux-socket", str(host.socket))
        assert res.returncode == 0, res.stderr
        user = str(json.loads(res.stdout)["ssh"][0]["command"]).split()[-1].split("@")[0]
        assert user.startswith("inv-")
        wait_until(lambda: user in host.run("show-buffer", "-b", "pairtui"), what="the buffer")
        time.sleep(1)
        bob.pump(0.5)
        leaked = [w for w in clipboard_writes(bob.raw) if user.encode() in w]
        assert leaked == [], f"the view guest's terminal was handed {leaked}"
    finally:
        me.close(force=True)
