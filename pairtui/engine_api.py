"""The engine's contract: what ``pairtui serve``'s control socket and every front end use.

Two engines keep it: :class:`pairtui.engine.Engine` in this process, and
:class:`pairtui.control.RemoteEngine`, a ``pairtui serve`` in another process reached
through its control socket. Code that drives an engine types against
:class:`EngineAPI`, never against either class, so it works with both and neither
needs to look for attributes the other lacks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from pairtui import __version__

if TYPE_CHECKING:
    from pairtui.events import ClientInfo, DoorState, Event, KnockInfo, RecordingInfo, TunnelInfo
    from pairtui.registry import Mode


class TunnelControl(Protocol):
    """The engine's reverse tunnels, by name."""

    @property
    def error(self) -> str:
        """Why ``tunnels.json`` could not be read ("" when it could)."""
        ...

    def infos(self) -> list[TunnelInfo]:
        """Each tunnel's state now; a :class:`~pairtui.events.TunnelChanged` says when
        one changes."""
        ...

    def status(self) -> list[dict[str, object]]:
        """:meth:`infos` as JSON, for people and scripts."""
        ...

    async def up(self, name: str) -> TunnelInfo:
        """Enable a tunnel (kept across restarts) and start it.

        Raises:
            PairtuiError: there is no such tunnel, or the engine is gone.
        """
        ...

    async def down(self, name: str) -> TunnelInfo | None:
        """Disable a tunnel (kept across restarts) and stop it; ``None`` when it no
        longer exists.

        Raises:
            PairtuiError: the engine is gone.
        """
        ...


class KnockView(Protocol):
    """A guest waiting at the door, as either engine lists it (the in-process engine's
    :class:`~pairtui.door.Knock`, a remote one's :class:`~pairtui.events.KnockInfo`)."""

    @property
    def id(self) -> str: ...
    @property
    def code(self) -> str: ...
    @property
    def peer(self) -> str: ...
    @property
    def fingerprint(self) -> str: ...
    @property
    def via(self) -> str: ...
    @property
    def share(self) -> str: ...
    @property
    def invitation(self) -> str: ...
    @property
    def mode(self) -> str: ...
    @property
    def since(self) -> float: ...


class EngineAPI(Protocol):
    """A running engine: its address, its clients and events, and the host's actions."""

    clients: dict[str, ClientInfo]  # kept current by the engine, by client id
    listen: str
    port: int
    started: float  # time.time() when it started serving
    pid: int  # the serving process

    @property
    def fingerprint(self) -> str:
        """The SSH host key's fingerprint, as guests see it ("" before start)."""
        ...

    @property
    def tunnels(self) -> TunnelControl: ...

    async def start(self) -> None:
        """Serve (or attach to the server).

        Raises:
            PairtuiError: it cannot, for a reason to show the host.
        """
        ...

    async def stop(self) -> None:
        """Stop serving; an attached front end only hangs up."""
        ...

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback`` with every event from now on; returns how to stop."""
        ...

    async def kick(self, target: str) -> list[ClientInfo]:
        """Disconnect the clients of a guest, a client id or a tmux tty.

        Raises:
            PairtuiError: no client matches ``target``, or the engine is gone.
        """
        ...

    async def set_mode(self, target: str, mode: Mode) -> list[ClientInfo]:
        """Switch live clients to ``mode`` until the registry next changes theirs.

        Raises:
            PairtuiError: no client matches ``target``, or the engine is gone.
        """
        ...

    async def reconcile(self) -> None:
        """Apply registry and share files written just now to every connection.

        Raises:
            PairtuiError: the engine is gone.
        """
        ...

    def status(self) -> dict[str, object]:
        """What ``pairtui status --json`` shows of the engine."""
        ...

    def knocks(self) -> Sequence[KnockView]:
        """Who is waiting at the door now, oldest first; a
        :class:`~pairtui.events.Knocked` says when that changes."""
        ...

    async def admit_knocker(
        self, ident: str, mode: Mode | None = None, remember: bool = False,
        expires: str | None = None, name: str = "",
    ) -> KnockInfo:  # fmt: skip
        """Let the guest waiting as ``ident`` in, as ``mode`` (``None``: what it asked
        for); ``remember`` keeps its key as a guest (until ``expires``, e.g. ``7d``),
        otherwise only for that connection.

        Raises:
            PairtuiError: nobody waits as ``ident``, its invitation is gone, or the
                engine is gone.
        """
        ...

    async def deny_knocker(self, ident: str) -> KnockInfo:
        """Turn the guest waiting as ``ident`` away.

        Raises:
            PairtuiError: nobody waits as ``ident``, or the engine is gone.
        """
        ...

    def door_state(self) -> DoorState:
        """Whether unregistered keys may knock now, until when, for which share; a
        :class:`~pairtui.events.DoorChanged` says when that changes (also when it
        closes by itself)."""
        ...

    async def open_door(self, seconds: float, share: str = "") -> DoorState:
        """Let unregistered keys knock for ``seconds`` (at most a day), admitted into
        ``share`` ("" any); opening an open door sets its time anew.

        Raises:
            PairtuiError: ``seconds`` is out of bounds, or the engine is gone.
        """
        ...

    async def close_door(self) -> DoorState:
        """No more knocks; those waiting still wait for an answer.

        Raises:
            PairtuiError: the engine is gone.
        """
        ...

    def recording_list(self) -> Sequence[RecordingInfo]:
        """The shares being recorded now (at most one recording each); a
        :class:`~pairtui.events.RecordingChanged` says when one starts or stops, also
        when it stops by itself (a cap, a full disk, the share's end)."""
        ...

    async def start_recording(self, share: str, keys: bool = False) -> RecordingInfo:
        """Record what a view guest of ``share`` sees until :meth:`stop_recording`;
        ``keys`` keeps what its pair guests type too, attributed. Its guests are told
        and see REC (see :mod:`pairtui.recording.recordings`).

        Raises:
            PairtuiError: no such share, it is being recorded already, the recording
                cannot be written, or the engine is gone.
        """
        ...

    async def stop_recording(self, share: str) -> RecordingInfo:
        """Stop recording ``share``; the file is closed whole (the stopped recording).

        Raises:
            PairtuiError: ``share`` is not being recorded, or the engine is gone.
        """
        ...


def base_status(engine: EngineAPI) -> dict[str, object]:
    """The status fields every engine knows, in-process or remote (``status()`` builds
    on these)."""
    return {
        "pid": engine.pid,
        "listen": engine.listen,
        "port": engine.port,
        "fingerprint": engine.fingerprint,
        "version": __version__,  # a remote engine puts its server's here
        "started": datetime.fromtimestamp(engine.started, UTC).isoformat(timespec="seconds"),
        "uptime_seconds": round(time.time() - engine.started, 1),
        "clients": len(engine.clients),
    }
