"""The engine's side of tunnels: one task per enabled tunnel that connects to the relay,
asks it to forward, carries each forwarded connection to the local pairtui server, and
on loss retries with capped exponential backoff and jitter."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncssh
from asyncssh.constants import OPEN_CONNECT_FAILED
from asyncssh.forward import SSHForwarder

from pairtui.audit import Audit
from pairtui.errors import PairtuiError
from pairtui.events import Event, TunnelChanged, TunnelInfo
from pairtui.ssh import address, ip_or_unknown
from pairtui.tunnels.known_hosts import load_known_hosts
from pairtui.tunnels.model import KEEPALIVE_COUNT_MAX, KEEPALIVE_INTERVAL, Tunnel, local_target
from pairtui.tunnels.relay import (
    CONNECT_TIMEOUT,
    RelayClient,
    TunnelError,
    connect_error,
    host_key_error,
)
from pairtui.tunnels.store import TunnelStore

FORWARD_TIMEOUT = 15.0
# A connection that stayed up this long resets the backoff to its first step.
STABLE_AFTER = 30.0


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with jitter.

    The n-th retry waits ``min(cap, first * 2**(n-1))`` scaled by a random factor in
    ``[1 - jitter, 1]``, so many hosts behind one relay do not reconnect in step. The
    cap keeps a relay that comes back reachable within a few seconds.
    """

    first: float = 0.5
    cap: float = 5.0
    jitter: float = 0.3

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        base = min(self.cap, self.first * 2.0 ** max(0, attempt - 1))
        return base * (1 - self.jitter * rng())


@dataclass
class _Runner:
    tunnel: Tunnel
    info: TunnelInfo
    task: asyncio.Task[None] | None = None
    conn: asyncssh.SSHClientConnection | None = None


