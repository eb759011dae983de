"""The guest registry: an OpenSSH ``authorized_keys`` file that pairtui owns.

Each guest is a ``# pairtui-guest {json}`` comment line (mode, share, expiry: what
authorized_keys cannot say) followed by one line per key, whose comment starts with
``pairtui:NAME``. Comment lines are ignored by sshd, so the file stays valid for a
system sshd, and every key line carries ``restrict,pty`` and the forced command.
Lines pairtui does not own (hand-written keys, comments) are kept where they were.
The lines themselves (reading keys, writing options) are :mod:`pairtui.authorized_keys`.
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from pairtui import paths
from pairtui.authorized_keys import (
    KEY_TAG,
    GuestKey,
    line_for,
    option_expiry,
    parse_entry,
    split_lines,
)
from pairtui.errors import PairtuiError
from pairtui.fileutil import atomic_write, file_stamp, locked

META_PREFIX = "# pairtui-guest "
HEADER = (
    "# Guests of pairtui. Lines tagged pairtui are rewritten by `pairtui guest ...`;\n"
    "# other lines and comments are kept as written.\n"
)
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # always used with fullmatch


class Mode(StrEnum):
    """``view`` guests watch; ``pair`` guests type into the shared panes."""

    VIEW = "view"
    PAIR = "pair"


@dataclass
class Guest:
    """A person invited to join, with one or more keys."""

    name: str
    mode: Mode = Mode.VIEW
    share: str | None = None
    expires: datetime | None = None
    keys: list[GuestKey] = field(default_factory=list)

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires is not None and (now or datetime.now(UTC)) >= self.expires

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "mode": self.mode.value,
            "share": self.share,
            "expires": _iso(self.expires),
            "expired": self.expired(),
            "keys": [k.to_json() for k in self.keys],
            "authorized_keys": [authorized_line(self, k) for k in self.keys],
        }


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if when else None


def forced_command(guest_name: str) -> str:
    """What a system sshd runs for this guest: ``pairtui join``, which execs the tmux attach."""
    return shlex.join([sys.executable, "-m", "pairtui", "join", guest_name])


def authorized_line(guest: Guest, key: GuestKey) -> str:
    """The registry's line for ``key``: a system sshd runs ``pairtui join`` for the guest."""
    return line_for(guest.name, guest.expires, key, forced_command(guest.name))


# --- parsing -----------------------------------------------------------------------


def validate_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise PairtuiError(
            f"invalid guest name {name!r}: use letters, digits, '.', '_' or '-' "
            "(up to 64, starting with a letter or digit)"
        )
    return name


def parse_expiry(text: str, now: datetime | None = None) -> datetime | None:
    """``2h``, ``30m``, ``7d``, ``1w``, an ISO date/time (local unless zoned), or ``never``."""
    text = text.strip()
    if text.lower() in {"never", "none", ""}:
        return None
    now = now or datetime.now(UTC)
    m = re.fullmatch(r"([0-9]+)\s*([smhdw])", text.lower())
    if m:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m[2]]
        try:
            delta = timedelta(**{unit: int(m[1])})
            if not delta:
                raise PairtuiError(f"invalid expiry {text!r}: must be in the future")
            return now + delta
        except (OverflowError, ValueError):
            raise PairtuiError(f"invalid expiry {text!r}: too far in the future") from None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise PairtuiError(
            f"invalid expiry {text!r}: use a duration such as 30m, 2h, 7d "
            "or a date/time such as 2026-12-01T10:00"
        ) from None
    try:
        if when.tzinfo is None:
            when = when.astimezone()  # local time, as the host means it
        when = when.astimezone(UTC)
    except OverflowError:
        raise PairtuiError(f"invalid expiry {text!r}: too far in the future") from None
    if when <= now:
        raise PairtuiError(f"invalid expiry {text!r}: that time has passed")
    return when


@dataclass
class _Doc:
    """The file as parsed: guests plus the order of owned and foreign lines."""

    guests: dict[str, Guest]
    items: list[tuple[str, str]]  # ("raw", line) or ("guest", name)
    foreign: dict[bytes, int] = field(default_factory=dict)  # key blob -> line number


