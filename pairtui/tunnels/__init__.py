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


The parts: :mod:`.model` (a tunnel and its strings), :mod:`.store` (``tunnels.json``),
:mod:`.known_hosts`, :mod:`.relay` (talking to the relay, its errors) and
:mod:`.manager` (the engine's runner). What other modules use is named here.
"""

from __future__ import annotations

from pairtui.tunnels.known_hosts import (
    host_pattern,
    known_hosts_files,
    known_keys,
    load_known_hosts,
    trust_host_key,
)
from pairtui.tunnels.manager import Backoff, TunnelManager
from pairtui.tunnels.model import (
    BINDS,
    DEFAULT_REMOTE_PORT,
    DEFAULT_SSH_PORT,
    Tunnel,
    guest_note,
    guest_strings,
    local_target,
    openssh_command,
    parse_relay,
    validate,
)
from pairtui.tunnels.relay import TunnelError, fetch_host_key
from pairtui.tunnels.store import TunnelStore

__all__ = [
    "BINDS",
    "DEFAULT_REMOTE_PORT",
    "DEFAULT_SSH_PORT",
    "Backoff",
    "Tunnel",
    "TunnelError",
    "TunnelManager",
    "TunnelStore",
    "fetch_host_key",
    "guest_note",
    "guest_strings",
    "host_pattern",
    "known_hosts_files",
    "known_keys",
    "load_known_hosts",
    "local_target",
    "openssh_command",
    "parse_relay",
    "trust_host_key",
    "validate",
]
