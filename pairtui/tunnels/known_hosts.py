"""Which host keys a relay may present: the user's OpenSSH known_hosts, then pairtui's
own (what ``pairtui tunnel trust`` writes). Nothing is trusted on first use."""

from __future__ import annotations

import contextlib
from pathlib import Path

import asyncssh

from pairtui import paths
from pairtui.fileutil import atomic_write, locked, read_text
from pairtui.tunnels.model import DEFAULT_SSH_PORT, Tunnel


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
