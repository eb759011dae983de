"""The control socket's wire format: one JSON object per line, events as their raw fields.

Timestamps travel as the floats the engine holds, so an event decoded on the other
side equals the one the engine emitted; fields this version does not know are ignored,
so a newer server can add some.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from pairtui.errors import PairtuiError
from pairtui.events import (
    AccessRefused,
    ClientChanged,
    ClientInfo,
    ClientJoined,
    ClientLeft,
    DoorChanged,
    DoorState,
    Event,
    Knocked,
    KnockInfo,
    RecordingChanged,
    RecordingInfo,
    TunnelChanged,
    TunnelInfo,
)

TIMEOUT = 5.0  # s: for a request line, and for its reply


def encode_event(event: Event) -> dict[str, Any]:
    """An engine event as one JSON object; clients carry their raw timestamps."""
    if isinstance(event, ClientJoined):
        return {"event": "joined", "client": dataclasses.asdict(event.client)}
    if isinstance(event, ClientLeft):
        client = dataclasses.asdict(event.client)
        return {"event": "left", "client": client, "reason": event.reason, "kicked": event.kicked}
    if isinstance(event, ClientChanged):
        return {"event": "changed", "client": dataclasses.asdict(event.client)}
    if isinstance(event, TunnelChanged):
        return {"event": "tunnel", "tunnel": dataclasses.asdict(event.tunnel)}
    if isinstance(event, Knocked):
        return {"event": "knock", "knock": dataclasses.asdict(event.knock), "state": event.state}
    if isinstance(event, DoorChanged):
        return {"event": "door", "door": dataclasses.asdict(event.door),
                "timed_out": event.timed_out}  # fmt: skip
    if isinstance(event, RecordingChanged):
        return {"event": "recording", "recording": dataclasses.asdict(event.recording)}
    return {
        "event": "refused",
        "peer": event.peer,
        "fingerprint": event.fingerprint,
        "reason": event.reason,
        "via": event.via,
    }


def decode_event(data: dict[str, Any]) -> Event | None:
    """The inverse of :func:`encode_event`; ``None`` for lines that are not events."""
    kind = data.get("event")
    if kind == "joined":
        return ClientJoined(decode_client(data["client"]))
    if kind == "left":
        reason, kicked = str(data.get("reason", "")), data.get("kicked") is True
        return ClientLeft(decode_client(data["client"]), reason, kicked)
    if kind == "changed":
        return ClientChanged(decode_client(data["client"]))
    if kind == "refused":
        peer, fp, reason = str(data["peer"]), str(data["fingerprint"]), str(data["reason"])
        return AccessRefused(peer, fp, reason, str(data.get("via", "")))
    if kind == "tunnel":
        return TunnelChanged(decode_tunnel(data["tunnel"]))
    if kind == "knock":
        known = {f.name for f in dataclasses.fields(KnockInfo)}
        info = KnockInfo(**{k: v for k, v in data["knock"].items() if k in known})
        return Knocked(info, str(data["state"]))
    if kind == "door":
        return DoorChanged(decode_door(data["door"]), data.get("timed_out") is True)
    if kind == "recording":
        return RecordingChanged(decode_recording(data["recording"]))
    return None


RECORDING_FIELDS = {f.name for f in dataclasses.fields(RecordingInfo)}


def decode_recording(data: dict[str, Any]) -> RecordingInfo:
    """A recording from its raw fields; fields this version does not know are ignored."""
    return RecordingInfo(**{k: v for k, v in data.items() if k in RECORDING_FIELDS})


def decode_door(data: dict[str, Any]) -> DoorState:
    """The door's state from its raw fields (:class:`DoorState`'s, not ``to_json``'s)."""
    return DoorState(float(data.get("until") or 0), str(data.get("share") or ""))


CLIENT_FIELDS = {f.name for f in dataclasses.fields(ClientInfo)}


def decode_client(data: dict[str, Any]) -> ClientInfo:
    """A client from its raw fields; fields this version does not know are ignored."""
    return ClientInfo(**{k: v for k, v in data.items() if k in CLIENT_FIELDS})


TUNNEL_FIELDS = {f.name for f in dataclasses.fields(TunnelInfo)}


def decode_tunnel(data: dict[str, Any]) -> TunnelInfo:
    """A tunnel's state from its raw fields; fields this version does not know are ignored."""
    return TunnelInfo(**{k: v for k, v in data.items() if k in TUNNEL_FIELDS})


def decode_reply(buf: bytes) -> dict[str, Any]:
    """A reply's fields; raises :class:`PairtuiError` with the server's error if it failed."""
    try:
        reply: dict[str, Any] = json.loads(buf)
    except ValueError:
        raise PairtuiError("the running pairtui server sent no valid answer") from None
    if not reply.get("ok"):
        raise PairtuiError(str(reply.get("error", "request failed")))
    return reply
