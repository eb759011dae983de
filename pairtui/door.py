"""Knock-to-admit: a guest whose key is not registered waits while the host decides.

Off by default. While the host has opened the door (``pairtui door open --for 10m``), a
login with an unregistered key is not refused: once its signature is checked, the
connection waits in a waiting room (:mod:`pairtui.waiting_room`), never in tmux, and the
host is asked (``pairtui knocks`` / ``admit ID`` / ``deny ID``, a message on the host's
tmux clients). Admitted, the key is registered (``--remember``, with an expiry if
given, or only until that connection ends) and the guest's terminal goes on into the
share without reconnecting. Denied or not answered in time: one line, then closed.

Bounded (config ``[limits]``): at most ``max_knocks`` waiting in all and
``max_knocks_per_peer`` from one address, each for ``knock_timeout`` seconds; a peer
denied a moment ago is turned away for a while; every knock and decision is audited
with the key's fingerprint and the peer.
"""

from __future__ import annotations

import ipaddress
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pairtui.errors import PairtuiError
from pairtui.events import DoorState, KnockInfo

if TYPE_CHECKING:
    from pairtui.registry import Mode

T = TypeVar("T")
DENIED_COOLDOWN = 60.0  # seconds a peer (or key, or IPv6 /64) just denied is turned away
LONGEST = 24 * 3600.0  # seconds the door may stay open at once
DEFAULT_OPEN = "10m"  # how long `pairtui door open` and the dashboard open it for
DOOR_CLOSED = "the door is closed"  # why a knock is not taken: refused as an unknown key


@dataclass
class Knock:
    """One guest waiting at the door."""

    id: str
    code: str  # read out by the guest, so the host knows whom it admits
    peer: str
    host: str  # the peer's address without its port
    via: str
    fingerprint: str
    share: str  # the share the door was opened for ("" any)
    timeout: float = 120.0  # seconds it waits for the host
    invitation: str = ""  # the --admit ask invitation it came with ("": the open door)
    mode: str = "view"  # what the host admits it as unless it says otherwise
    since: float = field(default_factory=time.time)
    # Called with the decision: ("admit", mode, remember, expires, name) or ("deny", why).
    decide: Callable[[tuple[Any, ...]], None] | None = field(default=None, repr=False)

    def info(self) -> KnockInfo:
        return KnockInfo(self.id, self.code, self.peer, self.fingerprint, self.via,
                         self.share, self.invitation, self.mode, self.since)  # fmt: skip

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id, "code": self.code, "peer": self.peer, "via": self.via or None,
            "fingerprint": self.fingerprint, "share": self.share or None,
            "invitation": self.invitation or None, "mode": self.mode,
            "waiting": round(time.time() - self.since, 1),
        }  # fmt: skip


