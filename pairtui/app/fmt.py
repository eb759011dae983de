"""How times, keys and modes read in the dashboard (pure functions, easy to test)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pairtui.durations import duration  # one place, for the CLI too

if TYPE_CHECKING:
    from pairtui.invitations import Invitation

__all__ = [
    "coarse",
    "duration",
    "expiry",
    "fit_fingerprint",
    "invitation_state",
    "left",
    "peer_host",
    "plural",
    "short_fingerprint",
]


def coarse(seconds: float) -> str:
    """``<1m``, ``4m``, ``2h 03m``: for table columns, which then change at most once a
    minute (a ticking seconds column would redraw the whole table every second)."""
    s = max(0, int(seconds))
    if s < 60:
        return "<1m"
    if s < 3600:
        return f"{s // 60}m"
    return duration(s)


def expiry(expires: datetime | None, now: float) -> str:
    """A countdown for an invitation: ``never``, ``in 1h 59m`` or ``expired``."""
    if expires is None:
        return "never"
    left = expires.timestamp() - now
    if left <= 0:
        return "expired"
    return f"in {duration(left)}"


def invitation_state(invitation: Invitation, now: float) -> str:
    """``open``, ``withdrawn``, ``expired`` or ``used``, as of ``now`` (the dashboard's
    clock); the reasons in the order :meth:`Invitation.unusable` gives them."""
    if invitation.revoked:
        return "withdrawn"
    when = invitation.expires_at()
    if when is not None and when.timestamp() <= now:
        return "expired"
    if invitation.used >= invitation.uses:
        return "used"
    return "open"


def left(invitation: Invitation) -> str:
    """``1 of 3``: the uses an invitation has left, of all it was given."""
    return f"{max(0, invitation.uses - invitation.used)} of {invitation.uses}"


def short_fingerprint(fp: str, keep: int = 8) -> str:
    """``SHA256:AbCdEfGh…`` for tables; the full one is in the detail pane."""
    algo, _, digest = fp.partition(":")
    if not digest:
        return fp[:keep]
    return f"{algo}:{digest[:keep]}…" if len(digest) > keep else fp


def fit_fingerprint(fp: str, width: int) -> str:
    """As much of a fingerprint as ``width`` holds: whole, then without its ``SHA256:``
    (every OpenSSH key has one), then cut with ``…``."""
    if len(fp) <= width:
        return fp
    digest = fp.partition(":")[2] or fp
    if len(digest) <= width:
        return digest
    return digest[: max(1, width - 1)] + "…"


def peer_host(peer: str) -> str:
    """``198.51.100.7`` of ``198.51.100.7:50312``, ``::1`` of ``[::1]:60002``: the
    client's port says nothing to a person (the detail still shows it)."""
    if peer.startswith("[") and "]:" in peer:
        return peer[1 : peer.index("]:")]
    host, sep, port = peer.rpartition(":")
    if sep and host and ":" not in host and port.isdigit():
        return host
    return peer


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
