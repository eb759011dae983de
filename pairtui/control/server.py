"""The control socket's server side, in ``pairtui serve`` (or the dashboard's own engine).

It needs only :class:`~pairtui.engine_api.EngineAPI` of the engine it serves. Most
requests get one reply and the connection closes; ``subscribe`` keeps it open: a
snapshot line, then one line per engine event, and every few seconds the clients' last
input (which changes without an event).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pairtui.control.client import probe
from pairtui.control.codec import TIMEOUT, encode_event
from pairtui.door import state_json
from pairtui.errors import PairtuiError
from pairtui.events import Event

if TYPE_CHECKING:
    from pairtui.door import Keeper
    from pairtui.engine_api import EngineAPI

STREAM_BACKLOG = 1000  # events queued for one subscriber before it is dropped
ACTIVITY_INTERVAL = 2.0


class ControlServer:
    def __init__(
        self, engine: EngineAPI, path: Path, on_stop: Callable[[], None] | None = None
    ) -> None:
        """``on_stop``: what a ``stop`` request does (``pairtui serve``: what SIGTERM
        does). Without it, ``stop`` is refused: a dashboard's engine ends with it."""
        self.engine = engine
        self.path = path
        self._on_stop = on_stop
        self._server: asyncio.AbstractServer | None = None
        self._streams: dict[asyncio.Queue[dict[str, Any] | None], asyncio.Task[Any]] = {}

    async def start(self) -> None:
        found = probe(self.path)
        if found.state == "running":
            raise PairtuiError(
                "a pairtui server is already running for this user "
                "(see `pairtui status`, or `pairtui stop` it first)"
            )
        if found.state == "busy":  # never take the socket of a server that is only busy
            raise PairtuiError(found.error)
        if found.state == "stale":
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
        if op == "stop":
            if self._on_stop is None:
                raise PairtuiError(
                    "this pairtui server runs inside a dashboard: quit the dashboard to stop it"
                )
            # After this reply is on its way: stopping closes this socket.
            asyncio.get_running_loop().call_later(0.05, self._on_stop)
            return {"pid": engine.pid, "clients": len(engine.clients)}
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
        if op == "door":
            action = request.get("action", "status")
            if action == "open":
                share = str(request.get("share") or "")
                door = await engine.open_door(float(request["seconds"]), share)
            else:
                door = await engine.close_door() if action == "close" else engine.door_state()
            return {"door": state_json(door, len(engine.knocks()))}
        if op in {"knocks", "admit", "deny"}:
            return self._door(op, request)
        if op == "record":
            return await self._record(request)
        raise PairtuiError(f"unknown request {op!r}")

    async def _record(self, request: dict[str, Any]) -> dict[str, Any]:
        """Recording a share (pairtui.recording), through the engine's contract."""
        engine = self.engine
        action, share = request.get("action", "list"), str(request.get("share") or "")
        if action == "start":
            info = await engine.start_recording(share, bool(request.get("input")))
        elif action == "stop":
            info = await engine.stop_recording(share)
        else:
            return {"recordings": [r.to_json() for r in engine.recording_list()]}
        return {"recording": info.to_json()}

    def _door(self, op: str, request: dict[str, Any]) -> dict[str, Any]:
        """Knock-to-admit (pairtui.door): only a serving engine has a door."""
        from pairtui.registry import Mode

        if not hasattr(self.engine, "door"):
            raise PairtuiError("this pairtui has no door")
        engine = cast("Keeper", self.engine)
        if op == "knocks":
            return {"knocks": [k.to_json() for k in engine.knocks()],
                    "door": engine.door.state()}  # fmt: skip
        if op == "admit":
            knock = engine.admit_knock(
                str(request["id"]), Mode(request["mode"]) if request.get("mode") else None,
                bool(request.get("remember")), request.get("expires") or None,
                str(request.get("name") or ""),
                None if request.get("code") is None else str(request["code"]),
            )  # fmt: skip
            return {"admitted": knock.to_json()}
        return {"denied": engine.deny_knock(str(request["id"])).to_json()}

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
