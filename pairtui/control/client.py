"""The control socket's client side: one-shot requests, and :class:`RemoteEngine`.

:class:`RemoteEngine` follows a running server's ``subscribe`` stream and keeps
:class:`~pairtui.engine_api.EngineAPI`, as the in-process engine does, so a front end
can drive either.

Over 400 lines: :class:`RemoteEngine` keeps the whole engine contract (clients, tunnels,
knocks, the door, recordings) over the same requests this module sends, so it stays
with them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pairtui import paths
from pairtui.control.codec import (
    TIMEOUT,
    decode_client,
    decode_event,
    decode_reply,
    decode_tunnel,
)
from pairtui.engine_api import base_status
from pairtui.errors import PairtuiError
from pairtui.events import (
    ClientChanged,
    ClientInfo,
    ClientJoined,
    ClientLeft,
    DoorChanged,
    DoorState,
    Event,
    EventBus,
    Knocked,
    KnockInfo,
    RecordingChanged,
    RecordingInfo,
    TunnelChanged,
    TunnelInfo,
)

if TYPE_CHECKING:
    from pairtui.registry import Mode

_STREAM_LIMIT = 1 << 22  # a snapshot line with many clients can be long


class ServerUnreachable(PairtuiError):
    """A server's control socket is there and takes connections but gives no answer in
    time, or refuses for now (it is busy, or out of file descriptors): a server may well
    be running, so callers must not report "no server".

    ``pid`` is the process listening on the socket when the kernel said (0 if not).
    """

    def __init__(self, message: str, pid: int = 0) -> None:
        super().__init__(message)
        self.pid = pid


NO_SERVER = (ConnectionRefusedError, FileNotFoundError)  # no socket, or nobody behind it


def _unreachable(exc: BaseException | str, pid: int = 0) -> ServerUnreachable:
    why = "no answer in time" if isinstance(exc, TimeoutError) else str(exc)
    who = f" (pid {pid})" if pid else ""
    return ServerUnreachable(
        f"a pairtui server{who} seems to be running but does not answer ({why}): it may "
        "be busy or out of file descriptors; try again, or see its log",
        pid,
    )


def _listener(sock: socket.socket) -> int:
    """The pid that listens on a connected Unix socket (SO_PEERCRED), even before it
    accepts the connection; 0 when the kernel does not say."""
    if not _PEERCRED:
        return 0
    try:
        pid, _uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, _PEERCRED, 12))
    except OSError:
        return 0
    return int(pid)


_PEERCRED: int = getattr(socket, "SO_PEERCRED", 0)  # Linux


def request(op: str, path: Path | None = None, **args: object) -> dict[str, Any] | None:
    """Ask the running engine; ``None`` when no engine is running.

    Raises:
        ServerUnreachable: a socket takes connections but no answer comes in time.
        PairtuiError: the engine answered with an error.
    """
    path = path or paths.control_socket()
    if not path.exists():
        return None
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    except OSError as exc:  # out of file descriptors ourselves: we cannot tell
        raise _unreachable(exc) from None
    sock.settimeout(TIMEOUT)
    try:
        sock.connect(str(path))
    except NO_SERVER:
        sock.close()
        return None
    except OSError as exc:  # EAGAIN: its backlog is full; a timeout
        sock.close()
        raise _unreachable(exc) from None
    try:
        sock.sendall(json.dumps({"op": op, **args}).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
    except OSError as exc:
        raise _unreachable(exc, _listener(sock)) from None
    finally:
        sock.close()
    if not buf:  # it took the connection and closed it unanswered
        raise _unreachable("it hung up")
    return decode_reply(buf)


async def request_async(op: str, path: Path | None = None, **args: object) -> dict[str, Any] | None:
    """:func:`request` for code running in an event loop (which must not block)."""
    path = path or paths.control_socket()
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_unix_connection(str(path), limit=_STREAM_LIMIT), TIMEOUT
        )
    except NO_SERVER:
        return None
    except (OSError, TimeoutError) as exc:
        raise _unreachable(exc) from None
    try:
        writer.write(json.dumps({"op": op, **args}).encode() + b"\n")
        buf = await asyncio.wait_for(reader.readline(), TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise _unreachable(exc) from None
    finally:
        writer.close()
    if not buf:
        raise _unreachable("it hung up")
    return decode_reply(buf)


@dataclass(frozen=True)
class Probe:
    """What is behind the control socket, for ``pairtui status`` and ``pairtui stop``.

    ``state`` is ``running`` (it answered; ``status`` is its answer), ``busy`` (a socket
    takes connections but no answer came: ``error`` says how), ``stale`` (a socket file
    nobody listens on: a server ended without cleaning up, e.g. ``kill -9``) or ``none``.
    """

    state: Literal["running", "busy", "stale", "none"]
    status: dict[str, Any] | None = None
    error: str = ""
    pid: int = 0  # a busy server's, when the kernel said


def probe(path: Path | None = None) -> Probe:
    path = path or paths.control_socket()
    try:
        reply = request("status", path)
    except ServerUnreachable as exc:
        return Probe("busy", error=str(exc), pid=exc.pid)
    except PairtuiError as exc:  # an answer that is not one
        return Probe("busy", error=str(exc))
    if reply is not None:
        return Probe("running", status=reply["status"])
    return Probe("stale" if path.exists() else "none")


def ping(path: Path | None = None) -> bool:
    """Whether a server answers now (``False`` for a busy one too: see :func:`probe`)."""
    try:
        return request("ping", path) is not None
    except (PairtuiError, ValueError):
        return False


class RemoteTunnels:
    """The server's tunnels: their states as its stream reports them, ``up`` and
    ``down`` as requests."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.current: dict[str, TunnelInfo] = {}  # by name, kept by RemoteEngine
        self.error = ""  # as the server reported it when we subscribed

    def infos(self) -> list[TunnelInfo]:
        return list(self.current.values())

    def status(self) -> list[dict[str, object]]:
        return [i.to_json() for i in self.infos()]

    async def up(self, name: str) -> TunnelInfo:
        return decode_tunnel((await _ask(self.path, "tunnel-up", name=name))["info"])

    async def down(self, name: str) -> TunnelInfo | None:
        info = (await _ask(self.path, "tunnel-down", name=name))["info"]
        return None if info is None else decode_tunnel(info)


