"""Reverse tunnels: guests behind other networks reach the host through a plain sshd.

A tunnel is what ``ssh -N -R BIND:PORT:localhost:LOCAL USER@RELAY`` does, run by the
engine with asyncssh: it logs into the relay with the host's own keys (or ssh-agent, or
``--identity``), asks the relay to listen on ``BIND:PORT`` and carries every connection
made there to the local pairtui server. Definitions live in ``tunnels.json`` in the
config dir (written atomically under a lock); the relay's host key must be known from
``~/.ssh/known_hosts`` or pairtui's own ``known_hosts`` (``pairtui tunnel trust``).

:class:`TunnelManager` runs one task per enabled tunnel: connect, forward, wait until
the connection is lost, then retry with capped exponential backoff and jitter. What
needs the user (an unknown or changed host key, keys the relay refuses, a relay that
forbids forwarding) ends in ``failed`` with a message that says what to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import random
import re
import shlex
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import asyncssh
from asyncssh.constants import OPEN_CONNECT_FAILED
from asyncssh.forward import SSHForwarder

from pairtui import paths
from pairtui.audit import Audit
from pairtui.errors import PairtuiError
from pairtui.events import Event, TunnelChanged, TunnelInfo
from pairtui.fileutil import atomic_write, locked, read_text
from pairtui.ssh import SshString, address

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")  # always used with fullmatch
USER_RE = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._-]{0,63}")
HOST_RE = re.compile(r"[A-Za-z0-9._-]{1,253}")
BINDS = ("127.0.0.1", "0.0.0.0")
DEFAULT_REMOTE_PORT = 2222
DEFAULT_SSH_PORT = 22

# Well below the idle timeouts of NATs and load balancers (typically 60 s and more):
# a keepalive every 15 s keeps the mapping open, three unanswered ones end the tunnel.
KEEPALIVE_INTERVAL = 15.0
KEEPALIVE_COUNT_MAX = 3
CONNECT_TIMEOUT = 15.0
FORWARD_TIMEOUT = 15.0
# A connection that stayed up this long resets the backoff to its first step.
STABLE_AFTER = 30.0

STATES = ("disabled", "connecting", "up", "retrying", "failed")


# --- definitions -------------------------------------------------------------------


@dataclass(frozen=True)
class Tunnel:
    """One reverse tunnel as the user defined it."""

    name: str
    user: str
    host: str
    port: int = DEFAULT_SSH_PORT
    remote_port: int = DEFAULT_REMOTE_PORT
    remote_bind: str = "127.0.0.1"
    identity: str | None = None
    enabled: bool = True

    @property
    def relay(self) -> str:
        """``USER@HOST[:PORT]`` as the user typed it (IPv6 in brackets with a port)."""
        host = f"[{self.host}]" if ":" in self.host and self.port != DEFAULT_SSH_PORT else self.host
        return f"{self.user}@{host}" + ("" if self.port == DEFAULT_SSH_PORT else f":{self.port}")

    @property
    def remote(self) -> str:
        return f"{self.remote_bind}:{self.remote_port}"

    @property
    def public(self) -> bool:
        """Bound on every address of the relay (needs ``GatewayPorts`` there)."""
        return self.remote_bind == "0.0.0.0"

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tunnel:
        tunnel = cls(
            name=str(data["name"]),
            user=str(data["user"]),
            host=str(data["host"]),
            port=int(data.get("port", DEFAULT_SSH_PORT)),
            remote_port=int(data.get("remote_port", DEFAULT_REMOTE_PORT)),
            remote_bind=str(data.get("remote_bind", "127.0.0.1")),
            identity=None if data.get("identity") is None else str(data["identity"]),
            enabled=bool(data.get("enabled", True)),
        )
        validate(tunnel)
        return tunnel


def parse_relay(spec: str) -> tuple[str, str, int]:
    """``USER@HOST[:PORT]`` (``USER@[V6]:PORT`` for IPv6) into its parts."""
    user, at, rest = spec.rpartition("@")
    if not at or not user:
        raise PairtuiError(f"relay {spec!r} must be USER@HOST[:PORT] (e.g. me@relay.example.org)")
    port = DEFAULT_SSH_PORT
    if rest.startswith("["):
        host, close, tail = rest[1:].partition("]")
        if not close or (tail and not tail.startswith(":")):
            raise PairtuiError(f"relay {spec!r}: write an IPv6 address as [ADDR] or [ADDR]:PORT")
        port_text = tail[1:] if tail else ""
    elif rest.count(":") == 1:
        host, _, port_text = rest.partition(":")
    else:
        host, port_text = rest, ""
    if port_text:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise PairtuiError(f"relay {spec!r}: port must be 1-65535, not {port_text!r}")
        port = int(port_text)
    if not USER_RE.fullmatch(user):
        raise PairtuiError(f"relay {spec!r}: {user!r} is not a valid user name")
    if not host or not (HOST_RE.fullmatch(host) or _is_ipv6(host)):
        raise PairtuiError(f"relay {spec!r}: {host!r} is not a host name or address")
    return user, host, port


def _is_ipv6(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 6
    except ValueError:
        return False


def validate(tunnel: Tunnel) -> None:
    if not NAME_RE.fullmatch(tunnel.name):
        raise PairtuiError(
            f"tunnel name {tunnel.name!r} must be 1-32 letters, digits, '.', '_' or '-' "
            "and start with a letter or digit"
        )
    if not 1 <= tunnel.port <= 65535:
        raise PairtuiError(f"relay port must be 1-65535, not {tunnel.port}")
    if not 1 <= tunnel.remote_port <= 65535:
        raise PairtuiError(f"--remote-port must be 1-65535, not {tunnel.remote_port}")
    if tunnel.remote_bind not in BINDS:
        raise PairtuiError(f"--remote-bind must be one of {', '.join(BINDS)}")


class TunnelStore:
    """``tunnels.json``: a JSON list of tunnels, rewritten atomically under its lock."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.tunnels_file()

    def load(self) -> list[Tunnel]:
        text = read_text(self.path)
        if not text.strip():
            return []
        try:
            data = json.loads(text)
            if not isinstance(data, list):
                raise TypeError("not a list")
            return [Tunnel.from_json(row) for row in data]
        except (ValueError, TypeError, KeyError) as exc:
            raise PairtuiError(f"{self.path}: not a valid tunnels file ({exc})") from None

    def get(self, name: str) -> Tunnel:
        for tunnel in self.load():
            if tunnel.name == name:
                return tunnel
        raise PairtuiError(f"no tunnel named {name!r} (see `pairtui tunnel list`)")

    def _save(self, tunnels: list[Tunnel]) -> None:
        data = json.dumps([t.to_json() for t in tunnels], indent=2) + "\n"
        atomic_write(self.path, data)

    def add(self, tunnel: Tunnel) -> Tunnel:
        validate(tunnel)
        with locked(self.path):
            tunnels = self.load()
            if any(t.name == tunnel.name for t in tunnels):
                raise PairtuiError(
                    f"a tunnel named {tunnel.name!r} exists already "
                    f"(`pairtui tunnel remove {tunnel.name}` first)"
                )
            same = [
                t.name
                for t in tunnels
                if (t.host, t.port, t.remote_port) == (tunnel.host, tunnel.port, tunnel.remote_port)
            ]
            if same:
                raise PairtuiError(
                    f"tunnel {same[0]!r} already forwards port {tunnel.remote_port} on "
                    f"{tunnel.host}; choose another --remote-port"
                )
            self._save([*tunnels, tunnel])
        return tunnel

    def remove(self, name: str) -> Tunnel:
        with locked(self.path):
            tunnels = self.load()
            found = [t for t in tunnels if t.name == name]
            if not found:
                raise PairtuiError(f"no tunnel named {name!r} (see `pairtui tunnel list`)")
            self._save([t for t in tunnels if t.name != name])
        return found[0]

    def set_enabled(self, name: str, enabled: bool) -> Tunnel:
        with locked(self.path):
            tunnels = self.load()
            for i, t in enumerate(tunnels):
                if t.name == name:
                    tunnels[i] = replace(t, enabled=enabled)
                    if t.enabled != enabled:
                        self._save(tunnels)
                    return tunnels[i]
        raise PairtuiError(f"no tunnel named {name!r} (see `pairtui tunnel list`)")