def _meta(line: str) -> Guest | None:
    try:
        meta = json.loads(line[len(META_PREFIX) :])
        guest = Guest(validate_name(str(meta["name"])), Mode(meta.get("mode", "view")))
        share = meta.get("share")
        guest.share = str(share) if share else None
        exp = meta.get("expires")
        if exp:
            when = datetime.fromisoformat(str(exp))
            guest.expires = when if when.tzinfo else when.replace(tzinfo=UTC)
    except (ValueError, KeyError, TypeError, AttributeError, PairtuiError):
        return None  # not ours after all: keep it verbatim
    return guest


def _parse(text: str) -> _Doc:
    doc = _Doc({}, [])
    with_meta: set[str] = set()
    key_expiry: dict[str, datetime] = {}

    def place(name: str) -> Guest:
        if name not in doc.guests:
            doc.guests[name] = Guest(name)
            doc.items.append(("guest", name))
        return doc.guests[name]

    for lineno, raw in enumerate(split_lines(text), 1):
        line = raw.strip()
        if line.startswith(META_PREFIX):
            meta = _meta(line)
            if meta is not None:
                if meta.name not in with_meta:  # a repeated one is dropped: the first wins
                    with_meta.add(meta.name)
                    doc.guests[meta.name] = replace(meta, keys=place(meta.name).keys)
                continue
        elif line and not line.startswith("#"):
            parsed = parse_entry(line)
            if parsed is not None:
                key, options = parsed
                tag, _, rest = key.comment.replace("\t", " ").partition(" ")
                name = tag.removeprefix(KEY_TAG) if tag.startswith(KEY_TAG) else ""
                if NAME_RE.fullmatch(name):
                    place(name).keys.append(GuestKey(key.key, rest.strip()))
                    when = option_expiry(options)
                    if when is not None and (name not in key_expiry or when < key_expiry[name]):
                        key_expiry[name] = when
                    continue
                doc.foreign.setdefault(key.blob, lineno)
        if raw.rstrip() in HEADER.splitlines():
            continue
        doc.items.append(("raw", raw))
    # A guest whose metadata line was lost keeps the expiry its key lines carry for sshd.
    for name, when in key_expiry.items():
        if name not in with_meta:
            doc.guests[name].expires = when
    return doc


def _render(doc: _Doc) -> str:
    out = [HEADER.rstrip("\n")]
    emitted: set[str] = set()
    order = [*doc.items, *(("guest", n) for n in doc.guests)]
    for kind, value in order:
        if kind == "raw":
            out.append(value)
            continue
        guest = doc.guests.get(value)
        if guest is None or value in emitted:
            continue
        emitted.add(value)
        meta = {
            "name": guest.name,
            "mode": guest.mode.value,
            "share": guest.share,
            "expires": _iso(guest.expires),
        }
        out.append(META_PREFIX + json.dumps(meta, separators=(",", ":")))
        out.extend(authorized_line(guest, k) for k in guest.keys)
    return "\n".join(out) + "\n"


# --- the registry --------------------------------------------------------------------


