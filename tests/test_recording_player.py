"""The player's timing and seeking on a fake clock, with no terminal: cues in, bytes out,
the screen they draw read with pyte."""

from __future__ import annotations

from typing import NamedTuple

import pyte
import pytest

from pairtui.recording.cast import Event
from pairtui.recording.player import RESET, Cue, Player, Status, timeline
from pairtui.recording.player_keys import Action, KeyReader


def cues(*events: tuple[float, str, str]) -> list[Cue]:
    return timeline(Event(at, code, data) for at, code, data in events)


class Timing(NamedTuple):
    test_id: str
    speed: float
    idle_limit: float | None
    due: list[float]  # when each output is written, on the clock


# Outputs at 0.5, 1, then 10 (a 9 s pause), then 10.5.
TIMINGS = [
    Timing("as-recorded", 1.0, None, [0.5, 1.0, 10.0, 10.5]),
    Timing("twice-as-fast", 2.0, None, [0.25, 0.5, 5.0, 5.25]),
    Timing("idle-limit", 1.0, 2.0, [0.5, 1.0, 3.0, 3.5]),
    Timing("both", 2.0, 2.0, [0.25, 0.5, 1.5, 1.75]),
]


@pytest.mark.parametrize("case", TIMINGS, ids=[c.test_id for c in TIMINGS])
def test_outputs_come_when_due_at_the_speed_with_pauses_cut_to_the_idle_limit(
    case: Timing,
) -> None:
    events = [Event(0.5, "o", "a"), Event(1.0, "o", "b"), Event(1.0, "i", "typed"),
              Event(10.0, "o", "c"), Event(10.5, "o", "d")]  # fmt: skip
    player = Player(timeline(events, case.idle_limit), speed=case.speed, now=100.0)
    got: list[tuple[float, bytes]] = []
    now = 100.0
    while (wait := player.wait(now)) is not None:
        assert player.advance(now + wait * 0.99) == b""  # not a moment early
        now += wait
        got.append((round(now - 100.0, 6), player.advance(now)))
    assert got == [(t, x) for t, x in zip(case.due, (b"a", b"b", b"c", b"d"), strict=True)]
    assert player.ended and player.status(now).state == "ended"
    assert player.duration == case.due[-1] * case.speed


def test_a_late_tick_writes_everything_due_at_once_and_the_end_holds() -> None:
    player = Player(cues((0.1, "o", "a"), (0.2, "o", "b"), (5.0, "o", "c")), now=0.0)
    assert player.advance(1.0) == b"ab"
    assert player.advance(60.0) == b"c"
    assert player.paused and player.ended and player.position(999.0) == 5.0
    assert player.press(Action.PAUSE, 61.0) == b"" and player.ended  # space at the end: stays


def test_pause_freezes_the_clock_and_step_plays_one_frame() -> None:
    player = Player(cues((1, "o", "one"), (2, "m", "alice left"), (3, "o", "two"), (4, "o", "3")))
    assert player.advance(1.5) == b"one"
    player.press(Action.PAUSE, 1.5)
    assert player.status(100.0) == Status("paused", 1.5, 4.0, "")
    assert player.advance(100.0) == b"" and player.wait(100.0) is None
    assert player.press(Action.STEP, 100.0) == b"two"  # the marker on the way is passed
    assert player.status(100.0) == Status("paused", 3.0, 4.0, "alice left")
    player.press(Action.PAUSE, 200.0)  # resumed: the clock goes on from 3.0
    assert player.wait(200.0) == pytest.approx(1.0)
    assert player.advance(200.5) == b"" and player.advance(201.0) == b"3"


def test_step_does_nothing_while_playing() -> None:
    player = Player(cues((1, "o", "one"), (3, "o", "two")))
    assert player.press(Action.STEP, 0.5) == b"" and player.advance(0.5) == b""


def screen_of(*chunks: bytes, size: tuple[int, int] = (30, 6)) -> pyte.Screen:
    screen = pyte.Screen(*size)
    stream = pyte.ByteStream(screen)
    for chunk in chunks:
        stream.feed(chunk)
    return screen


def drawn(screen: pyte.Screen) -> tuple[list[str], tuple[int, int], list[str]]:
    """What shows, where the cursor is, and the colours of every cell."""
    colours = ["".join(c.fg[0] for c in screen.buffer[y].values()) for y in range(screen.lines)]
    return screen.display, (screen.cursor.x, screen.cursor.y), colours


A_SESSION = [
    (0.5, "o", "$ vim notes\r\n"),
    (1.0, "m", "alice joined (pair)"),
    (2.0, "o", "\x1b[2J\x1b[H\x1b[31mred title\x1b[m\r\nline two"),
    (4.0, "o", "\x1b[3;5Hhere"),
    (6.0, "m", "bob joined (view)"),
    (7.0, "o", "\x1b[1;1H\x1b[Kblue?\x1b[34m!"),
    (9.0, "m", "alice left"),
    (9.5, "o", "\x1b[6;1Hbye"),
]


