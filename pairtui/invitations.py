"""Invitations: a one-line ssh string that lets a colleague in without sending a key first.

``pairtui invite`` makes a token, shows it once (as the user name ``inv-TOKEN`` of an
ssh string) and keeps only its SHA-256: a copy of ``invitations.json`` lets nobody in.
A guest who logs in with that user name and any key has that key registered as a guest
with the invitation's mode, share and expiry, and one use is counted; from then on the
plain ``ssh guest@host`` works with that key. A wrong token is refused as an unknown key
is (and counted with the peer's other refusals); a used-up, revoked or expired one gets
one line saying which, and nothing else.

An invitation that ended (used up, withdrawn or expired) stays listed for
:data:`KEEP_ENDED` so that the host sees what became of it, then goes the next time
the file is written: the file does not grow with every invitation ever made.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pairtui import paths
from pairtui.clock import iso_utc
from pairtui.errors import PairtuiError
from pairtui.jsonlist import JsonList
from pairtui.registry import Mode

USER_PREFIX = "inv-"
TOKEN_BYTES = 18  # 144 bits: guessing is hopeless, and it stays short enough to paste
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
KEEP_ENDED = timedelta(days=7)  # how long an ended invitation stays listed


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Invitation:
    id: str  # short, for `invite revoke ID` (not the token)
    digest: str  # SHA-256 of the token, hex
    mode: str = Mode.VIEW.value
    share: str = ""  # "" for any share
    name: str = ""  # the guest's name; "" to make one from the key's comment
    expires: str = ""  # UTC ISO; the invitation's and the registered guest's
    uses: int = 1  # how many keys it may register in all
    used: int = 0
    revoked: bool = False
    created: str = ""
    admit: str = "auto"  # "ask": its guest knocks and the host decides (pairtui.door)
    ended: str = ""  # UTC ISO: when it was used up or withdrawn (expiry says itself)

    def expires_at(self) -> datetime | None:
        return datetime.fromisoformat(self.expires) if self.expires else None

    def unusable(self, now: datetime | None = None) -> str | None:
        """Why this invitation lets nobody in any more, in the guest's words; None if
        it still does."""
        if self.revoked:
            return "this invitation was withdrawn by the host"
        when = self.expires_at()
        if when is not None and when <= (now or datetime.now(UTC)):
            return "this invitation has expired"
        if self.used >= self.uses:
            return "this invitation has been used"
        return None

    def ended_at(self, now: datetime) -> datetime | None:
        """When it stopped letting anyone in; None while it still does."""
        if self.unusable(now) is None:
            return None
        when = self.expires_at()
        if when is not None and when <= now:
            return min(when, datetime.fromisoformat(self.ended)) if self.ended else when
        # Used up or withdrawn before this field existed: counted from now on.
        return datetime.fromisoformat(self.ended) if self.ended else now

    def to_json(self) -> dict[str, object]:
        out = asdict(self)
        del out["digest"]  # nobody needs it, and it is all a copy of the file would give
        out["left"] = max(0, self.uses - self.used)
        out["state"] = self.unusable() or "open"
        return out


def _row(row: dict[str, Any]) -> Invitation:
    return Invitation(**row)


class InvitationStore:
    """``invitations.json`` in the state dir (0600, like every state file)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.invitations_file()
        self._file = JsonList(self.path, "invitations", _row, asdict)

    def load(self) -> list[Invitation]:
        return self._file.load()

    def create(
        self,
        *,
        mode: Mode = Mode.VIEW,
        share: str = "",
        name: str = "",
        expires: datetime | None = None,
        uses: int = 1,
        admit: str = "auto",
    ) -> tuple[Invitation, str]:
        """A new invitation and its token (shown once: only its hash is kept)."""
        if uses < 1:
            raise PairtuiError("--uses must be 1 or more")
        if admit not in {"auto", "ask"}:
            raise PairtuiError("--admit must be 'auto' or 'ask'")
        token = secrets.token_urlsafe(TOKEN_BYTES)
        with self._file.edit() as rows:
            _prune(rows)
            taken = {r.id for r in rows}
            ident = next(i for i in (secrets.token_hex(3) for _ in range(100)) if i not in taken)
            invitation = Invitation(
                id=ident, digest=token_hash(token), mode=mode.value, share=share, name=name,
                expires=iso_utc(expires) if expires else "", uses=uses,
                created=iso_utc(datetime.now(UTC)), admit=admit,
            )  # fmt: skip
            rows.append(invitation)
        return invitation, token

    def revoke(self, ident: str) -> Invitation:
        with self._file.edit() as rows:
            for i, row in enumerate(rows):
                if row.id == ident:
                    ended = row.ended or iso_utc(datetime.now(UTC))
                    rows[i] = replace(row, revoked=True, ended=ended)
                    _prune(rows)
                    return rows[i]
        raise PairtuiError(f"no invitation {ident!r} (see `pairtui invite list`)")

    def find(self, token: str) -> Invitation | None:
        """The invitation a token opens, compared in constant time; None if none."""
        if not TOKEN_RE.fullmatch(token):
            return None
        digest = token_hash(token)
        found = None
        for row in self.load():
            if hmac.compare_digest(row.digest, digest):
                found = row
        return found

    def use(self, ident: str) -> Invitation | str:
        """Count one use, under the file's lock; the invitation as it is now, or why it
        can no longer be used (another guest may have taken the last use)."""
        with self._file.edit() as rows:
            for i, row in enumerate(rows):
                if row.id == ident:
                    why = row.unusable()
                    if why is not None:
                        return why
                    used = replace(row, used=row.used + 1)
                    if used.used >= used.uses:
                        used = replace(used, ended=iso_utc(datetime.now(UTC)))
                    rows[i] = used
                    return used
        return "this invitation was withdrawn by the host"


def _prune(rows: list[Invitation], now: datetime | None = None) -> None:
    """Drop invitations that ended more than :data:`KEEP_ENDED` ago (in place); one
    used up or withdrawn by an older pairtui (no ``ended``) is stamped now."""
    now = now or datetime.now(UTC)
    kept = []
    for row in rows:
        end = row.ended_at(now)
        if end is not None and now - end > KEEP_ENDED:
            continue
        if end is not None and not row.ended:
            row = replace(row, ended=iso_utc(end))
        kept.append(row)
    rows[:] = kept


def guest_name(wanted: str, fingerprint: str, taken: set[str]) -> str:
    """The invitation's name, else ``guest-`` and the start of the key's fingerprint (an
    SSH client sends no key comment), made unique with ``-2``, ``-3``…"""
    short = re.sub(r"[^A-Za-z0-9]", "", fingerprint.removeprefix("SHA256:"))[:6].lower()
    base = (wanted or f"guest-{short or 'key'}")[:60]
    if not base[0].isalnum():
        base = f"g{base}"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    return name
