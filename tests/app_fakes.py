"""Deterministic stand-ins for snapshot tests of the dashboard: no clocks, hosts or tmux.

Only the engine and the tmux side are fake; guests live in a real registry file in the
test's isolated config dir, so the dashboard reads them exactly as in production.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from pathlib import Path

import pytest

from pairtui.app import PairtuiApp
from pairtui.app.backend import HostState, Services
from pairtui.authorized_keys import parse_public_keys
from pairtui.clock import iso_utc
from pairtui.config import Config
from pairtui.errors import PairtuiError
from pairtui.events import (
    RECORDING_STOPPED,
    ClientChanged,
    ClientInfo,
    ClientLeft,
    DoorChanged,
    DoorState,
    Event,
    Knocked,
    KnockInfo,
    RecordingChanged,
    RecordingInfo,
    TunnelInfo,
)
from pairtui.fileutil import atomic_write
from pairtui.host import Host
from pairtui.invitations import Invitation, InvitationStore, token_hash
from pairtui.registry import Mode, Registry
from pairtui.shares import Share
from pairtui.tmux import HostWindow

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z: every duration is counted from here
HOST_FINGERPRINT = "SHA256:o7HffH8AAbnKCZX54J/Js9WPY69xTGGovZ/tGRyKVw0"
SNAPSHOT_SIZES = {
    "80x24": (80, 24),
    "120x36": (120, 36),
}  # the smallest terminal it fits, a roomy one

KEYS = {
    "alice": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIP7IF0G9b4oGaZuGK9JXwuAX0XDug2sD5t0RcUx5EGpJ"
    " alice@laptop",
    "bob": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFxJdF94OHxmtgFLCPE2ga3VqyMhGaolYsIAWZZ243vy"
    " bob@laptop",
    "carol": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMSssZf9FltB2iuEOHcd073cs82DCePJp4FecX9wqviw"
    " carol@laptop",
    "dave": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH5HkaV967y6l8p7pBT/XgDkabzWIimUGJD5bPWPTYcF"
    " dave@laptop",
}


def fingerprint_of(name: str) -> str:
    return parse_public_keys(KEYS[name])[0].fingerprint


class FakeTunnels:
    """An engine's tunnels when there are none."""

    error = ""

    def infos(self) -> list[TunnelInfo]:
        return []

    def status(self) -> list[dict[str, object]]:
        return []

    async def up(self, name: str) -> TunnelInfo:
        raise PairtuiError(f"no tunnel {name!r}")

    async def down(self, name: str) -> TunnelInfo | None:
        return None


