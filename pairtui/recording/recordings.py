"""The serving engine's recordings: at most one per share, started and stopped by the
host (``pairtui record``, ``share --record``, the dashboard), each a
:class:`~pairtui.recording.recorder.Recorder`.

Consent is visible: guests already in a share are told when its recording starts, a
guest joining a recorded share is told before its terminal opens (the engine asks
:meth:`Recordings.notice`), and every guest's status line carries ``REC`` while it
lasts; the host's status segment and the dashboard show it too (a
:class:`~pairtui.events.RecordingChanged` event).

The engine's events become the recording's markers (joins, leaves, mode changes), so
a player's timeline says who was there when. Keys typed by pair guests are counted per
guest for the audit log; with ``--input`` they are kept too, attributed (see
:mod:`pairtui.recording.cast`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

from pairtui import paths
from pairtui.audit import Audit
from pairtui.errors import PairtuiError
from pairtui.events import (
    RECORDING_STOPPED,
    ClientChanged,
    ClientInfo,
    ClientJoined,
    ClientLeft,
    Event,
    RecordingChanged,
    RecordingInfo,
)
from pairtui.limits import RecordingLimits
from pairtui.recording import cast
from pairtui.recording.recorder import Recorder
from pairtui.shares import Share

STOPPED_BY_HOST = RECORDING_STOPPED


class Recordings:
    """Subscribe it to the engine's events (markers); :meth:`close` when it stops."""

    def __init__(
        self,
        emit: Callable[[Event], None],
        audit: Audit,
        clients: Callable[[], list[ClientInfo]],
        limits: RecordingLimits | None = None,
        directory: Callable[[], Path] = paths.recordings_dir,
        tapped: Callable[[str], None] = lambda share: None,
    ) -> None:
        self._emit = emit
        # Told the moment a share is recorded: its pair guests' keys must come through
        # typed() from then on (the engine takes them back from native relays).
        self._tapped = tapped
        self._audit = audit
        self._clients = clients
        self.limits = limits or RecordingLimits()
        self._directory = directory
        self._by_share: dict[str, Recorder] = {}
        self._modes: dict[str, str] = {}  # client id -> its mode, for the mode markers

    def shares(self) -> list[str]:
        """The shares being recorded now."""
        return list(self._by_share)

    def info(self, rec: Recorder) -> RecordingInfo:
        state = "stopped" if rec.ended else "recording"
        return RecordingInfo(rec.share.name, str(rec.path), rec.started, rec.keys, state,
                             rec.ended, rec.size)  # fmt: skip

    def current(self) -> list[RecordingInfo]:
        return [self.info(r) for r in self._by_share.values()]

    def notice(self, share: str) -> str:
        """What a guest joining ``share`` is told first, or "" if it is not recorded."""
        rec = self._by_share.get(share)
        if rec is None:
            return ""
        kept = "what you see and what you type" if rec.keys else "what you see"
        return f"pairtui: the host is recording this share ({kept})."

    async def start(self, share: Share, keys: bool = False) -> RecordingInfo:
        """Record ``share`` from now on. Raises PairtuiError: already recorded, or it
        cannot (the share is gone, the recordings directory cannot be written)."""
        if share.name in self._by_share:
            now = self._by_share[share.name]
            raise PairtuiError(f"share {share.name!r} is already being recorded (into {now.path})")
        path = await asyncio.to_thread(lambda: cast.new_path(self._directory(), share.name))
        rec: Recorder

        def ended(reason: str) -> None:
            self._ended(rec, reason)

        rec = Recorder(share, path, keys=keys, limits=self.limits, on_end=ended)
        await rec.start()
        self._by_share[share.name] = rec
        self._tapped(share.name)
        present = [c for c in self._clients() if c.share == share.name and c.terminal]
        for c in present:  # who is there already: the timeline starts with them
            rec.marker(cast.joined(c.guest, c.mode))
            self._modes[c.id] = c.mode
        self._audit.record("recording-started", share=share.name, path=str(path), input=keys)
        info = self.info(rec)
        self._emit(RecordingChanged(info))
        await self._mark(share, True, present)
        return info

    async def stop(self, share: str, reason: str = STOPPED_BY_HOST) -> RecordingInfo:
        rec = self._by_share.get(share)
        if rec is None:
            raise PairtuiError(f"share {share!r} is not being recorded")
        await rec.stop(reason)
        return self.info(rec)

    async def close(self, reason: str = "the server stopped") -> None:
        await asyncio.gather(*(r.stop(reason) for r in list(self._by_share.values())),
                             return_exceptions=True)  # fmt: skip

    def follow_renames(self, shares: list[Share]) -> None:
        """A recorded share renamed in place (``pairtui share rename``) goes on being
        recorded under its new name: its tmux sessions are the same ones."""
        for name, rec in list(self._by_share.items()):
            if any(s.name == name for s in shares):
                continue
            renamed = rec.share.now_in(shares)
            if renamed is None:
                continue  # ended: its tmux client ends too, and says so
            del self._by_share[name]
            rec.share = renamed
            self._by_share[renamed.name] = rec
            rec.marker(cast.renamed(name, renamed.name))

    def recording(self, share: str) -> bool:
        """Whether ``share`` is being recorded (its pair guests' keys come through
        :meth:`typed`)."""
        return share in self._by_share

    def typed(self, client: ClientInfo, data: bytes) -> None:
        """A pair guest's keys, on their way to the pane."""
        rec = self._by_share.get(client.share)
        if rec is not None:
            rec.input(client.guest, data)

    def __call__(self, event: Event) -> None:
        """Joins, leaves and mode changes become markers of the share's recording."""
        if isinstance(event, ClientJoined | ClientLeft | ClientChanged):
            c = event.client
            rec = self._by_share.get(c.share)
            if isinstance(event, ClientLeft):
                self._modes.pop(c.id, None)
                if rec is not None and c.terminal:
                    rec.marker(cast.left(c.guest))
                return
            if rec is None or not c.terminal:
                return
            before = self._modes.get(c.id)
            self._modes[c.id] = c.mode
            if isinstance(event, ClientJoined) or before is None:
                rec.marker(cast.joined(c.guest, c.mode))
                self._tell(rec.share, [c], self.notice(c.share))
            elif before != c.mode:
                rec.marker(cast.mode_changed(c.guest, c.mode))

    def _ended(self, rec: Recorder, reason: str) -> None:
        if self._by_share.get(rec.share.name) is rec:
            del self._by_share[rec.share.name]
        self._audit.record("recording-ended", share=rec.share.name, path=str(rec.path),
                           reason=reason, bytes=rec.path.stat().st_size if rec.path.exists()
                           else 0, keys_typed=rec.typed or None)  # fmt: skip
        self._emit(RecordingChanged(self.info(rec)))
        present = [c for c in self._clients() if c.share == rec.share.name and c.terminal]
        with contextlib.suppress(RuntimeError):  # no loop: the server is gone already
            asyncio.get_running_loop().create_task(self._mark(rec.share, False, present))

    async def _mark(self, share: Share, on: bool, present: list[ClientInfo]) -> None:
        """The guests' status line, and a message to those in the share now."""
        with contextlib.suppress(PairtuiError, OSError):
            await asyncio.to_thread(share.tmux().mark_recording, share.name, on)
        text = self.notice(share.name) if on else "pairtui: the recording of this share stopped."
        self._tell(share, present, text)

    def _tell(self, share: Share, clients: list[ClientInfo], text: str) -> None:
        """A message on these guests' terminals, off the event loop."""
        if not text or not clients:
            return
        tmux = share.tmux()

        def tell() -> None:
            for c in clients:
                with contextlib.suppress(PairtuiError, OSError):
                    tmux.display_message(text, client=c.tty, duration_ms=5000)

        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().run_in_executor(None, tell)
