"""What the engine tells its subscribers (the dashboard, the tmux integration)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass
class ClientInfo:
    """A connected guest, as the host sees it."""

    id: str
    guest: str
    fingerprint: str
    peer: str
    share: str
    mode: str
    since: float = field(default_factory=time.time)
    last_input: float | None = None
    cols: int = 80
    rows: int = 24
    tty: str = ""
    pid: int = 0

    def to_json(self) -> dict[str, object]:
        now = time.time()
        return {
            "id": self.id,
            "guest": self.guest,
            "fingerprint": self.fingerprint,
            "peer": self.peer,
            "share": self.share,
            "mode": self.mode,
            "since": _iso(self.since),
            "connected_seconds": round(now - self.since, 1),
            "last_input": _iso(self.last_input) if self.last_input else None,
            "idle_seconds": round(now - (self.last_input or self.since), 1),
            "size": f"{self.cols}x{self.rows}",
            "tmux_client": self.tty,
            "pid": self.pid,
        }


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class ClientJoined:
    client: ClientInfo


@dataclass(frozen=True)
class ClientLeft:
    client: ClientInfo
    reason: str


@dataclass(frozen=True)
class ClientChanged:
    client: ClientInfo


@dataclass(frozen=True)
class AccessRefused:
    peer: str
    fingerprint: str
    reason: str


Event = ClientJoined | ClientLeft | ClientChanged | AccessRefused
