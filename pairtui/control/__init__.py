"""The running engine's control socket: how other pairtui processes talk to it.

One JSON object per line each way over a 0600 Unix socket in the state dir
(:mod:`~pairtui.control.codec`). The server (:mod:`~pairtui.control.server`) runs in
the engine's process; the CLI asks it one question at a time, and the dashboard attaches
with a :class:`RemoteEngine` (:mod:`~pairtui.control.client`).
"""

from __future__ import annotations

from pairtui.control.client import (
    Probe,
    RemoteEngine,
    RemoteTunnels,
    ServerUnreachable,
    ping,
    probe,
    request,
    request_async,
)
from pairtui.control.codec import (
    TIMEOUT,
    decode_client,
    decode_event,
    decode_tunnel,
    encode_event,
)
from pairtui.control.server import ACTIVITY_INTERVAL, STREAM_BACKLOG, ControlServer

__all__ = [
    "ACTIVITY_INTERVAL",
    "STREAM_BACKLOG",
    "TIMEOUT",
    "ControlServer",
    "Probe",
    "RemoteEngine",
    "RemoteTunnels",
    "ServerUnreachable",
    "decode_client",
    "decode_event",
    "decode_tunnel",
    "encode_event",
    "ping",
    "probe",
    "request",
    "request_async",
]
