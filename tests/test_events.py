"""What the engine tells its subscribers: the JSON a client or tunnel becomes, and its strings.

(How events cross the control socket is tested in test_control.py; a tunnel's one-line
states in test_tunnels.py.)
"""

from __future__ import annotations

import json
import time
from dataclasses import FrozenInstanceError, replace
from datetime import UTC, datetime

import pytest

from pairtui.events import (
    AccessRefused,
    ClientInfo,
    ClientJoined,
    TunnelInfo,
    where,
)

SINCE = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC).timestamp()


def client(**changes: object) -> ClientInfo:
    base = ClientInfo(
        id="c3",
        guest="alice",
        fingerprint="SHA256:abc",
        peer="198.51.100.7:50312",
        share="main",
        mode="pair",
        since=SINCE,
        last_input=SINCE + 90.25,
        cols=132,
        rows=43,
        tty="/dev/pts/7",
        pid=4242,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_client_as_json_names_every_field_and_survives_json_dumps() -> None:
    before = time.time()
    data = client().to_json()
    after = time.time()
    assert json.loads(json.dumps(data)) == data
    connected, idle = data.pop("connected_seconds"), data.pop("idle_seconds")
    assert data == {
        "id": "c3",
        "guest": "alice",
        "fingerprint": "SHA256:abc",
        "peer": "198.51.100.7:50312",
        "via": "",
        "share": "main",
        "mode": "pair",
        "since": "2026-03-04T05:06:07Z",
        "last_input": "2026-03-04T05:07:37Z",
        "size": "132x43",
        "tmux_client": "/dev/pts/7",
        "pid": 4242,
        "terminal": True,
    }
    assert isinstance(connected, float) and isinstance(idle, float)
    assert round(before - SINCE, 1) <= connected <= round(after - SINCE, 1)
    assert abs((connected - idle) - 90.25) <= 0.1  # idle since the last keystroke


def test_a_client_that_never_typed_is_idle_since_it_came() -> None:
    data = client(last_input=None).to_json()
    assert data["last_input"] is None
    assert data["idle_seconds"] == data["connected_seconds"]


def test_a_login_without_a_terminal_says_so() -> None:
    """``ssh -N`` or a ControlMaster: logged in, but no tmux client."""
    quiet = client(tty="", pid=0)
    assert quiet.terminal is False
    assert quiet.to_json()["terminal"] is False
    assert quiet.to_json()["tmux_client"] == ""


def test_where_a_guest_is_names_the_tunnel_it_came_through() -> None:
    assert client().origin == "198.51.100.7:50312"
    assert client(via="vps").origin == "198.51.100.7:50312 via vps"
    assert client(via="vps").to_json()["via"] == "vps"
    refused = AccessRefused("[2001:db8::1]:4000", "SHA256:zzz", "unknown key", via="lab")
    assert refused.origin == "[2001:db8::1]:4000 via lab"
    assert AccessRefused("10.0.0.1:5", "SHA256:zzz", "unknown key").origin == "10.0.0.1:5"
    assert where("?", "") == "?"


def test_events_are_frozen_snapshots() -> None:
    event = ClientJoined(client())
    with pytest.raises(FrozenInstanceError):
        event.client = client(guest="bob")  # type: ignore[misc]
    info = TunnelInfo("vps", "me@relay", "127.0.0.1:2222", "up")
    with pytest.raises(FrozenInstanceError):
        info.state = "failed"  # type: ignore[misc]


def test_a_tunnel_as_json_names_every_field() -> None:
    now = time.time()
    info = TunnelInfo(
        "vps", "me@relay.example.org:2022", "0.0.0.0:2300", "retrying",
        since=SINCE, reason="connection refused", retry_at=now + 30, attempts=3, forwarded=7,
    )  # fmt: skip
    data = info.to_json()
    assert json.loads(json.dumps(data)) == data
    retry_in = data.pop("retry_in")
    summary = data.pop("summary")
    assert data == {
        "name": "vps",
        "relay": "me@relay.example.org:2022",
        "remote": "0.0.0.0:2300",
        "state": "retrying",
        "since": "2026-03-04T05:06:07Z",
        "reason": "connection refused",
        "attempts": 3,
        "forwarded": 7,
    }
    assert isinstance(retry_in, float) and 28.0 <= retry_in <= 30.0
    assert summary in {
        "retrying in 30 s (connection refused)",
        "retrying in 29 s (connection refused)",
    }


def test_a_tunnel_without_a_reason_or_retry_says_null_not_empty() -> None:
    data = TunnelInfo("vps", "me@relay", "127.0.0.1:2222", "up", since=SINCE).to_json()
    assert (data["reason"], data["retry_in"]) == (None, None)


def test_a_retry_already_due_counts_as_now_not_negative() -> None:
    """The engine may be a moment late starting the attempt it announced."""
    now = time.time()
    late = TunnelInfo("vps", "r", "x", "retrying", reason="refused", retry_at=now - 5)
    assert late.describe(now) == "retrying in 0 s (refused)"
    assert late.to_json()["retry_in"] == 0.0
    unknown = TunnelInfo("vps", "r", "x", "retrying", reason="refused")
    assert unknown.describe(now) == "retrying in 0 s (refused)"
