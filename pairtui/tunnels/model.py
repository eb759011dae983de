"""A tunnel's definition and what people type for it.

:class:`Tunnel` is one reverse tunnel as ``tunnels.json`` keeps it, checked by
:func:`validate`; the rest turns one into the ssh strings guests use and the plain
OpenSSH command that would do the same (for hosts who want no pairtui on the relay path).
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from dataclasses import asdict, dataclass
from typing import Any

from pairtui.errors import PairtuiError
from pairtui.ssh import SshString

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


# --- what guests type, and the same tunnel with plain OpenSSH ------------------------


def guest_strings(tunnel: Tunnel, share: str | None = None, user: str = "guest") -> list[SshString]:
    """How a guest joins through this tunnel (as ``user``: an invitation's ``inv-TOKEN``).

    Bound publicly: straight to the relay's port. Bound to the relay's loopback: through
    the relay with ProxyJump, which needs a login on the relay for the guest.
    """
    share_part = "" if share is None else f" {share}"
    tty = "" if share is None else "-t "
    port = "" if tunnel.remote_port == DEFAULT_SSH_PORT else f"-p {tunnel.remote_port} "
    if tunnel.public:
        host = f"[{tunnel.host}]" if ":" in tunnel.host else tunnel.host
        command = f"ssh {tty}{port}{user}@{host}{share_part}"
        return [SshString(command, tunnel.host, tunnel.remote_port, share)]
    command = f"ssh {tty}-J {tunnel.relay} {port}{user}@localhost{share_part}"
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
