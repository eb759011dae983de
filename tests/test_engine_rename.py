"""A share renamed while guests are in: the engine follows it, whatever order the two
files (shares.json, then the registry) are seen in."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support import SshGuest
from test_control import eventually

from pairtui.authorized_keys import parse_public_keys
from pairtui.engine import Engine
from pairtui.events import ClientChanged, Event
from pairtui.registry import Mode, Registry
from pairtui.shares import ShareStore

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]


async def test_a_guest_invited_by_the_old_name_stays_between_the_two_writes(
    engine: Engine, keys: Callable[[str], Path], guests: Connect
) -> None:
    pub = keys("alice").with_name("alice.pub").read_text()
    Registry().add("alice", parse_public_keys(pub), mode=Mode.VIEW, share="main")
    events: list[Event] = []
    engine.subscribe(events.append)
    g = guests(engine.port, keys("alice"))
    [client] = await eventually(lambda: list(engine.clients.values()), what="alice in")

    ShareStore().rename("main", "demo")  # the registry still says "main"
    await engine.reconcile()
    assert engine.clients[client.id].share == "demo"
    assert [e.client.share for e in events if isinstance(e, ClientChanged)] == ["demo"]

    Registry().rename_share("main", "demo")
    await engine.reconcile()
    assert client.id in engine.clients and g.child.isalive()

    # The tolerance is for the former name only: invited elsewhere, she is moved out.
    Registry().update("alice", share="other")
    await engine.reconcile()
    await eventually(lambda: client.id not in engine.clients, what="alice moved out")
