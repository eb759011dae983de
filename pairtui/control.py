"""The running engine's control socket: how other pairtui processes talk to it.

One JSON object per line each way over a 0600 Unix socket in the state dir. Most
requests get one reply and the connection closes; ``subscribe`` keeps it open and the
server writes a snapshot line, then one line per engine event (see :func:`encode_event`).
:class:`RemoteEngine` is the client side of that stream; it keeps
:class:`~pairtui.engine_api.EngineAPI`, as the in-process engine does, so a front end
can drive either. The server needs only that contract of the engine it serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pairtui import paths
from pairtui.errors import PairtuiError
from pairtui.events import (
    AccessRefused,
    ClientChanged,
    ClientInfo,
    ClientJoined,
    ClientLeft,
    Event,
    TunnelChanged,
    TunnelInfo,
)

if TYPE_CHECKING:
    from pairtui.engine_api import EngineAPI
    from pairtui.registry import Mode

TIMEOUT = 5.0
STREAM_BACKLOG = 1000  # events queued for one subscriber before it is dropped
ACTIVITY_INTERVAL = 2.0
_STREAM_LIMIT = 1 << 22  # a snapshot line with many clients can be long


class ControlServer:
    def __init__(self, engine: EngineAPI, path: Path) -> None:
        self.engine = engine
        self.path = path
        self._server: asyncio.AbstractServer | None = None
        self._streams: dict[asyncio.Queue[dict[str, Any] | None], asyncio.Task[Any]] = {}

    async def start(self) -> None:
        if self.path.exists():
            if ping(self.path):
                raise PairtuiError(
                    "a pairtui server is already running for this user "
                    "(see `pairtui clients`, or stop it first)"
                )
            self.path.unlink()
        old = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(self._handle, path=str(self.path))
        finally:
            os.umask(old)

    async def stop(self) -> None:
        for queue in self._streams:
            queue.put_nowait(None)  # ends the stream after the events already queued
        if self._streams:
            await asyncio.wait(list(self._streams.values()), timeout=2)
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), TIMEOUT)
            try:
                request = json.loads(line)
                if request["op"] == "subscribe":
                    await self._stream(reader, writer)
                    return
                reply: dict[str, Any] = {"ok": True, **await self._dispatch(request)}
            except PairtuiError as exc:
                reply = {"ok": False, "error": str(exc)}
            except (ValueError, KeyError, TypeError) as exc:
                reply = {"ok": False, "error": f"bad request: {exc}"}
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _dispatch(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request["op"]
        engine = self.engine
        if op == "ping":
            return {}
        if op == "status":
            return {"status": engine.status()}
        if op == "clients":
            return {"clients": [c.to_json() for c in engine.clients.values()]}
        if op == "kick":
            return {"kicked": [c.to_json() for c in await engine.kick(str(request["target"]))]}
        if op == "mode":
            from pairtui.registry import Mode  # the engine has it loaded already

            changed = await engine.set_mode(str(request["target"]), Mode(request["mode"]))
            return {"changed": [c.to_json() for c in changed]}
        if op == "reload":
            await engine.reconcile()
            return {}
        if op == "tunnels":
            return {"tunnels": engine.tunnels.status(), "error": engine.tunnels.error or None}
        if op == "tunnel-up":
            info = await engine.tunnels.up(str(request["name"]))
            return {"tunnel": info.to_json(), "info": dataclasses.asdict(info)}
        if op == "tunnel-down":
            down = await engine.tunnels.down(str(request["name"]))
            if down is None:
                return {"tunnel": None, "info": None}
            return {"tunnel": down.to_json(), "info": dataclasses.asdict(down)}
        raise PairtuiError(f"unknown request {op!r}")

    async def _stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer ``subscribe`` until the subscriber hangs up or the engine stops.

        A subscriber that stops reading is dropped instead of buffered without bound.
        """
        engine = self.engine
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

        def forward(event: Event) -> None:
            if queue.qsize() >= STREAM_BACKLOG:
                _quietly(unsubscribe)
                queue.put_nowait(None)
            else:
                queue.put_nowait(encode_event(event))

        unsubscribe = engine.subscribe(forward)
        task = asyncio.current_task()
        assert task is not None
        self._streams[queue] = task
        hello = {
            "ok": True,
            "status": engine.status(),
            "started": engine.started,
            "clients": [dataclasses.asdict(c) for c in engine.clients.values()],
            "tunnels": [dataclasses.asdict(t) for t in engine.tunnels.infos()],
            "tunnel_error": engine.tunnels.error,
        }
        activity = asyncio.create_task(self._report_activity(queue))
        hangup = asyncio.create_task(reader.read())  # returns at EOF: the subscriber left
        try:
            writer.write(json.dumps(hello).encode() + b"\n")
            while True:
                get = asyncio.create_task(queue.get())
                await asyncio.wait({get, hangup}, return_when=asyncio.FIRST_COMPLETED)
                if not get.done():
                    get.cancel()
                    return
                item = get.result()
                if item is None:
                    return
                writer.write(json.dumps(item).encode() + b"\n")
                await writer.drain()
        finally:
            _quietly(unsubscribe)
            self._streams.pop(queue, None)
            activity.cancel()
            hangup.cancel()

    async def _report_activity(self, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        """A guest's last input changes without an event; report it every few seconds."""
        sent: dict[str, float | None] = {}
        while True:
            await asyncio.sleep(ACTIVITY_INTERVAL)
            now = {c.id: c.last_input for c in self.engine.clients.values()}
            changed = {cid: ts for cid, ts in now.items() if ts is not None and sent.get(cid) != ts}
            sent = now
            if changed and queue.qsize() < STREAM_BACKLOG:
                queue.put_nowait({"event": "activity", "last_input": changed})


def _quietly(unsubscribe: Callable[[], None]) -> None:
    with contextlib.suppress(ValueError):  # already unsubscribed
        unsubscribe()


# --- events on the wire ----------------------------------------------------------------


def encode_event(event: Event) -> dict[str, Any]:
    """An engine event as one JSON object; clients carry their raw timestamps."""
    if isinstance(event, ClientJoined):
        return {"event": "joined", "client": dataclasses.asdict(event.client)}
    if isinstance(event, ClientLeft):
        return {"event": "left", "client": dataclasses.asdict(event.client), "reason": event.reason}
    if isinstance(event, ClientChanged):
        return {"event": "changed", "client": dataclasses.asdict(event.client)}
    if isinstance(event, TunnelChanged):
        return {"event": "tunnel", "tunnel": dataclasses.asdict(event.tunnel)}
    return {
        "event": "refused",
        "peer": event.peer,
        "fingerprint": event.fingerprint,
        "reason": event.reason,
        "via": event.via,
    }


def decode_event(data: dict[str, Any]) -> Event | None:
    """The inverse of :func:`encode_event`; ``None`` for lines that are not events."""
    kind = data.get("event")
    if kind == "joined":
        return ClientJoined(decode_client(data["client"]))
    if kind == "left":
        return ClientLeft(decode_client(data["client"]), str(data.get("reason", "")))
    if kind == "changed":
        return ClientChanged(decode_client(data["client"]))
    if kind == "refused":
        peer, fp, reason = str(data["peer"]), str(data["fingerprint"]), str(data["reason"])
        return AccessRefused(peer, fp, reason, str(data.get("via", "")))
    if kind == "tunnel":
        return TunnelChanged(decode_tunnel(data["tunnel"]))
    return None


_CLIENT_FIELDS = {f.name for f in dataclasses.fields(ClientInfo)}


def decode_client(data: dict[str, Any]) -> ClientInfo:
    """A client from its raw fields; fields this version does not know are ignored."""
    return ClientInfo(**{k: v for k, v in data.items() if k in _CLIENT_FIELDS})


_TUNNEL_FIELDS = {f.name for f in dataclasses.fields(TunnelInfo)}


def decode_tunnel(data: dict[str, Any]) -> TunnelInfo:
    """A tunnel's state from its raw fields; fields this version does not know are ignored."""
    return TunnelInfo(**{k: v for k, v in data.items() if k in _TUNNEL_FIELDS})


# --- clients ---------------------------------------------------------------------------


def request(op: str, path: Path | None = None, **args: object) -> dict[str, Any] | None:
    """Ask the running engine; ``None`` when no engine is running."""
    path = path or paths.control_socket()
    if not path.exists():
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(TIMEOUT)
    try:
        sock.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        sock.close()
        return None
    try:
        sock.sendall(json.dumps({"op": op, **args}).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
    except OSError as exc:
        raise PairtuiError(f"the running pairtui server did not answer: {exc}") from None
    finally:
        sock.close()
    return _reply(buf)


async def request_async(op: str, path: Path | None = None, **args: object) -> dict[str, Any] | None:
    """:func:`request` for code running in an event loop (which must not block)."""
    path = path or paths.control_socket()
    try:
        reader, writer = await asyncio.open_unix_connection(str(path), limit=_STREAM_LIMIT)
    except (ConnectionRefusedError, FileNotFoundError):
        return None
    try:
        writer.write(json.dumps({"op": op, **args}).encode() + b"\n")
        buf = await asyncio.wait_for(reader.readline(), TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise PairtuiError(f"the running pairtui server did not answer: {exc}") from None
    finally:
        writer.close()
    return _reply(buf)


def _reply(buf: bytes) -> dict[str, Any]:
    try:
        reply: dict[str, Any] = json.loads(buf)
    except ValueError:
        raise PairtuiError("the running pairtui server sent no valid answer") from None
    if not reply.get("ok"):
        raise PairtuiError(str(reply.get("error", "request failed")))
    return reply


def ping(path: Path | None = None) -> bool:
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
        self.started = time.time()
        self._fingerprint = ""
        self.tunnels = RemoteTunnels(self.path)
        self._subscribers: list[Callable[[Event], None]] = []
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._closed: asyncio.Future[str] | None = None

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    async def start(self) -> None:
        """Subscribe; raises :class:`PairtuiError` when no server answers."""
        try:
            reader, writer = await asyncio.open_unix_connection(str(self.path), limit=_STREAM_LIMIT)
        except (ConnectionRefusedError, FileNotFoundError):
            raise PairtuiError("no pairtui server is running") from None
        try:
            writer.write(b'{"op": "subscribe"}\n')
            hello = _reply(await asyncio.wait_for(reader.readline(), TIMEOUT))
        except (OSError, TimeoutError, PairtuiError) as exc:
            writer.close()
            raise PairtuiError(f"the running pairtui server did not answer: {exc}") from None
        status = hello["status"]
        self.listen, self.port = str(status["listen"]), int(status["port"])
        self.pid = int(status.get("pid", 0))
        self._fingerprint = str(status.get("fingerprint", ""))
        self.started = float(hello.get("started", time.time()))
        self.clients = {c.id: c for c in map(decode_client, hello.get("clients", []))}
        tunnels = map(decode_tunnel, hello.get("tunnels", []))
        self.tunnels.current = {t.name: t for t in tunnels}
        self.tunnels.error = str(hello.get("tunnel_error", ""))
        self._writer = writer
        self._closed = asyncio.get_running_loop().create_future()
        self._reader_task = asyncio.create_task(self._read(reader))

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
                    self.clients[cid].last_input = float(ts)
            return
        event = decode_event(data)
        if isinstance(event, ClientJoined):
            self.clients[event.client.id] = event.client
        elif isinstance(event, ClientLeft):
            self.clients.pop(event.client.id, None)
        elif isinstance(event, TunnelChanged):
            self.tunnels.current[event.tunnel.name] = event.tunnel
        elif isinstance(event, ClientChanged) and event.client.id in self.clients:
            # Update in place: whoever holds the info sees the change.
            current = self.clients[event.client.id]
            for name in _CLIENT_FIELDS:
                setattr(current, name, getattr(event.client, name))
            event = ClientChanged(current)
        if event is not None:
            self._emit(event)

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def _emit(self, event: Event) -> None:
        for callback in list(self._subscribers):
            callback(event)

    async def kick(self, target: str) -> list[ClientInfo]:
        reply = await _ask(self.path, "kick", target=target)
        return [self.clients.get(c["id"]) or _brief(c) for c in reply["kicked"]]

    async def set_mode(self, target: str, mode: Mode) -> list[ClientInfo]:
        reply = await _ask(self.path, "mode", target=target, mode=mode.value)
        changed = []
        for row in reply["changed"]:
            info = self.clients.get(row["id"])
            if info is None:
                info = _brief(row)
            info.mode = str(row["mode"])  # the stream's ClientChanged may still be in flight
            changed.append(info)
        return changed

    async def reconcile(self) -> None:
        await _ask(self.path, "reload")

    def status(self) -> dict[str, object]:
        return {
            "pid": self.pid,
            "listen": self.listen,
            "port": self.port,
            "fingerprint": self.fingerprint,
            "uptime_seconds": round(time.time() - self.started, 1),
            "clients": len(self.clients),
        }


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
