"""Recording from the dashboard (issue 18): R in the Shares tab starts recording the
selected share (a dialog: the screen only unless the host ticks the keys too) or stops
it; REC shows in its row and the status line, and the host is told when a recording
stops by itself. First against a fake engine (what the dashboard asks), then against
the real engine, in-process and attached to a running `pairtui serve`, with a real
OpenSSH view guest who sees REC in its own status line."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from pathlib import Path

from app_fakes import busy_scenario, make_app, recording_info
from support import Server, SshGuest, TmuxHost, pairtui, pairtui_json, share_host_session
from test_app_knock import ready, toasts
from test_app_live import dashboard, started, until_screen
from test_app_small_terminal import screen_text, until
from test_control import eventually, invite
from textual.pilot import Pilot

from pairtui import config, paths
from pairtui.app import PairtuiApp
from pairtui.app.backend import load_services
from pairtui.app.dialogs import RecordDialog
from pairtui.control import RemoteEngine
from pairtui.engine import Engine
from pairtui.engine_api import EngineAPI
from pairtui.events import RECORDING_STOPPED
from pairtui.recording import cast
from pairtui.registry import Mode

SMALL = (80, 24)
Connect = Callable[..., SshGuest]


def status_line(app: PairtuiApp) -> str:
    return screen_text(app)[0]


def share_status(app: PairtuiApp, share: str) -> str:
    """The Status cell of ``share``'s row in the Shares tab."""
    table = app.main.shares_table
    return str(table.get_row(f"share:{share}")[2].plain)


def notes(app: PairtuiApp) -> list[tuple[str, str, str]]:
    """Each notification as (title, message, severity)."""
    return [(n.title, str(n.message), n.severity) for n in app._notifications]


async def on_share(pilot: Pilot[None], share: str) -> None:
    """The Shares tab, its cursor on ``share``."""
    app = pilot.app
    assert isinstance(app, PairtuiApp)
    await pilot.press("3")
    table = app.main.shares_table
    await until(lambda: f"share:{share}" in table.records, f"{share}'s row")
    table.select_key(f"share:{share}")
    await until(lambda: (r := table.selected) and r.share and r.share.name == share, "selected")


# --- what the dashboard asks of the engine (a fake one) --------------------------------


async def test_R_asks_then_records_the_screen_only_by_default_and_shows_REC() -> None:
    scenario = busy_scenario()
    app = make_app(scenario)
    async with app.run_test(size=SMALL) as pilot:
        await ready(pilot)
        await on_share(pilot, "work")
        assert "REC" not in status_line(app) and "REC" not in share_status(app, "work")
        assert "not recorded · R records it" in "\n".join(screen_text(app))
        await pilot.press("R")
        await until_screen(app, RecordDialog)
        text = "\n".join(screen_text(app))
        assert "Also keep what pair guests type: --input (i)" in text
        assert "it may hold passwords" in text
        await pilot.press("enter")  # the Record button has the focus: the screen only
        await until(lambda: scenario.engine.records, "the engine asked")
        assert scenario.engine.records == [("start", "work", False)]
        await until(lambda: "REC" in share_status(app, "work"), "REC in the row")
        assert share_status(app, "work") == "shared · REC"
        await until(lambda: "REC 1" in status_line(app), "REC 1 in the status line")
        assert any(t == "Recording" and "work (screen) into" in m for t, m, _ in notes(app))
        await until(lambda: "REC <1m · screen only · R stops" in "\n".join(screen_text(app)),
                    "the detail")  # fmt: skip


async def test_i_keeps_what_pair_guests_type_too() -> None:
    scenario = busy_scenario()
    app = make_app(scenario)
    async with app.run_test(size=SMALL) as pilot:
        await ready(pilot)
        await on_share(pilot, "api")
        await pilot.press("R")
        await until_screen(app, RecordDialog)
        await pilot.press("i", "y")
        await until(lambda: scenario.engine.records, "the engine asked")
        assert scenario.engine.records == [("start", "api", True)]
        await until(lambda: "REC" in share_status(app, "api"), "REC in the row")
        assert any("api (screen and pair guests' keys)" in m for _, m, _ in notes(app))