class FakeEngine:
    """An engine that holds clients in memory and answers instantly."""

    def __init__(
        self,
        clients: list[ClientInfo] | None = None,
        *,
        listen: str = "127.0.0.1",
        port: int = 2222,
        fail: str | None = None,
    ) -> None:
        self.clients = {c.id: c for c in clients or []}
        self.listen = listen
        self.port = port
        self.started = NOW - 3723
        self.pid = 4242  # as a RemoteEngine reports its server's
        self.fail = fail
        self.stopped = False
        self.reconciled = 0
        self.tunnels = FakeTunnels()
        self.waiting: dict[str, KnockInfo] = {}  # knocks, by id
        self.answers: list[tuple[object, ...]] = []  # ("admit", id, mode, ...) / ("deny", id)
        self.door = DoorState()
        self.doors: list[tuple[object, ...]] = []  # ("open", seconds, share) / ("close",)
        self.recording: dict[str, RecordingInfo] = {}  # going on, by share
        self.records: list[tuple[object, ...]] = []  # ("start", share, keys) / ("stop", share)
        self._subscribers: list[Callable[[Event], None]] = []

    @property
    def fingerprint(self) -> str:
        return HOST_FINGERPRINT

    async def start(self) -> None:
        if self.fail:
            raise PairtuiError(self.fail)

    async def stop(self) -> None:
        self.stopped = True

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def emit(self, event: Event) -> None:
        for callback in list(self._subscribers):
            callback(event)

    def _find(self, target: str) -> list[ClientInfo]:
        found = [c for c in self.clients.values() if target in (c.id, c.guest)]
        if not found:
            raise PairtuiError(f"no connected guest or client {target!r}")
        return found

    async def kick(self, target: str) -> list[ClientInfo]:
        found = self._find(target)
        for c in found:
            del self.clients[c.id]
            self.emit(ClientLeft(c, "you were disconnected by the host"))
        return found

    async def set_mode(self, target: str, mode: Mode) -> list[ClientInfo]:
        found = [dataclasses.replace(c, mode=mode.value) for c in self._find(target)]
        for c in found:
            self.clients[c.id] = c
            self.emit(ClientChanged(c))
        return found

    async def reconcile(self) -> None:
        self.reconciled += 1

    def status(self) -> dict[str, object]:
        return {"pid": self.pid, "listen": self.listen, "port": self.port}

    def knock(self, knock: KnockInfo, state: str = "waiting") -> None:
        """A guest knocks (or its knock ends elsewhere), as the door reports it."""
        if state == "waiting":
            self.waiting[knock.id] = knock
        else:
            self.waiting.pop(knock.id, None)
        self.emit(Knocked(knock, state))

    def knocks(self) -> list[KnockInfo]:
        return list(self.waiting.values())

    def _answered(self, ident: str, state: str) -> KnockInfo:
        if ident not in self.waiting:
            raise PairtuiError(f"nobody is waiting as {ident!r}")
        knock = self.waiting[ident]
        self.knock(knock, state)
        return knock

    async def admit_knocker(
        self, ident: str, mode: Mode | None = None, remember: bool = False,
        expires: str | None = None, name: str = "",
    ) -> KnockInfo:  # fmt: skip
        self.answers.append(("admit", ident, mode, remember, expires, name))
        return self._answered(ident, "admitted")

    async def deny_knocker(self, ident: str) -> KnockInfo:
        self.answers.append(("deny", ident))
        return self._answered(ident, "denied")

    def door_state(self) -> DoorState:
        return self.door

    def set_door(self, door: DoorState, timed_out: bool = False) -> None:
        """The door opens or closes (by itself: ``timed_out``), as the engine reports it."""
        self.door = door
        self.emit(DoorChanged(door, timed_out))

    async def open_door(self, seconds: float, share: str = "") -> DoorState:
        self.doors.append(("open", seconds, share))
        self.set_door(DoorState(NOW + seconds, share))
        return self.door

    async def close_door(self) -> DoorState:
        self.doors.append(("close",))
        self.set_door(DoorState(0.0, self.door.share))
        return self.door

    def recording_list(self) -> list[RecordingInfo]:
        return list(self.recording.values())

    def set_recording(self, info: RecordingInfo) -> None:
        """A recording starts or stops (by itself: a reason of its own), as the engine
        reports it."""
        if info.state == "recording":
            self.recording[info.share] = info
        else:
            self.recording.pop(info.share, None)
        self.emit(RecordingChanged(info))

    async def start_recording(self, share: str, keys: bool = False) -> RecordingInfo:
        self.records.append(("start", share, keys))
        if share in self.recording:
            raise PairtuiError(f"share {share!r} is already being recorded")
        self.set_recording(recording_info(share, keys=keys, started=NOW))
        return self.recording[share]

    async def stop_recording(self, share: str) -> RecordingInfo:
        self.records.append(("stop", share))
        if share not in self.recording:
            raise PairtuiError(f"share {share!r} is not being recorded")
        info = dataclasses.replace(self.recording[share], state="stopped",
                                   reason=RECORDING_STOPPED)  # fmt: skip
        self.set_recording(info)
        return info


RECORDINGS_DIR = "/home/host/.local/state/pairtui/recordings"


def recording_info(share: str, *, keys: bool = False, started: float = NOW - 754) -> RecordingInfo:
    """A recording of ``share`` going on since ``started`` (12m 34s ago by default)."""
    stamp = datetime.fromtimestamp(started, UTC).strftime("%Y%m%dT%H%M%SZ")
    return RecordingInfo(share, f"{RECORDINGS_DIR}/{share}-{stamp}.cast", started, keys,
                         "recording", size=48_213)  # fmt: skip


def knock_info(n: int = 1, *, invitation: str = "", via: str = "") -> KnockInfo:
    """A guest at the door: the n-th knock, with dave's key."""
    return KnockInfo(
        id=f"k{n}", code=f"{n}{n}{n}-{n}{n}{n}", peer=f"198.51.100.{n}:5031{n}",
        fingerprint=fingerprint_of("dave"), via=via, invitation=invitation,
        since=NOW - 5,
    )  # fmt: skip


