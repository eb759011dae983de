"""Pairing made visible inside tmux: join/leave messages and a status segment.

The engine's events are turned into ``display-message`` on the host's clients and the
``#{@pairtui_status}`` status segment, on the tmux server of the share concerned. One
worker task sends them in order, off the event loop, so a slow tmux never delays a guest.

A join or leave costs the other guests nothing: only the host's clients are touched
(see :meth:`pairtui.tmux.Tmux.tell_host`), and events are sent in batches, at most
every :data:`FLUSH_INTERVAL`, so a class of 200 joining at once is a handful of tmux
calls and the host's status is right a moment after the last join.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from pairtui.errors import PairtuiError
from pairtui.events import (
    SHARE_STOPPED,
    ClientChanged,
    ClientInfo,
    ClientJoined,
    ClientLeft,
    DoorChanged,
    Event,
    Knocked,
    KnockInfo,
    RecordingChanged,
    where,
)
from pairtui.shares import Share
from pairtui.ssh import host_of
from pairtui.tmux import Tmux

FLUSH_INTERVAL = 0.2  # seconds: at most five updates a second per tmux server
SHOWN = 3  # messages of one batch shown by name; the rest are counted


def status_text(shares: list[str], live: Sequence[str] = (), recorded: Sequence[str] = ()) -> str:
    """``2 guests: main(2)`` from each connected client's share, then the ``live`` shares
    nobody is in: ``… · also shared: demo``, or ``shared: demo`` with no guest at all,
    so a share the host forgot is in sight; then ``· REC main`` for the shares being
    recorded. Empty when nothing is shared."""
    per_share = Counter(shares)
    idle = " ".join(sorted(name for name in set(live) if name not in per_share))
    rec = f" · REC {' '.join(sorted(recorded))}" if recorded else ""
    if not shares:
        return f"shared: {idle}{rec}" if idle else rec.removeprefix(" · ")
    n = len(shares)
    listed = " ".join(f"{name}({count})" for name, count in sorted(per_share.items()))
    text = f"{n} guest{'s' if n != 1 else ''}: {listed}"
    return (f"{text} · also shared: {idle}" if idle else text) + rec


def message(texts: list[str]) -> str:
    """One line for a batch: ``pairtui: alice joined (view) from … · bob left (…)``."""
    if not texts:
        return ""
    shown = texts if len(texts) <= SHOWN else texts[: SHOWN - 1]
    more = len(texts) - len(shown)
    return "pairtui: " + " · ".join(shown) + (f" · and {more} more" if more else "")


class TmuxNotifier:
    """Subscribe with ``engine.subscribe(notifier)``; call :meth:`close` on shutdown."""

    def __init__(
        self,
        shares: Callable[[], list[Share]],
        clients: Callable[[], list[ClientInfo]],
        knocks: Callable[[], list[KnockInfo]] = list,
        recorded: Callable[[], list[str]] = list,
    ) -> None:
        self._shares = shares
        self._clients = clients
        self._knocks = knocks  # who waits at the door now
        self._recorded = recorded  # the shares being recorded now
        self._pending: dict[Path, list[str]] = {}  # tmux server -> messages not yet shown
        self._worker: asyncio.Task[None] | None = None
        self._sockets: set[Path] = set()
        self._socket_of: dict[str, Path] = {}  # client id -> its share's tmux server

    def __call__(self, event: Event) -> None:
        if isinstance(event, Knocked):
            self._knocked(event)
            return
        if isinstance(event, RecordingChanged):
            self._recording(event)
            return
        if isinstance(event, DoorChanged):
            if event.timed_out:  # the host opened it; closing by itself may go unnoticed
                self.say("the door closed by itself: no more knocks (pairtui door open)")
            return
        if isinstance(event, ClientJoined):
            c = event.client
            text = f"{c.guest} joined ({c.mode}) from {where(host_of(c.peer), c.via)}"
        elif isinstance(event, ClientLeft):
            c = event.client
            # The host's own unshare already said so; a later "left" line would hide it.
            stopped = event.reason == SHARE_STOPPED
            went = "was kicked" if event.kicked else "left"
            text = "" if stopped else f"{c.guest} {went} ({event.reason})"
        elif isinstance(event, ClientChanged):
            c, text = event.client, ""  # a mode switch or a renamed share: the status only
        else:
            return
        if isinstance(event, ClientJoined):
            share = next((s for s in self._shares() if s.name == c.share), None)
            if share is None:
                return
            self._socket_of[c.id] = Path(share.socket)
        socket = self._socket_of.get(c.id)
        if socket is None:
            return
        if isinstance(event, ClientLeft):
            del self._socket_of[c.id]
        self._sockets.add(socket)
        pending = self._pending.setdefault(socket, [])
        if text:
            pending.append(text)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        """Send what is pending, then wait: what arrives meanwhile goes as one batch."""
        while self._pending:
            batch, self._pending = self._pending, {}
            for socket, texts in batch.items():
                with contextlib.suppress(PairtuiError, OSError):
                    await asyncio.to_thread(
                        Tmux(socket).tell_host, message(texts), self._status(socket)
                    )
            await asyncio.sleep(FLUSH_INTERVAL)

    def _status(self, socket: Path) -> str:
        """The status segment of one tmux server: its guests and its shares, as now."""
        guests = [x.share for x in self._clients() if self._socket_of.get(x.id) == socket]
        live = [s.name for s in self._shares() if Path(s.socket) == socket]
        recorded = set(self._recorded())
        return status_text(guests, live, [name for name in live if name in recorded])

    def _recording(self, event: RecordingChanged) -> None:
        """A recording started or stopped: the host hears it (why, when it was not the
        host's doing) and the status segment marks the share while it is recorded."""
        rec = event.recording
        share = next((s for s in self._shares() if s.name == rec.share), None)
        if share is None:
            return
        socket = Path(share.socket)
        self._sockets.add(socket)
        if rec.state == "recording":
            kept = "what guests see and type" if rec.input else "what guests see"
            text = f"recording {rec.share} ({kept}) into {Path(rec.path).name}"
        else:
            text = f"recording of {rec.share} stopped: {rec.reason}"
        self._pending.setdefault(socket, []).append(text)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._run())

    def _knocked(self, event: Knocked) -> None:
        """Someone knocks: the host gets a menu for it (admit as view or pair, remember,
        deny), one knock at a time so that a flood of knocks is a count, not a flood of
        menus; when one is decided, the next waiting one is asked about."""
        waiting = [k for k in self._knocks() if k.id != event.knock.id or event.state == "waiting"]
        if event.state == "waiting" and len(waiting) > 1:
            self.say(f"{event.knock.code} knocks too: {len(waiting)} waiting (pairtui knocks)")
            return
        ask = event.knock if event.state == "waiting" else (waiting[0] if waiting else None)
        if ask is None:
            return
        sockets = {Path(share.socket) for share in self._shares()}
        asyncio.get_running_loop().create_task(self._ask(sockets, ask, len(waiting) - 1))

    async def _ask(self, sockets: set[Path], knock: KnockInfo, more: int) -> None:
        pt = shlex.join([sys.executable, "-m", "pairtui"])
        title = f"pairtui: {knock.code} knocks from {where(host_of(knock.peer), knock.via)}"
        if more:
            title += f" ({more} more waiting)"
        # Each admit asks for the code the guest reads out (what the host typed is %1).
        code = "--code %1"
        choices = [
            ("Admit as view…", knock.code, f"{pt} admit {knock.id} --mode view {code}"),
            ("Admit as pair (may type)…", knock.code,
             f"{pt} admit {knock.id} --mode pair {code}"),
            ("Admit as view and remember the key…", knock.code,
             f"{pt} admit {knock.id} --mode view --remember {code}"),
            ("Deny", "", f"{pt} deny {knock.id}"),
        ]  # fmt: skip
        for socket in sockets:
            with contextlib.suppress(PairtuiError, OSError):
                await asyncio.to_thread(Tmux(socket).ask_host, title, choices)

    def say(self, text: str) -> None:
        """A line for the host on every tmux server a share lives on (a knock)."""
        sockets = {Path(share.socket) for share in self._shares()}
        self._sockets |= sockets
        for socket in sockets:
            self._pending.setdefault(socket, []).append(text)
        if self._pending and (self._worker is None or self._worker.done()):
            self._worker = asyncio.get_running_loop().create_task(self._run())

    def shares_changed(self) -> None:
        """A share was made, stopped or renamed: the status of every tmux server that
        had or has one is sent again (the shares are named in it)."""
        sockets = self._sockets | {Path(share.socket) for share in self._shares()}
        self._sockets |= sockets
        for socket in sockets:
            self._pending.setdefault(socket, [])
        if self._pending and (self._worker is None or self._worker.done()):
            self._worker = asyncio.get_running_loop().create_task(self._run())

    async def reset(self) -> None:
        """At start: nobody is in yet, whatever a server that was killed left in the
        status of the shares' tmux servers."""
        sockets = {Path(share.socket) for share in self._shares()}
        for socket in sockets:
            with contextlib.suppress(PairtuiError, OSError):
                await asyncio.to_thread(Tmux(socket).clear_status_option)
                await asyncio.to_thread(Tmux(socket).set_status, self._status(socket))
        self._sockets |= sockets

    async def close(self) -> None:
        """Finish pending messages and clear the status segment."""
        if self._worker is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._worker, 5)
        for socket in self._sockets:
            with contextlib.suppress(PairtuiError, OSError):
                await asyncio.to_thread(Tmux(socket).set_status, "")
