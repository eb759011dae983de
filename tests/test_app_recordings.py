"""The dashboard's Recordings tab and its player, on real cast files written by
CastWriter into the test's recordings directory: the list (newest first, following
the directory), playing one (its last screen, markers, speed), the timeline's marks and
typing lanes, and guests' words shown escaped."""

from __future__ import annotations

import contextlib
import os
import time
import types
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from app_fakes import NOW, busy_scenario, make_app
from test_control import eventually
from textual.command import CommandPalette
from textual.pilot import Pilot

from pairtui import paths
from pairtui.app import PairtuiApp
from pairtui.app.commands import DashboardCommands
from pairtui.app.panes.recordings import RecordingsPane
from pairtui.app.screens import RecordingPlayerScreen
from pairtui.app.widgets.recordings import RecordingsTable
from pairtui.app.widgets.terminal_view import TerminalView
from pairtui.recording import cast
from pairtui.recording.cast import CastWriter, Header

Step = tuple[float, str, str]  # (seconds, "o" / "m" / "r" / "i:GUEST", data)
SIZE = (110, 32)
PROMPT = "\x1b[1;32mhost@box\x1b[0m:\x1b[1;34m~/work\x1b[0m$ "


def write_cast(
    share: str,
    when: datetime,
    steps: list[Step],
    monkeypatch: pytest.MonkeyPatch,
    *,
    keys: bool = False,
    size: tuple[int, int] = (80, 24),
) -> Path:
    """A cast in the recordings directory as the recorder writes it, on a clock the
    steps set (only the writer's clock: the app's is left alone)."""
    now = [0.0]
    with monkeypatch.context() as m:
        m.setattr(cast, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
        path = cast.new_path(paths.recordings_dir(), share, when)
        header = Header(*size, int(when.timestamp()), f"pairtui: {share}")
        writer = CastWriter(path, header, keys=keys)
        for at, code, data in steps:
            now[0] = at
            if code == "o":
                writer.output(data.encode())
            elif code == "m":
                writer.marker(data)
            elif code == "r":
                writer.resize(*map(int, data.split("x")))
            else:
                writer.input(code.removeprefix("i:"), data.encode())
        writer.close()
    return path


def pairing_session() -> list[Step]:
    """alice pairs, bob watches then types, both leave, the host stops it."""
    return [
        (0.5, "o", "\x1b[H\x1b[2J" + PROMPT),
        (2.0, "m", cast.joined("alice", "pair")),
        (3.0, "i:alice", "ls\r"),
        (3.1, "o", "ls\r\n\x1b[1;34msrc\x1b[0m  \x1b[1;34mtests\x1b[0m  README.md\r\n" + PROMPT),
        (5.0, "m", cast.joined("bob", "view")),
        (8.0, "i:alice", "make test\r"),
        (8.2, "o", "make test\r\n\x1b[42;30m PASS \x1b[0m 42 passed in 1.20s\r\n" + PROMPT),
        (12.0, "m", "bob now pair"),
        (14.0, "i:bob", "e"),
        (14.05, "i:bob", "cho hi\r"),
        (14.3, "o", "echo hi\r\nhi\r\n" + PROMPT),
        (20.0, "m", cast.left("alice")),
        (25.0, "m", cast.left("bob")),
        (30.0, "o", "exit\r\n\x1b[7m[exited]\x1b[0m"),
        (30.5, "m", "recording stopped: the host stopped it"),
    ]


def at(hours_before_now: float) -> datetime:
    return datetime.fromtimestamp(NOW - hours_before_now * 3600, UTC)


@contextlib.contextmanager
def utc_zone() -> Iterator[None]:
    """Start times show in the host's zone: UTC here, the same on every machine."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()


@pytest.fixture(autouse=True)
def utc() -> Iterator[None]:
    with utc_zone():
        yield


def sample_recordings(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Three recordings, oldest first: api (no input), work (--input), demo (short)."""
    dave = [(0.2, "o", "$ "), (1.0, "m", cast.joined("dave", "view")),
            (95.0, "m", cast.left("dave"))]  # fmt: skip
    return [
        write_cast("api", at(26), dave, monkeypatch),
        write_cast("work", at(1), pairing_session(), monkeypatch, keys=True),
        write_cast("demo", at(0.25), [(0.1, "o", "hello"), (4.0, "o", " world")], monkeypatch),
    ]


async def open_tab(pilot: Pilot[None]) -> RecordingsTable:
    app = pilot.app
    assert isinstance(app, PairtuiApp)
    await eventually(lambda: app.server.phase != "starting", what="the engine")
    await pilot.press("4")
    table = app.main.query_one(RecordingsTable)
    await eventually(lambda: table.row_count, what="recordings listed")
    return table


async def play(pilot: Pilot[None], share: str) -> RecordingPlayerScreen:
    """Open the Recordings tab and play the recording of ``share``, paused at its start."""
    app = pilot.app
    table = await open_tab(pilot)
    key = next(k for k, r in table.records.items() if r.share == share)
    table.select_key(key)
    await pilot.press("enter")
    await eventually(lambda: isinstance(app.screen, RecordingPlayerScreen), what="the player")
    screen = app.screen
    assert isinstance(screen, RecordingPlayerScreen)
    await pilot.press("space", "home")
    assert screen.player.paused and screen.player.position(time.monotonic()) == 0.0
    return screen


def status(screen: RecordingPlayerScreen) -> str:
    return screen.timeline.render().plain.splitlines()[0]


async def test_the_list_shows_recordings_newest_first_and_follows_the_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api, work, _demo = sample_recordings(monkeypatch)
    app = make_app(busy_scenario())
    async with app.run_test(size=SIZE) as pilot:
        table = await open_tab(pilot)
        assert [r.share for r in table.records.values()] == ["demo", "work", "api"]
        work_row = table.records[str(work)]
        assert (work_row.guests, work_row.input_recorded) == (("alice", "bob"), True)
        cells = [c.plain for c in table.get_row(str(work))]
        assert cells[:5] == ["work", "2027-01-15 07:00", "30s", cells[3], "yes"]
        assert cells[5] == "alice, bob"
        assert app.main.active_tab == "recordings"

        # A new recording shows within a second or two; a removed one goes.
        later = write_cast("late", at(0.1), [(0.5, "o", "x")], monkeypatch)
        await eventually(lambda: str(later) in table.records, what="the new recording")
        assert next(iter(table.records.values())).share == "late"
        api.unlink()
        await eventually(lambda: str(api) not in table.records, what="the removed one gone")

        # The detail says what the selected one holds.
        table.select_key(str(work))
        await pilot.pause()
        detail = str(app.main.query_one("#recordings-detail").render())
        assert "alice, bob" in detail and "recorded (--input)" in detail


async def test_an_empty_directory_says_how_to_record(monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(busy_scenario())
    async with app.run_test(size=SIZE) as pilot:
        await eventually(lambda: app.server.phase != "starting")
        await pilot.press("4")
        pane = app.main.query_one(RecordingsPane)
        await pilot.pause(0.2)
        assert pane.has_class("-empty")
        assert "pairtui record SHARE" in str(pane.query_one("#recordings-empty").render())
        write_cast("work", at(1), [(0.5, "o", "x")], monkeypatch)
        await eventually(lambda: not pane.has_class("-empty"), what="the first recording")


async def test_playing_to_the_end_draws_the_last_screen(monkeypatch: pytest.MonkeyPatch) -> None:
    sample_recordings(monkeypatch)
    app = make_app(busy_scenario())
    async with app.run_test(size=SIZE) as pilot:
        screen = await play(pilot, "work")
        view = screen.query_one(TerminalView)
        assert not any(line.strip() for line in view.text()[1:])  # only the resize so far
        await pilot.press("end")
        text = view.text()
        assert text[0].startswith("host@box:~/work$ ls")
        assert "42 passed in 1.20s" in "\n".join(text)
        assert any(line.startswith("[exited]") for line in text)
        assert status(screen).startswith("■ ended 0:30 / 0:30")

        # Back to the start: the screen is drawn again from nothing.
        await pilot.press("home")
        assert not any("exited" in line for line in view.text())
        await pilot.press("escape")
        await eventually(lambda: app.screen is app.main, what="back to the list")


async def test_markers_jump_and_say_what_happened(monkeypatch: pytest.MonkeyPatch) -> None:
    sample_recordings(monkeypatch)
    app = make_app(busy_scenario())
    async with app.run_test(size=SIZE) as pilot:
        screen = await play(pilot, "work")
        player = screen.player
        expected = [(2.0, "alice joined (pair)"), (5.0, "bob joined (view)"),
                    (12.0, "bob now pair"), (20.0, "alice left")]  # fmt: skip
        for position, marker in expected:
            await pilot.press("right_square_bracket")
            assert player.position(time.monotonic()) == pytest.approx(position)
            assert status(screen).endswith(marker)
        await pilot.press("left_square_bracket")
        assert player.position(time.monotonic()) == pytest.approx(12.0)
        assert "42 passed" in "\n".join(screen.view.text())  # drawn by the seek back
        assert "hi" not in [line.strip() for line in screen.view.text()]

        # The marks lane: capital where one joined, small where one left, ~ for a mode.
        marks = screen.timeline.render().plain.splitlines()[2]
        assert marks.startswith("marks")
        assert [ch for ch in marks.removeprefix("marks") if ch.strip()] == list("AB~ab◆")

        # Seeking and speed.
        await pilot.press("right")
        assert player.position(time.monotonic()) == pytest.approx(17.0)
        await pilot.press("plus", "plus")
        assert player.speed == 4.0 and "4x" in status(screen)
        await pilot.press("minus", "minus", "minus")
        assert player.speed == 0.5
        assert player.position(time.monotonic()) == pytest.approx(17.0)  # still paused


async def test_who_typed_when_shows_as_a_lane_per_guest(monkeypatch: pytest.MonkeyPatch) -> None:
    sample_recordings(monkeypatch)
    app = make_app(busy_scenario())
    async with app.run_test(size=SIZE) as pilot:
        screen = await play(pilot, "work")
        timeline = screen.timeline
        lines = timeline.render().plain.splitlines()
        assert len(lines) == 5  # status, bar, marks, then alice and bob
        alice, bob = lines[3], lines[4]
        assert alice.startswith("alice ") and bob.startswith("bob ")
        width = timeline.content_region.width
        bar = width - timeline.label_width - 2 - len("0:30")
        start = timeline.label_width + 1

        def column(seconds: float) -> int:
            return start + round(seconds / screen.player.duration * (bar - 1))

        assert {i for i, ch in enumerate(alice) if ch.strip() and i >= start} == {
            column(3.0),
            column(8.0),
        }
        assert {i for i, ch in enumerate(bob) if ch.strip() and i >= start} == {column(14.0)}
        assert bob[column(14.0)] == "█"  # two keypresses there: the tallest mark

        # Without --input there are no lanes, and nothing says anyone typed.
        await pilot.press("escape")
        await eventually(lambda: app.screen is app.main)
        screen = await play(pilot, "api")
        assert len(screen.timeline.render().plain.splitlines()) == 3


async def test_guests_words_show_escaped_never_raw_nor_as_markup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    evil = "\x1b]52;c;aGk=\x07[b]eve[/b]\u202e"
    path = write_cast(
        "x[red]y\x1b[2J",
        at(1),
        [(0.5, "o", "ok\u0378!"), (1.0, "m", cast.joined(evil, "pair")),
         (2.0, "i:" + evil, "x"), (3.0, "m", f"recording stopped: {evil}")],
        monkeypatch,
        keys=True,
    )  # fmt: skip
    with path.open("a") as f:  # a damaged file: a lone surrogate no terminal can be sent
        f.write('[3.5, "o", "\\r\\n\\ud800 end"]\n')
    app = make_app(busy_scenario())
    async with app.run_test(size=SIZE) as pilot:
        table = await open_tab(pilot)
        [key] = table.records
        cells = [c.plain for c in table.get_row(key)]
        assert cells[0] == "x[red]y\\x1b[2J"
        assert cells[5] == "\\x1b]52;c;aGk=\\x07[b]eve[/b]\\u202e"

        await pilot.press("enter")
        await eventually(lambda: isinstance(app.screen, RecordingPlayerScreen))
        screen = app.screen
        assert isinstance(screen, RecordingPlayerScreen)
        await pilot.press("space", "end")
        shown = screen.timeline.render().plain
        assert "recording stopped: \\x1b]52;c;aGk=\\x07[b]eve[/b]\\u202e" in shown
        assert shown.splitlines()[3].startswith("\\x1b]52;c;a… ")  # the lane's name, cut
        title = str(screen.query_one("#player-title").render())
        assert "x[red]y\\x1b[2J" in title and "[b]eve[/b]" in title
        # The recorded screen: a character a terminal would not draw is not sent on.
        assert screen.view.text()[0].startswith("ok\N{REPLACEMENT CHARACTER}!")
        assert screen.view.text()[1].startswith("? end")
        everything = app.export_screenshot()
        assert not {"\x1b", "\u202e", "\u0378"} & set(everything)


async def test_a_recording_larger_than_the_view_is_cropped_with_a_note(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wide = "".join(str(i % 10) for i in range(150))
    write_cast("wide", at(1), [(0.1, "o", "top"), (0.5, "r", "150x50"),
                               (1.0, "o", "\x1b[H\x1b[2J" + wide)], monkeypatch)  # fmt: skip
    app = make_app(busy_scenario())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await play(pilot, "wide")
        view = screen.view
        assert (view.columns, view.lines) == (80, 24)  # as it started
        note = screen.query_one("#player-cropped")
        await eventually(lambda: note.has_class("-cropped"), what="the cropped note")
        await pilot.press("end")
        assert (view.columns, view.lines) == (150, 50)  # the resize played
        assert view.text()[0] == wide
        await eventually(lambda: "150x50" in str(note.render()), what="the note to follow")
        await pilot.press("home")
        assert (view.columns, view.lines) == (80, 24)


async def test_the_players_keys_are_palette_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    sample_recordings(monkeypatch)
    app = make_app(busy_scenario())
    async with app.run_test(size=SIZE) as pilot:
        screen = await play(pilot, "work")
        provider = DashboardCommands(screen)
        titles = {hit.text for hit in [h async for h in provider.discover()]}
        assert {"Player: On to the next marker", "Player: Back 5 seconds"} <= titles
        await pilot.press("ctrl+p")
        await eventually(lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"next marker")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await eventually(lambda: app.screen is screen)
        await eventually(lambda: screen.player.position(time.monotonic()) == 2.0)
