"""Attack: log in as a registered guest holding only its *public* key.

asyncssh calls ``validate_public_key`` for a key *query* (no signature) as well as for
the signed request. pairtui's ``GuestConnection.validate_public_key`` remembers the
guest of any registered key it is asked about (``self.guest``), proven or not, and
answers True without touching ``self.guest`` for a key that knocks (the door open) or
comes with an invitation. So a client queries a registered guest's public key (public
by nature: a forge serves it at ``https://github.com/USER.keys``), is told "ok", cannot
sign with it, offers its own key, which knocks and signs, and ``auth_completed`` finds
``self.guest`` already set: it is logged in as that guest, no knock, no host.

The real OpenSSH client does exactly this unaided when its first identity is a public
key without its private key (``-i alice.pub``): it queries, cannot sign, goes on to the
next identity. Real tmux, real `pairtui serve`.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support import Server, SshGuest, TmuxHost, add_guest, pairtui, pairtui_json, wait_until

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]


def public_only(key: Path, where: Path) -> Path:
    """Alice's public key as anyone can fetch it; her private key stays hers."""
    where.mkdir(exist_ok=True)
    pub = where / "alice.pub"
    shutil.copy(f"{key}.pub", pub)
    return pub


def test_a_stranger_with_a_guests_public_key_does_not_log_in_as_that_guest_at_an_open_door(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect,
    tmp_path: Path,
) -> None:  # fmt: skip
    host, srv = shared
    add_guest("alice", keys("alice"), "--mode", "pair")
    alice_pub = public_only(keys("alice"), tmp_path / "fetched")
    res = pairtui("door", "open", "--for", "5m")
    assert res.returncode == 0, res
    g = guests(srv.port, keys("mallory"), "-i", str(alice_pub))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "Read this code" not in g.text():
        if "MARK-21" in g.text():
            break
        time.sleep(0.1)
    # At most it knocks with its own key, as any stranger at an open door does.
    assert "MARK-21" not in g.text(), "in the share as alice, with only her public key"
    assert not [c for c in host.clients() if c["session"].startswith("pairtui-")]
    joined = [c for c in pairtui_json("clients") if c.get("guest") == "alice"]
    assert joined == []


def test_a_stranger_with_a_guests_public_key_does_not_log_in_as_that_guest_with_a_token(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect,
    tmp_path: Path,
) -> None:  # fmt: skip
    """The same with any open invitation (a view invitation, one use): the query
    of alice's key makes the invited key log in as alice, in pair mode."""
    _, srv = shared
    add_guest("alice", keys("alice"), "--mode", "pair")
    alice_pub = public_only(keys("alice"), tmp_path / "fetched")
    res = pairtui("invite", "--json", "--mode", "view")
    assert res.returncode == 0, res.stderr
    user = str(json.loads(res.stdout)["ssh"][0]["command"]).split()[-1].split("@")[0]
    g = guests(srv.port, keys("mallory"), "-i", str(alice_pub), user=user)
    g.wait_for("MARK-21")  # the invitation lets mallory's own key in: as a new view guest
    [client] = wait_until(
        lambda: [c for c in pairtui_json("clients") if c.get("share") == "main"] or None,
        what="the client listed",
    )
    assert client["guest"] != "alice", "logged in as alice, with only her public key"
    assert client["mode"] == "view"