# --- what guests type, and the same tunnel with plain OpenSSH ------------------------


def guest_strings(tunnel: Tunnel, share: str | None = None) -> list[SshString]:
    """How a guest joins through this tunnel.

    Bound publicly: straight to the relay's port. Bound to the relay's loopback: through
    the relay with ProxyJump, which needs a login on the relay for the guest.
    """
    share_part = "" if share is None else f" {share}"
    tty = "" if share is None else "-t "
    port = "" if tunnel.remote_port == DEFAULT_SSH_PORT else f"-p {tunnel.remote_port} "
    if tunnel.public:
        host = f"[{tunnel.host}]" if ":" in tunnel.host else tunnel.host
        command = f"ssh {tty}{port}guest@{host}{share_part}"
        return [SshString(command, tunnel.host, tunnel.remote_port, share)]
    command = f"ssh {tty}-J {tunnel.relay} {port}guest@localhost{share_part}"
    return [SshString(command, "localhost", tunnel.remote_port, share)]


def guest_note(tunnel: Tunnel) -> str:
    """What the relay must allow for the guest strings to work."""
    if tunnel.public:
        return (
            "the relay's sshd_config needs GatewayPorts clientspecified (or yes), "
            f"and its firewall must let port {tunnel.remote_port} in"
        )
    return (
        f"guests jump through {tunnel.relay} and need a login there; "
        "docs/tunnels.md shows a jump-only authorized_keys line"
    )


