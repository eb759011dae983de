"""The guest registry: an OpenSSH ``authorized_keys`` file that pairtui owns.

Each guest is a ``# pairtui-guest {json}`` comment line (mode, share, expiry: what
authorized_keys cannot say) followed by one line per key, whose comment starts with
``pairtui:NAME``. Comment lines are ignored by sshd, so the file stays valid for a
system sshd, and every key line carries ``restrict,pty`` and the forced command.
Lines pairtui does not own (hand-written keys, comments) are kept where they were.
The lines themselves (reading keys, writing options) are :mod:`pairtui.authorized_keys`.

A registry that cannot be read is an error naming the file and the line
(:class:`RegistryError`), never "no guests": every command refuses to go on, and the
running server keeps the last registry it could read. The file cannot be read when

- it is not text: it holds a NUL byte;
- a ``# pairtui-guest`` line does not parse (its JSON, guest name, mode or expiry);
- a line carries the ``pairtui:`` tag and is not a key line with a valid guest name;
- a line is neither blank, nor a comment, nor a key line as sshd reads it
  (``[OPTIONS] TYPE BASE64 [COMMENT]``, the base64 an SSH key blob naming TYPE).

Anything else is fine: hand-written keys of any type, with any options and comments,
and comments in any encoding are kept as written, as sshd would use them.

The server's :class:`KeyIndex` follows the file; what it takes away from a guest (a
removal, a demotion, an earlier expiry) or a broken file counts only once the content
is settled: the file was replaced by another one (an atomic rename, as pairtui writes
it: complete by construction), or the same content was read twice :data:`SETTLE`
seconds apart. So an editor that truncates the file and writes it again in place
disconnects nobody who is still in the final file. Additions apply at once.

Over 400 lines: the format, what makes a file unreadable, and what the server's index
does about an unreadable or unsettled file are one contract, kept together; the line
format itself already lives in :mod:`pairtui.authorized_keys`. (:class:`KeyIndex`
could move to a module of its own once the engine imports it from there.)
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from pairtui import paths
from pairtui.authorized_keys import (
    KEY_TAG,
    GuestKey,
    is_key_line,
    line_for,
    option_expiry,
    parse_entry,
    split_lines,
)
from pairtui.clock import iso_utc
from pairtui.errors import PairtuiError
from pairtui.fileutil import NO_FILE, Stamp, atomic_write, file_stamp, locked

META_PREFIX = "# pairtui-guest "
HEADER = (
    "# Guests of pairtui. Lines tagged pairtui are rewritten by `pairtui guest ...`;\n"
    "# other lines and comments are kept as written.\n"
)
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # always used with fullmatch
SETTLE = 2.5
"""Seconds the same content must stay before an edit in place takes access away: longer
than an editor's truncate-then-write, even a slow one."""


class RegistryError(PairtuiError):
    """The registry cannot be read: which file, which line (1-based) and why."""

    def __init__(self, path: Path, line: int, why: str) -> None:
        super().__init__(f"cannot read the guest registry {path}, line {line}: {why}")
        self.path = path
        self.line = line
        self.why = why

    def to_json(self) -> dict[str, object]:
        return {"error": str(self), "file": str(self.path), "line": self.line, "why": self.why}


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
            "expires": iso_utc(self.expires) if self.expires else None,
            "expired": self.expired(),
            "keys": [k.to_json() for k in self.keys],
            "authorized_keys": [authorized_line(self, k) for k in self.keys],
        }


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
        return None
    return guest


def _parse(text: str, path: Path) -> _Doc:
    """The file's guests and layout, or :class:`RegistryError` (the rules: the module's
    docstring)."""
    doc = _Doc({}, [])
    with_meta: set[str] = set()
    key_expiry: dict[str, datetime] = {}

    def place(name: str) -> Guest:
        if name not in doc.guests:
            doc.guests[name] = Guest(name)
            doc.items.append(("guest", name))
        return doc.guests[name]

    for lineno, raw in enumerate(split_lines(text), 1):
        if "\0" in raw:
            raise RegistryError(path, lineno, "it holds a NUL byte: this is not a text file")
        line = raw.strip()
        if line.startswith(META_PREFIX):
            meta = _meta(line)
            if meta is None:
                raise RegistryError(path, lineno, "a pairtui-guest line that does not parse")
            if meta.name not in with_meta:  # a repeated one is dropped: the first wins
                with_meta.add(meta.name)
                doc.guests[meta.name] = replace(meta, keys=place(meta.name).keys)
            continue
        if line and not line.startswith("#"):
            parsed = parse_entry(line)
            if parsed is None:
                why = ("a line tagged pairtui: that is not a key line" if KEY_TAG in line
                       else "neither a key line nor a comment")  # fmt: skip
                if KEY_TAG in line or not is_key_line(line):
                    raise RegistryError(path, lineno, why)
            else:
                key, options = parsed
                tag, _, rest = key.comment.replace("\t", " ").partition(" ")
                name = tag.removeprefix(KEY_TAG) if tag.startswith(KEY_TAG) else ""
                if NAME_RE.fullmatch(name):
                    place(name).keys.append(GuestKey(key.key, rest.strip()))
                    when = option_expiry(options)
                    if when is not None and (name not in key_expiry or when < key_expiry[name]):
                        key_expiry[name] = when
                    continue
                if tag.startswith(KEY_TAG):
                    raise RegistryError(path, lineno, f"{tag!r} is not a valid guest name tag")
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
            "expires": iso_utc(guest.expires) if guest.expires else None,
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
        return _parse(_read(self.path), self.path).guests

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
            doc = _parse(_read(self.path), self.path)
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
            _change(guest, mode, share, expires)
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
            _change(guest, mode, share, expires)
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


