"""The authorized_keys line, the one format pairtui reads and writes for a guest's key.

The registry is an OpenSSH ``authorized_keys`` file, and system guests get one from it:
both write each key as ``restrict,pty[,expiry-time="..."],command="..." KEY pairtui:NAME
[COMMENT]`` through :func:`line_for`, with the forced command as a parameter (``pairtui
join`` in the registry, the literal ``tmux attach`` for system guests). Keys are read
as OpenSSH reads them: what it would refuse is refused, not cleaned up.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncssh

from pairtui.errors import PairtuiError

KEY_TAG = "pairtui:"
KEY_FIELDS_RE = re.compile(r"[ \t]*([^ \t]+)[ \t]+([^ \t]+)(?:[ \t]+(.*))?", re.DOTALL)
"""``TYPE BASE64 [COMMENT]``, split where OpenSSH splits it: at blanks and tabs."""
EXPIRY_OPT_RE = re.compile(
    r'(?:^|,)expiry-time="([0-9]{8}(?:[0-9]{4}(?:[0-9]{2})?)?)([Zz]?)"', re.IGNORECASE
)


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


def line_for(name: str, expires: datetime | None, key: GuestKey, command: str) -> str:
    """Guest ``name``'s line for ``key``: sshd runs ``command`` and nothing else, gives a
    PTY and no forwarding, and refuses the key after ``expires``."""
    opts = ["restrict", "pty"]
    if expires is not None:
        stamp = expires.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")
        opts.append(f'expiry-time="{stamp}"')
    # sshd's option dequoting knows one escape only, \" (a backslash is otherwise literal).
    opts.append('command="{}"'.format(command.replace('"', '\\"')))
    comment = f"{KEY_TAG}{name}" + (f" {key.comment}" if key.comment else "")
    return f"{','.join(opts)} {key.openssh} {comment}"


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


def import_key(text: str) -> GuestKey | None:
    """For the registry file: a line that is no key stays as written, as for sshd."""
    key = _read_key(text)
    return key if isinstance(key, GuestKey) else None


def parse_public_keys(text: str, source: str = "input") -> list[GuestKey]:
    """Parse one or more OpenSSH public keys, one per line; options are not allowed.

    Whatever OpenSSH would refuse is refused, not cleaned up: the key came from someone
    else (a guest's file, a forge), and a host should see what was wrong with it.
    """
    keys: list[GuestKey] = []
    for lineno, raw in enumerate(split_lines(text), 1):
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


def parse_entry(line: str) -> tuple[GuestKey, str] | None:
    """An authorized_keys line as sshd reads it: ``[OPTIONS] TYPE BASE64 [COMMENT]``.

    Returns the key (with the line's comment) and the options text. A line that starts
    with a key has no options; otherwise the options run to the first blank outside
    double quotes, where ``\\"`` is the only escape (OpenSSH's rules, not asyncssh's).
    """
    key = import_key(line)
    if key is not None:
        return key, ""
    i = _options_end(line)
    key = import_key(line[i:])
    return None if key is None else (key, line[:i])


def _options_end(line: str) -> int:
    """Where a line's options end: at the first blank outside double quotes."""
    quoted = False
    i = 0
    while i < len(line) and (quoted or line[i] not in " \t"):
        if line.startswith('\\"', i):
            i += 1
        elif line[i] == '"':
            quoted = not quoted
        i += 1
    return i


def is_key_line(line: str) -> bool:
    """Whether sshd would find a key in ``line``: ``[OPTIONS] TYPE BASE64 [COMMENT]`` whose
    BASE64 is an SSH key blob that names TYPE, of any type (also one asyncssh cannot load,
    such as a certificate), so a hand-written key of the host's is never mistaken for junk.
    """
    if parse_entry(line) is not None:
        return True
    for text in (line, line[_options_end(line) :]):
        fields = KEY_FIELDS_RE.fullmatch(text.rstrip("\r"))
        if fields is not None and _names_type(fields[2], fields[1]):
            return True
    return False


def _names_type(data: str, kind: str) -> bool:
    """An SSH public key blob starts with its type as a length-prefixed string."""
    try:
        blob = base64.b64decode(data, validate=True)
    except ValueError:
        return False
    name = kind.encode("utf-8", "surrogateescape")
    return blob[:4] == len(name).to_bytes(4, "big") and blob[4 : 4 + len(name)] == name


def option_expiry(options: str) -> datetime | None:
    m = EXPIRY_OPT_RE.search(options)
    if not m:
        return None
    try:
        when = datetime.strptime(m[1].ljust(14, "0"), "%Y%m%d%H%M%S")
    except ValueError:
        return None
    # Without a Z, sshd reads the time as local time.
    return when.replace(tzinfo=UTC) if m[2] else when.astimezone().astimezone(UTC)


def split_lines(text: str) -> list[str]:
    """Lines as sshd sees them: only ``\\n`` ends a line (``\\r`` and the like are kept)."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines
