"""The door on the dashboard (issue 17): o opens it for as long as the host says (or
closes it), its state shows in the status line and the Clients tab, and a knock put
off with Escape is answered from the list. First against a fake engine (what the
dashboard asks), then against the real engine, in-process and attached to a running
`pairtui serve`, with real OpenSSH guests whose keys are not registered."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from app_fakes import NOW, busy_scenario, empty_scenario, make_app
from support import Server, SshGuest, TmuxHost, pairtui, share_host_session, type_in_host
from test_app_knock import asked, ready, toasts, waiting_rows
from test_app_live import dashboard, started, until_screen
from test_app_small_terminal import screen_text, until
from test_control import eventually
from textual.pilot import Pilot
from textual.widgets import Input

from pairtui import config
from pairtui.app import PairtuiApp
from pairtui.app.backend import load_services
from pairtui.app.dialogs import DoorDialog, KnockDialog
from pairtui.control import RemoteEngine, request_async
from pairtui.engine import Engine
from pairtui.events import DoorState

SMALL = (80, 24)
Connect = Callable[..., SshGuest]


def status_line(app: PairtuiApp) -> str:
    return screen_text(app)[0]


# --- what the dashboard asks of the engine (a fake one) --------------------------------


async def test_o_opens_the_door_for_ten_minutes_by_default_and_o_closes_it() -> None:
    scenario = busy_scenario()
    app = make_app(scenario)
    async with app.run_test(size=SMALL) as pilot:
        await ready(pilot)
        await until(lambda: "o Door" in screen_text(app)[-1], "the footer")
        assert "door" not in status_line(app)
        await pilot.press("o")
        await until(lambda: isinstance(app.screen, DoorDialog), "the door dialog")
        await pilot.press("enter")  # every default: ten minutes, any share
        await until(lambda: scenario.engine.doors, "the engine asked")
        assert scenario.engine.doors == [("open", pytest.approx(600), "")]
        await until(lambda: "door open 10m" in status_line(app), "the status line")
        await until(lambda: any("guests whose keys" in t for t in toasts(app)), "the toast")
        await pilot.press("o")  # open: closes at once, no question
        await until(lambda: scenario.engine.doors[1:] == [("close",)], "closed")
        await until(lambda: "door" not in status_line(app), "the status line")


async def test_the_door_opens_for_the_time_and_share_typed() -> None:
    scenario = busy_scenario()
    app = make_app(scenario)
    async with app.run_test(size=SMALL) as pilot:
        await ready(pilot)
        await pilot.press("o")
        await until(lambda: isinstance(app.screen, DoorDialog), "the door dialog")
        dialog = app.screen
        dialog.query_one("#door-for", Input).value = ""
        await pilot.press(*"2d", "tab", *"work", "enter")  # more than a day: refused
        await pilot.pause()
        assert app.screen is dialog and scenario.engine.doors == []
        assert "between 1 s and 24 h" in "\n".join(screen_text(app))
        dialog.query_one("#door-for", Input).value = ""
        dialog.query_one("#door-for", Input).focus()
        await pilot.press(*"1h", "enter")
        await until(lambda: scenario.engine.doors, "the engine asked")
        assert scenario.engine.doors == [("open", pytest.approx(3600), "work")]
        await until(lambda: "door open 1h 00m" in status_line(app), "the status line")


async def test_escape_leaves_the_door_shut() -> None:
    scenario = busy_scenario()
    app = make_app(scenario)
    async with app.run_test(size=SMALL) as pilot:
        await ready(pilot)
        await pilot.press("o")
        await until(lambda: isinstance(app.screen, DoorDialog), "the door dialog")
        await pilot.press("escape")
        await until(lambda: not isinstance(app.screen, DoorDialog), "the dialog to close")
        assert scenario.engine.doors == []


async def test_the_host_hears_when_the_door_closes_by_itself() -> None:
    scenario = empty_scenario()
    scenario.engine.door = DoorState(NOW + 30, "")  # opened before the dashboard started
    app = make_app(scenario)
    async with app.run_test(size=SMALL) as pilot:
        await ready(pilot)
        await pilot.pause()
        assert "door open <1m" in status_line(app)
        assert "The door is open" in "\n".join(screen_text(app))  # the empty Clients tab
        scenario.engine.set_door(DoorState(NOW + 30 - 31, ""), timed_out=True)
        await until(lambda: any("Its time ran out" in t for t in toasts(app)), "the toast")
        await pilot.pause()
        assert "door" not in status_line(app)
        assert "The door is closed: o opens it" in "\n".join(screen_text(app))


# --- the real engine, real guests --------------------------------------------------------


async def shown(g: SshGuest, text: str) -> None:
    """Without blocking the loop: the engine under test runs on it."""
    await eventually(lambda: text in g.text(), what=f"{text!r} on the guest's screen")


async def gone(g: SshGuest) -> None:
    def ended() -> bool:
        g.pump()
        return not g.child.isalive()

    await eventually(ended, what="ssh to exit")


async def open_and_admit_after_escape(
    pilot: Pilot[None], port: int, key: Path, guests: Connect
) -> SshGuest:
    """o, Enter: the door opens; an unregistered key knocks and is asked about; Escape
    puts it off; it is listed; a, v admits it from the list; it lands in the share."""
    app = pilot.app
    assert isinstance(app, PairtuiApp)
    await pilot.press("o")
    await until_screen(app, DoorDialog)
    await pilot.press("enter")
    await eventually(lambda: app.main.door.is_open(), what="the door open")
    g = guests(port, key)
    await shown(g, "Read this code to the host:")
    code = g.text().split("Read this code to the host: ", 1)[1].split()[0]
    dialog = await eventually(lambda: isinstance(app.screen, KnockDialog) and app.screen)
    assert isinstance(dialog, KnockDialog) and dialog.knock.code == code
    await pilot.press("escape")
    await eventually(lambda: len(waiting_rows(app)) == 1, what="the knock listed")
    assert code in "\n".join(screen_text(app)) and "1 waiting" in status_line(app)
    await pilot.press("a")
    await asked(app, dialog.knock.id)
    await pilot.press("v")
    await shown(g, "MARK-21")  # the same connection, now in the share
    await eventually(lambda: app.main.clients_table.row_count == 1, what="its client row")
    assert waiting_rows(app) == []
    return g


async def test_the_host_opens_the_door_admits_a_knock_put_off_then_closes_it(
    tmux_host: TmuxHost, keys: Callable[[str], Path], guests: Connect
) -> None:
    type_in_host(tmux_host, "echo MARK-$((20+1))")
    share_host_session(tmux_host)
    app = dashboard(tmux_host.socket)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(app)
        engine = app.main.services.engine  # type: ignore[union-attr]
        assert isinstance(engine, Engine)
        await open_and_admit_after_escape(pilot, app.server.port, keys("carol"), guests)
        assert 590 < engine.door_state().seconds_left() <= 600
        await pilot.press("o")
        await eventually(lambda: not engine.door.is_open(), what="the door closed")
        late = guests(app.server.port, keys("dave"))
        await gone(late)
        assert "Permission denied" in late.output and "Read this code" not in late.output
        assert engine.knocks() == []


async def test_an_attached_dashboard_opens_and_closes_the_server_s_door(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    _, srv = shared
    app = PairtuiApp(lambda: load_services(config.load()), config=config.Config(cursor_blink=False))
    async with app.run_test(size=(100, 30)) as pilot:
        await started(app)
        assert isinstance(app.main.services and app.main.services.engine, RemoteEngine)
        await open_and_admit_after_escape(pilot, srv.port, keys("carol"), guests)
        reply = await request_async("door", action="status")  # as `pairtui door` asks
        assert reply is not None and reply["door"]["open"] is True
        await pilot.press("o")
        await eventually(lambda: not app.main.door.is_open(), what="the door closed")
        reply = await request_async("door", action="status")
        assert reply is not None and reply["door"]["open"] is False
        late = guests(srv.port, keys("dave"))
        await gone(late)
        assert "Permission denied" in late.output
        # Opened from the CLI for a moment: the dashboard shows it, then hears it close.
        res = await asyncio.to_thread(pairtui, "door", "open", "--for", "2s")
        assert res.returncode == 0, res.stderr
        await eventually(lambda: "door open <1m" in status_line(app), what="shown open")
        await eventually(lambda: any("Its time ran out" in t for t in toasts(app)),
                         what="the door closing by itself, streamed")  # fmt: skip
        await eventually(lambda: "door" not in status_line(app), what="shown closed")
