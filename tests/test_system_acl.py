"""The POSIX ACL xattr codec, the permission rules, and grants on a real file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import pytest

from pairtui.errors import PairtuiError
from pairtui.system import acl
from pairtui.system.acl import GROUP, GROUP_OBJ, MASK, NO_ID, OTHER, USER, USER_OBJ

OWNER, OWNER_GROUP, GUEST = 1000, 1000, 54321


def test_encode_and_decode_round_trip_in_the_kernels_order() -> None:
    entries = [(OTHER, 0, NO_ID), (USER, 2, GUEST), (MASK, 6, NO_ID), (USER, 1, 4000),
               (GROUP_OBJ, 4, NO_ID), (USER_OBJ, 6, NO_ID)]  # fmt: skip
    data = acl.encode(entries)
    assert len(data) == 4 + 8 * len(entries)
    assert data[:4] == b"\x02\x00\x00\x00"  # version 2, little-endian
    assert acl.decode(data) == [
        (USER_OBJ, 6, NO_ID), (USER, 1, 4000), (USER, 2, GUEST), (GROUP_OBJ, 4, NO_ID),
        (MASK, 6, NO_ID), (OTHER, 0, NO_ID),
    ]  # fmt: skip


def test_decode_refuses_a_version_it_does_not_know() -> None:
    data = b"\x03\x00\x00\x00" + acl.encode([(USER_OBJ, 6, NO_ID)])[4:]
    with pytest.raises(ValueError, match="unknown ACL version 3"):
        acl.decode(data)


def test_a_plain_mode_is_three_entries() -> None:
    assert acl.mode_entries(0o100754) == [(USER_OBJ, 7, NO_ID), (GROUP_OBJ, 5, NO_ID),
                                          (OTHER, 4, NO_ID)]  # fmt: skip


class EffectiveCase(NamedTuple):
    test_id: str
    entries: list[acl.Entry]
    uid: int
    gids: set[int]
    expected: int


BASE = [(USER_OBJ, 6, NO_ID), (GROUP_OBJ, 4, NO_ID), (OTHER, 1, NO_ID)]
EFFECTIVE_CASES = [
    EffectiveCase("owner ignores the mask", [*BASE, (MASK, 0, NO_ID)], OWNER, set(), 6),
    EffectiveCase(
        "a named user is masked", [*BASE, (USER, 7, GUEST), (MASK, 2, NO_ID)], GUEST, set(), 2
    ),
    EffectiveCase("a named user without a mask", [*BASE, (USER, 3, GUEST)], GUEST, set(), 3),
    EffectiveCase(
        "the named user wins over its groups",
        [*BASE, (USER, 1, GUEST), (GROUP, 7, 77), (MASK, 7, NO_ID)],
        GUEST,
        {77},
        1,
    ),
    EffectiveCase("the owning group", BASE, GUEST, {OWNER_GROUP}, 4),
    EffectiveCase(
        "the best of several groups, masked",
        [*BASE, (GROUP, 7, 77), (MASK, 5, NO_ID)],
        GUEST,
        {OWNER_GROUP, 77},
        5,
    ),
    EffectiveCase("anyone else is other", [*BASE, (GROUP, 7, 77)], GUEST, {78}, 1),
]


@pytest.mark.parametrize("case", EFFECTIVE_CASES, ids=[c.test_id for c in EFFECTIVE_CASES])
def test_effective_permission(case: EffectiveCase) -> None:
    assert acl.effective(case.entries, OWNER, OWNER_GROUP, case.uid, case.gids) == case.expected


# --- on a real file (the test's own, so no root is needed) -------------------------------


@pytest.fixture
def plain_file(tmp_path: Path) -> Path:
    path = tmp_path / "sock"
    path.touch()
    path.chmod(0o640)
    try:
        os.setxattr(path, acl.XATTR, acl.encode([*acl.mode_entries(0o640), (USER, 4, GUEST),
                                                 (MASK, 4, NO_ID)]))  # fmt: skip
    except OSError:
        pytest.skip("this file system has no POSIX ACLs")
    os.removexattr(path, acl.XATTR)
    path.chmod(0o640)
    return path


def test_grant_adds_one_entry_and_revoke_restores_the_mode(plain_file: Path) -> None:
    assert not acl.has_entry(plain_file, GUEST)
    assert acl.grant(plain_file, GUEST, {GUEST}, 0o2)
    assert acl.has_entry(plain_file, GUEST)
    entries = acl.decode(os.getxattr(plain_file, acl.XATTR))
    assert (USER, 2, GUEST) in entries
    assert (MASK, 6, NO_ID) in entries  # the owning group's read, and the guest's write
    assert plain_file.stat().st_mode & 0o777 == 0o660  # ls shows the mask as group bits
    assert not acl.grant(plain_file, GUEST, {GUEST}, 0o2)  # already there: nothing added

    assert acl.revoke(plain_file, GUEST)
    assert not acl.has_entry(plain_file, GUEST)
    assert acl.XATTR not in os.listxattr(plain_file)
    assert plain_file.stat().st_mode & 0o777 == 0o640
    assert not acl.revoke(plain_file, GUEST)  # nothing left to revoke


def test_grant_needs_no_entry_where_the_mode_already_lets_in(plain_file: Path) -> None:
    plain_file.chmod(0o642)
    assert not acl.grant(plain_file, GUEST, {GUEST}, 0o2)
    assert acl.XATTR not in os.listxattr(plain_file)


def test_grant_refuses_to_widen_an_entry_it_did_not_make(plain_file: Path) -> None:
    assert acl.grant(plain_file, GUEST, {GUEST}, 0o1)
    with pytest.raises(PairtuiError, match=f"already has an ACL entry for uid {GUEST}"):
        acl.grant(plain_file, GUEST, {GUEST}, 0o2)


def test_revoke_keeps_other_entries(plain_file: Path) -> None:
    assert acl.grant(plain_file, 4000, {4000}, 0o4)
    assert acl.grant(plain_file, GUEST, {GUEST}, 0o2)
    assert acl.revoke(plain_file, GUEST)
    entries = acl.decode(os.getxattr(plain_file, acl.XATTR))
    assert (USER, 4, 4000) in entries and (MASK, 4, NO_ID) in entries
    assert not acl.has_entry(plain_file, GUEST)


def test_a_missing_path_has_no_entry_to_revoke(tmp_path: Path) -> None:
    assert not acl.has_entry(tmp_path / "gone", GUEST)
    assert not acl.revoke(tmp_path / "gone", GUEST)