async def test_escape_records_nothing() -> None:
    scenario = busy_scenario()
    app = make_app(scenario)
    async with app.run_test(size=SMALL) as pilot:
        await ready(pilot)
        await on_share(pilot, "work")
        await pilot.press("R")
        await until_screen(app, RecordDialog)
        await pilot.press("escape")
        await until(lambda: not isinstance(app.screen, RecordDialog), "the dialog to close")
        await pilot.pause()
        assert scenario.engine.records == []
        assert "REC" not in share_status(app, "work")


async def test_R_on_a_recorded_share_stops_it_without_asking() -> None:
    scenario = busy_scenario()
    scenario.engine.recording["work"] = recording_info("work")  # before the dashboard
    app = make_app(scenario)
    async with app.run_test(size=SMALL) as pilot:
        await ready(pilot)
        await on_share(pilot, "work")
        await until(lambda: "REC" in share_status(app, "work"), "REC in the row")
        assert "REC 1" in status_line(app)
        await pilot.press("R")
        await until(lambda: scenario.engine.records, "the engine asked")
        assert scenario.engine.records == [("stop", "work")]
        assert not isinstance(app.screen, RecordDialog)
        await until(lambda: "REC" not in share_status(app, "work"), "REC to go")
        assert "REC" not in status_line(app)
        [stopped] = [n for n in notes(app) if n[0] == "Recording stopped"]
        assert stopped[1].startswith(f"work: {RECORDING_STOPPED}; saved in /home/host/")
        assert stopped[2] == "information"


async def test_a_recording_that_stops_by_itself_is_a_warning_with_why() -> None:
    scenario = busy_scenario()
    rec = recording_info("work")
    scenario.engine.recording["work"] = rec
    app = make_app(scenario)
    async with app.run_test(size=SMALL) as pilot:
        await ready(pilot)
        await on_share(pilot, "work")
        await until(lambda: "REC 1" in status_line(app), "REC 1")
        why = "cannot write /x: No space left on device \x1b[2J"  # escaped, as any text
        scenario.engine.set_recording(dataclasses.replace(rec, state="stopped", reason=why))
        await until(lambda: any(n[0] == "Recording stopped" for n in notes(app)), "the toast")
        [(_, message, severity)] = [n for n in notes(app) if n[0] == "Recording stopped"]
        assert severity == "warning"
        assert message.startswith("work: cannot write /x: No space left on device \\x1b[2J;")
        await until(lambda: "REC" not in status_line(app), "REC to go")
        assert "REC" not in share_status(app, "work")


async def test_an_engine_that_refuses_is_an_error_toast() -> None:
    scenario = busy_scenario()
    app = make_app(scenario)
    async with app.run_test(size=SMALL) as pilot:
        await ready(pilot)
        await on_share(pilot, "work")
        scenario.engine.recording["work"] = recording_info("work")  # behind the screen's back
        scenario.engine.records.clear()
        await pilot.press("R")  # the engine's word counts: it stops, no dialog
        await until(lambda: scenario.engine.records == [("stop", "work")], "a stop")
        await pilot.press("R")
        await until_screen(app, RecordDialog)
        scenario.engine.recording["work"] = recording_info("work")  # started elsewhere
        await pilot.press("y")
        await until(lambda: any("already being recorded" in t for t in toasts(app)), "why")


# --- the real engine, real tmux, a real OpenSSH view guest ------------------------------


async def rec_in_status_line(g: SshGuest, on: bool) -> None:
    """The guest's own tmux status line (its last row) says REC while it is recorded."""

    def shown() -> bool:
        g.pump()
        last = g.screen.display[-1]
        return (" REC " in last) is on

    await eventually(shown, timeout=15, what=f"REC {'on' if on else 'off'} for the guest")


def in_share(engine: EngineAPI, share: str) -> bool:
    """A guest's terminal is open in ``share`` (the recording's timeline starts with it)."""
    return any(c.terminal and c.share == share for c in engine.clients.values())


