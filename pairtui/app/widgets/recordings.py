"""The recordings of shares on this machine, newest first, as the catalog reads them."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from rich.text import Text
from textual.content import Content
from textual.message import Message

from pairtui.app import fmt
from pairtui.app.widgets.table import RecordTable
from pairtui.printable import printable
from pairtui.recording.catalog import Recording
from pairtui.sizes import size


def started(recording: Recording) -> str:
    """When it started, in the host's time zone: ``2027-01-15 07:00``."""
    return recording.started.astimezone().strftime("%Y-%m-%d %H:%M")


def guests(recording: Recording) -> str:
    return printable(", ".join(recording.guests)) if recording.guests else "—"


class RecordingsTable(RecordTable[Recording]):
    """One row per recording; the guests column takes the width the others leave."""

    COLUMNS = [
        ("share", "Share"),
        ("started", "Started"),
        ("duration", "Length"),
        ("size", "Size"),
        ("input", "Input"),
        ("guests", "Guests"),
    ]
    ELASTIC = "guests"

    @dataclass
    class RecordingHighlighted(Message):
        """The cursor moved to another recording (``None``: there are none)."""

        table: RecordingsTable
        recording: Recording | None

        @property
        def control(self) -> RecordingsTable:
            return self.table

    def key_of(self, record: Recording) -> str:
        return str(record.path)

    def cells(self, record: Recording) -> dict[str, Text]:
        who = guests(record)
        if len(who) > self.room:
            who = who[: max(1, self.room - 1)] + "…"
        return {
            "share": Text(printable(record.share), style="bold"),
            "started": Text(started(record)),
            "duration": Text(fmt.duration(record.duration), justify="right"),
            "size": Text(size(record.size), justify="right"),
            "input": Text("yes", style=self.colour("pairtui-pair"))
            if record.input_recorded
            else Text("no", style=self.colour("text-muted")),
            "guests": Text(who),
        }

    def highlighted_message(self, record: Recording | None) -> Message:
        return self.RecordingHighlighted(self, record)


def recording_detail(recording: Recording) -> Content:
    """What the recording holds and how to play or share it."""
    lines = [
        Content.from_markup(
            "[b]$share[/b] · $started · $length · ${cols}x$rows · $size",
            share=printable(recording.share),
            started=started(recording),
            length=fmt.duration(recording.duration),
            cols=str(recording.width),
            rows=str(recording.height),
            size=size(recording.size),
        ),
        Content.from_markup("[$text-muted]guests[/] $guests", guests=guests(recording)),
        Content.from_markup(
            "[$text-muted]input[/] $input",
            input="recorded (--input): the timeline shows who typed when"
            if recording.input_recorded
            else "not recorded",
        ),
        Content.from_markup(
            "[b]Enter[/b] plays it here; [b]pairtui recordings export $name --html[/b] "
            "makes a page to share.",
            name=printable(shlex.quote(recording.name)),
        ),
    ]
    return Content("\n").join(lines)
