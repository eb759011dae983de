"""The door (pairtui.door): how long it opens for, its state in one shape, and the
engine telling every front end when it opens, closes, or closes by itself (issue 17)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from test_control import eventually

from pairtui import control
from pairtui.audit import Audit
from pairtui.door import Door, open_for
from pairtui.engine import Engine
from pairtui.errors import PairtuiError
from pairtui.events import DoorChanged, DoorState, Event


@pytest.mark.parametrize(
    ("text", "seconds"), [("10m", 600), ("1h", 3600), ("30s", 30), (" 24h ", 86400)]
)
def test_open_for_reads_a_duration(text: str, seconds: float) -> None:
    assert open_for(text, now=1000.0) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "why"),
    [("never", "opens for a while"), ("", "opens for a while"), ("2d", "between 1 s and 24 h"),
     ("soon", "invalid expiry"), ("0m", "must be in the future")],
)  # fmt: skip
def test_open_for_refuses_what_is_no_while(text: str, why: str) -> None:
    with pytest.raises(PairtuiError, match=why):
        open_for(text)


def test_the_door_s_state_has_one_shape() -> None:
    door = Door()
    assert door.state() == {"open": False, "seconds_left": 0, "share": None, "waiting": 0}
    state = door.open(600, "main")
    assert state.is_open() and state.share == "main"
    assert 599 <= state.seconds_left() <= 600
    assert door.state() == {"open": True, "seconds_left": 600, "share": "main", "waiting": 0}
    assert not door.close().is_open()
    assert not DoorState(time.time() - 1).is_open()


async def test_the_engine_says_when_the_door_opens_closes_and_closes_by_itself(
    tmp_path: Path,
) -> None:
    engine = Engine("127.0.0.1", 0, control_path=tmp_path / "c.sock")
    events: list[Event] = []
    engine.subscribe(events.append)
    opened = await engine.open_door(600, "main")
    assert engine.door_state() == opened and opened.is_open()
    closed = await engine.close_door()
    assert not closed.is_open() and not engine.door.is_open()
    assert events == [DoorChanged(opened), DoorChanged(closed)]
    events.clear()
    await engine.open_door(0.3)
    await eventually(lambda: len(events) == 2, what="the door to close by itself")
    assert events[1].timed_out and not engine.door_state().is_open()  # type: ignore[union-attr]
    reopened = await engine.open_door(0.3)
    await engine.open_door(600)  # opening again sets its time anew: no early "closed"
    await eventually(lambda: time.time() > reopened.until + 0.3, what="the first time to pass")
    assert engine.door_state().is_open()
    assert not any(isinstance(e, DoorChanged) and e.timed_out for e in events[2:])
    await engine.close_door()
    audited = [(e["state"], e.get("reason")) for e in Audit().read() if e["event"] == "door"]
    assert audited == [("open", None), ("closed", None), ("open", None),
                       ("closed", "its time was up"), ("open", None), ("open", None),
                       ("closed", None)]  # fmt: skip


async def test_a_remote_engine_opens_and_closes_the_door_and_follows_it(engine: Engine) -> None:
    """The attached dashboard's door: the `door` control op, and the stream's events."""
    remote = control.RemoteEngine()
    await engine.open_door(300, "main")  # before it attaches: asked once at the start
    await remote.start()
    try:
        assert remote.door_state().is_open() and remote.door_state().share == "main"
        assert abs(remote.door_state().until - engine.door_state().until) < 1
        events: list[Event] = []
        remote.subscribe(events.append)
        closed = await remote.close_door()
        assert not closed.is_open() and not engine.door.is_open()
        opened = await remote.open_door(2, "")
        assert opened.is_open() and engine.door.is_open() and engine.door.share == ""
        with pytest.raises(PairtuiError, match="between 1 s and 24 h"):
            await remote.open_door(3 * 86400)
        timed_out = await eventually(
            lambda: [e for e in events if isinstance(e, DoorChanged) and e.timed_out],
            what="the door closing by itself, streamed",
        )
        assert not timed_out[0].door.is_open() and not remote.door_state().is_open()
        cli = await control.request_async("door", action="status")  # `pairtui door --json`
        assert cli is not None
        assert cli["door"] == {"open": False, "seconds_left": 0, "share": None, "waiting": 0}
    finally:
        await remote.stop()
