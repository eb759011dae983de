"""POSIX access ACLs, read and written as the kernel's xattr (no ``setfacl`` needed).

The guest user gets exactly one entry per path (write on the tmux socket, search on
the directories above it) and loses exactly that entry again; everything else in an
ACL, and the mode when there was no ACL, is left as it was. The xattr's codec is kept
apart from the file system so that it can be checked on its own.
"""

from __future__ import annotations

import contextlib
import errno
import os
import struct
from pathlib import Path

from pairtui.errors import PairtuiError

XATTR = "system.posix_acl_access"
VERSION = 2
USER_OBJ, USER, GROUP_OBJ, GROUP, MASK, OTHER = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
NO_ID = 0xFFFFFFFF
Entry = tuple[int, int, int]  # (tag, perm, id)


def encode(entries: list[Entry]) -> bytes:
    """The xattr value: a version, then the entries in the order the kernel requires."""
    return struct.pack("<I", VERSION) + b"".join(
        struct.pack("<HHI", *e) for e in sorted(entries, key=lambda e: (e[0], e[2]))
    )


def decode(data: bytes) -> list[Entry]:
    """The entries of an xattr value; ValueError for a version this does not know."""
    (version,) = struct.unpack_from("<I", data)
    if version != VERSION:
        raise ValueError(f"unknown ACL version {version}")
    entries = [struct.unpack_from("<HHI", data, off) for off in range(4, len(data), 8)]
    return [(t, p, i) for t, p, i in entries]


def mode_entries(mode: int) -> list[Entry]:
    """The three entries a plain mode implies (what a path without an ACL has)."""
    return [(USER_OBJ, (mode >> 6) & 7, NO_ID), (GROUP_OBJ, (mode >> 3) & 7, NO_ID),
            (OTHER, mode & 7, NO_ID)]  # fmt: skip


def effective(entries: list[Entry], owner: int, group: int, uid: int, gids: set[int]) -> int:
    """What ``uid`` may do, by POSIX ACL rules (an approximation for several groups)."""
    if uid == owner:
        return next(p for t, p, _ in entries if t == USER_OBJ)
    mask = next((p for t, p, _ in entries if t == MASK), 7)
    for tag, perm, ident in entries:
        if tag == USER and ident == uid:
            return perm & mask
    groups = [
        p & mask
        for t, p, i in entries
        if (t == GROUP_OBJ and group in gids) or (t == GROUP and i in gids)
    ]
    if groups:
        return max(groups)
    return next(p for t, p, _ in entries if t == OTHER)


def _read(path: Path) -> tuple[os.stat_result, list[Entry], bool]:
    """The access ACL of ``path``; a path without one has the three its mode implies."""
    st = path.stat()
    try:
        data = os.getxattr(path, XATTR)
    except OSError as exc:
        if exc.errno not in (errno.ENODATA, errno.ENOTSUP):
            raise
        return st, mode_entries(st.st_mode), False
    try:
        return st, decode(data), True
    except ValueError as exc:
        raise PairtuiError(f"{path}: {exc}") from None


def _write(path: Path, entries: list[Entry]) -> None:
    named = [e for e in entries if e[0] in (USER, GROUP)]
    if not named:
        # Back to a plain mode: the group bits are the owning group's again, no mask.
        mode = path.stat().st_mode & 0o7777
        group = next(p for t, p, _ in entries if t == GROUP_OBJ)
        with contextlib.suppress(OSError):
            os.removexattr(path, XATTR)
        path.chmod((mode & ~0o070) | (group << 3))
        return
    try:
        os.setxattr(path, XATTR, encode(entries))
    except OSError as exc:
        if exc.errno == errno.ENOTSUP:
            raise PairtuiError(
                f"cannot give the guest user access to {path}: its file system has no POSIX "
                "ACLs (keep the tmux socket on one that has, e.g. the default /tmp/tmux-UID)"
            ) from None
        raise


def grant(path: Path, uid: int, gids: set[int], perm: int) -> bool:
    """Give ``uid`` ``perm`` on ``path`` if it lacks it; True when an entry was added."""
    st, entries, _ = _read(path)
    if effective(entries, st.st_uid, st.st_gid, uid, gids) & perm == perm:
        return False
    if any(t == USER and i == uid for t, _, i in entries):
        raise PairtuiError(
            f"{path} already has an ACL entry for uid {uid} without the access a guest needs; "
            f"remove it (setfacl -x u:{uid} {path}) and run setup again"
        )
    mask = next((p for t, p, _ in entries if t == MASK), None)
    if mask is None:
        mask = next(p for t, p, _ in entries if t == GROUP_OBJ)
    entries = [e for e in entries if e[0] != MASK]
    entries += [(USER, perm, uid), (MASK, mask | perm, NO_ID)]
    _write(path, entries)
    return True


def revoke(path: Path, uid: int) -> bool:
    """Remove ``uid``'s entry; the mask shrinks back (and the ACL goes when it was the last)."""
    try:
        _, entries, extended = _read(path)
    except FileNotFoundError:
        return False
    if not extended or not any(t == USER and i == uid for t, _, i in entries):
        return False
    entries = [e for e in entries if not (e[0] == USER and e[2] == uid) and e[0] != MASK]
    group_class = [p for t, p, _ in entries if t in (GROUP_OBJ, USER, GROUP)]
    mask = 0
    for perm in group_class:
        mask |= perm
    _write(path, [*entries, (MASK, mask, NO_ID)])
    return True


def has_entry(path: Path, uid: int) -> bool:
    try:
        _, entries, _ = _read(path)
    except FileNotFoundError:
        return False
    return any(t == USER and i == uid for t, _, i in entries)