def openssh_command(tunnel: Tunnel, local_host: str, local_port: int) -> str:
    """The same tunnel with the host's own ssh, for those who prefer it."""
    argv = ["ssh", "-N"]
    if tunnel.port != DEFAULT_SSH_PORT:
        argv += ["-p", str(tunnel.port)]
    if tunnel.identity:
        argv += ["-i", tunnel.identity]
    argv += [
        "-o", "ExitOnForwardFailure=yes",
        "-o", f"ServerAliveInterval={int(KEEPALIVE_INTERVAL)}",
        "-o", f"ServerAliveCountMax={KEEPALIVE_COUNT_MAX}",
        "-R", f"{tunnel.remote_bind}:{tunnel.remote_port}:{local_target(local_host)}:{local_port}",
        f"{tunnel.user}@{tunnel.host}",
    ]  # fmt: skip
    return shlex.join(argv)


def local_target(listen: str) -> str:
    """Where forwarded connections go: the server's address, loopback for a wildcard."""
    if listen in {"", "0.0.0.0"}:
        return "127.0.0.1"
    if listen == "::":
        return "::1"
    return listen


# --- relay host keys -------------------------------------------------------------------


def known_hosts_files() -> list[Path]:
    """The user's OpenSSH known_hosts, then pairtui's own (what ``tunnel trust`` writes)."""
    return [Path.home() / ".ssh" / "known_hosts", paths.tunnel_known_hosts()]


def load_known_hosts() -> asyncssh.SSHKnownHosts:
    """Both known_hosts files; lines asyncssh cannot read are skipped, as OpenSSH does."""
    known = asyncssh.SSHKnownHosts()
    for path in known_hosts_files():
        for line in read_text(path).splitlines():
            with contextlib.suppress(ValueError, asyncssh.KeyImportError):
                known.load(line)
    return known


def host_pattern(host: str, port: int) -> str:
    """The known_hosts name of ``host:port``, as OpenSSH writes it."""
    return host if port == DEFAULT_SSH_PORT else f"[{host}]:{port}"


def known_keys(host: str, port: int, addr: str = "") -> list[asyncssh.SSHKey]:
    """Host keys trusted for this relay (``addr``: the address it resolved to, if known)."""
    match = asyncssh.match_known_hosts(
        load_known_hosts(), host, addr, None if port == DEFAULT_SSH_PORT else port
    )
    return list(match[0])


async def fetch_host_key(tunnel: Tunnel, timeout: float = CONNECT_TIMEOUT) -> asyncssh.SSHKey:
    """The key the relay presents now (nothing is trusted by fetching it)."""
    try:
        key = await asyncio.wait_for(
            asyncssh.get_server_host_key(tunnel.host, tunnel.port, config=None), timeout
        )
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line for the user
        raise PairtuiError(f"cannot get the host key of {tunnel.host}:{tunnel.port}: "
                           f"{_connect_error(exc, tunnel).message}") from None  # fmt: skip
    if key is None:
        raise PairtuiError(f"{tunnel.host}:{tunnel.port} presented no host key")
    return key


def trust_host_key(tunnel: Tunnel, key: asyncssh.SSHKey) -> Path:
    """Record ``key`` for the relay in pairtui's known_hosts, replacing older entries."""
    path = paths.tunnel_known_hosts()
    pattern = host_pattern(tunnel.host, tunnel.port)
    algorithm, blob = key.export_public_key("openssh").decode().split()[:2]
    entry = f"{pattern} {algorithm} {blob}"
    with locked(path):
        kept = [
            line
            for line in read_text(path).splitlines()
            if not line.strip() or line.split()[0].split(",").count(pattern) == 0
        ]
        atomic_write(path, "\n".join([*kept, entry]) + "\n")
    return path


