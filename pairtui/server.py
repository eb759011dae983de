"""The embedded SSH server: registered keys in, a forced ``tmux attach`` out.

Each accepted session runs ``tmux attach-session`` for the guest's share and mode in
a local PTY and copies raw bytes both ways. Nothing the guest asks for (a command,
a subsystem, forwarding) is run; a requested command only selects a share.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import itertools
import os
import signal
import struct
import sys
import termios
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import asyncssh

from pairtui import paths, ssh_fastpath, system
from pairtui.audit import Audit
from pairtui.errors import PairtuiError
from pairtui.events import (
    SESSION_ENDED,
    SHARE_STOPPED,
    AccessRefused,
    ClientChanged,
    ClientInfo,
    ClientJoined,
    ClientLeft,
    Event,
)
from pairtui.fileutil import NO_FILE, Stamp, file_stamp
from pairtui.registry import Guest, GuestKey, KeyIndex, Mode
from pairtui.shares import Share, ShareStore, resolve_share
from pairtui.ssh import address, fingerprint, load_or_create_host_key
from pairtui.tmux_notify import TmuxNotifier

if TYPE_CHECKING:
    from pairtui.control import ControlServer

READ_SIZE = 65536
# asyncssh's chacha20-poly1305 builds three cryptography Cipher objects per packet;
# AES-GCM is one call (benchmarks: K=50 server CPU 1.6x -> 1.1x of sshd). Clients take
# the first of *their* list that we offer, and OpenSSH lists chacha20 and the CTR modes
# before GCM, so only GCM is offered.
ENCRYPTION_ALGS = ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com"]
CHANNEL_WINDOW = 2 * 1024 * 1024
CLOSE_GRACE = 2.0


def _msg(text: str) -> bytes:
    return f"\r\npairtui: {text}\r\n".encode()


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
    ) -> None:
        self.listen = listen
        self.port = port
        self.registry_path = registry_path or paths.registry_file()
        self.shares = shares or ShareStore()
        self.audit = audit or Audit()
        self.control_path = control_path or paths.control_socket()
        self.clients: dict[str, ClientInfo] = {}
        self.started = time.time()
        self._sessions: dict[str, GuestSession] = {}
        self._ids = itertools.count(1)
        self._index = KeyIndex.load(self.registry_path)
        self._share_cache: tuple[Stamp, list[Share]] = ((-1, -1, -1), [])
        self._subscribers: list[Callable[[Event], None]] = []
        self._server: asyncssh.SSHAcceptor | None = None
        self._control: ControlServer | None = None
        self._watch: asyncio.Task[None] | None = None
        self.host_key: asyncssh.SSHKey | None = None
        self._notifier = TmuxNotifier(self.share_list, lambda: list(self.clients.values()))
        self.subscribe(self._notifier)

    # --- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        from pairtui.control import ControlServer
        from pairtui.tunnels import TunnelManager

        # Made first so the control socket can answer about tunnels; started once bound.
        self.tunnels = TunnelManager(lambda: (self.listen, self.port), self.emit, self.audit)
        self.host_key = load_or_create_host_key()
        _use_pidfd_child_watcher()
        ssh_fastpath.install()
        self._control = ControlServer(self, self.control_path)
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
                login_timeout=30,
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
        self.started = time.time()
        self._watch = asyncio.create_task(self._watch_loop())
        await self.tunnels.start()

    async def stop(self, reason: str = "the host stopped sharing") -> None:
        if self._watch:
            self._watch.cancel()
        if self._server:
            self._server.close()
        if hasattr(self, "tunnels"):  # made by start()
            await self.tunnels.stop()
        await asyncio.gather(
            *(s.disconnect(reason, event="leave") for s in list(self._sessions.values())),
            return_exceptions=True,
        )
        if self._server:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
        await self._notifier.close()
        if self._control:
            await self._control.stop()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.host_key) if self.host_key else ""

    # --- events ----------------------------------------------------------------

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def emit(self, event: Event) -> None:
        for callback in list(self._subscribers):
            callback(event)

    # --- lookups for connections --------------------------------------------------

    def lookup_key(self, key: asyncssh.SSHKey) -> tuple[Guest, GuestKey] | None:
        self._index = self._index.fresh(self.registry_path)
        return self._index.by_blob.get(key.public_data)

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

    def resolve_share(self, guest: Guest, requested: str) -> Share | str:
        return resolve_share(guest, requested, self.share_list())

    def next_id(self) -> str:
        return f"c{next(self._ids)}"

    def register(self, session: GuestSession) -> None:
        self._sessions[session.info.id] = session
        self.clients[session.info.id] = session.info
        info = session.info
        self.audit.record(
            "join", client=info.id, guest=info.guest, fingerprint=info.fingerprint,
            peer=info.peer, via=info.via or None, share=info.share, mode=info.mode,
            tmux_client=info.tty,
        )  # fmt: skip
        self.emit(ClientJoined(info))

    def unregister(self, session: GuestSession, reason: str, event: str) -> None:
        info = session.info
        if self._sessions.pop(info.id, None) is None:
            return
        self.clients.pop(info.id, None)
        self.audit.record(
            event, client=info.id, guest=info.guest, fingerprint=info.fingerprint,
            peer=info.peer, via=info.via or None, share=info.share, reason=reason,
            seconds=round(time.time() - info.since, 1),
        )  # fmt: skip
        self.emit(ClientLeft(info, reason))

    def refused(self, peer: str, fp: str, reason: str, via: str = "", **extra: object) -> None:
        self.audit.record("refused", peer=peer, via=via or None, fingerprint=fp, reason=reason,
                          **extra)  # fmt: skip
        self.emit(AccessRefused(peer, fp, reason, via))

    # --- host actions ------------------------------------------------------------

    def find(self, target: str) -> list[ClientInfo]:
        return [c for c in self.clients.values() if target in (c.id, c.guest, c.tty)]

    async def kick(self, target: str) -> list[ClientInfo]:
        found = self.find(target)
        if not found:
            raise PairtuiError(f"no connected guest or client {target!r} (see `pairtui clients`)")
        await asyncio.gather(
            *(self._sessions[c.id].disconnect("you were disconnected by the host", "kick")
              for c in found)
        )  # fmt: skip
        return found

    async def set_mode(self, target: str, mode: Mode) -> list[ClientInfo]:
        found = self.find(target)
        if not found:
            raise PairtuiError(f"no connected guest or client {target!r} (see `pairtui clients`)")
        for c in found:
            await self._sessions[c.id].switch_mode(mode)
        return found

    async def reconcile(self, force: bool = True) -> None:
        """Apply registry and share changes to connected guests.

        ``force`` re-reads the registry even when its stat looks unchanged (a pairtui
        process told us it wrote); the once-a-second watch relies on the stat.
        """
        if force:
            self._index = KeyIndex.load(self.registry_path)
            self._share_cache = ((-1, -1, -1), [])
        else:
            self._index = self._index.fresh(self.registry_path)
        share_list = self.share_list()
        shares = {s.name for s in share_list}
        for session in list(self._sessions.values()):
            info = session.info
            hit = self._index.by_blob.get(session.key_blob)
            if hit is None:
                await session.disconnect("your invitation was withdrawn", "kick")
                continue
            guest = hit[0]
            if info.share not in shares:
                session.follow_rename(share_list)
            if guest.expired():
                await session.disconnect("your invitation has expired", "kick")
            elif info.share not in shares:
                await session.disconnect(SHARE_STOPPED, "leave")
            elif (
                guest.share
                and guest.share != info.share
                and not (
                    # Invited to this share by its former name: the registry follows a
                    # rename right after shares.json does.
                    guest.share in session.former_names and guest.share not in shares
                )
            ):
                await session.disconnect("you are no longer invited to this share", "kick")
            elif guest.mode is not session.registry_mode:
                # Only a change in the registry moves the client; a live switch made
                # with `pairtui mode` stays until then.
                session.registry_mode = guest.mode
                await session.switch_mode(guest.mode)

    async def _watch_loop(self) -> None:
        """Cheap stat-based watch so hand edits and expiries take effect within a second.

        System guests (under the machine's sshd) follow the same changes: their keys file
        is re-synced when the registry changes or an invitation runs out.
        """
        seen = self._index
        next_expiry = _next_expiry(seen)
        while True:
            await asyncio.sleep(1)
            try:
                await self.reconcile(force=False)
                expired = next_expiry is not None and datetime.now(UTC) >= next_expiry
                if self._index is not seen or expired:
                    seen = self._index
                    next_expiry = _next_expiry(seen)
                    await asyncio.to_thread(system.sync_if_set_up)
            except Exception as exc:  # noqa: BLE001 - never let the watcher die silently
                self.audit.record("error", reason=f"reconcile: {exc}")

    def status(self) -> dict[str, object]:
        return {
            "pid": os.getpid(),
            "listen": self.listen,
            "port": self.port,
            "fingerprint": self.fingerprint,
            "uptime_seconds": round(time.time() - self.started, 1),
            "clients": len(self.clients),
            "shares": [s.name for s in self.share_list()],
            "tunnels": self.tunnels.status() if hasattr(self, "tunnels") else [],
        }


class GuestConnection(asyncssh.SSHServer):
    """Per-connection auth: the key decides everything, the user name nothing."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.conn: asyncssh.SSHServerConnection | None = None
        self.peer = "?"
        self.via = ""  # the tunnel a forwarded guest came through
        self.guest: Guest | None = None
        self.key: GuestKey | None = None
        self._refused: set[str] = set()
        self._stop_quick_acks: Callable[[], None] = lambda: None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        self._stop_quick_acks = ssh_fastpath.ack_quickly(conn)
        ssh_fastpath.tune(conn)
        peer = conn.get_extra_info("peername")
        if peer:
            host, port = str(peer[0]), int(peer[1])
            self.peer = address(host, port)
            tunnels = getattr(self.engine, "tunnels", None)
            forwarded = tunnels.origin(host, port) if tunnels else None
            if forwarded:
                self.peer, self.via = forwarded

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def host_based_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        hit = self.engine.lookup_key(key)
        fp = key.get_fingerprint("sha256")
        if hit is None:
            self._refuse(fp, "unknown key", f"key {fp} is not registered with this host.")
            return False
        guest, gkey = hit
        if guest.expired():
            self._refuse(fp, "expired", f"the invitation for key {fp} has expired.",
                         guest=guest.name)  # fmt: skip
            return False
        self.guest, self.key = guest, gkey
        return True

    def _refuse(self, fp: str, reason: str, banner: str, **extra: object) -> None:
        if fp in self._refused:
            return
        self._refused.add(fp)
        self.engine.refused(self.peer, fp, reason, via=self.via, **extra)
        if self.conn is not None:
            self.conn.send_auth_banner(f"pairtui: {banner}\r\n")

    def session_requested(self) -> tuple[asyncssh.SSHServerChannel[bytes], GuestSession] | bool:
        if self.conn is None or self.guest is None or self.key is None:
            return False
        chan = self.conn.create_server_channel(encoding=None, window=CHANNEL_WINDOW)
        return chan, GuestSession(self.engine, self)

    def connection_requested(self, *args: object) -> bool:
        self._audit_refusal("port forwarding")
        return False

    def server_requested(self, *args: object) -> bool:
        self._audit_refusal("remote port forwarding")
        return False

    def unix_connection_requested(self, *args: object) -> bool:
        self._audit_refusal("unix socket forwarding")
        return False

    def unix_server_requested(self, *args: object) -> bool:
        self._audit_refusal("unix socket forwarding")
        return False

    def _audit_refusal(self, what: str) -> None:
        fp = self.key.fingerprint if self.key else ""
        guest = self.guest.name if self.guest else None
        self.engine.refused(self.peer, fp, what, via=self.via, guest=guest)


class GuestSession(asyncssh.SSHServerSession[bytes]):
    """One guest terminal: a PTY running the forced ``tmux attach``, bridged raw."""

    def __init__(self, engine: Engine, conn: GuestConnection) -> None:
        assert conn.guest is not None and conn.key is not None
        self.engine = engine
        self.conn = conn
        self.guest = conn.guest
        self.key_blob = conn.key.blob
        self.registry_mode = conn.guest.mode
        self.info = ClientInfo(
            id=engine.next_id(), guest=conn.guest.name, fingerprint=conn.key.fingerprint,
            peer=conn.peer, via=conn.via, share="", mode=conn.guest.mode.value,
        )  # fmt: skip
        self._chan: asyncssh.SSHServerChannel[bytes] | None = None
        self._term = "xterm-256color"
        self._has_pty = False
        self._requested = ""
        self._master = -1
        self._proc: asyncio.subprocess.Process | None = None
        self._share: Share | None = None
        self.former_names: set[str] = set()  # of its share, renamed while connected
        self._pending = b""
        self._reading = False
        self._closing: asyncio.Future[None] | None = None
        self._farewell: bytes = b""
        self._end_event = "leave"
        self._end_reason = "guest left"
        self._loop = asyncio.get_running_loop()
        self.fast: ssh_fastpath.ChannelFastPath | None = None

    # --- asyncssh callbacks ------------------------------------------------------

    def connection_made(self, chan: asyncssh.SSHServerChannel[bytes]) -> None:
        self._chan = chan

    def pty_requested(
        self, term_type: str, term_size: tuple[int, int, int, int], term_modes: object
    ) -> bool:
        self._has_pty = True
        self._term = term_type or self._term
        self.info.cols, self.info.rows = term_size[0] or 80, term_size[1] or 24
        return True

    def shell_requested(self) -> bool:
        return True

    def exec_requested(self, command: str) -> bool:
        self._requested = command.strip()
        return True

    def subsystem_requested(self, subsystem: str) -> bool:
        self.engine.refused(self.conn.peer, self.info.fingerprint, f"subsystem {subsystem}",
                            via=self.conn.via, guest=self.guest.name)  # fmt: skip
        return False

    def session_started(self) -> None:
        self.conn._stop_quick_acks()  # the client is interactive now (TCP_NODELAY)
        self._loop.create_task(self._start_safely())

    async def _start_safely(self) -> None:
        try:
            await self._start()
        except (BrokenPipeError, ConnectionError):
            await self._shutdown()  # the guest went away while we were starting

    def _turn_away(self, reason: str, **extra: object) -> None:
        """Refuse this session with one line on the guest's stderr."""
        self.engine.refused(self.conn.peer, self.info.fingerprint, reason,
                            via=self.conn.via, guest=self.guest.name, **extra)  # fmt: skip
        chan = self._chan
        if chan is not None and not chan.is_closing():
            chan.write_stderr(f"pairtui: {reason}\r\n".encode())
            chan.exit(1)

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        self._typed(data)

    def _typed(self, data: bytes) -> None:
        self.info.last_input = time.time()
        if self._master < 0:
            return
        if self._pending:
            self._pending += data
            return
        try:
            n = os.write(self._master, data)
        except BlockingIOError:
            n = 0
        except OSError:
            return
        if n < len(data):
            self._pending = data[n:]
            self._loop.add_writer(self._master, self._flush_input)

    def terminal_size_changed(self, width: int, height: int, pixw: int, pixh: int) -> None:
        self.info.cols, self.info.rows = width or self.info.cols, height or self.info.rows
        if self._master >= 0:
            _set_winsize(self._master, self.info.rows, self.info.cols)
            if self._proc is not None and self._proc.returncode is None:
                os.kill(self._proc.pid, signal.SIGWINCH)
        if self.info.id in self.engine.clients:
            self.engine.emit(ClientChanged(self.info))

    def pause_writing(self) -> None:
        if self._reading:
            self._loop.remove_reader(self._master)
            self._reading = False

    def resume_writing(self) -> None:
        if not self._reading and self._master >= 0:
            self._loop.add_reader(self._master, self._pty_readable)
            self._reading = True

    def eof_received(self) -> bool:
        # Keep sending: an EOF from the guest (``ssh host </dev/null``) must not stop
        # the refusal message or the screen from reaching it.
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self._closing is None:
            self._end_reason = "connection lost" if exc else "guest left"
            self._loop.create_task(self._shutdown())

    # --- lifecycle -----------------------------------------------------------------

    async def _start(self) -> None:
        chan = self._chan
        assert chan is not None
        if not self._has_pty:
            self._turn_away("a terminal is required; connect with `ssh -t` (or without a command)")
            return
        share = self.engine.resolve_share(self.guest, self._requested)
        if isinstance(share, str):
            self._turn_away(share, share=self._requested or None)
            return
        if not await asyncio.to_thread(self.engine.shares.live, share):
            self._turn_away(f"share {share.name!r} is gone (its tmux session no longer exists)")
            return
        self._share = share
        self.info.share = share.name
        tmux = share.tmux()
        pair = self.guest.mode is Mode.PAIR
        argv = tmux.attach_argv(share.sessions.for_mode(pair), readonly=not pair)
        master, slave = os.openpty()
        _set_winsize(slave, self.info.rows, self.info.cols)
        self.info.tty = os.ttyname(slave)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/"),
            "TERM": self._term,
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "TMUX_TMPDIR": os.environ.get("TMUX_TMPDIR", "/tmp"),
        }
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                start_new_session=True, close_fds=True,
            )  # fmt: skip
        except OSError as exc:
            os.close(master)
            self._turn_away(f"cannot start tmux: {exc.strerror}")
            return
        finally:
            os.close(slave)
        os.set_blocking(master, False)
        self._master = master
        self.info.pid = self._proc.pid
        if self.conn.conn is not None:
            self.fast = ssh_fastpath.ChannelFastPath(self.conn.conn, chan, self._typed)
            self.fast.start()
        self.resume_writing()
        self.engine.register(self)
        if self._closing is not None:  # the guest left while tmux was starting
            await self._shutdown()

    def _pty_readable(self) -> None:
        try:
            data = os.read(self._master, READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.pause_writing()
            if self._closing is None:
                self._loop.create_task(self._tmux_ended())
            return
        chan = self._chan
        if chan is None or chan.is_closing():  # the guest is gone; _shutdown reaps tmux
            self.pause_writing()
            if self._closing is None:
                self._loop.create_task(self._shutdown())
            return
        if self.fast is not None:
            self.fast.send(data)
        else:
            chan.write(data)

    def _flush_input(self) -> None:
        try:
            n = os.write(self._master, self._pending)
        except BlockingIOError:
            return
        except OSError:
            n = len(self._pending)
        self._pending = self._pending[n:]
        if not self._pending:
            self._loop.remove_writer(self._master)

    def follow_rename(self, shares: list[Share]) -> None:
        """If this guest's share lives on under another name, say so (no reconnect)."""
        mine = self._share
        renamed = mine.now_in(shares) if mine is not None else None
        if renamed is None or mine is None:
            return
        self.former_names.add(mine.name)
        self._share = renamed
        self.info.share = renamed.name
        self.engine.audit.record("rename", client=self.info.id, guest=self.info.guest,
                                 share=renamed.name, was=mine.name)  # fmt: skip
        self.engine.emit(ClientChanged(self.info))

    async def _tmux_ended(self) -> None:
        """tmux quit by itself: say why, as a disconnect by the engine would have.

        Unsharing writes shares.json before it kills the guest sessions, so a client
        that ends first must still leave as "stopped" (the host was told so already).
        """
        reason = await self.engine.why_tmux_ended(self._share)
        if reason is not None and self._closing is None:
            self._farewell = _msg(reason)
            self._end_reason = reason
        await self._shutdown()

    async def disconnect(self, reason: str, event: str) -> None:
        """End this guest's session, telling it why."""
        self._farewell = _msg(reason)
        self._end_reason, self._end_event = reason, event
        await self._shutdown()

    async def _shutdown(self) -> None:
        if self._closing is not None:
            await asyncio.shield(self._closing)
            return
        self._closing = self._loop.create_future()
        try:
            await self._stop_child()
            self.engine.unregister(self, self._end_reason, self._end_event)
            chan = self._chan
            if chan is not None and not chan.is_closing():
                if self._farewell:
                    chan.write(self._farewell)
                status = 0 if self._end_event == "leave" and not self._farewell else 1
                chan.exit(status)
                # Let the guest read the goodbye and close the channel itself: closing
                # the connection at once would abort the transport and drop both.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(chan.wait_closed(), CLOSE_GRACE)
            if self.conn.conn is not None:
                self.conn.conn.close()
        finally:
            self._closing.set_result(None)

    async def _stop_child(self) -> None:
        proc = self._proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 3)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if self._master >= 0:
            self._drain_pty()
            self.pause_writing()
            if self._pending:
                self._loop.remove_writer(self._master)
            os.close(self._master)
            self._master = -1

    def _drain_pty(self) -> None:
        """Forward what tmux printed on its way out (it restores the guest's terminal)."""
        chan = self._chan
        for _ in range(64):
            try:
                data = os.read(self._master, READ_SIZE)
            except OSError:
                return
            if not data:
                return
            if chan is not None and not chan.is_closing():
                chan.write(data)

    async def switch_mode(self, mode: Mode) -> None:
        share = self._share
        if share is None or mode.value == self.info.mode:
            return
        pair = mode is Mode.PAIR
        await asyncio.to_thread(
            share.tmux().set_client_mode, self.info.tty, share.sessions.for_mode(pair), not pair
        )
        self.info.mode = mode.value
        self.engine.audit.record("mode", client=self.info.id, guest=self.info.guest,
                                 mode=mode.value)  # fmt: skip
        self.engine.emit(ClientChanged(self.info))


def _use_pidfd_child_watcher() -> None:
    """Python 3.11 waits for each child (a `tmux attach` per guest) in its own thread;
    a pidfd watcher waits on the event loop instead. 3.12+ does this by itself."""
    loop = asyncio.get_running_loop()
    if sys.version_info >= (3, 12) or not hasattr(os, "pidfd_open"):
        return
    if not isinstance(loop, asyncio.SelectorEventLoop):  # uvloop reaps children itself
        return
    watcher = asyncio.PidfdChildWatcher()
    watcher.attach_loop(loop)
    asyncio.set_child_watcher(watcher)


def _next_expiry(index: KeyIndex) -> datetime | None:
    now = datetime.now(UTC)
    pending = [g.expires for g in index.guests().values() if g.expires and g.expires > now]
    return min(pending, default=None)


def _set_winsize(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
