"""SSH facts in one place: the host key, its fingerprint, and the strings guests type."""

from __future__ import annotations

import ipaddress
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from pairtui import paths
from pairtui.errors import PairtuiError


def load_or_create_host_key(path: Path | None = None) -> asyncssh.SSHKey:
    """An ed25519 host key generated once; refuses a key file others can read.

    Several pairtui processes may start at once on a fresh machine (the tmux key's
    background server and a CLI command, say): the first complete key to be linked into
    place wins and every process uses that one, so no two of them ever print different
    fingerprints for this host.
    """
    path = path or paths.host_key_file()
    if path.exists():
        return _read_host_key(path)
    key = asyncssh.generate_private_key("ssh-ed25519", comment="pairtui host key")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(key.export_private_key())
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)  # never replaces: fails if another process got there first
    except FileExistsError:
        return _read_host_key(path)
    finally:
        Path(tmp).unlink()
    return key


def _read_host_key(path: Path) -> asyncssh.SSHKey:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise PairtuiError(f"host key {path} has mode {mode:o}; run `chmod 600 {path}`")
    try:
        return asyncssh.read_private_key(path)
    except (asyncssh.KeyImportError, OSError) as exc:
        raise PairtuiError(f"cannot read host key {path}: {exc}") from None


def fingerprint(key: asyncssh.SSHKey) -> str:
    return key.get_fingerprint("sha256")


@dataclass(frozen=True)
class SshString:
    """How a guest joins: the command line and where it reaches."""

    command: str
    host: str
    port: int
    share: str | None

    def to_json(self) -> dict[str, object]:
        return {"command": self.command, "host": self.host, "port": self.port, "share": self.share}


def address(host: str, port: int) -> str:
    """``host:port`` as OpenSSH writes it (``[::1]:2222`` for IPv6)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def host_of(peer: str) -> str:
    """The host of an :func:`address`: ``198.51.100.7``, ``::1``."""
    return peer.rsplit(":", 1)[0].strip("[]")


def ssh_strings(
    listen: str, port: int, share: str | None = None, user: str = "guest"
) -> list[SshString]:
    """One string per reachable address; a share name other than the default goes last.
    ``user`` is the name the guest logs in as (an invitation's ``inv-TOKEN``)."""
    hosts = ["localhost"] if listen in {"127.0.0.1", "::1", "localhost"} else []
    if not hosts:
        hosts = ["localhost", *_addresses()] if listen in {"0.0.0.0", "::", ""} else [listen]
    out = []
    for host in hosts:
        target = f"[{host}]" if ":" in host else host
        port_part = "" if port == 22 else f"-p {port} "
        cmd = (
            f"ssh {port_part}{user}@{target}"
            if share is None
            else (f"ssh -t {port_part}{user}@{target} {share}")
        )
        out.append(SshString(cmd, host, port, share))
    return out


def _addresses() -> list[str]:
    """Non-loopback IPv4 addresses of this machine, for a server bound to all of them."""
    import socket

    found: list[str] = []
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            addr = str(info[4][0])
            if not addr.startswith("127.") and addr not in found:
                found.append(addr)
    except OSError:
        pass
    return found


def ip_or_unknown(text: str) -> str:
    """``text`` if it is an IP address, else ``?``: what a relay reports of a guest's
    origin is shown to the host (tmux menus among other places), and is believed only
    if it is an address."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return "?"