# --- states and backoff ----------------------------------------------------------------


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


class TunnelError(Exception):
    """Why an attempt failed, for people; ``fatal`` ones wait for the user."""

    def __init__(self, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.fatal = fatal


class _RelayClient(asyncssh.SSHClient):
    """Remembers what the relay showed: its host key when untrusted, why it went away."""

    def __init__(self) -> None:
        self.untrusted: asyncssh.SSHKey | None = None
        self.addr = ""
        self.lost: Exception | None = None
        self.banner = ""

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        self.untrusted, self.addr = key, addr
        return False

    def auth_banner_received(self, msg: str, lang: str) -> None:
        self.banner += msg

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = exc


def _host_key_error(tunnel: Tunnel, key: asyncssh.SSHKey, addr: str) -> TunnelError:
    fp = key.get_fingerprint("sha256")
    known = known_keys(tunnel.host, tunnel.port, addr)
    trust = f"`pairtui tunnel trust {tunnel.name}`"
    if known:
        olds = ", ".join(k.get_fingerprint("sha256") for k in known)
        return TunnelError(
            f"the relay's host key CHANGED: {tunnel.host}:{tunnel.port} now presents "
            f"{key.get_algorithm()} {fp}, known_hosts has {olds}. This may be an attack; "
            f"if the relay was reinstalled, check the new key with its admin, then run {trust}",
            fatal=True,
        )
    return TunnelError(
        f"the relay's host key is unknown: {tunnel.host}:{tunnel.port} presents "
        f"{key.get_algorithm()} {fp}. Check it with the relay's admin, then run {trust} "
        f"(or connect once with `ssh -p {tunnel.port} {tunnel.user}@{tunnel.host}`)",
        fatal=True,
    )


def _connect_error(exc: BaseException, tunnel: Tunnel) -> TunnelError:
    """One line for any failure to reach or log into the relay."""
    where = f"{tunnel.host}:{tunnel.port}"
    if isinstance(exc, asyncssh.PermissionDenied):
        return TunnelError(
            f"the relay refused our keys for {tunnel.user} ({_keys_tried(tunnel)}); add the "
            f"host's public key to {tunnel.user}'s authorized_keys on {tunnel.host}, "
            "or pick a key with --identity",
            fatal=True,
        )
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return TunnelError(f"the relay's host key was not accepted: {exc.reason}", fatal=True)
    if isinstance(exc, asyncssh.DisconnectError):
        return TunnelError(f"{where} closed the connection: {exc.reason or type(exc).__name__}")
    if isinstance(exc, TimeoutError):
        return TunnelError(f"no answer from {where} within {CONNECT_TIMEOUT:.0f} s")
    if isinstance(exc, ConnectionRefusedError):
        return TunnelError(f"connection refused by {where} (is its sshd running?)")
    if isinstance(exc, OSError):
        if isinstance(exc, socket.gaierror):
            return TunnelError(f"cannot resolve {tunnel.host} ({exc.strerror})")
        # asyncio puts "Connect call failed (addr)" where the system's words would be.
        text = os.strerror(exc.errno) if exc.errno else str(exc)
        if "Multiple exceptions" in text:  # every address of the name failed
            text = "refused or unreachable at every address"
        return TunnelError(f"cannot reach {where}: {text}")
    return TunnelError(f"{where}: {type(exc).__name__}: {exc}")


def _keys_tried(tunnel: Tunnel) -> str:
    tried = [tunnel.identity] if tunnel.identity else ["the default keys in ~/.ssh"]
    if os.environ.get("SSH_AUTH_SOCK"):
        tried.append("ssh-agent")
    return "tried " + " and ".join(tried)


# --- the manager -------------------------------------------------------------------------


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
        client = _RelayClient()
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
                raise _host_key_error(tunnel, client.untrusted, client.addr) from None
            raise _connect_error(exc, tunnel) from None
        except (OSError, asyncssh.Error, asyncssh.KeyImportError, TimeoutError) as exc:
            raise _connect_error(exc, tunnel) from None
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
            self._origins[key] = (address(orig_host, orig_port), tunnel)
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
