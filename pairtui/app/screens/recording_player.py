"""One recording, played inside the dashboard: its screen, its timeline, and keys to
pause, seek, jump from marker to marker and change speed.

The timing and seeking are :class:`~pairtui.recording.player.Player`'s, as for
``pairtui play``: it says what to write when, and this screen writes it into a
:class:`~pairtui.app.widgets.terminal_view.TerminalView` instead of a terminal. Only
the screen's clock is the UI's: a timer asks the player what is due.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static

from pairtui.app.widgets.recordings import guests, started
from pairtui.app.widgets.terminal_view import TerminalView
from pairtui.app.widgets.timeline import Position, Timeline
from pairtui.durations import duration
from pairtui.printable import printable
from pairtui.recording.catalog import Recording
from pairtui.recording.player import Player
from pairtui.recording.player_keys import Action
from pairtui.recording.replay import Replay
from pairtui.sizes import size

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
FRAME = 1 / 20  # seconds between looks at what is due, while playing


class RecordingPlayerScreen(Screen[None]):
    """A recording playing; Escape goes back to the list."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "pause", "Pause/play", id="player-pause",
                tooltip="Pause or play the recording (at the end: play it again)"),
        Binding("left", "seek(-5)", "-5s", id="player-back",
                tooltip="Back 5 seconds"),
        Binding("right", "seek(5)", "+5s", id="player-forward",
                tooltip="Forward 5 seconds"),
        Binding("left_square_bracket", "marker(-1)", "Marker", id="player-previous-marker",
                tooltip="Back to the previous marker (a join, a leave, a mode change)"),
        Binding("right_square_bracket", "marker(1)", "Marker", id="player-next-marker",
                tooltip="On to the next marker (a join, a leave, a mode change)"),
        Binding("plus,equals_sign", "speed(1)", "Faster", id="player-faster", show=False,
                tooltip="Play faster (up to 16 times as fast)"),
        Binding("minus", "speed(-1)", "Slower", id="player-slower", show=False,
                tooltip="Play slower (down to a quarter)"),
        Binding("home", "seek_to(0)", "Start", id="player-start", show=False,
                tooltip="Back to the start"),
        Binding("end", "seek_to(-1)", "End", id="player-end", show=False,
                tooltip="On to the end: the last screen"),
        Binding("escape,q", "close", "Close", id="player-close",
                tooltip="Stop playing and go back to the recordings"),
    ]  # fmt: skip

    def __init__(
        self,
        recording: Recording,
        replay: Replay,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.recording = recording
        self.replay = replay
        self.clock = clock
        self.player = Player(replay.cues, now=clock())
        self._shown: tuple[object, ...] = ()

    def compose(self) -> ComposeResult:
        r = self.recording
        yield Static(
            Content.assemble(
                (printable(r.share), "bold"),
                f" · {started(r)} · {duration(r.duration)} · {size(r.size)} · ",
                ("guests ", "$text-muted"),
                guests(r),
            ),
            id="player-title",
        )
        yield TerminalView(self.replay.width, self.replay.height, id="player-screen")
        yield Static(id="player-cropped")
        yield Timeline(self.replay.marks, self.replay.typing, self.replay.input_recorded,
                       id="player-timeline")  # fmt: skip
        yield Footer(compact=True)

    @property
    def view(self) -> TerminalView:
        return self.query_one(TerminalView)

    @property
    def timeline(self) -> Timeline:
        return self.query_one(Timeline)

    def on_mount(self) -> None:
        self._ticker = self.set_interval(FRAME, self._frame)
        self._frame()

    def on_resize(self) -> None:
        self.call_after_refresh(self._show_cropped)

    # --- playing -------------------------------------------------------------------------

    def _frame(self) -> None:
        """Write what is due, and show where the player is."""
        now = self.clock()
        self._write(self.player.advance(now))
        status = self.player.status(now)
        self.timeline.position = Position(
            status.state, status.position, status.duration, self.player.speed, status.marker
        )
        self._show_cropped()
        if self.player.paused:  # nothing is due until a key: no timer
            self._ticker.pause()
        else:
            self._ticker.resume()

    def _write(self, data: bytes) -> None:
        self.view.feed(data)

    def _show_cropped(self) -> None:
        view = self.view
        shown = (view.cropped, view.columns, view.lines, view.scrollable_content_region.size)
        if shown == self._shown:
            return
        self._shown = shown
        note = self.query_one("#player-cropped", Static)
        room = view.scrollable_content_region.size
        note.set_class(view.cropped, "-cropped")
        note.update(
            Content.from_markup(
                "[$text-warning]Cropped:[/] the recording is ${cols}x$rows, the view "
                "${width}x$height: scroll for the rest.",
                cols=str(view.columns),
                rows=str(view.lines),
                width=str(room.width),
                height=str(room.height),
            )
            if view.cropped
            else Content()
        )

    def _press(self, action: Action) -> None:
        self._write(self.player.press(action, self.clock()))
        self._frame()

    # --- actions ---------------------------------------------------------------------------

    def action_pause(self) -> None:
        player = self.player
        if player.ended:  # play it again
            self._write(player.seek(0.0, self.clock()))
            player.paused = False
            self._frame()
            return
        self._press(Action.PAUSE)

    def action_seek(self, seconds: float) -> None:
        self._press(Action.FORWARD if seconds > 0 else Action.BACK)

    def action_seek_to(self, where: float) -> None:
        """``0``: the start; ``-1``: the end."""
        target = self.player.duration if where < 0 else where
        self._write(self.player.seek(target, self.clock()))
        self._frame()

    def action_marker(self, step: int) -> None:
        self._press(Action.NEXT_MARKER if step > 0 else Action.PREVIOUS_MARKER)

    def action_speed(self, step: int) -> None:
        player = self.player
        now = self.clock()
        at = min(range(len(SPEEDS)), key=lambda i: abs(SPEEDS[i] - player.speed))
        new = SPEEDS[min(len(SPEEDS) - 1, max(0, at + step))]
        # Speed maps positions to the clock from the last seek on: pin the position first.
        self._write(player.seek(player.position(now), now))
        player.speed = new
        self._frame()

    def action_close(self) -> None:
        self.dismiss()

    def palette(self) -> Iterator[tuple[str, str, Callable[[], object]]]:
        """Every key of the player as (title, help, run), for the command palette."""
        for binding in self.BINDINGS:
            if isinstance(binding, Binding):
                title = f"Player: {binding.tooltip.partition(' (')[0]}"
                yield title, binding.tooltip, partial(self.run_action, binding.action)
