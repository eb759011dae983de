"""What the engine tells its subscribers (the dashboard, the tmux integration)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from pairtui.clock import iso_utc

SHARE_STOPPED = "the host stopped this share"
RECORDING_STOPPED = "the host stopped it"  # why a recording the host stopped ended
SHARE_EXPIRED = "this share's time ran out"
"""Why a guest left when its share went away: the host did it, so tmux need not say it."""
SESSION_ENDED = "the shared tmux session ended"
"""Why a guest left when the last window of what it was shown closed."""


@dataclass(frozen=True)
class ClientInfo:
    """A connected guest, as the host sees it at one moment: a snapshot, replaced (never
    changed in place) when something about the client changes, so an event or a reply
    keeps saying what it said."""

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
    via: str = ""  # the tunnel it came through; ``peer`` is then what the relay reported

    @property
    def origin(self) -> str:
        """Where the guest is, for people: ``198.51.100.7:50312 via vps``."""
        return where(self.peer, self.via)

    @property
    def terminal(self) -> bool:
        """False for a login that has opened no terminal (``ssh -N``, a ControlMaster)."""
        return bool(self.tty)

    def to_json(self) -> dict[str, object]:
        now = time.time()
        return {
            "id": self.id,
            "guest": self.guest,
            "fingerprint": self.fingerprint,
            "peer": self.peer,
            "via": self.via,
            "share": self.share,
            "mode": self.mode,
            "since": iso_utc(self.since),
            "connected_seconds": round(now - self.since, 1),
            "last_input": iso_utc(self.last_input) if self.last_input else None,
            "idle_seconds": round(now - (self.last_input or self.since), 1),
            "size": f"{self.cols}x{self.rows}",
            "tmux_client": self.tty,
            "pid": self.pid,
            "terminal": self.terminal,
        }


def where(peer: str, via: str) -> str:
    return f"{peer} via {via}" if via else peer


@dataclass(frozen=True)
class ClientJoined:
    client: ClientInfo


@dataclass(frozen=True)
class ClientLeft:
    client: ClientInfo
    reason: str
    kicked: bool = False  # put out (by the host, a revocation, a limit), not gone by itself


@dataclass(frozen=True)
class ClientChanged:
    client: ClientInfo


@dataclass(frozen=True)
class AccessRefused:
    peer: str
    fingerprint: str
    reason: str
    via: str = ""

    @property
    def origin(self) -> str:
        return where(self.peer, self.via)


@dataclass(frozen=True)
class TunnelInfo:
    """A reverse tunnel's state at one moment; a new one replaces it on every change.

    ``state`` is ``disabled``, ``connecting``, ``up``, ``retrying`` or ``failed``;
    ``since`` is when it entered that state, ``retry_at`` when the next attempt starts.
    """

    name: str
    relay: str
    remote: str
    state: str
    since: float = field(default_factory=time.time)
    reason: str = ""
    retry_at: float | None = None
    attempts: int = 0
    forwarded: int = 0

    def describe(self, now: float | None = None) -> str:
        """One line for people: ``up since 14:03:22``, ``retrying in 4 s (refused)``."""
        now = time.time() if now is None else now
        if self.state == "up":
            return f"up since {datetime.fromtimestamp(self.since).strftime('%H:%M:%S')}"
        if self.state == "retrying":
            wait = max(0, math.ceil((self.retry_at or now) - now))
            return f"retrying in {wait} s ({self.reason})"
        if self.state == "failed":
            return f"failed: {self.reason}"
        if self.state == "connecting" and self.reason:
            return f"connecting (attempt {self.attempts + 1}; last: {self.reason})"
        return self.state

    def to_json(self) -> dict[str, object]:
        now = time.time()
        return {
            "name": self.name,
            "relay": self.relay,
            "remote": self.remote,
            "state": self.state,
            "since": iso_utc(self.since),
            "reason": self.reason or None,
            "retry_in": None if self.retry_at is None else round(max(0.0, self.retry_at - now), 1),
            "attempts": self.attempts,
            "forwarded": self.forwarded,
            "summary": self.describe(now),
        }


@dataclass(frozen=True)
class TunnelChanged:
    """A tunnel changed state; only the newest one per tunnel name matters."""

    tunnel: TunnelInfo


@dataclass(frozen=True)
class KnockInfo:
    """A guest waiting at the door (pairtui.door), as the host is shown it."""

    id: str
    code: str  # what the guest reads out
    peer: str
    fingerprint: str
    via: str = ""
    share: str = ""
    invitation: str = ""  # the --admit ask invitation it came with
    mode: str = "view"
    since: float = field(default_factory=time.time)


@dataclass(frozen=True)
class Knocked:
    """Someone knocks (``waiting``), or its knock ended: ``admitted``, ``denied`` or
    ``gone`` (it gave up, timed out or hung up)."""

    knock: KnockInfo
    state: str


@dataclass(frozen=True)
class DoorState:
    """Whether unregistered keys may knock (pairtui.door), at one moment: open until
    ``until`` (``time.time()``; 0 when closed), for ``share`` ("" any)."""

    until: float = 0.0
    share: str = ""

    def seconds_left(self, now: float | None = None) -> float:
        return max(0.0, self.until - (time.time() if now is None else now))

    def is_open(self, now: float | None = None) -> bool:
        return self.seconds_left(now) > 0

    def to_json(self) -> dict[str, object]:
        """As ``pairtui door --json`` shows it (with ``waiting``, which the door adds)."""
        left = self.seconds_left()
        return {"open": left > 0, "seconds_left": round(left), "share": self.share or None}


@dataclass(frozen=True)
class DoorChanged:
    """The host opened or closed the door, or it closed by itself (``timed_out``): the
    dashboard shows it without asking the engine every second."""

    door: DoorState
    timed_out: bool = False


@dataclass(frozen=True)
class RecordingInfo:
    """One recording of a share (pairtui.recording), at one moment."""

    share: str
    path: str
    started: float  # time.time()
    input: bool  # what guests typed is kept too (``record --input``)
    state: str  # "recording" or "stopped"
    reason: str = ""  # why it stopped: the host, a cap, a full disk, the share's end
    size: int = 0  # bytes written so far

    def to_json(self) -> dict[str, object]:
        return {"share": self.share, "path": self.path, "started": iso_utc(self.started),
                "input": self.input, "state": self.state, "reason": self.reason or None,
                "size": self.size}  # fmt: skip


@dataclass(frozen=True)
class RecordingChanged:
    """A recording started or stopped (and why): guests' and host's marks follow it."""

    recording: RecordingInfo


Event = (
    ClientJoined | ClientLeft | ClientChanged | AccessRefused | TunnelChanged | Knocked
    | DoorChanged | RecordingChanged
)  # fmt: skip


class EventBus:
    """Who gets the engine's events: the one subscribe/emit that the in-process engine
    and a dashboard's connection to a running server (control.client) both use."""

    def __init__(self) -> None:
        self._subscribers: list[Callable[[Event], None]] = []

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Add ``callback``; returns what removes it again."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def __len__(self) -> int:
        return len(self._subscribers)

    def emit(self, event: Event) -> None:
        for callback in list(self._subscribers):  # a callback may unsubscribe itself
            callback(event)
