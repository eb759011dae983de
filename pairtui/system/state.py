"""The record of what ``system setup`` did, so that teardown undoes exactly that.

``system.json`` in the host's state dir lists the user, what pairtui created and every
ACL entry and tmux grant sync made. Root (setup, teardown, sync under sudo) and the host
(sync after each change) both update it, under one lock, and it stays the host's file.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pairtui import paths
from pairtui.errors import PairtuiError
from pairtui.fileutil import atomic_write, locked


@dataclass
class SystemState:
    """What ``system setup`` did (so teardown undoes exactly that) and what sync granted."""

    user: str
    uid: int
    gid: int
    home: str
    created_user: bool
    created_home: bool
    created_ssh_dir: bool
    host_uid: int
    acl_paths: list[str] = field(default_factory=list)
    sockets: list[str] = field(default_factory=list)
    digest: str = ""

    @property
    def authorized_keys(self) -> Path:
        return Path(self.home) / ".ssh" / "authorized_keys"


def state_file() -> Path:
    return paths.state_dir() / "system.json"


def load_state() -> SystemState | None:
    path = state_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return SystemState(**data)
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as exc:
        raise PairtuiError(f"{path} is not a valid system-guest record ({exc})") from None


def save_state(state: SystemState) -> None:
    path = state_file()
    atomic_write(path, json.dumps(asdict(state), indent=2) + "\n", mode=0o600)
    _give_to_host(path, state.host_uid)


def _give_to_host(path: Path, host_uid: int) -> None:
    """Files root writes in the host's state dir stay the host's (so its sync can update)."""
    if os.geteuid() == 0 and host_uid != 0:
        os.chown(path, host_uid, pwd.getpwuid(host_uid).pw_gid)


@contextlib.contextmanager
def state_lock(host_uid: int) -> Iterator[None]:
    path = state_file()
    lock = path.with_name(path.name + ".lock")
    if not lock.exists():
        lock.touch(mode=0o600)
        _give_to_host(lock, host_uid)
    with locked(path):
        yield