@pytest.mark.parametrize("target", [0.0, 2.0, 3.0, 4.0, 6.5])
def test_seeking_back_draws_the_screen_that_playing_to_that_point_drew(target: float) -> None:
    player = Player(cues(*A_SESSION), now=0.0)
    written = [player.advance(9.6)]
    assert written[0].endswith(b"bye")
    written.append(player.seek(target, 9.6))
    assert written[-1].startswith(RESET)
    fresh = Player(cues(*A_SESSION), now=0.0)
    assert drawn(screen_of(*written)) == drawn(screen_of(fresh.advance(target)))
    assert player.position(9.6) == target and player.status(9.6).marker == fresh.status(0).marker


def test_the_arrows_seek_five_seconds_and_back_replays() -> None:
    player = Player(cues(*A_SESSION), now=0.0)
    player.advance(1.0)
    forward = player.press(Action.FORWARD, 1.0)  # to 6.0: everything between, at once
    assert forward.startswith(b"\x1b[2J") and b"here" in forward and player.position(1.0) == 6.0
    assert player.status(1.0).marker == "bob joined (view)"
    back = player.press(Action.BACK, 1.0)  # to 1.0
    assert back == RESET + b"$ vim notes\r\n" and player.position(1.0) == 1.0
    assert player.press(Action.BACK, 1.0) == RESET  # not before the start
    assert player.position(1.0) == 0.0
    player.press(Action.PAUSE, 1.0)
    player.press(Action.FORWARD, 1.0)
    assert player.paused and player.position(50.0) == 5.0  # paused stays paused


def test_markers_are_next_and_previous_stops() -> None:
    player = Player(cues(*A_SESSION), now=0.0)
    player.press(Action.PAUSE, 0.0)
    stops = []
    for _ in range(4):
        player.press(Action.NEXT_MARKER, 0.0)
        stops.append((player.position(0.0), player.status(0.0).marker))
    assert stops == [(1.0, "alice joined (pair)"), (6.0, "bob joined (view)"),
                     (9.0, "alice left"), (9.0, "alice left")]  # fmt: skip
    back = []
    for _ in range(4):
        player.press(Action.PREVIOUS_MARKER, 0.0)
        back.append(player.position(0.0))
    assert back == [6.0, 1.0, 0.0, 0.0]


def test_a_status_line_escapes_what_the_file_says() -> None:
    status = Status("paused", 12.4, 3723.0, "\x1b]52;c;aGk=\x07 joined (pair)")
    assert status.line() == "paused 0:12 / 1:02:03 · \\x1b]52;c;aGk=\\x07 joined (pair)"
    assert status.line(width=11) == "paused 0:12"


def test_a_status_line_fits_the_width_with_the_keys_that_fit() -> None:
    hints = ("space play · . step · q quit", "space . q")
    start = Status("paused", 2.0, 40.0, "")
    assert start.line(80, hints) == "paused 0:02 / 0:40   space play · . step · q quit"
    marked = Status("paused", 2.0, 40.0, "alice joined (pair) on the first try, twice over")
    cut = "paused 0:02 / 0:40 · alice joined (pair) on the firs…"
    assert marked.line(90, hints) == f"{cut}   space play · . step · q quit"
    assert marked.line(70, hints) == f"{cut}   space . q"
    assert marked.line(60, hints) == cut
    assert marked.line(12, hints) == "paused 0:02 "
    assert marked.line() == f"paused 0:02 / 0:40 · {marked.marker}"


class Keys(NamedTuple):
    test_id: str
    pieces: tuple[bytes, ...]
    actions: list[Action]


KEY_CASES = [
    Keys("plain", (b" .q",), [Action.PAUSE, Action.STEP, Action.QUIT]),
    Keys("arrows-both-modes", (b"\x1b[C\x1bOD",), [Action.FORWARD, Action.BACK]),
    Keys("arrow-in-pieces", (b"\x1b", b"[", b"D]"), [Action.BACK, Action.NEXT_MARKER]),
    Keys("ctrl-c", (b"\x03",), [Action.QUIT]),
    # A recording may turn mouse reports on: their bytes are never keys.
    Keys("x10-mouse", (b"\x1b[M q!",), []),
    Keys("sgr-mouse", (b"\x1b[<0;12;5M\x1b[<0;12;5m",), []),
    Keys("focus", (b"\x1b[I\x1b[O[",), [Action.PREVIOUS_MARKER]),
]


@pytest.mark.parametrize("case", KEY_CASES, ids=[c.test_id for c in KEY_CASES])
def test_keys_become_actions(case: Keys) -> None:
    reader = KeyReader()
    got: list[Action] = []
    for piece in case.pieces:
        got += reader.feed(piece)
    assert got == case.actions


def test_control_strings_are_dropped_even_split_across_events() -> None:
    """OSC 52 (the clipboard), titles and DCS passthrough from a recording never reach
    the terminal that plays it; CSI sequences (what was drawn) stay."""
    from pairtui.recording.inert import Inert

    inert = Inert()
    pieces = ["a\x1b]52;c;QUJD\x07b", "x\x1b]0;tit", "le\x1b", "\\y\x1b[1mz\x1b", "[0m",
              "\x1bPtmux;\x1b\x1b]52;c;QQ==\x07\x1b\\end", "\x9d2;t\x9cok"]  # fmt: skip
    assert [inert(p) for p in pieces] == ["ab", "x", "", "y\x1b[1mz", "\x1b[0m", "end", "ok"]