def _change(
    guest: Guest, mode: Mode | None, share: str | None, expires: datetime | bool | None
) -> None:
    """What :meth:`Registry.add` and :meth:`Registry.update` change alike: what was given
    (``share=""`` lifts the restriction, ``expires=None`` clears it, ``False`` keeps it)."""
    if mode is not None:
        guest.mode = mode
    if share is not None:
        guest.share = share or None
    if expires is not False:
        guest.expires = expires if isinstance(expires, datetime) else None


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


@dataclass
class _Seen:
    """A version of the file the index has read and not taken yet (see :meth:`KeyIndex.fresh`)."""

    stamp: Stamp
    data: bytes
    since: float  # time.monotonic() when this content was first read
    result: KeyIndex | RegistryError


@dataclass
class _Watch:
    seen: _Seen | None = None


@dataclass(frozen=True)
class KeyIndex:
    """Key blob → guest lookup for the server's auth path, rebuilt when the file changes.

    ``problem`` is set while the file cannot be read: the index is then the last one
    that could, and stays so until a good file appears.
    """

    by_blob: dict[bytes, tuple[Guest, GuestKey]]
    stamp: Stamp
    data: bytes = b""  # the content it was built from
    problem: RegistryError | None = None
    _watch: _Watch = field(default_factory=_Watch, compare=False, repr=False)

    @classmethod
    def load(cls, path: Path) -> KeyIndex:
        """The file as it is now, trusted as complete (a pairtui process just wrote it).

        Raises:
            RegistryError: the file cannot be read (the caller keeps what it had).
        """
        stamp = file_stamp(path)
        return cls._build(path, stamp, _read_bytes(path))

    @classmethod
    def _build(cls, path: Path, stamp: Stamp, data: bytes) -> KeyIndex:
        guests = _parse(_decode(data), path).guests
        return cls({k.blob: (g, k) for g in guests.values() for k in g.keys}, stamp, data)

    def fresh(self, path: Path, *, now: float | None = None) -> KeyIndex:
        """The index for the file as it is now, for a watch that cannot know who wrote it.

        One stat when nothing changed. A change that only adds applies at once; one that
        takes access away, or a broken file, only once settled (the module's docstring):
        until then this index is returned, as it is when the file cannot be read.
        """
        stamp = file_stamp(path)
        watch = self._watch
        if stamp == self.stamp:
            watch.seen = None
            return self
        now = time.monotonic() if now is None else now
        seen = watch.seen
        if seen is None or seen.stamp != stamp:
            seen = self._read(path, stamp, seen, now)
        # Another file renamed over the registry is complete; one written in place may not be.
        replaced = stamp[2] not in (self.stamp[2], NO_FILE[2])
        settled = replaced
        if not settled and now - seen.since >= SETTLE:
            again = self._read(path, file_stamp(path), seen, now)
            settled = again is seen
            seen = again
        result = seen.result
        if isinstance(result, RegistryError):
            if not settled:
                return self
            watch.seen = None
            return KeyIndex(self.by_blob, seen.stamp, seen.data, result)
        if settled or not self._taken_away_by(result):
            watch.seen = None
            return result
        return self

    def _read(self, path: Path, stamp: Stamp, seen: _Seen | None, now: float) -> _Seen:
        """The file's content as :class:`_Seen`: ``seen`` itself if the content is the
        same (its first reading time kept), else a new one first read ``now``."""
        data = _read_bytes(path)
        if seen is not None and seen.data == data:
            seen.stamp = stamp
        else:
            result: KeyIndex | RegistryError
            try:
                result = KeyIndex._build(path, stamp, data)
            except RegistryError as exc:
                result = exc
            seen = _Seen(stamp, data, now, result)
        self._watch.seen = seen
        return seen

    def _taken_away_by(self, new: KeyIndex) -> bool:
        """Whether ``new`` removes a key of ours or changes what its guest may do."""
        for blob, (guest, _) in self.by_blob.items():
            hit = new.by_blob.get(blob)
            if hit is None or _terms(hit[0]) != _terms(guest):
                return True
        return False

    def guests(self) -> dict[str, Guest]:
        return {g.name: g for g, _ in self.by_blob.values()}


def _terms(guest: Guest) -> tuple[object, ...]:
    return (guest.name, guest.mode, guest.share, guest.expires)


def _read(path: Path) -> str:
    return _decode(_read_bytes(path))


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def _decode(data: bytes) -> str:
    """Bytes that are not UTF-8 (a hand-written comment) round-trip as-is."""
    return data.decode("utf-8", "surrogateescape")