async def record_and_stop(pilot: Pilot[None], engine: EngineAPI, g: SshGuest) -> Path:
    """R, Enter: main is recorded, the guest sees REC, the row says REC; R: it stops,
    REC goes; the file is a whole recording."""
    app = pilot.app
    assert isinstance(app, PairtuiApp)
    await eventually(lambda: in_share(engine, "main"), what="the guest's terminal in main")
    await on_share(pilot, "main")
    await pilot.press("R")
    await until_screen(app, RecordDialog)
    await pilot.press("enter")
    await eventually(lambda: "REC" in share_status(app, "main"), what="REC in the row")
    [rec] = engine.recording_list()
    assert (rec.share, rec.input, rec.state) == ("main", False, "recording")
    await eventually(lambda: "REC 1" in status_line(app), what="REC 1 in the status line")
    await rec_in_status_line(g, True)
    await pilot.press("R")
    await eventually(lambda: "REC" not in share_status(app, "main"), what="REC to go")
    assert engine.recording_list() == []
    await rec_in_status_line(g, False)
    path = Path(rec.path)
    header, read = cast.read(path)
    events = list(read)
    assert header.width > 0 and any(e.code == "o" for e in events)
    markers = [e.data for e in events if e.code == "m"]
    assert markers[-1] == f"recording stopped: {RECORDING_STOPPED}"
    assert "bob joined (view)" in markers  # there when it started
    return path


async def test_the_host_records_a_share_from_the_dashboard(
    tmux_host: TmuxHost, keys: Callable[[str], Path], guests: Connect
) -> None:
    share_host_session(tmux_host)
    invite("bob", keys("bob"), Mode.VIEW)
    app = dashboard(tmux_host.socket)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(app)
        engine = app.main.services.engine  # type: ignore[union-attr]
        assert isinstance(engine, Engine)
        bob = guests(app.server.port, keys("bob"))
        await eventually(lambda: app.main.clients_table.row_count == 1, what="bob's row")
        path = await record_and_stop(pilot, engine, bob)
        assert path.parent == paths.recordings_dir()


async def test_an_attached_dashboard_records_through_the_server(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    _, srv = shared
    invite("bob", keys("bob"), Mode.VIEW)
    bob = guests(srv.port, keys("bob"))
    app = PairtuiApp(lambda: load_services(config.load()), config=config.Config(cursor_blink=False))
    async with app.run_test(size=(100, 30)) as pilot:
        await started(app)
        engine = app.main.services and app.main.services.engine
        assert isinstance(engine, RemoteEngine)
        await eventually(lambda: app.main.clients_table.row_count == 1, what="bob's row")
        path = await record_and_stop(pilot, engine, bob)
        assert path.exists()
        # Started from the CLI: the dashboard hears it from the stream and shows it.
        res = await asyncio.to_thread(pairtui, "record", "main", "--input")
        assert res.returncode == 0, res.stderr
        await eventually(lambda: "REC" in share_status(app, "main"), what="REC, streamed")
        [rec] = engine.recording_list()
        assert rec.input is True
        await pilot.press("R")  # and stopped here: the server's list is empty again
        await eventually(lambda: engine.recording_list() == [], what="stopped")
        assert await asyncio.to_thread(pairtui_json, "record") == []


async def test_an_attached_dashboard_shows_a_recording_already_going_on(
    shared: tuple[TmuxHost, Server],
) -> None:
    res = await asyncio.to_thread(pairtui, "record", "main")
    assert res.returncode == 0, res.stderr
    app = PairtuiApp(lambda: load_services(config.load()), config=config.Config(cursor_blink=False))
    async with app.run_test(size=SMALL) as pilot:
        await started(app)
        await on_share(pilot, "main")
        await eventually(lambda: "REC" in share_status(app, "main"), what="REC at attach")
        assert "REC 1" in status_line(app)


async def test_a_recording_ended_by_unsharing_from_the_cli_is_a_warning(
    shared: tuple[TmuxHost, Server],
) -> None:
    app = PairtuiApp(lambda: load_services(config.load()), config=config.Config(cursor_blink=False))
    async with app.run_test(size=(100, 30)) as pilot:
        await started(app)
        await on_share(pilot, "main")
        await pilot.press("R")
        await until_screen(app, RecordDialog)
        await pilot.press("enter")
        await eventually(lambda: "REC 1" in status_line(app), what="REC 1")
        res = await asyncio.to_thread(pairtui, "unshare", "main")
        assert res.returncode == 0, res.stderr

        def warned() -> bool:
            return any(n[0] == "Recording stopped" and n[2] == "warning" for n in notes(app))

        await eventually(warned, what="the warning")
        [(_, message, _)] = [n for n in notes(app) if n[0] == "Recording stopped"]
        assert message.startswith("main: the share ended; saved in ")
        await eventually(lambda: "REC" not in status_line(app), what="REC to go")
