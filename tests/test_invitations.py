"""The invitation store: only a token's hash is kept, uses are counted under the lock,
and an invitation says why it no longer lets anyone in."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta

import pytest

from pairtui.errors import PairtuiError
from pairtui.invitations import InvitationStore, guest_name, token_hash
from pairtui.registry import Mode


def test_the_token_is_shown_once_and_kept_only_as_its_hash() -> None:
    store = InvitationStore()
    inv, token = store.create(mode=Mode.PAIR, uses=2)
    text = store.path.read_text()
    assert token not in text and token_hash(token) in text
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.find(token) == inv
    assert store.find(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert store.find("") is None and store.find("../../etc") is None
    assert "digest" not in inv.to_json()


def test_uses_are_counted_until_none_is_left() -> None:
    store = InvitationStore()
    inv, _ = store.create(uses=2)
    assert not isinstance(store.use(inv.id), str)
    second = store.use(inv.id)
    assert not isinstance(second, str) and second.used == 2
    assert store.use(inv.id) == "this invitation has been used"


def test_withdrawn_and_expired_say_so() -> None:
    store = InvitationStore()
    inv, _ = store.create(uses=5)
    assert store.revoke(inv.id).unusable() == "this invitation was withdrawn by the host"
    assert store.use(inv.id) == "this invitation was withdrawn by the host"
    soon, _ = store.create(expires=datetime.now(UTC) + timedelta(seconds=60))
    assert soon.unusable() is None
    assert soon.unusable(datetime.now(UTC) + timedelta(seconds=61)) == (
        "this invitation has expired"
    )
    with pytest.raises(PairtuiError, match="no invitation 'nope'"):
        store.revoke("nope")
    with pytest.raises(PairtuiError, match="--uses must be 1 or more"):
        store.create(uses=0)


def test_a_guest_name_is_the_invitations_or_made_from_the_key_and_unique() -> None:
    fp = "SHA256:Ab+cD/eF9xyz"
    assert guest_name("bob", fp, set()) == "bob"
    assert guest_name("", fp, set()) == "guest-abcdef"
    assert guest_name("", fp, {"guest-abcdef", "guest-abcdef-2"}) == "guest-abcdef-3"


def test_the_invitation_line_is_printed_for_each_relay_too() -> None:
    """Through a reverse tunnel an invitation works as any ssh string does."""
    import json

    from support import pairtui

    from pairtui.tunnels import Tunnel, TunnelStore

    TunnelStore().add(Tunnel("vps", "me", "relay.example.org", remote_port=2300))
    TunnelStore().add(Tunnel("pub", "me", "203.0.113.9", remote_port=2400,
                             remote_bind="0.0.0.0"))  # fmt: skip
    res = pairtui("invite", "--json", "--no-server")
    assert res.returncode == 0, res.stderr
    commands = [s["command"] for s in json.loads(res.stdout)["ssh"]]
    user = commands[0].split()[-1].split("@")[0]
    assert user.startswith("inv-")
    assert f"ssh -J me@relay.example.org -p 2300 {user}@localhost" in commands
    assert f"ssh -p 2400 {user}@203.0.113.9" in commands


def test_an_ended_invitation_is_listed_for_a_week_then_dropped_when_the_file_is_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """invitations.json does not grow with every invitation ever made."""
    import dataclasses

    from pairtui import invitations

    store = InvitationStore()
    used, _ = store.create()
    assert not isinstance(store.use(used.id), str)
    withdrawn, _ = store.create(uses=3)
    store.revoke(withdrawn.id)
    expired, _ = store.create(expires=datetime.now(UTC) + timedelta(seconds=1))
    open_one, _ = store.create(uses=5)
    assert [r.id for r in store.load()] == [used.id, withdrawn.id, expired.id, open_one.id]
    ended = {r.id: r.ended for r in store.load()}
    assert ended[used.id] and ended[withdrawn.id] and not ended[open_one.id]
    # An invitation used up by an older pairtui has no "ended": it is stamped, not kept for ever.
    with store._file.edit() as rows:
        rows.append(dataclasses.replace(used, id="legacy", ended="", used=1))
    store.create()  # a write: ended ones are stamped or dropped
    [legacy] = [r for r in store.load() if r.id == "legacy"]
    assert legacy.ended

    later = datetime.now(UTC) + timedelta(days=8)

    class Later(datetime):
        @classmethod
        def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
            return later

    monkeypatch.setattr(invitations, "datetime", Later)
    assert {r.id for r in store.load()} >= {used.id, withdrawn.id, expired.id}  # reads drop nothing
    store.create()
    left = [r.id for r in store.load()]
    assert used.id not in left and withdrawn.id not in left and expired.id not in left
    assert "legacy" not in left
    assert open_one.id in left and len(left) == 3  # the open one and the two made since
