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
from pairtui.shares import Share, resolve_share
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
    Anything else lands in the guest's default share.
    """
    default = _attach_or_say(guest, resolve_share(guest, "", shares))
    arms = [
        f"{shlex.quote(s.name)}) {_attach_or_say(guest, resolve_share(guest, s.name, shares))};;"
        for s in shares
    ]
    if len(arms) > 1:  # with one share every choice ends where the default does
        choice = " ".join([*arms, f"*) {default};;"])
        default = f'case "$SSH_ORIGINAL_COMMAND" in {choice} esac'
    return f"{default}; : {MARKER}{guest.name}"


def _attach_or_say(guest: Guest, target: Share | str) -> str:
    if isinstance(target, str):
        return shlex.join(["echo", f"pairtui: {target}"])
    return shlex.join(target.attach_argv(guest.mode))


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
