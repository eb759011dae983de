"""Attack: an invitation named after an existing guest ignores its own mode and expiry.

README: an invitation's key "is registered as a guest with the invitation's mode,
share and expiry". When ``--name`` names a guest who already exists,
``Admission.accept_invited`` adds the key to that guest (``registry.add(name, [key])``)
and drops the invitation's mode, share and expiry: the host invites ``--name alice
--mode view --expires 1h`` (alice's new laptop, for an hour, to watch) and whoever uses
the token gets alice's pair mode, with no end, in every share.

Real OpenSSH, real tmux, real `pairtui serve`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from support import Server, SshGuest, TmuxHost, add_guest, pairtui, pairtui_json, wait_until

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]


def test_a_view_invitation_for_one_hour_named_after_a_pair_guest_stays_view_for_one_hour(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    _, srv = shared
    add_guest("alice", keys("alice"), "--mode", "pair")
    res = pairtui("invite", "--json", "--name", "alice", "--mode", "view", "--expires", "1h")
    if res.returncode != 0:  # refused up front is a fix too, if it says why in one line
        assert len(res.stderr.splitlines()) == 1 and "alice" in res.stderr, res.stderr
        return
    user = str(json.loads(res.stdout)["ssh"][0]["command"]).split()[-1].split("@")[0]
    g = guests(srv.port, keys("someone"), user=user)
    g.wait_for("MARK-21")
    [client] = wait_until(lambda: pairtui_json("clients") or None, what="the client listed")
    assert client["mode"] == "view", f"invited as view, in as {client['mode']}"
    rows = pairtui_json("guest", "list")
    fp = str(client["fingerprint"])
    expiries = [r.get("expires") for r in rows if fp in json.dumps(r)]
    assert expiries and all(expiries), f"the invited key has no expiry: {rows}"