def share(name: str, session: str) -> Share:
    return Share(name, "session", session, None, "/tmp/tmux-fake/default", "2027-01-15T07:00:00Z")


def window_share(name: str, window: HostWindow) -> Share:
    return Share(name, "window", window.id, window.pane, "/tmp/tmux-fake/default",
                 "2027-01-15T07:00:00Z")  # fmt: skip


def host_windows(session: str, *names: str, first: int = 1) -> list[HostWindow]:
    """A session's windows, numbered from 1, ids and panes from ``first``."""
    return [HostWindow(session, f"@{first + i}", i + 1, n, f"%{first + i}")
            for i, n in enumerate(names)]  # fmt: skip


class FakeShareHost:
    """A tmux server that exists only in memory."""

    def __init__(
        self,
        shares: list[Share] | None = None,
        sessions: list[str] | None = None,
        *,
        gone: set[str] | None = None,
        error: str | None = None,
        windows: list[HostWindow] | None = None,
    ) -> None:
        self.shares = list(shares or [])
        self.windows = windows or [w for i, s in enumerate(sessions or [])
                                   for w in host_windows(s, "bash", first=i + 1)]  # fmt: skip
        self.gone = gone or set()
        self.error = error
        self.buffer: list[str] = []

    def state(self) -> HostState:
        live = frozenset(s.name for s in self.shares if s.name not in self.gone)
        return HostState(tuple(self.shares), tuple(self.windows), live, self.error)

    def changed(self) -> bool:
        return False

    def share(self, session: str, name: str | None, pane: str | None = None) -> Share:
        window = next((w for w in self.windows if w.pane == pane), None)
        if window is not None:
            made = window_share(name or f"{session}-{window.index}", window)
        else:
            made = share(name or session, session)
        self.shares = [s for s in self.shares if s.name != made.name] + [made]
        return made

    def unshare(self, name: str) -> Share:
        found = [s for s in self.shares if s.name == name]
        if not found:
            raise PairtuiError(f"no share named {name!r}")
        self.shares.remove(found[0])
        return found[0]

    def rename(self, old: str, new: str) -> Share:
        found = next((s for s in self.shares if s.name == old), None)
        if found is None:
            raise PairtuiError(f"no share named {old!r}")
        renamed = dataclasses.replace(found, name=new)
        self.shares[self.shares.index(found)] = renamed
        return renamed

    def set_buffer(self, text: str) -> bool:
        self.buffer.append(text)
        return True


def client(
    cid: str,
    guest: str,
    peer: str,
    share: str,
    mode: str,
    connected: float,
    idle: float,
    size: tuple[int, int] = (80, 24),
    via: str = "",
) -> ClientInfo:
    return ClientInfo(
        id=cid,
        guest=guest,
        fingerprint=fingerprint_of(guest),
        peer=peer,
        share=share,
        mode=mode,
        since=NOW - connected,
        last_input=NOW - idle,
        cols=size[0],
        rows=size[1],
        tty=f"/dev/pts/{cid[1:]}",
        pid=4000 + int(cid[1:]),
        via=via,
    )


def populate_registry(registry: Registry) -> None:
    """Four guests: pair, view with two keys and an expiry, expired, restricted."""
    at = datetime.fromtimestamp
    registry.add("alice", parse_public_keys(KEYS["alice"]), mode=Mode.PAIR)
    registry.add("bob", parse_public_keys(KEYS["bob"]), mode=Mode.VIEW, expires=at(NOW + 7140, UTC))
    registry.add("carol", parse_public_keys(KEYS["carol"]), mode=Mode.VIEW)
    registry.update("carol", expires=at(NOW - 600, UTC))
    registry.add(
        "dave",
        parse_public_keys(KEYS["dave"]),
        mode=Mode.VIEW,
        share="api",
        expires=at(NOW + 6 * 86400 + 3600, UTC),
    )


def busy_clients() -> list[ClientInfo]:
    return [
        client("c1", "alice", "127.0.0.1:51514", "work", "pair", 3725, 4, (120, 40)),
        client("c2", "bob", "198.51.100.7:40022", "work", "view", 733, 185, (100, 30), "vps"),
        client("c4", "dave", "[::1]:60002", "api", "view", 45, 45),
    ]


def busy_host() -> FakeShareHost:
    windows = (host_windows("work", "editor", "server", "tests")
               + host_windows("api", "shell", first=4)
               + host_windows("scratch", "notes", "htop", first=5))  # fmt: skip
    return FakeShareHost([share("api", "api"), share("work", "work")], windows=windows)


