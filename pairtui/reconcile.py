"""What a registry or share change means for one connected guest, decided without I/O.

The engine re-reads the registry and the shares when either changes (or once a second)
and must then bring every connection in line: end it, move it to another mode, or leave
it. That decision is the heart of "revoked means out", so it lives here as a pure
function of plain facts, tested without tmux or SSH (tests/test_reconcile.py); the
engine gathers the facts, asks, and carries the answers out.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime

from pairtui.events import SHARE_STOPPED
from pairtui.registry import Guest, Mode

WITHDRAWN = "your invitation was withdrawn"
EXPIRED = "your invitation has expired"
NOT_INVITED = "you are no longer invited to this share"


@dataclass(frozen=True)
class Terminal:
    """What the decision needs to know of one guest terminal."""

    share: str  # the share it shows, after following any rename
    former_names: AbstractSet[str]  # that share's names before renames seen while connected
    registry_mode: Mode  # the mode the registry gave it when last applied


@dataclass(frozen=True)
class Disconnect:
    reason: str  # told to the guest
    event: str  # "kick" (the host's doing) or "leave" (the share went away)


@dataclass(frozen=True)
class SwitchMode:
    mode: Mode


Verdict = Disconnect | SwitchMode | None


def may_enter(guest: Guest | None, now: datetime | None = None) -> Guest | str:
    """The guest a key belongs to now, or why it may not come in (for any connection,
    with a terminal or not; asked again for every terminal: a login is not a licence)."""
    if guest is None:
        return WITHDRAWN
    if guest.expired(now):
        return EXPIRED
    return guest


def decide(
    term: Terminal, guest: Guest | None, shares: AbstractSet[str], now: datetime | None = None
) -> Verdict:
    """What to do with ``term`` now that its key belongs to ``guest`` (None: no longer
    registered) and ``shares`` are the live share names.

    Only a change in the registry moves a client to another mode: a live switch made
    with `pairtui mode` stays until the registry says otherwise (``registry_mode``).
    """
    allowed = may_enter(guest, now)
    if isinstance(allowed, str):
        return Disconnect(allowed, "kick")
    if term.share not in shares:
        return Disconnect(SHARE_STOPPED, "leave")
    invited = allowed.share
    # Invited to this share by a former name: the registry follows a rename right after
    # shares.json does, so for a moment it still says the old one.
    by_old_name = invited in term.former_names and invited not in shares
    if invited and invited != term.share and not by_old_name:
        return Disconnect(NOT_INVITED, "kick")
    if allowed.mode is not term.registry_mode:
        return SwitchMode(allowed.mode)
    return None
