"""The running engine's control socket: how other pairtui processes talk to it.

One JSON object per line each way over a 0600 Unix socket in the state dir.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pairtui import paths
from pairtui.errors import PairtuiError
from pairtui.registry import Mode

if TYPE_CHECKING:
    from pairtui.server import Engine

TIMEOUT = 5.0


class ControlServer:
    def __init__(self, engine: Engine, path: Path) -> None:
        self.engine = engine
        self.path = path
        self._server: asyncio.AbstractServer | None = None

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
            mode = Mode(request["mode"])
            return {"changed": [c.to_json() for c in await engine.set_mode(request["target"], mode)]}
        if op == "reload":
            await engine.reconcile()
            return {}
        raise PairtuiError(f"unknown request {op!r}")


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
    reply: dict[str, Any] = json.loads(buf)
    if not reply.get("ok"):
        raise PairtuiError(str(reply.get("error", "request failed")))
    return reply


def ping(path: Path | None = None) -> bool:
    try:
        return request("ping", path) is not None
    except (PairtuiError, ValueError):
        return False
