"""Talking to a relay's sshd: what it showed us, and every way reaching it can fail
turned into one line that says what to do (fatal ones wait for the user)."""

from __future__ import annotations

import asyncio
import os
import socket

import asyncssh

from pairtui.errors import PairtuiError
from pairtui.tunnels.known_hosts import known_keys
from pairtui.tunnels.model import Tunnel

CONNECT_TIMEOUT = 15.0


class TunnelError(Exception):
    """Why an attempt failed, for people; ``fatal`` ones wait for the user."""

    def __init__(self, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.fatal = fatal


class RelayClient(asyncssh.SSHClient):
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


def host_key_error(tunnel: Tunnel, key: asyncssh.SSHKey, addr: str) -> TunnelError:
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


def connect_error(exc: BaseException, tunnel: Tunnel) -> TunnelError:
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


async def fetch_host_key(tunnel: Tunnel, timeout: float = CONNECT_TIMEOUT) -> asyncssh.SSHKey:
    """The key the relay presents now (nothing is trusted by fetching it)."""
    try:
        key = await asyncio.wait_for(
            asyncssh.get_server_host_key(tunnel.host, tunnel.port, config=None), timeout
        )
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line for the user
        raise PairtuiError(f"cannot get the host key of {tunnel.host}:{tunnel.port}: "
                           f"{connect_error(exc, tunnel).message}") from None  # fmt: skip
    if key is None:
        raise PairtuiError(f"{tunnel.host}:{tunnel.port} presented no host key")
    return key
