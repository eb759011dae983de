"""Reading and parsing guests' public keys from what the host gives: a key, a file, or
``FORGE:USER``.

The CLI's ``--key`` and the dashboard's key field read through :func:`read_key_source`,
so both accept and refuse the same things; a forge user is only checked there (no
network) and its keys are fetched by :func:`fetch`, which may block.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pairtui.authorized_keys import GuestKey, parse_public_keys
from pairtui.errors import PairtuiError
from pairtui.forges import USER_RE, fetch_keys

KEY_PREFIXES = ("ssh-", "ecdsa-", "sk-")
MAX_KEY_FILE = 1 << 20


@dataclass(frozen=True)
class KeySource:
    """Keys already read, or a forge user whose keys :func:`fetch` gets."""

    keys: tuple[GuestKey, ...] = ()
    forge: str | None = None
    user: str | None = None


def ways(forges: Iterable[str]) -> str:
    """What can be given, for messages: ``a public key, the path of a .pub file, or ...``."""
    users = " / ".join(f"{forge}:USER" for forge in forges)
    return "a public key, the path of a .pub file" + (f", or {users}" if users else "")


def forge_user(forge: str, user: str) -> KeySource:
    """A forge user, checked as :func:`~pairtui.forges.fetch_keys` checks it."""
    if not USER_RE.fullmatch(user):
        raise PairtuiError(f"invalid {forge} user name {user!r}")
    return KeySource(forge=forge, user=user)


def read_key_source(text: str, forges: Iterable[str]) -> KeySource:
    """``FORGE:USER`` for any forge in ``forges``, the path of a key file, or a pasted key.

    Raises:
        PairtuiError: nothing given, a bad forge user name, or a key or file that is
            not an OpenSSH public key (the message says which and why).
    """
    known = {forge.lower(): forge for forge in forges}
    text = text.strip()
    if not text:
        raise PairtuiError(f"give {ways(known.values())}")
    name, sep, user = text.partition(":")
    if sep and name.lower() in known:
        return forge_user(known[name.lower()], user)
    # A file first: `--key ssh-alice.pub` is a file name.
    if not _is_file(text) and (text.startswith(KEY_PREFIXES) or "PRIVATE KEY" in text):
        return KeySource(tuple(parse_public_keys(text, source="the pasted key")))
    return KeySource(tuple(read_key_file(text, known.values())))


def _is_file(text: str) -> bool:
    """False, not an error, for a pasted key too long to be a file name or holding a NUL."""
    try:
        return Path(text).expanduser().is_file()
    except (OSError, ValueError):
        return False


def read_key_file(name: str, forges: Iterable[str] = ()) -> list[GuestKey]:
    """The keys in a file (at most its first MiB: no key file is bigger)."""
    path = Path(name).expanduser()
    if not path.exists():
        raise PairtuiError(f"cannot read key file {name!r}: no such file (give {ways(forges)})")
    try:
        with path.open(encoding="utf-8") as f:
            content = f.read(MAX_KEY_FILE)
    except (OSError, UnicodeDecodeError) as exc:
        raise PairtuiError(f"cannot read key file {name}: {exc}") from None
    return parse_public_keys(content, source=name)


def fetch(source: KeySource, forges: Mapping[str, str], timeout: float = 10.0) -> list[GuestKey]:
    """The source's keys, fetched from its forge (``forges``: name -> base URL) if it
    names a user; blocks for as long as the forge takes, up to ``timeout`` per request."""
    if source.forge is None or source.user is None:
        return list(source.keys)
    base = forges.get(source.forge)
    if base is None:
        raise PairtuiError(f"no forge {source.forge!r} in the config (known: {', '.join(forges)})")
    return fetch_keys(source.forge, base, source.user, timeout)
