"""The guest registry: an OpenSSH ``authorized_keys`` file that pairtui owns.

Each guest is a ``# pairtui-guest {json}`` comment line (mode, share, expiry: what
authorized_keys cannot say) followed by one line per key, whose comment starts with
``pairtui:NAME``. Comment lines are ignored by sshd, so the file stays valid for a
system sshd, and every key line carries ``restrict,pty`` and the forced command.
Lines pairtui does not own (hand-written keys, comments) are kept where they were.
"""

from __future__ import annotations

import base64
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

import asyncssh

from pairtui import paths
from pairtui.errors import PairtuiError
from pairtui.fileutil import atomic_write, file_stamp, locked

META_PREFIX = "# pairtui-guest "
KEY_TAG = "pairtui:"
HEADER = (
    "# Guests of pairtui. Lines tagged pairtui are rewritten by `pairtui guest ...`;\n"
    "# other lines and comments are kept as written.\n"
)
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # always used with fullmatch
KEY_FIELDS_RE = re.compile(r"[ \t]*([^ \t]+)[ \t]+([^ \t]+)(?:[ \t]+(.*))?", re.DOTALL)
"""``TYPE BASE64 [COMMENT]``, split where OpenSSH splits it: at blanks and tabs."""
EXPIRY_OPT_RE = re.compile(
    r'(?:^|,)expiry-time="([0-9]{8}(?:[0-9]{4}(?:[0-9]{2})?)?)([Zz]?)"', re.IGNORECASE
)


class Mode(StrEnum):
    """``view`` guests watch; ``pair`` guests type into the shared panes."""

    VIEW = "view"
    PAIR = "pair"


@dataclass(frozen=True)
class GuestKey:
    """One public key of a guest; ``key`` has the comment stripped."""

    key: asyncssh.SSHKey
    comment: str = ""

    @property
    def algorithm(self) -> str:
        return self.key.get_algorithm()

    @property
    def fingerprint(self) -> str:
        return self.key.get_fingerprint("sha256")

    @property
    def openssh(self) -> str:
        return self.key.export_public_key("openssh").decode().strip()

    @property
    def blob(self) -> bytes:
        return self.key.public_data

    def to_json(self) -> dict[str, str]:
        return {"type": self.algorithm, "fingerprint": self.fingerprint, "comment": self.comment}


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
    opts = ["restrict", "pty"]
    if guest.expires is not None:
        stamp = guest.expires.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")
        opts.append(f'expiry-time="{stamp}"')
    # sshd's option dequoting knows one escape only, \" (a backslash is otherwise literal).
    command = forced_command(guest.name).replace('"', '\\"')
    opts.append(f'command="{command}"')
    comment = f"{KEY_TAG}{guest.name}" + (f" {key.comment}" if key.comment else "")
    return f"{','.join(opts)} {key.openssh} {comment}"


# --- parsing -----------------------------------------------------------------------


def validate_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise PairtuiError(
            f"invalid guest name {name!r}: use letters, digits, '.', '_' or '-' "
            "(up to 64, starting with a letter or digit)"
        )
    return name


def _read_key(text: str) -> GuestKey | str:
    """``TYPE BASE64 [COMMENT]`` as OpenSSH reads it, or why it is not a key.

    Fields end at blanks and tabs only; the base64 must be exactly base64 (a lenient
    decoder skips a NUL or an escape byte inside it, where OpenSSH refuses the key), and
    decode to a key of the stated type. The comment is free text, as for OpenSSH.
    """
    fields = KEY_FIELDS_RE.fullmatch(text)
    if fields is None:
        return ""
    kind, data, comment = fields.groups()
    try:
        key = asyncssh.import_public_key(f"{kind} {data}")
    except (asyncssh.KeyImportError, ValueError):
        return ""
    try:
        base64.b64decode(data, validate=True)
    except ValueError:  # binascii.Error, or a character that is not even ASCII
        return "its key data is not valid base64"
    key.set_comment(None)
    return GuestKey(key, (comment or "").strip())


def _import_key(text: str) -> GuestKey | None:
    """For the registry file: a line that is no key stays as written, as for sshd."""
    key = _read_key(text)
    return key if isinstance(key, GuestKey) else None


def parse_public_keys(text: str, source: str = "input") -> list[GuestKey]:
    """Parse one or more OpenSSH public keys, one per line; options are not allowed.

    Whatever OpenSSH would refuse is refused, not cleaned up: the key came from someone
    else (a guest's file, a forge), and a host should see what was wrong with it.
    """
    keys: list[GuestKey] = []
    for lineno, raw in enumerate(_split_lines(text), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "PRIVATE KEY" in line:
            raise PairtuiError(f"{source} holds a private key; give the public key (.pub) instead")
        key = "it holds a NUL byte" if "\0" in line else _read_key(line)
        if not isinstance(key, GuestKey):
            where = f"{source}, line {lineno}" if lineno > 1 else source
            why = f" ({key})" if key else ""
            raise PairtuiError(f"{where}: not an OpenSSH public key{why}")
        keys.append(key)
    if not keys:
        raise PairtuiError(f"{source}: no public key found")
    return keys


def _parse_entry(line: str) -> tuple[GuestKey, str] | None:
    """An authorized_keys line as sshd reads it: ``[OPTIONS] TYPE BASE64 [COMMENT]``.

    Returns the key (with the line's comment) and the options text. A line that starts
    with a key has no options; otherwise the options run to the first blank outside
    double quotes, where ``\\"`` is the only escape (OpenSSH's rules, not asyncssh's).
    """
    key = _import_key(line)
    if key is not None:
        return key, ""
    quoted = False
    i = 0
    while i < len(line) and (quoted or line[i] not in " \t"):
        if line.startswith('\\"', i):
            i += 1
        elif line[i] == '"':
            quoted = not quoted
        i += 1
    key = _import_key(line[i:])
    return None if key is None else (key, line[:i])


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


def _option_expiry(options: str) -> datetime | None:
    m = EXPIRY_OPT_RE.search(options)
    if not m:
        return None
    try:
        when = datetime.strptime(m[1].ljust(14, "0"), "%Y%m%d%H%M%S")
    except ValueError:
        return None
    # Without a Z, sshd reads the time as local time.
    return when.replace(tzinfo=UTC) if m[2] else when.astimezone().astimezone(UTC)


def _split_lines(text: str) -> list[str]:
    """Lines as sshd sees them: only ``\\n`` ends a line (``\\r`` and the like are kept)."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def _parse(text: str) -> _Doc:
    doc = _Doc({}, [])
    with_meta: set[str] = set()
    key_expiry: dict[str, datetime] = {}

    def place(name: str) -> Guest:
        if name not in doc.guests:
            doc.guests[name] = Guest(name)
            doc.items.append(("guest", name))
        return doc.guests[name]

    for lineno, raw in enumerate(_split_lines(text), 1):
        line = raw.strip()
        if line.startswith(META_PREFIX):
            meta = _meta(line)
            if meta is not None:
                if meta.name not in with_meta:  # a repeated one is dropped: the first wins
                    with_meta.add(meta.name)
                    doc.guests[meta.name] = replace(meta, keys=place(meta.name).keys)
                continue
        elif line and not line.startswith("#"):
            parsed = _parse_entry(line)
            if parsed is not None:
                key, options = parsed
                tag, _, rest = key.comment.replace("\t", " ").partition(" ")
                name = tag.removeprefix(KEY_TAG) if tag.startswith(KEY_TAG) else ""
                if NAME_RE.fullmatch(name):
                    place(name).keys.append(GuestKey(key.key, rest.strip()))
                    when = _option_expiry(options)
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