class Door:
    """Whether unregistered keys may knock, and who is waiting."""

    def __init__(self, timeout: float = 120, most: int = 20, per_peer: int = 3) -> None:
        self.timeout, self.most, self.per_peer = timeout, most, per_peer
        self.open_until = 0.0  # time.time(); 0 = closed
        self.share = ""
        self.knocks: dict[str, Knock] = {}
        # Who was denied when, and who knocked when: by address (an IPv6 one by its
        # /64, which one attacker has whole) and by key, so that neither a new source
        # address nor a new key alone starts afresh. Bounded: the oldest are forgotten.
        self._denied: dict[str, float] = {}
        self._knocked: dict[str, list[float]] = {}

    def is_open(self) -> bool:
        return time.time() < self.open_until

    def open(self, seconds: float, share: str = "") -> DoorState:
        if not 0 < seconds <= LONGEST:
            raise PairtuiError("the door opens for a time between 1 s and 24 h")
        self.open_until, self.share = time.time() + seconds, share
        return self.snapshot()

    def close(self) -> DoorState:
        self.open_until = 0.0
        return self.snapshot()

    def snapshot(self) -> DoorState:
        return DoorState(self.open_until, self.share)

    def state(self) -> dict[str, object]:
        """The door as ``pairtui door --json`` and ``pairtui knocks`` show it."""
        return state_json(self.snapshot(), len(self.knocks))

    def room_for(self, host: str, fingerprint: str = "") -> str | None:
        """Why a knock from ``host`` with the key ``fingerprint`` is not taken now, or None."""
        now = time.time()
        who = [w for w in (_block(host), fingerprint and f"key {fingerprint}") if w]
        if any(now - self._denied.get(w, -DENIED_COOLDOWN) < DENIED_COOLDOWN for w in who):
            return "you were turned away a moment ago; try again later"
        # As many knocks a minute as may wait at once: knocking, giving up and knocking
        # again pops a new question on the host's screen each time.
        if any(len([t for t in self._knocked.get(w, []) if now - t < 60]) >= self.per_peer
               for w in who):  # fmt: skip
            return "you knocked several times a minute ago; try again later"
        if len(self.knocks) >= self.most:
            return "too many guests are waiting; try again later"
        if sum(k.host == host for k in self.knocks.values()) >= self.per_peer:
            return "too many guests from your address are waiting"
        return None

    def add(
        self, peer: str, host: str, via: str, fingerprint: str, *, invitation: str = "",
        share: str | None = None, mode: str = "view",
    ) -> Knock:  # fmt: skip
        taken = set(self.knocks)
        ident = next(i for i in (f"k{secrets.randbelow(9000) + 1000}" for _ in range(100))
                     if i not in taken)  # fmt: skip
        code = f"{secrets.randbelow(1000):03d}-{secrets.randbelow(1000):03d}"
        where = self.share if share is None else share
        knock = Knock(ident, code, peer, host, via, fingerprint, where, self.timeout,
                      invitation, mode)  # fmt: skip
        self.knocks[ident] = knock
        now = time.time()
        for w in (_block(host), f"key {fingerprint}"):
            self._knocked[w] = [t for t in self._knocked.get(w, []) if now - t < 60] + [now]
        _forget_oldest(self._knocked, lambda times: times[-1])
        return knock

    def gone(self, knock: Knock) -> None:
        self.knocks.pop(knock.id, None)

    def get(self, ident: str) -> Knock:
        knock = self.knocks.get(ident)
        if knock is None:
            raise PairtuiError(f"nobody is waiting as {ident!r} (see `pairtui knocks`)")
        return knock

    def denied(self, knock: Knock) -> None:
        now = time.time()
        self._denied[_block(knock.host)] = now
        self._denied[f"key {knock.fingerprint}"] = now
        _forget_oldest(self._denied, lambda when: when)


def _block(host: str) -> str:
    """An address as one attacker holds it: an IPv4 address, an IPv6 /64."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _forget_oldest(seen: dict[str, T], when: Callable[[T], float], most: int = 1000) -> None:
    """Bounded: past ``most`` entries, the older half goes."""
    if len(seen) > most:
        for key in sorted(seen, key=lambda k: when(seen[k]))[: most // 2]:
            del seen[key]


def state_json(door: DoorState, waiting: int) -> dict[str, object]:
    """The door's state and how many wait, in one shape for every answer about it."""
    return {**door.to_json(), "waiting": waiting}


def open_for(text: str, now: float | None = None) -> float:
    """The seconds a duration such as ``10m`` or ``1h`` keeps the door open; the CLI's
    ``--for`` and the dashboard's dialog read it alike.

    Raises:
        PairtuiError: it is no duration, or not between 1 s and 24 h.
    """
    from pairtui.registry import parse_expiry

    start = time.time() if now is None else now
    when = parse_expiry(text, now=datetime.fromtimestamp(start, UTC))
    if when is None:
        raise PairtuiError(f"the door opens for a while (10m, 1h), not {text.strip()!r}")
    seconds = when.timestamp() - start
    if not 0 < seconds <= LONGEST:
        raise PairtuiError("the door opens for a time between 1 s and 24 h")
    return seconds


class Keeper(Protocol):
    """What keeps the door: the serving engine (the control socket's door requests)."""

    door: Door

    def knocks(self) -> list[Knock]: ...

    def admit_knock(
        self,
        ident: str,
        mode: Mode | None,
        remember: bool,
        expires: str | None,
        name: str,
        code: str | None = None,
    ) -> Knock: ...

    def deny_knock(self, ident: str, why: str = ...) -> Knock: ...