@dataclasses.dataclass
class Scenario:
    """Everything one dashboard run sees."""

    engine: FakeEngine
    host: FakeShareHost
    registry: Registry
    attached: bool = False
    forges: dict[str, str] = dataclasses.field(default_factory=lambda: dict(Config().forges))

    def services(self) -> Services:
        host = Host(registry=self.registry)
        return Services(self.engine, host, self.host, self.attached, self.forges)


def make_app(
    scenario: Scenario,
    *,
    theme: str = "pairtui-dark",
    config_path: Path | None = None,
    user_themes: Path | None = None,
    confirm_pair: bool = True,
) -> PairtuiApp:
    cfg = Config(theme=theme, cursor_blink=False, confirm_pair=confirm_pair)
    app = PairtuiApp(
        scenario.services,
        config=cfg,
        config_path=config_path,
        clock=lambda: NOW,
        user_themes=user_themes,
    )
    app.animation_level = "none"  # a tab underline caught mid-slide differs run to run
    return app


def with_tunnels(scenario: Scenario) -> Scenario:
    """Two relay tunnels in the test's tunnel file: ``t`` then asks which to toggle."""
    from pairtui.tunnels import Tunnel

    host = Host(registry=scenario.registry)
    host.add_tunnel(Tunnel("office", "relay", "relay.example.org", remote_port=2022))
    host.add_tunnel(Tunnel("vps", "pairtui", "vps.example.org", enabled=False))
    return scenario


def empty_scenario(registry_path: Path | None = None) -> Scenario:
    return Scenario(FakeEngine(), FakeShareHost(), Registry(registry_path))


def busy_scenario(registry_path: Path | None = None) -> Scenario:
    registry = Registry(registry_path)
    populate_registry(registry)
    return Scenario(FakeEngine(busy_clients()), busy_host(), registry)


INVITE_TOKEN = "Zk3vQ9xWm2Lr8TbY5nHc4JdA"  # what a new invitation's token is in these tests
INVITE_ID = "5eed01"


class FixedSecrets:
    """``secrets`` for pairtui.invitations: the same token and id on every run (pictures
    of the shown-once dialog must not change), still the format the store expects."""

    @staticmethod
    def token_urlsafe(nbytes: int) -> str:
        return INVITE_TOKEN

    @staticmethod
    def token_hex(nbytes: int) -> str:
        return INVITE_ID


class FixedDatetime(datetime):
    """``datetime`` for pairtui.invitations whose ``now`` is :data:`NOW` (when an
    invitation was made shows in its detail)."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> FixedDatetime:
        return cls.fromtimestamp(NOW, tz)


def fixed_invitations(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new invitation is the same on every run: its token, its id, when it was made."""
    monkeypatch.setattr("pairtui.invitations.secrets", FixedSecrets)
    monkeypatch.setattr("pairtui.invitations.datetime", FixedDatetime)


def invitation(
    ident: str, expires: float | None, *, mode: str = "view", share: str = "", uses: int = 1,
    used: int = 0, name: str = "", revoked: bool = False,
) -> Invitation:  # fmt: skip
    return Invitation(
        id=ident, digest=token_hash(f"token-of-{ident}-0123456789"), mode=mode, share=share,
        name=name, expires=iso_utc(expires) if expires is not None else "", uses=uses,
        used=used, revoked=revoked, created="2027-01-15T07:00:00Z",
    )  # fmt: skip


def sample_invitations() -> list[Invitation]:
    """One in each state: open (two), used, withdrawn, expired."""
    days = 2 * 86400 + 7200
    return [
        invitation("a1b2c3", NOW + 3540),
        invitation("d4e5f6", NOW + days, mode="pair", share="work", uses=3, used=1, name="erin"),
        invitation("0badf0", NOW + 1800, used=1),
        invitation("7e7e7e", None, share="api", uses=2, revoked=True),
        invitation("c0ffee", NOW - 60),
    ]


def with_invitations(scenario: Scenario) -> Scenario:
    """The sample invitations in the test's invitations.json, as the server writes it."""
    path = InvitationStore().path
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [dataclasses.asdict(i) for i in sample_invitations()]
    atomic_write(path, json.dumps(rows, indent=2) + "\n", 0o600)
    return scenario