class TunnelManager:
    """Keeps every enabled tunnel up while the engine runs.

    ``target`` says where forwarded connections go (the engine's listen address and
    port, read when each connection arrives); ``emit`` receives a
    :class:`~pairtui.events.TunnelChanged` on every state change.
    """

    def __init__(
        self,
        target: Callable[[], tuple[str, int]],
        emit: Callable[[Event], None],
        audit: Audit | None = None,
        store: TunnelStore | None = None,
        *,
        keepalive_interval: float = KEEPALIVE_INTERVAL,
        keepalive_count_max: int = KEEPALIVE_COUNT_MAX,
        connect_timeout: float = CONNECT_TIMEOUT,
        backoff: Backoff | None = None,
    ) -> None:
        self.target = target
        self.emit = emit
        self.audit = audit
        self.store = store or TunnelStore()
        self.keepalive_interval = keepalive_interval
        self.keepalive_count_max = keepalive_count_max
        self.connect_timeout = connect_timeout
        self.backoff = backoff or Backoff()
        self._runners: dict[str, _Runner] = {}
        self._error = ""
        # Our end of each forwarded connection to the server -> (guest's address, tunnel).
        self._origins: dict[tuple[str, int], tuple[str, str]] = {}

    # --- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Bring up every enabled tunnel; a broken tunnels file is reported, not raised."""
        await self.sync()

    async def stop(self) -> None:
        await asyncio.gather(*(self._halt(r) for r in self._runners.values()))

    async def sync(self) -> None:
        """Match the running tunnels to ``tunnels.json``: new ones start, removed ones stop."""
        try:
            tunnels = {t.name: t for t in self.store.load()}
            self._error = ""
        except PairtuiError as exc:
            self._error = str(exc)
            self._record("tunnel-error", reason=self._error)
            return
        for name in [n for n in self._runners if n not in tunnels]:
            await self._halt(self._runners.pop(name))
        for name, tunnel in tunnels.items():
            runner = self._runners.get(name)
            if runner is not None and runner.tunnel == tunnel:
                continue
            if runner is not None:
                await self._halt(runner)
            runner = _Runner(tunnel, _info(tunnel, "disabled"))
            self._runners[name] = runner
            if tunnel.enabled:
                self._launch(runner)
            else:
                self._set(runner, "disabled")

    async def up(self, name: str) -> TunnelInfo:
        """Enable (persisted) and (re)start a tunnel; a failed one gets a fresh try."""
        tunnel = await asyncio.to_thread(self.store.set_enabled, name, True)
        await self.sync()
        runner = self._runners[name]
        if runner.task is None or runner.task.done():
            runner.tunnel = tunnel
            self._launch(runner)
        return runner.info

    async def down(self, name: str) -> TunnelInfo | None:
        """Disable (persisted) and stop a tunnel; ``None`` when it no longer exists."""
        with contextlib.suppress(PairtuiError):  # removed already: just stop it
            await asyncio.to_thread(self.store.set_enabled, name, False)
        runner = self._runners.get(name)
        if runner is not None:
            await self._halt(runner)
            self._set(runner, "disabled")
        await self.sync()
        runner = self._runners.get(name)
        return runner.info if runner else None

    def infos(self) -> list[TunnelInfo]:
        return [r.info for r in self._runners.values()]

    def status(self) -> list[dict[str, object]]:
        return [i.to_json() for i in self.infos()]

    @property
    def error(self) -> str:
        """Why ``tunnels.json`` could not be read, if it could not."""
        return self._error

    # --- one tunnel ----------------------------------------------------------------------

    def origin(self, host: str, port: int) -> tuple[str, str] | None:
        """For the server: where a connection from ``host:port`` really comes from.

        Forwarded guests reach the server from loopback; the relay tells us the address
        it accepted them from, and this is where the server looks it up, once, as the
        connection arrives. ``None`` for connections that are not ours.
        """
        return self._origins.pop((host, port), None)

    def _launch(self, runner: _Runner) -> None:
        self._set(runner, "connecting", attempts=0)  # at once: callers report this state
        runner.task = asyncio.create_task(self._run(runner), name=f"tunnel {runner.tunnel.name}")

    async def _halt(self, runner: _Runner) -> None:
        task, runner.task = runner.task, None
        # Cancel before closing: a closed connection would read as "lost". Before Python
        # 3.12, asyncio.wait_for can swallow a cancel that lands as its inner call ends;
        # the task then sees it is no longer the runner's and ends, and we cancel again.
        while task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)
        if task is not None and not task.cancelled():
            task.exception()  # retrieved: a crash was already reported as a state
        if runner.conn is not None:
            runner.conn.close()
            runner.conn = None

    async def _run(self, runner: _Runner) -> None:
        tunnel = runner.tunnel
        attempt = 0
        reason = ""
        while runner.task is asyncio.current_task():  # else: halted, or replaced
            up_at = 0.0
            try:
                await self._connect_and_serve(runner)
            except TunnelError as exc:
                if exc.fatal:
                    self._set(runner, "failed", reason=exc.message, attempts=attempt + 1)
                    self._record("tunnel-failed", tunnel=tunnel.name, reason=exc.message)
                    return
                reason = exc.message
            except _Lost as lost:
                reason, up_at = lost.reason, lost.up_at
                self._record("tunnel-down", tunnel=tunnel.name, reason=reason)
            except Exception as exc:  # noqa: BLE001 - a tunnel never takes the engine down
                reason = f"{type(exc).__name__}: {exc}"
            finally:
                runner.conn = None
            if runner.task is not asyncio.current_task():
                return  # halted while connecting (its cancel swallowed): no more states
            if up_at and time.time() - up_at >= STABLE_AFTER:
                attempt = 0
            attempt += 1
            delay = self.backoff.delay(attempt)
            self._set(runner, "retrying", reason=reason, retry_at=time.time() + delay,
                      attempts=attempt)  # fmt: skip
            await asyncio.sleep(delay)
            self._set(runner, "connecting", reason=reason, attempts=attempt)

    async def _connect_and_serve(self, runner: _Runner) -> None:
        tunnel = runner.tunnel
        client = RelayClient()
        if tunnel.identity and not Path(tunnel.identity).expanduser().is_file():
            raise TunnelError(f"identity file {tunnel.identity} does not exist", fatal=True)
        keys: dict[str, Any] = {}
        if tunnel.identity:
            keys = {"client_keys": [str(Path(tunnel.identity).expanduser())],
                    "ignore_encrypted": True}  # fmt: skip
        try:
            conn = await asyncssh.connect(
                tunnel.host,
                tunnel.port,
                username=tunnel.user,
                client_factory=lambda: client,
                known_hosts=load_known_hosts(),
                config=None,
                keepalive_interval=self.keepalive_interval,
                keepalive_count_max=self.keepalive_count_max,
                connect_timeout=self.connect_timeout,
                agent_forwarding=False,
                x11_forwarding=False,
                password_auth=False,
                kbdint_auth=False,
                **keys,
            )
        except asyncssh.HostKeyNotVerifiable as exc:
            if client.untrusted is not None:
                raise host_key_error(tunnel, client.untrusted, client.addr) from None
            raise connect_error(exc, tunnel) from None
        except (OSError, asyncssh.Error, asyncssh.KeyImportError, TimeoutError) as exc:
            raise connect_error(exc, tunnel) from None
        runner.conn = conn
        try:
            await self._forward(runner, conn)
            up_at = time.time()
            self._set(runner, "up", attempts=0, forwarded=0)
            self._record("tunnel-up", tunnel=tunnel.name, relay=tunnel.relay,
                         remote=tunnel.remote)  # fmt: skip
            await conn.wait_closed()
        finally:
            conn.close()
        raise _Lost(self._lost_reason(client.lost), up_at)

    def _lost_reason(self, exc: Exception | None) -> str:
        if exc is None:
            return "the relay closed the connection"
        if "keepalive" in str(exc):
            silent = self.keepalive_interval * (self.keepalive_count_max + 1)
            return f"the relay stopped answering (no keepalive reply for {silent:.0f} s)"
        return f"connection to the relay lost ({exc})"

    async def _forward(self, runner: _Runner, conn: asyncssh.SSHClientConnection) -> None:
        tunnel = runner.tunnel

        def session_factory(
            orig_host: str, orig_port: int
        ) -> Awaitable[asyncssh.SSHTCPSession[bytes]]:
            runner.info = replace(runner.info, forwarded=runner.info.forwarded + 1)
            self._record("tunnel-forward", tunnel=tunnel.name, origin=address(orig_host, orig_port))
            return self._to_server(tunnel.name, orig_host, orig_port)  # type: ignore[return-value]

        # A refusal whose cause looks permanent is asked once more before we give up: the
        # port may have been freed (an old session let go) between refusal and probe.
        for last in (False, True):
            try:
                await asyncio.wait_for(
                    conn.create_server(session_factory, tunnel.remote_bind, tunnel.remote_port),
                    FORWARD_TIMEOUT,
                )
                return
            except asyncssh.ChannelListenError:
                error = await self._why_refused(conn, tunnel)
                if last or not error.fatal:
                    raise error from None
            except TimeoutError:
                raise TunnelError(f"the relay did not answer the forward request within "
                                  f"{FORWARD_TIMEOUT:.0f} s") from None  # fmt: skip

    async def _to_server(self, tunnel: str, orig_host: str, orig_port: int) -> SSHForwarder:
        """``forward_connection`` to the server, noting the guest's address first.

        Our socket is bound before it connects, so the address is known before the
        server can accept the connection and ask for it.
        """
        listen, port = self.target()
        host = local_target(listen)
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        key: tuple[str, int] | None = None
        try:
            sock.setblocking(False)
            sock.bind((host, 0))
            bound = sock.getsockname()
            key = (str(bound[0]), int(bound[1]))
            # The relay says where the guest came from: believed only if it is an
            # address (it is shown to the host, in tmux menus among other places).
            self._origins[key] = (address(ip_or_unknown(orig_host), orig_port), tunnel)
            await asyncio.get_running_loop().sock_connect(sock, (host, port))
            _, peer = await asyncio.get_running_loop().create_connection(SSHForwarder, sock=sock)
        except BaseException as exc:  # also cancelled: nothing left behind
            if key is not None:
                self._origins.pop(key, None)
            sock.close()
            if isinstance(exc, OSError):
                raise asyncssh.ChannelOpenError(OPEN_CONNECT_FAILED, str(exc)) from None
            raise
        return SSHForwarder(peer)

    async def _why_refused(self, conn: asyncssh.SSHClientConnection, tunnel: Tunnel) -> TunnelError:
        """The protocol does not say why a forward was refused; ask the relay.

        A connection to the port through the relay succeeds when something listens
        there; the relay forbids it when forwarding is off; it fails when the port is
        free, which leaves sshd's own rules (PermitListen, privileged ports).
        """
        where = f"port {tunnel.remote_port} on the relay"
        probe = "127.0.0.1" if tunnel.public else tunnel.remote_bind
        try:
            _, writer = await asyncio.wait_for(
                conn.open_connection(probe, tunnel.remote_port), FORWARD_TIMEOUT
            )
        except asyncssh.ChannelOpenError as exc:
            if exc.code == asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED:
                return TunnelError(
                    f"the relay refused to forward {where}: its sshd does not allow TCP "
                    f"forwarding for {tunnel.user} (set `AllowTcpForwarding yes` in its "
                    f"sshd_config), then run `pairtui tunnel up {tunnel.name}`",
                    fatal=True,
                )
            return TunnelError(
                f"the relay refused to listen on {tunnel.remote}: its sshd forbids it "
                f"(PermitListen, or a privileged port), then run `pairtui tunnel up "
                f"{tunnel.name}`",
                fatal=True,
            )
        except (TimeoutError, asyncssh.Error, OSError):
            return TunnelError(f"the relay refused to forward {where} (port in use, or "
                               "forwarding not allowed there)")  # fmt: skip
        writer.close()
        return TunnelError(
            f"{where} is already in use (another tunnel or an old session still holds it; "
            "retrying, or choose another --remote-port)"
        )

    # --- state ---------------------------------------------------------------------------

    def _set(self, runner: _Runner, state: str, **changes: Any) -> None:
        changes.setdefault("reason", "")
        changes.setdefault("retry_at", None)
        info = replace(runner.info, state=state, since=time.time(), **changes)
        runner.info = info
        self.emit(TunnelChanged(info))

    def _record(self, event: str, **fields: object) -> None:
        if self.audit is not None:
            with contextlib.suppress(OSError):
                self.audit.record(event, **fields)


class _Lost(Exception):
    """The connection ended after the forward was up (a signal, not a failure)."""

    def __init__(self, reason: str, up_at: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.up_at = up_at


def _info(tunnel: Tunnel, state: str) -> TunnelInfo:
    return TunnelInfo(name=tunnel.name, relay=tunnel.relay, remote=tunnel.remote, state=state)
