"""The reconcile decision on its own: what a registry or share change means for one
connected guest, without tmux or SSH (the end-to-end side: test_e2e_revocation.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pairtui.events import SHARE_STOPPED
from pairtui.reconcile import (
    EXPIRED,
    NOT_INVITED,
    WITHDRAWN,
    Disconnect,
    SwitchMode,
    Terminal,
    decide,
    may_enter,
)
from pairtui.registry import Guest, Mode

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
SHARES = frozenset({"demo", "other"})


def term(
    share: str = "demo", mode: Mode = Mode.PAIR, former: frozenset[str] = frozenset()
) -> Terminal:
    return Terminal(share=share, former_names=former, registry_mode=mode)


def guest(
    mode: Mode = Mode.PAIR, share: str | None = None, expires: datetime | None = None
) -> Guest:
    return Guest("ada", mode=mode, share=share, expires=expires)


def test_a_guest_the_registry_still_lists_as_it_was_stays() -> None:
    assert decide(term(), guest(), SHARES, NOW) is None


def test_a_key_no_longer_registered_is_kicked_as_withdrawn() -> None:
    assert decide(term(), None, SHARES, NOW) == Disconnect(WITHDRAWN, "kick")


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(seconds=-1)])
def test_an_invitation_that_ran_out_is_kicked_at_its_second(offset: timedelta) -> None:
    g = guest(expires=NOW + offset)
    assert decide(term(), g, SHARES, NOW) == Disconnect(EXPIRED, "kick")


def test_an_invitation_with_time_left_stays() -> None:
    assert decide(term(), guest(expires=NOW + timedelta(seconds=1)), SHARES, NOW) is None


def test_expiry_wins_over_a_stopped_share() -> None:
    """The guest is told the reason that is theirs, not the share's."""
    g = guest(expires=NOW - timedelta(hours=1))
    assert decide(term("gone"), g, SHARES, NOW) == Disconnect(EXPIRED, "kick")


def test_a_stopped_share_sends_its_guests_away_as_a_leave_not_a_kick() -> None:
    assert decide(term("gone"), guest(), SHARES, NOW) == Disconnect(SHARE_STOPPED, "leave")


def test_a_guest_moved_to_another_share_is_no_longer_invited_here() -> None:
    assert decide(term(), guest(share="other"), SHARES, NOW) == Disconnect(NOT_INVITED, "kick")


def test_a_guest_invited_to_this_share_by_name_stays() -> None:
    assert decide(term(), guest(share="demo"), SHARES, NOW) is None


def test_a_guest_invited_by_the_shares_former_name_stays_until_the_registry_follows() -> None:
    renamed = term("demo", former=frozenset({"old"}))
    assert decide(renamed, guest(share="old"), SHARES, NOW) is None


def test_a_former_name_taken_by_a_new_share_is_that_share_not_this_one() -> None:
    renamed = term("demo", former=frozenset({"other"}))
    assert decide(renamed, guest(share="other"), SHARES, NOW) == Disconnect(NOT_INVITED, "kick")


@pytest.mark.parametrize(("was", "now"), [(Mode.PAIR, Mode.VIEW), (Mode.VIEW, Mode.PAIR)])
def test_a_mode_changed_in_the_registry_moves_the_terminal(was: Mode, now: Mode) -> None:
    assert decide(term(mode=was), guest(mode=now), SHARES, NOW) == SwitchMode(now)


def test_a_removed_guest_is_kicked_not_demoted() -> None:
    """Removal beats every other change: no view terminal for a key that is gone."""
    assert decide(term(mode=Mode.PAIR), None, SHARES, NOW) == Disconnect(WITHDRAWN, "kick")


def test_may_enter_answers_the_guest_or_why_not() -> None:
    g = guest()
    assert may_enter(g, NOW) is g
    assert may_enter(None, NOW) == WITHDRAWN
    assert may_enter(guest(expires=NOW), NOW) == EXPIRED