class Registry:
    """Reads and edits the registry file; every edit is locked and atomic."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.registry_file()

    def guests(self) -> dict[str, Guest]:
        return _parse(_read(self.path)).guests

    def get(self, name: str) -> Guest:
        guest = self.guests().get(name)
        if guest is None:
            raise PairtuiError(f"unknown guest {name!r} (see `pairtui guest list`)")
        return guest

    @contextlib.contextmanager
    def _edit(self) -> Iterator[_Doc]:
        with locked(self.path):
            # Under the lock no other writer is mid-write: a temp file is a crashed writer's.
            for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
                stale.unlink(missing_ok=True)
            doc = _parse(_read(self.path))
            yield doc
            atomic_write(self.path, _render(doc).encode("utf-8", "surrogateescape"), mode=0o600)

    def add(
        self,
        name: str,
        keys: Iterable[GuestKey],
        mode: Mode | None = None,
        share: str | None = None,
        expires: datetime | bool | None = False,
    ) -> Guest:
        """Add a guest, or add keys to an existing one (and update what was given).

        As in :meth:`update`, ``expires=False`` keeps the expiry and ``None`` clears it.
        """
        validate_name(name)
        new_keys = list(keys)
        with self._edit() as doc:
            owners = {k.blob: g.name for g in doc.guests.values() for k in g.keys}
            batch: set[bytes] = set()
            for k in new_keys:
                if k.blob in owners:
                    raise PairtuiError(
                        f"key {k.fingerprint} is already registered to guest {owners[k.blob]!r}"
                    )
                if k.blob in doc.foreign:
                    # sshd uses the first line that matches, which would not be pairtui's.
                    raise PairtuiError(
                        f"key {k.fingerprint} is already in {self.path} (line "
                        f"{doc.foreign[k.blob]}, not managed by pairtui); remove that line first"
                    )
                if k.blob in batch:
                    raise PairtuiError(f"key {k.fingerprint} is given twice")
                batch.add(k.blob)
            guest = doc.guests.get(name) or Guest(name)
            doc.guests[name] = guest
            guest.keys.extend(new_keys)
            if mode is not None:
                guest.mode = mode
            if share is not None:
                guest.share = share or None
            if expires is not False:
                guest.expires = expires if isinstance(expires, datetime) else None
            return replace(guest, keys=list(guest.keys))

    def update(
        self,
        name: str,
        mode: Mode | None = None,
        share: str | None = None,
        expires: datetime | bool | None = False,
    ) -> Guest:
        """Change a guest; ``share=""`` lifts the restriction, ``expires=None`` clears expiry."""
        with self._edit() as doc:
            guest = doc.guests.get(name)
            if guest is None:
                raise PairtuiError(f"unknown guest {name!r} (see `pairtui guest list`)")
            if mode is not None:
                guest.mode = mode
            if share is not None:
                guest.share = share or None
            if expires is not False:
                guest.expires = expires if isinstance(expires, datetime) else None
            return replace(guest, keys=list(guest.keys))

    def rename_share(self, old: str, new: str) -> list[str]:
        """Guests invited to share ``old`` are invited to ``new``; returns their names."""
        with self._edit() as doc:
            moved = [g for g in doc.guests.values() if g.share == old]
            for guest in moved:
                guest.share = new
            return [g.name for g in moved]

    def remove(self, name: str, fingerprint: str | None = None) -> Guest:
        """Remove a guest, or only one of its keys."""
        with self._edit() as doc:
            guest = doc.guests.get(name)
            if guest is None:
                raise PairtuiError(f"unknown guest {name!r} (see `pairtui guest list`)")
            if fingerprint is None:
                del doc.guests[name]
                return guest
            gone = _key_by_fingerprint(guest, fingerprint)
            kept = [k for k in guest.keys if k is not gone]
            guest.keys = kept
            if not kept:
                del doc.guests[name]
            return guest


def _key_by_fingerprint(guest: Guest, given: str) -> GuestKey:
    """The key ``given`` names: its SHA256 fingerprint, with or without ``SHA256:``, or
    an unambiguous start of it (as the dashboard shows it, shortened)."""
    text = given.strip().removesuffix("…").removesuffix("...")
    if not text.upper().startswith("SHA256:"):
        text = "SHA256:" + text
    text = "SHA256:" + text[7:]
    exact = [k for k in guest.keys if k.fingerprint == text]
    if exact:
        return exact[0]
    hits = [k for k in guest.keys if k.fingerprint.startswith(text)] if len(text) >= 7 + 6 else []
    if len(hits) == 1:
        return hits[0]
    if hits:
        raise PairtuiError(f"{given!r} matches {len(hits)} keys of guest {guest.name!r}: "
                           "give more of the fingerprint")  # fmt: skip
    have = ", ".join(k.fingerprint for k in guest.keys)
    raise PairtuiError(f"guest {guest.name!r} has no key {given} (its keys: {have})")


@dataclass(frozen=True)
class KeyIndex:
    """Key blob → guest lookup for the server's auth path, rebuilt when the file changes."""

    by_blob: dict[bytes, tuple[Guest, GuestKey]]
    stamp: tuple[int, int, int]

    @classmethod
    def load(cls, path: Path) -> KeyIndex:
        stamp = file_stamp(path)
        guests = _parse(_read(path)).guests
        return cls({k.blob: (g, k) for g in guests.values() for k in g.keys}, stamp)

    def fresh(self, path: Path) -> KeyIndex:
        return self if file_stamp(path) == self.stamp else KeyIndex.load(path)

    def guests(self) -> dict[str, Guest]:
        return {g.name: g for g, _ in self.by_blob.values()}


def _read(path: Path) -> str:
    """The file's text; bytes that are not UTF-8 (a hand-written comment) round-trip as-is."""
    try:
        return path.read_bytes().decode("utf-8", "surrogateescape")
    except FileNotFoundError:
        return ""
