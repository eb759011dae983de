"""What ``/proc`` tells about a process: its parent, command line, environment, owner.

tmux knows a client's pid and Unix user but not which guest or peer it serves; the
forced command's ``sh -c`` parent does (its command line and ``SSH_CONNECTION``).
Teardown waits here for the guest user's last process before it removes the user.
Every reader answers "unknown" rather than fail: processes end while being read.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

PROC = Path("/proc")


def parent(pid: int) -> int | None:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
        # The name in parentheses may hold anything: the fields follow its last ")".
        return int(stat.rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def cmdline(pid: int) -> list[str]:
    """Its arguments ([] when unreadable), decoded with replacement characters."""
    try:
        data = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    if not data:
        return []
    return data.removesuffix(b"\0").decode("utf-8", "replace").split("\0")


def environ_var(pid: int, name: str) -> str | None:
    """One variable it started with; None when unset or unreadable (only root may read
    another user's environment)."""
    try:
        data = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return None
    prefix = name.encode() + b"="
    for var in data.split(b"\0"):
        if var.startswith(prefix):
            return var.decode(errors="replace").split("=", 1)[1]
    return None


def user_processes(uid: int) -> list[int]:
    pids = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid:
                    pids.append(int(entry.name))
    return pids
