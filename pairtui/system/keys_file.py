"""The guest user's ``~/.ssh/authorized_keys``, rendered from the registry and shares.

Every line confines one key of one guest: ``restrict,pty[,expiry-time=...]`` and a
forced command that is the literal tmux attach for that guest's share and mode (the
guest user cannot read the registry, so the line must not need it). sshd's
``AuthorizedKeysCommand`` answers with the same lines, one key at a time.
"""

from __future__ import annotations

import hashlib
import os
import shlex
from collections.abc import Iterable

from pairtui.authorized_keys import GuestKey, line_for
from pairtui.fileutil import atomic_write
from pairtui.registry import Guest
from pairtui.shares import Share, may_join, resolve_share
from pairtui.system.state import SystemState

# Ends every forced command, so that /proc tells which guest a tmux client belongs to.
MARKER = "pairtui-guest="
FILE_HEADER = (
    "# Written by pairtui (`pairtui system setup`) from its guest registry, and rewritten\n"
    "# on every guest or share change. Do not edit: use `pairtui guest ...`.\n"
)


def forced_command(guest: Guest, shares: list[Share]) -> str:
    """What sshd runs for this guest: its confined tmux attach, or one line saying why not.

    As with the embedded server, ``ssh -t guest@host SHARE`` picks a share by name: the
    command the guest asked for (``$SSH_ORIGINAL_COMMAND``) is only ever compared with
    the names of the shares, quoted, in a ``case``; it is never run or expanded further.
    A name the guest may not join gets the names it may; no name joins the only share
    the guest may join, or, with several, asks which (a number or a name, read into a
    variable that is again only compared in a ``case``).
    """
    allowed = [s for s in shares if may_join(guest, s) and not s.expired()]
    first = resolve_share(guest, "", shares)
    if isinstance(first, str):
        return f"{_say(first)}; : {MARKER}{guest.name}"
    names = ", ".join(s.name for s in allowed)
    if isinstance(first, Share):
        none = _attach(guest, first)
    else:
        menu = [f"pairtui: {len(allowed)} shares you may join:"]
        menu += [f"  {i}) {s.name}" for i, s in enumerate(allowed, 1)]
        picks = " ".join(
            f"{i}|{shlex.quote(s.name)}) {_attach(guest, s)};;" for i, s in enumerate(allowed, 1)
        )
        none = (
            f"printf '%s\\n' {shlex.join(menu)}; printf 'join which (number or name)? '; "
            f'read -r pick; case "$pick" in {picks} *) {_say("nothing joined")};; esac'
        )
    arms = " ".join(f"{shlex.quote(s.name)}) {_attach(guest, s)};;" for s in allowed)
    other = _say(f"no such share for you; you may join: {names}")
    return (
        f"case \"$SSH_ORIGINAL_COMMAND\" in '') {none};; {arms} *) {other};; esac; "
        f": {MARKER}{guest.name}"
    )


def _attach(guest: Guest, share: Share) -> str:
    return shlex.join(share.attach_argv(guest.mode))


def _say(text: str) -> str:
    return shlex.join(["echo", f"pairtui: {text}"])


def key_line(guest: Guest, key: GuestKey, command: str) -> str:
    """The guest user's line for ``key``: the registry's format, this ``command``."""
    return line_for(guest.name, guest.expires, key, command)


def render(guests: Iterable[Guest], shares: list[Share]) -> str:
    """The guest user's authorized_keys: one line per key of every unexpired guest."""
    out = [FILE_HEADER.rstrip("\n")]
    for guest in guests:
        if guest.expired() or not guest.keys:
            continue
        command = forced_command(guest, shares)
        out.append(f"# guest {guest.name}: {guest.mode.value}")
        out.extend(key_line(guest, key, command) for key in guest.keys)
    return "\n".join(out) + "\n"


def key_count(text: str) -> int:
    """The key lines in a rendered file (comments and blank lines aside)."""
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def digest(text: str) -> str:
    """Recorded at each root write: the host, who cannot read the file, compares this."""
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def written_by_pairtui(text: str) -> bool:
    """Only a file that starts with pairtui's header is pairtui's to rewrite or remove."""
    return text.startswith(FILE_HEADER.splitlines()[0])


def read_keys_file(state: SystemState) -> str | None:
    try:
        return state.authorized_keys.read_bytes().decode("utf-8", "surrogateescape")
    except FileNotFoundError:
        return None


def write_keys_file(state: SystemState, text: str) -> None:
    """Root-owned, readable by the guest's group only (sshd reads it as the guest)."""
    path = state.authorized_keys
    atomic_write(path, text.encode("utf-8", "surrogateescape"), mode=0o640)
    os.chown(path, 0, state.gid)
