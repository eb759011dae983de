"""Invitations (issue 17, its first half): `pairtui invite` prints an ssh string whose
user name carries a token; a guest who logs in with it and any key has that key
registered as the invitation says, and lands in the share. Real OpenSSH, real tmux."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support import Server, SshGuest, TmuxHost, add_guest, pairtui, pairtui_json, wait_until

from pairtui.audit import Audit
from pairtui.invitations import InvitationStore
from pairtui.limits import REFUSALS_SHOWN

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]


def invite(*args: str) -> tuple[str, dict[str, object]]:
    """The user name to log in as, and the invitation as --json says it."""
    res = pairtui("invite", "--json", *args)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    user = str(data["ssh"][0]["command"]).split()[-1].split("@")[0]
    assert user.startswith("inv-")
    return user, data


def test_an_invitation_registers_the_guests_key_and_lands_it_in_the_share(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    _, srv = shared
    user, data = invite("--mode", "pair", "--expires", "1h", "--name", "bob")
    assert data["left"] == 1 and "digest" not in data
    token = user.removeprefix("inv-")
    assert token not in Path(InvitationStore().path).read_text()  # only its hash is kept
    g = guests(srv.port, keys("bob"), user=user)
    g.wait_for("MARK-21")
    g.send("echo BOB-$((6*7))\r")
    g.wait_for("BOB-42")  # pair, as invited
    [bob] = [x for x in pairtui_json("guest", "list") if x["name"] == "bob"]
    assert bob["mode"] == "pair" and bob["expires"]
    g.close()
    # From now on the plain string works with that key: it is a guest like any other.
    again = guests(srv.port, keys("bob"))
    again.wait_for("MARK-21")
    [row] = pairtui_json("invite", "list")
    assert (row["left"], row["state"]) == (0, "this invitation has been used")
    invited = [e for e in Audit().read() if e["event"] == "invited"]
    assert [(e["guest"], e["invitation"]) for e in invited] == [("bob", data["id"])]


def test_one_use_lets_one_key_in_and_the_second_is_told_it_was_used(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    _, srv = shared
    user, _ = invite()
    first = guests(srv.port, keys("first"), user=user)
    first.wait_for("MARK-21")
    second = guests(srv.port, keys("second"), user=user)
    assert second.wait_exit() != 0
    assert "pairtui: this invitation has been used" in second.output
    assert "MARK-21" not in second.output
    names = [x["name"] for x in pairtui_json("guest", "list")]
    assert len(names) == 1 and names[0].startswith("guest-")  # named after its key


def test_withdrawn_and_expired_invitations_say_which_and_nothing_else(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    _, srv = shared
    withdrawn, data = invite("--uses", "3")
    assert pairtui("invite", "revoke", str(data["id"])).returncode == 0
    g = guests(srv.port, keys("a"), user=withdrawn)
    assert g.wait_exit() != 0
    assert "pairtui: this invitation was withdrawn by the host" in g.output
    expired, _ = invite("--expires", "2s")
    time.sleep(2.5)
    g = guests(srv.port, keys("b"), user=expired)
    assert g.wait_exit() != 0
    assert "pairtui: this invitation has expired" in g.output
    assert "MARK-21" not in g.output
    assert pairtui_json("guest", "list") == []


def test_a_token_nobody_was_given_is_refused_as_an_unknown_key(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    _, srv = shared
    user, _ = invite()
    wrong = user[:-4] + ("AAAA" if not user.endswith("AAAA") else "BBBB")
    g = guests(srv.port, keys("mallory"), user=wrong, log_level="INFO")
    assert g.wait_exit() != 0
    plain = guests(srv.port, keys("mallory"), log_level="INFO")
    assert plain.wait_exit() != 0
    # Word for word what an unknown key hears: nothing about invitations is told.
    assert g.output.replace(wrong, "guest") == plain.output
    assert "is not registered with this host" in g.output
    assert pairtui_json("guest", "list") == []
    [row] = pairtui_json("invite", "list")
    assert row["left"] == 1  # still there for the colleague it was meant for


def test_an_address_that_tries_wrong_tokens_is_held_off_for_a_minute(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    """Five wrong tokens in a minute, then every invitation login from that address is
    refused for the rest of the minute, the right token too; registered guests are not
    affected, and the guessing costs a few audit lines, not one per try."""
    _, srv = shared
    user, _ = invite()
    for n in range(5):
        wrong = f"inv-{n}" + "x" * 20
        g = guests(srv.port, keys("mallory"), user=wrong, log_level="INFO")
        assert g.wait_exit() != 0
        assert "is not registered with this host" in g.output
    g = guests(srv.port, keys("colleague"), user=user)
    assert g.wait_exit() != 0
    assert "pairtui: too many wrong invitations from your address; try again in" in g.output
    assert "MARK-21" not in g.output
    assert pairtui_json("invite", "list")[0]["left"] == 1  # not used up by the refusal
    refused = [e for e in Audit().read() if e["event"] == "refused"]
    assert 1 <= len(refused) <= REFUSALS_SHOWN  # the rest are counted, not listed
    add_guest("alice", keys("alice"))
    alice = guests(srv.port, keys("alice"))
    alice.wait_for("MARK-21")


def test_a_guest_already_registered_logs_in_as_itself_and_uses_nothing(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    _, srv = shared
    add_guest("alice", keys("alice"), "--mode", "view")
    user, _ = invite("--mode", "pair")
    g = guests(srv.port, keys("alice"), user=user)
    g.wait_for("MARK-21")
    wait_until(lambda: pairtui_json("clients"), what="alice listed")
    [row] = pairtui_json("clients")
    assert (row["guest"], row["mode"]) == ("alice", "view")
    assert pairtui_json("invite", "list")[0]["left"] == 1


def test_an_ask_invitation_knocks_and_the_host_admits_it_door_or_no_door(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    host, srv = shared
    user, data = invite("--admit", "ask", "--mode", "pair", "--name", "gina")
    assert data["admit"] == "ask"
    g = guests(srv.port, keys("gina"), user=user)
    g.wait_for("Read this code to the host:")  # waiting, though the door is closed
    [knock] = wait_until(lambda: pairtui_json("knocks"), what="the knock listed")
    assert (knock["invitation"], knock["mode"]) == (data["id"], "pair")
    assert pairtui_json("guest", "list") == []  # nothing registered before the host says
    res = pairtui("admit", str(knock["id"]))
    assert res.returncode == 0 and "as pair, as its invitation says" in res.stdout, res
    g.wait_for("MARK-21")
    g.send("echo GINA-$((6*7))\r")
    wait_until(lambda: "GINA-42" in host.capture(), what="pair input in the pane")
    [gina] = pairtui_json("guest", "list")
    assert (gina["name"], gina["mode"]) == ("gina", "pair")
    assert pairtui_json("invite", "list")[0]["left"] == 0
