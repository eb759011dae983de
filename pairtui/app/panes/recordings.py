"""The Recordings tab: the recordings of shares on this machine, newest first, and
playing one inside the dashboard (:mod:`pairtui.app.screens.recording_player`).

The recordings directory is looked at once a second (a stat of each file): a
recording that starts, grows or ends shows without a key. Only a file whose size or
time changed is read again, and one that keeps growing at most every
:data:`REREAD` seconds: a listing reads a whole cast to learn its length and guests.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.widgets import DataTable, Static

from pairtui import paths
from pairtui.app.panes.base import DashboardPane
from pairtui.app.screens.recording_player import RecordingPlayerScreen
from pairtui.app.widgets.recordings import RecordingsTable, recording_detail
from pairtui.errors import PairtuiError
from pairtui.recording import cast, catalog, replay

POLL = 1.0  # seconds between looks at the recordings directory
REREAD = 5.0  # seconds: the least time between two reads of a recording that grows

Signature = tuple[int, int, int, int]  # the cast's size and mtime, the sidecar's


@dataclass
class _Seen:
    signature: Signature
    recording: catalog.Recording | None  # None: not a recording pairtui can read
    read_at: float = field(default_factory=time.monotonic)


def signatures(directory: Path) -> dict[Path, Signature]:
    """What changes when a recording (or its keys sidecar) is written: sizes and times."""
    out: dict[Path, Signature] = {}
    try:
        candidates = list(directory.glob(f"*{cast.SUFFIX}"))
    except OSError:
        return out
    for path in candidates:
        try:
            st = path.stat()
        except OSError:
            continue
        try:
            ks = cast.keys_path(path).stat()
            keys = (ks.st_size, ks.st_mtime_ns)
        except OSError:
            keys = (0, 0)
        out[path] = (st.st_size, st.st_mtime_ns, *keys)
    return out


class RecordingsPane(DashboardPane):
    """Every recording, with what it holds; Enter (or p) plays it."""

    TAB = "recordings"
    TITLE = "Recordings"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "play", "Play", id="recording-play",
                tooltip="Play the selected recording here (Enter on its row too), with a "
                        "timeline of who joined, left and typed"),
    ]  # fmt: skip

    def __init__(self) -> None:
        super().__init__()
        self.directory: Path | None = None
        self._seen: dict[Path, _Seen] = {}
        self._scanning = False

    def make_table(self) -> RecordingsTable:
        return RecordingsTable(id="recordings-table")

    @property
    def table(self) -> RecordingsTable:
        return self.query_one(RecordingsTable)

    def on_mount(self) -> None:
        self.query_one(".empty", Static).update(self.empty_text())
        self.check_directory()
        self.set_interval(POLL, self.check_directory)

    def watch_now(self) -> None:
        """Nothing in the detail counts time."""

    # --- the directory ---------------------------------------------------------------

    def check_directory(self) -> None:
        """Read the recordings again if a file came, went, or changed (a stat each)."""
        if self._scanning:
            return
        try:
            directory = self.directory = paths.recordings_dir()
        except OSError as exc:
            self.fail(PairtuiError(f"the recordings directory: {exc.strerror or exc}"),
                      "Cannot list recordings")  # fmt: skip
            return
        found = signatures(directory)
        if found.keys() == self._seen.keys() and all(
            self._seen[p].signature == s for p, s in found.items()
        ):
            return
        self._scanning = True
        self._rescan(found)

    @work(group="recordings")
    async def _rescan(self, found: dict[Path, Signature]) -> None:
        try:
            seen = await asyncio.to_thread(self._read, found)
        finally:
            self._scanning = False
        if not self.app.is_running:
            return
        self._seen = seen
        recordings = [s.recording for s in seen.values() if s.recording is not None]
        recordings.sort(key=lambda r: (r.started, r.path.name), reverse=True)
        self.table.replace_all(recordings)
        self.set_class(not recordings, "-empty")
        self.query_one(".empty", Static).update(self.empty_text())
        if recordings and self.display:
            focused = self.screen.focused
            if focused is None or self.table not in focused.ancestors_with_self:
                self.table.focus()
        self.show_detail()
        self.dashboard.bindings_maybe_changed()

    def _read(self, found: dict[Path, Signature]) -> dict[Path, _Seen]:
        """In a thread: each recording whose files changed, read again (one that keeps
        changing, at most every REREAD seconds); the others as they were."""
        now = time.monotonic()
        out: dict[Path, _Seen] = {}
        for path, signature in found.items():
            before = self._seen.get(path)
            if before is not None and (
                before.signature == signature or now - before.read_at < REREAD
            ):
                out[path] = before
                continue
            try:
                recording: catalog.Recording | None = catalog.describe(path)
            except (PairtuiError, OSError):
                recording = None  # `pairtui recordings` says why
            out[path] = _Seen(signature, recording, now)
        return out

    # --- the tab -----------------------------------------------------------------------

    def empty_text(self) -> Content:
        where = str(self.directory) if self.directory else "the recordings directory"
        return Content.from_markup(
            "[b]No recordings yet.[/b]\n\n"
            "[b]pairtui record SHARE[/b] records what guests of a share see (add "
            "[b]--input[/b] to keep who typed what); recordings show here, in $where.",
            where=where,
        )

    def ready(self, action: str) -> bool:
        if action == "play":
            return self.table.selected is not None
        return True

    def detail(self) -> Content:
        recording = self.table.selected
        return recording_detail(recording) if recording else Content()

    @on(RecordingsTable.RecordingHighlighted)
    def _highlighted(self) -> None:
        self.show_detail()

    @on(DataTable.RowSelected, "#recordings-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_play()

    @work(group="actions", exclusive=True)
    async def action_play(self) -> None:
        """Read the whole recording (in a thread: it may be long), then play it."""
        recording = self.table.selected
        if recording is None:
            return
        try:
            loaded = await asyncio.to_thread(replay.load, recording.path)
        except (PairtuiError, OSError) as exc:
            self.fail(PairtuiError(str(exc)), "Cannot play")
            return
        if self.app.is_running:
            self.app.push_screen(RecordingPlayerScreen(recording, loaded))