async def _ask(path: Path, op: str, **args: object) -> dict[str, Any]:
    reply = await request_async(op, path, **args)
    if reply is None:
        raise PairtuiError("the pairtui server is no longer running")
    return reply


class RemoteEngine:
    """A ``pairtui serve`` in another process, driven through its control socket.

    It keeps :class:`~pairtui.engine_api.EngineAPI` and keeps ``clients`` and the
    tunnels' states current from the ``subscribe`` stream. :meth:`stop` only hangs up:
    the server and its guests carry on.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.control_socket()
        self.clients: dict[str, ClientInfo] = {}
        self.listen = ""
        self.port = 0
        self.pid = 0
        self.version = ""  # the server's, from its status
        self.started = time.time()
        self._fingerprint = ""
        self.tunnels = RemoteTunnels(self.path)
        self._knocks: dict[str, KnockInfo] = {}  # waiting, by id: the stream keeps it
        self._door = DoorState()  # as the server said when asked, then as the stream says
        self._recordings: dict[str, RecordingInfo] = {}  # going on, by share: as _knocks
        self._ended: set[str] = set()  # recordings (paths) the stream said stopped
        self._bus = EventBus()
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._closed: asyncio.Future[str] | None = None

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    async def start(self) -> None:
        """Subscribe; raises :class:`PairtuiError` when no server answers."""
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(str(self.path), limit=_STREAM_LIMIT), TIMEOUT
            )
        except NO_SERVER:
            raise PairtuiError("no pairtui server is running") from None
        except (OSError, TimeoutError) as exc:
            raise _unreachable(exc) from None
        try:
            writer.write(b'{"op": "subscribe"}\n')
            hello = decode_reply(await asyncio.wait_for(reader.readline(), TIMEOUT))
        except (OSError, TimeoutError, PairtuiError) as exc:
            writer.close()
            raise PairtuiError(f"the running pairtui server did not answer: {exc}") from None
        status = hello["status"]
        self.listen, self.port = str(status["listen"]), int(status["port"])
        self.pid = int(status.get("pid", 0))
        self.version = str(status.get("version", ""))
        self._fingerprint = str(status.get("fingerprint", ""))
        self.started = float(hello.get("started", time.time()))
        self.clients = {c.id: c for c in map(decode_client, hello.get("clients", []))}
        tunnels = map(decode_tunnel, hello.get("tunnels", []))
        self.tunnels.current = {t.name: t for t in tunnels}
        self.tunnels.error = str(hello.get("tunnel_error", ""))
        self._writer = writer
        self._closed = asyncio.get_running_loop().create_future()
        self._reader_task = asyncio.create_task(self._read(reader))
        await self._load_knocks()
        await self._load_recordings()

    async def _load_knocks(self) -> None:
        """Who already waits, and the door (the stream tells only of changes from now on)."""
        try:
            reply = await request_async("knocks", self.path)
        except PairtuiError:  # a server without a door, or busy: the stream still tells
            return
        for row in (reply or {}).get("knocks", []):
            info = _knock(row)
            self._knocks.setdefault(info.id, info)
        door = (reply or {}).get("door")
        if door and self._door == DoorState():  # the stream may have told us already
            self._door = _door(door)

    async def _load_recordings(self) -> None:
        """What is being recorded already (the stream tells only of changes from now on)."""
        try:
            reply = await request_async("record", self.path, action="list")
        except PairtuiError:  # an older server, or busy: the stream still tells
            return
        for row in (reply or {}).get("recordings", []):
            self._recorded(_recording(row))

    def _recorded(self, info: RecordingInfo) -> None:
        """Keep one recording's news: a reply may come after the stream's later word (a
        recording that stopped by itself before its start was answered stays stopped)."""
        if info.state != "recording":
            self._ended.add(info.path)
            if self._recordings.get(info.share, info).path == info.path:
                self._recordings.pop(info.share, None)
        elif info.path not in self._ended:
            self._recordings[info.share] = info

    async def stop(self) -> None:
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    async def wait_closed(self) -> str:
        """Wait until the server ends the stream; returns why, for the user."""
        assert self._closed is not None, "start() first"
        return await asyncio.shield(self._closed)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        reason = "the pairtui server stopped"
        try:
            while line := await reader.readline():
                self._apply(json.loads(line))
        except (OSError, ValueError) as exc:
            reason = f"lost the connection to the pairtui server ({exc})"
        finally:
            # Everyone the server had is gone from our point of view.
            for info in list(self.clients.values()):
                self.clients.pop(info.id, None)
                self._emit(ClientLeft(info, reason))
            if self._closed is not None and not self._closed.done():
                self._closed.set_result(reason)

    def _apply(self, data: dict[str, Any]) -> None:
        if data.get("event") == "activity":
            for cid, ts in data.get("last_input", {}).items():
                if cid in self.clients:
                    self.clients[cid] = replace(self.clients[cid], last_input=float(ts))
            return
        event = decode_event(data)
        if isinstance(event, ClientJoined):
            self.clients[event.client.id] = event.client
        elif isinstance(event, ClientLeft):
            self.clients.pop(event.client.id, None)
        elif isinstance(event, TunnelChanged):
            self.tunnels.current[event.tunnel.name] = event.tunnel
        elif isinstance(event, Knocked):
            if event.state == "waiting":
                self._knocks[event.knock.id] = event.knock
            else:
                self._knocks.pop(event.knock.id, None)
        elif isinstance(event, DoorChanged):
            self._door = event.door
        elif isinstance(event, RecordingChanged):
            self._recorded(event.recording)
        elif isinstance(event, ClientChanged) and event.client.id in self.clients:
            self.clients[event.client.id] = event.client  # snapshots: the new one replaces
        if event is not None:
            self._emit(event)

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        return self._bus.subscribe(callback)

    def _emit(self, event: Event) -> None:
        self._bus.emit(event)

    async def kick(self, target: str) -> list[ClientInfo]:
        reply = await _ask(self.path, "kick", target=target)
        return [self.clients.get(c["id"]) or _brief(c) for c in reply["kicked"]]

    async def set_mode(self, target: str, mode: Mode) -> list[ClientInfo]:
        reply = await _ask(self.path, "mode", target=target, mode=mode.value)
        changed = []
        for row in reply["changed"]:
            info = self.clients.get(row["id"]) or _brief(row)
            # The reply is the switch done; the stream's ClientChanged may still be coming.
            info = replace(info, mode=str(row["mode"]))
            if info.id in self.clients:
                self.clients[info.id] = info
            changed.append(info)
        return changed

    async def reconcile(self) -> None:
        await _ask(self.path, "reload")

    def status(self) -> dict[str, object]:
        return {**base_status(self), "version": self.version}  # the server's, not ours

    def knocks(self) -> list[KnockInfo]:
        return sorted(self._knocks.values(), key=lambda k: k.since)

    async def admit_knocker(
        self, ident: str, mode: Mode | None = None, remember: bool = False,
        expires: str | None = None, name: str = "",
    ) -> KnockInfo:  # fmt: skip
        reply = await _ask(
            self.path, "admit", id=ident, mode=None if mode is None else mode.value,
            remember=remember, expires=expires, name=name,
        )  # fmt: skip
        return _knock(reply["admitted"])

    async def deny_knocker(self, ident: str) -> KnockInfo:
        return _knock((await _ask(self.path, "deny", id=ident))["denied"])

    def door_state(self) -> DoorState:
        return self._door

    async def open_door(self, seconds: float, share: str = "") -> DoorState:
        reply = await _ask(self.path, "door", action="open", seconds=seconds, share=share)
        self._door = _door(reply["door"])  # its DoorChanged may still be on its way
        return self._door

    async def close_door(self) -> DoorState:
        self._door = _door((await _ask(self.path, "door", action="close"))["door"])
        return self._door

    def recording_list(self) -> list[RecordingInfo]:
        return list(self._recordings.values())

    async def start_recording(self, share: str, keys: bool = False) -> RecordingInfo:
        reply = await _ask(self.path, "record", action="start", share=share, input=keys)
        info = _recording(reply["recording"])
        self._recorded(info)  # its RecordingChanged may still be on its way
        return info

    async def stop_recording(self, share: str) -> RecordingInfo:
        info = _recording(
            (await _ask(self.path, "record", action="stop", share=share))["recording"]
        )
        self._recorded(info)
        return info


def _brief(row: dict[str, Any]) -> ClientInfo:
    """A client from a reply row (the ``to_json`` shape), for one the stream did not show."""
    return ClientInfo(
        id=str(row["id"]),
        guest=str(row["guest"]),
        fingerprint=str(row.get("fingerprint", "")),
        peer=str(row.get("peer", "")),
        via=str(row.get("via", "")),
        share=str(row.get("share", "")),
        mode=str(row.get("mode", "")),
    )


def _knock(row: dict[str, Any]) -> KnockInfo:
    """A knock from a reply row (``Knock.to_json``: empty fields are null, its age is
    ``waiting`` seconds)."""
    return KnockInfo(
        id=str(row["id"]),
        code=str(row.get("code") or ""),
        peer=str(row.get("peer") or ""),
        fingerprint=str(row.get("fingerprint") or ""),
        via=str(row.get("via") or ""),
        share=str(row.get("share") or ""),
        invitation=str(row.get("invitation") or ""),
        mode=str(row.get("mode") or "view"),
        since=time.time() - float(row.get("waiting") or 0),
    )


def _door(row: dict[str, Any]) -> DoorState:
    """The door from a reply (``pairtui door --json``'s shape: seconds left, not a time)."""
    if not row.get("open"):
        return DoorState(0.0, str(row.get("share") or ""))
    return DoorState(time.time() + float(row.get("seconds_left") or 0), str(row.get("share") or ""))


def _recording(row: dict[str, Any]) -> RecordingInfo:
    """A recording from a reply row (``RecordingInfo.to_json``: its start is an ISO
    time, no reason is null)."""
    started = row.get("started")
    return RecordingInfo(
        share=str(row["share"]),
        path=str(row.get("path") or ""),
        started=datetime.fromisoformat(str(started)).timestamp() if started else 0.0,
        input=row.get("input") is True,
        state=str(row.get("state") or "recording"),
        reason=str(row.get("reason") or ""),
        size=int(row.get("size") or 0),
    )
