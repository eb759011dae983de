"""The pairtui core that ``pairtui serve``, the CLI and the dashboard drive.

The :class:`Engine` owns the embedded SSH server's state: every connection (logged in
or not), every guest terminal, the event bus, the registry and share watch that keeps
connected guests in line with the files, and the start-up of tunnels, the control
socket and the tmux notifier. What a guest's connection and terminal do lives in
:mod:`pairtui.guest_ssh`.

Over 400 lines: it is where connections, the registry, the shares and the front ends
meet, and what could leave has left (the reconcile decision to :mod:`pairtui.reconcile`,
the SSH side to :mod:`pairtui.guest_ssh`, the bus to :mod:`pairtui.events`, the limits
to :mod:`pairtui.limits`, invitations and the door to :mod:`pairtui.admission`,
recordings to :mod:`pairtui.recording`); what stays is the bookkeeping that ties them
together.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import math
import os
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import asyncssh

from pairtui import native_relay, paths, ssh_fastpath
from pairtui.admission import Admission
from pairtui.audit import Audit
from pairtui.authorized_keys import GuestKey
from pairtui.door import Knock
from pairtui.engine_api import base_status
from pairtui.errors import PairtuiError
from pairtui.events import (
    SESSION_ENDED,
    SHARE_EXPIRED,
    SHARE_STOPPED,
    AccessRefused,
    ClientChanged,
    ClientInfo,
    ClientJoined,
    ClientLeft,
    DoorState,
    Event,
    EventBus,
    KnockInfo,
    RecordingInfo,
)
from pairtui.fd_budget import FdBudget, SpareFd, full_message
from pairtui.fileutil import NO_FILE, Stamp, file_stamp
from pairtui.guest_ssh import ENCRYPTION_ALGS, GuestConnection, GuestSession
from pairtui.limits import (
    Limits,
    QuietExceptionHandler,
    RecordingLimits,
    RefusalCounter,
    StartupGate,
    raise_fd_limit,
)
from pairtui.reconcile import Disconnect, SwitchMode, Terminal, decide, may_enter
from pairtui.recording.recordings import Recordings
from pairtui.registry import Guest, KeyIndex, Mode, Registry, RegistryError
from pairtui.shares import Share, ShareStore, resolve_share
from pairtui.ssh import fingerprint, host_of, load_or_create_host_key
from pairtui.tmux_notify import TmuxNotifier
from pairtui.tunnels import TunnelManager

if TYPE_CHECKING:
    from pairtui.control import ControlServer

IDLE_SHOWN_AFTER = 2.0  # s: a login without a terminal is listed once it has waited this long
# (long enough that a loaded machine opening a guest's terminal is not listed as one)


class Engine:
    """The pairtui core that ``serve``, the CLI and the dashboard drive."""

    def __init__(
        self,
        listen: str = "127.0.0.1",
        port: int = 2222,
        *,
        registry_path: Path | None = None,
        shares: ShareStore | None = None,
        audit: Audit | None = None,
        control_path: Path | None = None,
        limits: Limits | None = None,
        log: Callable[[str], None] | None = None,
        keys_changed: Callable[[], list[str]] | None = None,
        on_stop: Callable[[], None] | None = None,
        recording: RecordingLimits | None = None,
    ) -> None:
        self.listen = listen
        self.port = port
        self.registry_path = registry_path or paths.registry_file()
        self.shares = shares or ShareStore()
        # What the audit log cannot record is reported once, where the front end logs.
        self.audit = audit or Audit(report=log)
        self.control_path = control_path or paths.control_socket()
        self.limits = limits or Limits()
        # Invitations and knock-to-admit (the door is closed until the host opens it).
        self.admission = Admission(self.registry_path, self.audit, self.emit,
                                   self._reload_keys, self.limits)  # fmt: skip
        self.door = self.admission.door  # the control socket's Keeper reads it
        self.clients: dict[str, ClientInfo] = {}
        self.started = time.time()
        self.pid = os.getpid()  # the serving process
        self._sessions: dict[str, GuestSession] = {}
        self._connections: set[GuestConnection] = set()  # every logged-in connection
        self._idle: dict[str, GuestConnection] = {}  # listed clients with no terminal
        self._gate = StartupGate(self.limits.max_startups, fds_short=self._fds_short)
        self._refusals = RefusalCounter()
        self._full = RefusalCounter(shown=1)  # "host full": one line per interval
        self.fds: FdBudget | None = None  # once started (it measures the listeners)
        self._spare: SpareFd | None = None
        self._own_watcher = False  # the pidfd child watcher is ours to drop at stop
        self._log = log or (lambda line: self.audit.record("error", reason=line))
        # Run in a worker thread after the registry changed or an invitation ran out
        # (front ends pass the system guests' sync); returns what the host should hear.
        self._keys_changed = keys_changed
        self._on_stop = on_stop  # what a `pairtui stop` request does (None: refused)
        self._ids = itertools.count(1)
        self._index = KeyIndex.load(self.registry_path)
        self._registry_problem: str | None = None  # said once in the log (see _watch_loop)
        self._share_cache: tuple[Stamp, list[Share]] = ((-1, -1, -1), [])
        self._bus = EventBus()
        self._server: asyncssh.SSHAcceptor | None = None
        self._control: ControlServer | None = None
        self._watch: asyncio.Task[None] | None = None
        self.host_key: asyncssh.SSHKey | None = None
        # Recordings of shares: their markers come from the events (see subscribe below).
        self.recordings = Recordings(self.emit, self.audit, lambda: list(self.clients.values()),
                                     recording, tapped=self._hold_relays)  # fmt: skip
        self._notifier = TmuxNotifier(
            self.share_list, lambda: list(self.clients.values()),
            lambda: [k.info() for k in self.admission.door.knocks.values()],
            self.recordings.shares,
        )  # fmt: skip
        self._shares_seen: list[tuple[str, str]] | None = None  # as the notifier was told
        self.subscribe(self._notifier)
        self.subscribe(self.recordings)
        # Started once the server is bound (its origin is our listening address); the
        # control socket answers about it from the start.
        self.tunnels = TunnelManager(lambda: (self.listen, self.port), self.emit, self.audit)

    # --- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        from pairtui.control import ControlServer

        self.host_key = load_or_create_host_key()
        soft, _hard = raise_fd_limit()
        self._spare = SpareFd()
        handler = QuietExceptionHandler(self._log, spare=self._spare)
        asyncio.get_running_loop().set_exception_handler(handler)
        self._own_watcher = _use_pidfd_child_watcher()
        ssh_fastpath.install()
        # Shares an older pairtui made get today's guards before any guest can join.
        with contextlib.suppress(PairtuiError, OSError):
            await asyncio.to_thread(self.shares.renew_guards)
        self._control = ControlServer(self, self.control_path, self._on_stop)
        await self._control.start()
        try:
            self._server = await asyncssh.create_server(
                lambda: GuestConnection(self),
                self.listen,
                self.port,
                server_host_keys=[self.host_key],
                encoding=None,
                line_editor=False,
                encryption_algs=ENCRYPTION_ALGS,
                agent_forwarding=False,
                x11_forwarding=False,
                allow_scp=False,
                allow_pty=True,
                login_timeout=self.limits.login_grace_time,
                keepalive_interval=30,
                reuse_address=True,
            )
        except OSError as exc:
            await self._control.stop()
            if exc.errno == errno.EADDRINUSE:
                raise PairtuiError(
                    f"port {self.port} on {self.listen} is already in use "
                    "(is another pairtui running? choose one with --port)"
                ) from None
            raise PairtuiError(
                f"cannot listen on {self.listen}:{self.port}: {exc.strerror}"
            ) from None
        sockets = self._server.sockets
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        self.fds = FdBudget(soft, relay_fds=native_relay.fds())
        self.started = time.time()
        await self._notifier.reset()  # a killed server may have left guests in the status
        self._watch = asyncio.create_task(self._watch_loop())
        await self.tunnels.start()

    async def stop(self, reason: str = "the host stopped sharing") -> None:
        self.admission.stop()
        await self.recordings.close()  # each file closed whole, with why it ended
        if self._watch:
            self._watch.cancel()
        if self._server:
            self._server.close()
        await self.tunnels.stop()
        await asyncio.gather(
            *(s.disconnect(reason, event="leave") for s in list(self._sessions.values())),
            return_exceptions=True,
        )
        for conn in list(self._connections):
            conn.close(reason, "leave")
        if self._server:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
        self._flush_refusals(final=True)
        await self._notifier.close()
        if self._control:
            await self._control.stop()
        if self._spare is not None:
            self._spare.close()
        if self._own_watcher:
            self._own_watcher = False
            _drop_child_watcher()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.host_key) if self.host_key else ""

    # --- events ----------------------------------------------------------------

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        return self._bus.subscribe(callback)

    def emit(self, event: Event) -> None:
        self._bus.emit(event)

    # --- lookups for connections --------------------------------------------------

    def _reload_keys(self) -> KeyIndex:
        """The registry read again now (a key was just registered): the index it gives."""
        self._index = KeyIndex.load(self.registry_path)
        return self._index

    def lookup_key(self, key: asyncssh.SSHKey) -> tuple[Guest, GuestKey] | None:
        return self.lookup_blob(key.public_data)

    def lookup_blob(self, blob: bytes) -> tuple[Guest, GuestKey] | None:
        self._index = self._index.fresh(self.registry_path)
        return self._index.by_blob.get(blob)

    # --- who gets in without a registered key (pairtui.admission) --------------------
    # The EngineAPI's door and knock methods (and the control socket's Keeper): the
    # work is the admission's.

    def door_state(self) -> DoorState:
        return self.admission.door_state()

    async def open_door(self, seconds: float, share: str = "") -> DoorState:
        return await self.admission.open_door(seconds, share)

    async def close_door(self) -> DoorState:
        return await self.admission.close_door()

    def knocks(self) -> list[Knock]:
        return self.admission.knocks()

    def admit_knock(
        self, ident: str, mode: Mode | None = None, remember: bool = False,
        expires: str | None = None, name: str = "", code: str | None = None,
    ) -> Knock:  # fmt: skip
        return self.admission.admit_knock(ident, mode, remember, expires, name, code)

    def deny_knock(self, ident: str, why: str = "the host did not let you in") -> Knock:
        return self.admission.deny_knock(ident, why)

    async def admit_knocker(
        self, ident: str, mode: Mode | None = None, remember: bool = False,
        expires: str | None = None, name: str = "",
    ) -> KnockInfo:  # fmt: skip
        """:meth:`admit_knock` as :class:`~pairtui.engine_api.EngineAPI` has it (a
        remote engine must ask, so the front ends await)."""
        return self.admit_knock(ident, mode, remember, expires, name).info()

    async def deny_knocker(self, ident: str) -> KnockInfo:
        """:meth:`deny_knock` as :class:`~pairtui.engine_api.EngineAPI` has it."""
        return self.deny_knock(ident).info()

    def origin(self, host: str, port: int) -> tuple[str, str] | None:
        """``(peer, tunnel)`` for a connection a reverse tunnel brought, else None."""
        return self.tunnels.origin(host, port)

    def current_guest(self, blob: bytes) -> Guest | str:
        """The guest a key belongs to *now*, or why it may no longer come in.

        Asked again for every terminal a connection opens: a login is not a licence.
        """
        hit = self.lookup_blob(blob)
        return may_enter(hit[0] if hit else None)

    def share_list(self) -> list[Share]:
        stamp = file_stamp(self.shares.path)
        if stamp == NO_FILE:
            return []
        if stamp != self._share_cache[0]:
            self._share_cache = (stamp, self.shares.load())
        return self._share_cache[1]

    async def why_tmux_ended(self, share: Share | None) -> str | None:
        """Why a guest's tmux client ended, if not because the guest detached."""
        if share is None:
            return None
        current = share.now_in(self.share_list())
        if current is None:
            return SHARE_STOPPED
        try:
            alive = await asyncio.to_thread(self.shares.live, current)
        except (PairtuiError, OSError):
            alive = False
        return None if alive else SESSION_ENDED

    def resolve_share(self, guest: Guest, requested: str) -> Share | list[Share] | str:
        return resolve_share(guest, requested, self.share_list())

    def next_id(self) -> str:
        return f"c{next(self._ids)}"

    def register(self, session: GuestSession) -> None:
        info = session.info
        conn = session.conn
        if conn.info is not None and conn.info.id == info.id:
            # Its first terminal takes over the connection's "no terminal" row.
            conn.info = None
            self._idle.pop(info.id, None)
        self._sessions[info.id] = session
        self.clients[info.id] = info
        if self.fds is not None:
            self.fds.settle(conn)  # its terminal's descriptors are open and counted now
        self.audit.record(
            "join", client=info.id, guest=info.guest, fingerprint=info.fingerprint,
            peer=info.peer, via=info.via or None, share=info.share, mode=info.mode,
            tmux_client=info.tty,
        )  # fmt: skip
        self.emit(ClientJoined(info))

    def client_changed(self, info: ClientInfo, announce: bool = True) -> None:
        """A listed client's new snapshot (``announce``: tell subscribers, a
        ClientChanged); events carry snapshots, so what a subscriber got stays true."""
        if info.id not in self.clients:
            return  # not listed yet (still starting) or already gone
        self.clients[info.id] = info
        if announce:
            self.emit(ClientChanged(info))

    def unregister(self, session: GuestSession, reason: str, event: str) -> None:
        info = session.info
        if self._sessions.pop(info.id, None) is None:
            return
        self._forget(info, reason, event)

    def _forget(self, info: ClientInfo, reason: str, event: str) -> None:
        self.clients.pop(info.id, None)
        self.audit.record(
            event, client=info.id, guest=info.guest, fingerprint=info.fingerprint,
            peer=info.peer, via=info.via or None, share=info.share or None, reason=reason,
            seconds=round(time.time() - info.since, 1),
        )  # fmt: skip
        self.emit(ClientLeft(info, reason, kicked=event == "kick"))

    # --- connections, with or without a terminal --------------------------------------

    def arriving(self, conn: GuestConnection) -> None:
        """A TCP connection that has not logged in yet: counted, and room made if needed."""
        self._gate.arrive(conn)

    def _fds_short(self) -> int:
        return self.fds.shortfall() if self.fds is not None else 0

    def admit(self, conn: GuestConnection) -> str | None:
        """Why ``conn`` may not log in (the host is full), or None: checked before any
        key, so a guest who does not fit is told so by SSH instead of failing later."""
        if self.fds is None or self.fds.admit(conn):
            return None
        why = full_message(len(self._sessions))
        if self._full.allow(("", "")):
            self.audit.record("refused", peer=conn.peer, via=conn.via or None, fingerprint="",
                              reason=why)  # fmt: skip
            self.emit(AccessRefused(conn.peer, "", why, conn.via))
        return why

    def room_for_terminal(self, conn: GuestConnection) -> str | None:
        """Why ``conn`` may not open one more terminal (the host is full), or None."""
        if self.fds is None or self.fds.terminal(conn):
            return None
        return full_message(len(self._sessions))

    def logged_in(self, conn: GuestConnection) -> None:
        self._gate.leave(conn)
        self._connections.add(conn)
        asyncio.get_running_loop().call_later(IDLE_SHOWN_AFTER, self._list_if_idle, conn)

    def _list_if_idle(self, conn: GuestConnection) -> None:
        """A login that opened no terminal (``ssh -N``, a ControlMaster) is listed too, so
        the host sees it and can kick it."""
        if conn not in self._connections or conn.has_terminal() or conn.info is not None:
            return
        if conn.guest is None or conn.key is None:
            return  # knocking: `pairtui knocks` lists it
        info = ClientInfo(
            id=self.next_id(), guest=conn.guest.name, fingerprint=conn.key.fingerprint,
            peer=conn.peer, via=conn.via, share="", mode=conn.guest.mode.value,
        )  # fmt: skip
        conn.info = info
        self._idle[info.id] = conn
        self.clients[info.id] = info
        self.audit.record("connect", client=info.id, guest=info.guest,
                          fingerprint=info.fingerprint, peer=info.peer, via=info.via or None,
                          terminal=False)  # fmt: skip
        self.emit(ClientJoined(info))

    def gone(self, conn: GuestConnection, reason: str, event: str) -> None:
        """The connection closed, logged in or not."""
        self._gate.leave(conn)
        self._connections.discard(conn)
        if self.fds is not None:
            self.fds.settle(conn)
        info = conn.info
        if info is not None and self._idle.pop(info.id, None) is not None:
            conn.info = None
            self._forget(info, reason, event)
        if conn.knock is not None:
            self.admission.knock_gone(conn.knock)
        if conn.forget_guest_on_close:  # admitted once at the door: gone with it
            with contextlib.suppress(PairtuiError, OSError):
                Registry(self.registry_path).remove(conn.forget_guest_on_close)
                self._index = KeyIndex.load(self.registry_path)

    def refused(self, peer: str, fp: str, reason: str, via: str = "", **extra: object) -> None:
        """Audited and shown; past a few per peer and interval only counted (see flush)."""
        if not self._refusals.allow((host_of(peer), via)):
            return
        self.audit.record("refused", peer=peer, via=via or None, fingerprint=fp, reason=reason,
                          **extra)  # fmt: skip
        self.emit(AccessRefused(peer, fp, reason, via))

    def _flush_refusals(self, final: bool = False) -> None:
        for (host, via), count in self._refusals.flush(math.inf if final else None):
            reason = f"{count} more refusals (not logged one by one)"
            self.audit.record("refused", peer=host, via=via or None, fingerprint="",
                              reason=reason, count=count)  # fmt: skip
            self.emit(AccessRefused(host, "", reason, via))
        for _peer, count in self._full.flush(math.inf if final else None):
            reason = f"{count} more guests refused, the host being full (not logged one by one)"
            self.audit.record("refused", fingerprint="", reason=reason, count=count)
            self.emit(AccessRefused("", "", reason, ""))

    # --- host actions ------------------------------------------------------------

    def find(self, target: str) -> list[ClientInfo]:
        return [c for c in self.clients.values() if target in (c.id, c.guest, c.tty)]

    async def kick(self, target: str) -> list[ClientInfo]:
        found = self.find(target)
        if not found:
            raise PairtuiError(f"no connected guest or client {target!r} (see `pairtui clients`)")
        reason = "you were disconnected by the host"
        for c in found:
            if c.id in self._idle:
                self._idle[c.id].close(reason, "kick")
        sessions = [self._sessions[c.id] for c in found if c.id in self._sessions]
        results = await asyncio.gather(
            *(s.disconnect(reason, "kick") for s in sessions), return_exceptions=True
        )
        for session, result in zip(sessions, results, strict=True):
            if isinstance(result, BaseException):  # whatever failed, the guest is out
                session.conn.close(reason, "kick")
        return found

    async def set_mode(self, target: str, mode: Mode) -> list[ClientInfo]:
        found = self.find(target)
        if not found:
            raise PairtuiError(f"no connected guest or client {target!r} (see `pairtui clients`)")
        for c in found:
            if c.id in self._sessions:
                await self._sessions[c.id].switch_mode(mode)
        return [self.clients.get(c.id, c) for c in found]  # as they are now

    async def reconcile(self, force: bool = True) -> None:
        """Apply registry and share changes to every connection, with a terminal or not.

        ``force`` re-reads the registry even when its stat looks unchanged (a pairtui
        process told us it wrote); the once-a-second watch relies on the stat.

        Every guest that loses access stops typing first, all of them before the first
        await: no key sent after the change reaches a pane, whatever the order of the
        slower work (a goodbye, a tmux call) that follows.
        """
        if force:
            # A file that cannot be read keeps the last index; the watch reports it.
            with contextlib.suppress(RegistryError):
                self._index = KeyIndex.load(self.registry_path)
            self._share_cache = ((-1, -1, -1), [])
        else:
            self._index = self._index.fresh(self.registry_path)
        share_list = self.share_list()
        shares = {s.name for s in share_list}
        seen = [(s.name, s.socket) for s in share_list]
        if seen != self._shares_seen:  # the host's status segment names them
            self._shares_seen = seen
            self._notifier.shares_changed()
        self.recordings.follow_renames(share_list)
        work: list[Awaitable[None]] = []
        for session in list(self._sessions.values()):
            hit = self._index.by_blob.get(session.key_blob)
            if session.info.share not in shares:
                session.follow_rename(share_list)
            term = Terminal(session.info.share, session.former_names, session.registry_mode)
            match decide(term, hit[0] if hit else None, shares):
                case Disconnect(reason, event):
                    work.append(session.disconnect(reason, event))
                case SwitchMode(mode):
                    session.registry_mode = mode
                    work.append(session.switch_mode(mode))
        for conn in list(self._connections):
            if conn.has_terminal() or conn.key is None:
                continue  # its terminals were dealt with above; they close it
            why = self.current_guest(conn.key.blob)
            if isinstance(why, str):
                conn.close(why, "kick")
        if work:
            await asyncio.gather(*work, return_exceptions=True)

    async def _watch_loop(self) -> None:
        """Cheap stat-based watch so hand edits and expiries take effect within a second.

        System guests (under the machine's sshd) follow the same changes: ``keys_changed``
        (their sync) runs when the registry changes or an invitation runs out.
        """
        seen = self._index
        next_expiry = _next_expiry(seen)
        while True:
            await asyncio.sleep(1)
            try:
                await self._end_expired_shares()
                await self.reconcile(force=False)
                self._report_registry()
                self._flush_refusals()
                for session in self._sessions.values():
                    session.note_relay_activity()
                self._gate.prune()  # short of descriptors: silent connections go
                expired = next_expiry is not None and datetime.now(UTC) >= next_expiry
                if self._index is not seen or expired:
                    seen = self._index
                    next_expiry = _next_expiry(seen)
                    if self._keys_changed is not None:
                        for problem in await asyncio.to_thread(self._keys_changed):
                            self.audit.record("error", reason=f"system guests: {problem}")
            except Exception as exc:  # noqa: BLE001 - never let the watcher die silently
                self.audit.record("error", reason=f"reconcile: {exc}")

    async def _end_expired_shares(self) -> None:
        """A share given a lifetime (``share --for 2h``) ends then: its guests are told
        why first (stopping the share's tmux sessions first would tell them only that
        tmux exited), then it is stopped as ``pairtui unshare`` would."""
        names = {s.name for s in self.share_list() if s.expired()}
        if not names:
            return
        work = [
            session.disconnect(SHARE_EXPIRED, "leave")
            for session in list(self._sessions.values())
            if session.info.share in names
        ]
        await asyncio.gather(*work, return_exceptions=True)
        for share in await asyncio.to_thread(self.shares.remove_expired):
            self.audit.record("share-ended", share=share.name, reason=SHARE_EXPIRED)
        self._share_cache = ((-1, -1, -1), [])
        if self._keys_changed is not None:  # system guests' forced commands name shares
            for problem in await asyncio.to_thread(self._keys_changed):
                self.audit.record("error", reason=f"system guests: {problem}")

    def _report_registry(self) -> None:
        """A registry that cannot be read is said once, and once more when it can again."""
        problem = self._index.problem
        text = str(problem) if problem is not None else None
        if text == self._registry_problem:
            return
        self._registry_problem = text
        if text is not None:
            self._log(f"{text} (guests keep the last registry that could be read)")
        else:
            self._log("the guest registry can be read again")

    # --- recordings ---------------------------------------------------------------

    async def start_recording(self, share: str, keys: bool = False) -> RecordingInfo:
        """Record what a view guest of ``share`` sees (and with ``keys`` what pair guests
        type) until :meth:`stop_recording`; see :mod:`pairtui.recording`."""
        found = next((s for s in self.share_list() if s.name == share), None)
        if found is None:
            raise PairtuiError(f"no share {share!r} (see `pairtui share list`)")
        return await self.recordings.start(found, keys)

    def _hold_relays(self, share: str) -> None:
        """``share`` is recorded from now on: its guests' keys come through Python."""
        for session in self._sessions.values():
            if session.info.share == share:
                session.hold_relay()

    async def stop_recording(self, share: str) -> RecordingInfo:
        return await self.recordings.stop(share)

    def recording_list(self) -> list[RecordingInfo]:
        """Not ``recordings``: that name holds the manager (:class:`Recordings`)."""
        return self.recordings.current()

    def status(self) -> dict[str, object]:
        return {
            **base_status(self),
            "recordings": [r.to_json() for r in self.recordings.current()],
            "registry_problem": self._registry_problem,
            "shares": [s.name for s in self.share_list()],
            "tunnels": self.tunnels.status(),
        }


def _use_pidfd_child_watcher() -> bool:
    """Python 3.11 waits for each child (a `tmux attach` per guest) in its own thread;
    a pidfd watcher waits on the event loop instead. 3.12+ does this by itself. True if
    installed: :func:`_drop_child_watcher` then undoes it when the engine stops."""
    loop = asyncio.get_running_loop()
    if sys.version_info >= (3, 12) or not hasattr(os, "pidfd_open"):
        return False
    if not isinstance(loop, asyncio.SelectorEventLoop):  # uvloop reaps children itself
        return False
    watcher = asyncio.PidfdChildWatcher()
    watcher.attach_loop(loop)
    asyncio.set_child_watcher(watcher)
    return True


def _drop_child_watcher() -> None:
    """The watcher is process-wide and tied to this engine's loop: left behind, a later
    event loop in the same process (a test's, a library's) finds it inactive and cannot
    start subprocesses. Unset, asyncio makes its default one when asked."""
    asyncio.set_child_watcher(None)  # type: ignore[arg-type]


def _next_expiry(index: KeyIndex) -> datetime | None:
    now = datetime.now(UTC)
    pending = [g.expires for g in index.guests().values() if g.expires and g.expires > now]
    return min(pending, default=None)
