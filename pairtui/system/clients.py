"""System guests connected now: the guest user's tmux clients, and kicking them.

They never pass through pairtui's own server, so tmux's client lists are the record;
which guest (and, for root, which peer) a client serves comes from its forced
command's process in ``/proc``.
"""

from __future__ import annotations

import contextlib
import re
import time
from dataclasses import dataclass
from pathlib import Path

from pairtui.clock import iso_utc
from pairtui.errors import PairtuiError
from pairtui.shares import Share, ShareStore
from pairtui.system import procfs
from pairtui.system.keys_file import MARKER
from pairtui.system.state import SystemState, load_state
from pairtui.tmux import Tmux, TmuxClient, share_of_session

_GUEST = re.compile(re.escape(MARKER) + r"([A-Za-z0-9._-]+)")


@dataclass(frozen=True)
class SystemClient:
    """A tmux client of the guest Unix user: someone who came in through sshd."""

    id: str
    guest: str  # "" when the process tree cannot tell
    user: str
    tty: str
    share: str
    mode: str
    pid: int
    since: float
    activity: float
    cols: int
    rows: int
    peer: str
    socket: str

    def to_json(self) -> dict[str, object]:
        now = time.time()
        return {
            "id": self.id,
            "guest": self.guest,
            "fingerprint": "",
            "peer": self.peer,
            "share": self.share,
            "mode": self.mode,
            "since": iso_utc(self.since),
            "connected_seconds": round(now - self.since, 1),
            "last_input": iso_utc(self.activity),
            "idle_seconds": round(now - self.activity, 1),
            "size": f"{self.cols}x{self.rows}",
            "tmux_client": self.tty,
            "pid": self.pid,
            "via": "sshd",
            "user": self.user,
            "terminal": True,
        }


def origin(pid: int) -> tuple[str, str]:
    """(guest, peer) from the forced command's ``sh -c`` parent; "" what cannot be read."""
    ppid = procfs.parent(pid)
    if ppid is None:
        return "", ""
    guest = next((m[1] for arg in procfs.cmdline(ppid) if (m := _GUEST.search(arg))), "")
    fields = (procfs.environ_var(ppid, "SSH_CONNECTION") or "").split()
    peer = f"{fields[0]}:{fields[1]}" if len(fields) >= 2 else ""
    return guest, peer


def _client_id(tty: str) -> str:
    return "sys-" + tty.removeprefix("/dev/").replace("/", "-")


def known_sockets(state: SystemState, shares: list[Share]) -> list[str]:
    """Every tmux server the guest user was given, or may now be given, access to."""
    return sorted({*state.sockets, *(s.socket for s in shares)})


def clients_on(tmux: Tmux, user: str) -> list[TmuxClient]:
    return [c for c in tmux.clients() if c.user == user]


def list_clients(state: SystemState | None = None) -> list[SystemClient]:
    """Connected system guests, from the tmux client lists; [] when not set up."""
    state = state or load_state()
    if state is None:
        return []
    out = []
    for socket in known_sockets(state, ShareStore().load()):
        for c in clients_on(Tmux(Path(socket)), state.user):
            share = (share_of_session(c.session) or (c.session, ""))[0]
            guest, peer = origin(c.pid)
            out.append(SystemClient(
                _client_id(c.tty), guest, c.user, c.tty, share,
                "view" if c.readonly else "pair", c.pid, float(c.created),
                float(c.activity or c.created), c.width, c.height, peer, socket,
            ))  # fmt: skip
    return out


def kick(target: str, state: SystemState | None = None) -> list[SystemClient]:
    """Detach system clients matching a guest name, client id or tty."""
    found = [c for c in list_clients(state) if target in (c.id, c.guest, c.tty)]
    for c in found:
        with contextlib.suppress(PairtuiError):  # it may have left meanwhile
            Tmux(Path(c.socket)).detach_client(c.tty)
    return found
