"""The embedded SSH server's asyncssh side: registered keys in, a forced ``tmux attach`` out.

:class:`GuestConnection` decides auth per connection (the key decides everything, the
user name nothing); :class:`GuestSession` runs ``tmux attach-session`` for the guest's
share and mode in a local PTY and copies raw bytes both ways. Nothing the guest asks
for (a command, a subsystem, forwarding) is run; a requested command only selects a
share. Both ask the engine (:class:`GuestHost`, which :class:`pairtui.engine.Engine`
is) for everything they decide on.

The PTY itself (the child, its window size, the pump and its bounds) is
:class:`pairtui.pty_bridge.PtyBridge`'s. Over 400 lines: the two classes are the two
halves of asyncssh's server API for one guest (connection and session callbacks), and
the session's part is the guest's side of every rule in docs/security.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections.abc import Awaitable
from dataclasses import replace
from typing import Any, Protocol

import asyncssh

from pairtui import native_relay, ssh_fastpath
from pairtui.admission import Admission
from pairtui.audit import Audit
from pairtui.authorized_keys import GuestKey
from pairtui.door import DOOR_CLOSED, Knock
from pairtui.errors import PairtuiError
from pairtui.events import ClientChanged, ClientInfo, Event
from pairtui.invitations import USER_PREFIX, Invitation
from pairtui.limits import Limits
from pairtui.picker import ENTER_SCREEN, HOST, LEAVE_SCREEN, Choice, GaveUp, Picker
from pairtui.printable import printable
from pairtui.pty_bridge import PtyBridge
from pairtui.recording.recordings import Recordings
from pairtui.registry import Guest, Mode
from pairtui.shares import Share, ShareStore, shows, windows_of
from pairtui.ssh import address
from pairtui.waiting_room import WaitingSession

# asyncssh's chacha20-poly1305 builds three cryptography Cipher objects per packet;
# AES-GCM is one call (benchmarks: K=50 server CPU 1.6x -> 1.1x of sshd). Clients take
# the first of *their* list that we offer, and OpenSSH lists chacha20 and the CTR modes
# before GCM, so only GCM is offered.
ENCRYPTION_ALGS = ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com"]
CHANNEL_WINDOW = 2 * 1024 * 1024
CLOSE_GRACE = 2.0
# Seconds between two updates of a guest's last input: every key a guest types passes
# here, and "idle" is shown in seconds.
ACTIVITY_STEP = 0.5
MAX_SIZE = 1000  # columns or rows: no real terminal is larger, and tmux pays for every cell
TERM_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")  # always used with fullmatch
PAIR = Mode.PAIR.value  # looked up once: the mode is checked on every key a guest types
FOCUS_REPORTS = re.compile(rb"\x1b\[[IO]")  # focus in/out; tmux 3.3 passes them on


class GuestHost(Protocol):
    """What a guest's connection and terminal ask of the engine."""

    limits: Limits
    audit: Audit
    shares: ShareStore
    clients: dict[str, ClientInfo]
    recordings: Recordings
    admission: Admission

    def origin(self, host: str, port: int) -> tuple[str, str] | None:
        """Where a connection that came through a tunnel really came from."""
        ...

    def arriving(self, conn: GuestConnection) -> None: ...
    def logged_in(self, conn: GuestConnection) -> None: ...
    def gone(self, conn: GuestConnection, reason: str, event: str) -> None: ...
    def admit(self, conn: GuestConnection) -> str | None: ...
    def room_for_terminal(self, conn: GuestConnection) -> str | None: ...
    def lookup_key(self, key: asyncssh.SSHKey) -> tuple[Guest, GuestKey] | None: ...
    def current_guest(self, blob: bytes) -> Guest | str: ...
    def resolve_share(self, guest: Guest, requested: str) -> Share | list[Share] | str: ...
    async def why_tmux_ended(self, share: Share | None) -> str | None: ...
    def next_id(self) -> str: ...
    def register(self, session: GuestSession) -> None: ...
    def unregister(self, session: GuestSession, reason: str, event: str) -> None: ...
    def emit(self, event: Event) -> None: ...
    def client_changed(self, info: ClientInfo, announce: bool = True) -> None: ...
    def refused(self, peer: str, fp: str, reason: str, via: str = "", **extra: object) -> None: ...


def _msg(text: str) -> bytes:
    return f"\r\npairtui: {text}\r\n".encode()


class GuestConnection(asyncssh.SSHServer):
    """Per-connection auth: the key decides everything, the user name nothing.

    The engine knows the connection from its first byte (to bound how many are still
    logging in) and, once logged in, until it closes, with or without a terminal.
    """

    def __init__(self, engine: GuestHost) -> None:
        self.engine = engine
        self.conn: asyncssh.SSHServerConnection | None = None
        self.peer = "?"
        self.via = ""  # the tunnel a forwarded guest came through
        self.guest: Guest | None = None
        self.key: GuestKey | None = None
        self.info: ClientInfo | None = None  # listed while it has no terminal
        self.sessions: set[GuestSession] = set()  # its terminals, a share picker's included
        self.output_full = False  # the socket's send buffer is over its limit
        self._refused: set[str] = set()
        self._refused_sessions = False
        self._end = ("guest left", "leave")
        # Logging in with an invitation (user name inv-TOKEN): the invitation, and the
        # unregistered key the client offered last (whose signature completes the login).
        self._invitation: Invitation | None = None
        self._invited_key: asyncssh.SSHKey | None = None
        # Knocking (the host opened the door): the key it offered, then its knock.
        self._knocking_key: asyncssh.SSHKey | None = None
        self.knock: Knock | None = None
        self._waiting = False
        self.forget_guest_on_close = ""  # a guest admitted once: removed when this ends
        self.fast: ssh_fastpath.ConnectionFastPath | None = None

    def has_terminal(self) -> bool:
        """A terminal on a share (or on its way there); a guest still choosing a share
        has none, so its connection is listed, kicked and revoked as one without."""
        return any(s.picker is None for s in self.sessions)

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        self.fast = ssh_fastpath.ConnectionFastPath(conn)
        self._watch_output(conn)
        peer = conn.get_extra_info("peername")
        if peer:
            host, port = str(peer[0]), int(peer[1])
            self.peer = address(host, port)
            forwarded = self.engine.origin(host, port)
            if forwarded:
                self.peer, self.via = forwarded
        self.engine.arriving(self)

    def _watch_output(self, conn: asyncssh.SSHServerConnection) -> None:
        """Hear when the socket's send buffer fills (asyncssh ignores it): a guest that
        stops reading must stop its terminal's output, not grow the server."""
        transport: asyncio.WriteTransport | None = getattr(conn, "_transport", None)
        if transport is None:
            return
        high = self.engine.limits.output_buffer
        transport.set_write_buffer_limits(high=high, low=high // 4)

        def pause_writing() -> None:
            self.output_full = True
            for session in self.sessions:
                session.update_reading()

        def resume_writing() -> None:
            self.output_full = False
            for session in self.sessions:
                session.update_reading()

        conn.pause_writing = pause_writing  # type: ignore[method-assign]
        conn.resume_writing = resume_writing  # type: ignore[method-assign]

    def progress(self) -> int:
        """How far the login got: 0 nothing yet, 1 an SSH version, 2 keys exchanged."""
        conn: Any = self.conn
        if conn is None:
            return 0
        if getattr(conn, "_kex_complete", False):
            return 2
        return 1 if getattr(conn, "_client_version", b"") else 0

    def drop(self, reason: str) -> None:
        """Close a connection that has not logged in (the server is making room)."""
        if self.conn is not None:
            self.conn.abort()

    def close(self, reason: str, event: str) -> None:
        """Close the whole connection, telling the guest why (``ssh`` prints it)."""
        self._end = (reason, event)
        if self.conn is not None:
            self.conn.disconnect(asyncssh.DISC_BY_APPLICATION, f"pairtui: {reason}")

    def auth_completed(self) -> None:
        if self.guest is None and self._invitation is not None and self._invited_key:
            # The key proved itself (its signature was checked): register it as the
            # invitation says, counting the use now, not when the key was offered.
            done = self.engine.admission.accept_invited(
                self._invitation, self._invited_key, self.peer, self.via
            )
            if isinstance(done, str):
                self.engine.refused(self.peer, self._invited_key.get_fingerprint("sha256"),
                                    done, via=self.via)  # fmt: skip
                self.close(done, "refused")
                return
            self.guest, self.key = done
        elif self.guest is None and self._knocking_key is not None:
            self.knock = self.engine.admission.knock(self, self._knocking_key, self._invitation)
        self.engine.logged_in(self)

    def connection_lost(self, exc: Exception | None) -> None:
        reason, event = self._end
        if exc is not None and event == "leave":
            reason = "connection lost"
        self.engine.gone(self, reason, event)

    def begin_auth(self, username: str) -> bool:
        full = self.engine.admit(self)
        if full is not None and self.conn is not None:
            # The client waits for an answer to its first auth request here, so it reads
            # this disconnect (and `ssh` prints its reason) instead of writing into a
            # closed socket, as it would before the key exchange.
            self._end = (full, "refused")
            self.conn.disconnect(asyncssh.DISC_TOO_MANY_CONNECTIONS, f"pairtui: {full}")
            return True
        if username.startswith(USER_PREFIX):
            found = self.engine.admission.invitation(username, self.peer, self.via)
            if isinstance(found, str):  # used, withdrawn or expired: said, then closed
                self.engine.refused(self.peer, "", found, via=self.via)
                self._end = (found, "refused")
                if self.conn is not None:
                    self.conn.disconnect(asyncssh.DISC_NO_MORE_AUTH_METHODS_AVAILABLE,
                                         f"pairtui: {found}")  # fmt: skip
                return True
            # A token nobody was given: its keys are refused as unknown keys are.
            self._invitation = found
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
        if len(self._refused) >= self.engine.limits.max_auth_tries:
            return False  # closing already
        # asyncssh asks here for every key offered, signed or not, and the login that
        # succeeds is the last one asked about (its signature is what was checked): only
        # that key may decide who logs in. A registered key merely named first (anyone
        # may have a guest's public key) must not stay as the guest when another key
        # signs for a knock or an invitation.
        self.guest = self.key = None
        self._knocking_key = self._invited_key = None
        hit = self.engine.lookup_key(key)
        fp = key.get_fingerprint("sha256")
        if hit is None and self._invitation is not None and self._invitation.admit == "ask":
            # It knocks, door or no door: the host admits it (the invitation's use is
            # counted then). Bounded as every knock is.
            admission = self.engine.admission
            why = None if self._knocking_key is not None else admission.may_knock(self, fp, True)
            if why is None:
                self._knocking_key = key
                return True
            self._refuse(fp, why, why)
            return False
        if hit is None and self._invitation is not None:
            self._invited_key = key  # registered once its signature is checked
            return True
        if hit is None and self._invitation is None:
            admission = self.engine.admission
            why = None if self._knocking_key is not None else admission.may_knock(self, fp)
            if why is None:
                # It waits for the host once its signature is checked (asyncssh asks
                # again for the signed request: the key offered last logs in).
                self._knocking_key = key
                return True
            if why != DOOR_CLOSED:  # the door is open, but not to this knock now
                self._refuse(fp, why, why)
                return False
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
        if self.conn is None:
            return
        self.conn.send_auth_banner(f"pairtui: {banner}\r\n")
        if len(self._refused) >= self.engine.limits.max_auth_tries:
            # As sshd's MaxAuthTries: a client offering key after key is cut off.
            asyncio.get_running_loop().call_soon(
                self.close, "too many authentication failures", "refused"
            )

    def session_requested(
        self,
    ) -> tuple[asyncssh.SSHServerChannel[bytes], asyncssh.SSHServerSession[bytes]] | bool:
        if self.conn is not None and self.guest is None and self.knock is not None:
            if self._waiting:
                return False  # one terminal waits; nothing else is opened
            self._waiting = True
            chan = self.conn.create_server_channel(encoding=None, window=CHANNEL_WINDOW)
            return chan, WaitingSession(
                self.engine.admission, self, self.knock, lambda: GuestSession(self.engine, self)
            )
        if self.conn is None or self.guest is None or self.key is None:
            return False
        if len(self.sessions) >= self.engine.limits.max_sessions:
            if not self._refused_sessions:
                self._refused_sessions = True
                self._audit_refusal(f"more than {self.engine.limits.max_sessions} terminals")
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
    """One guest terminal: a PTY running the forced ``tmux attach``, bridged raw.

    Both directions are bounded: screen output stops being read from the PTY while the
    guest's socket has more than ``limits.output_buffer`` unsent (tmux copes with slow
    clients), and the channel stops being read while the pane has more than
    ``limits.input_buffer`` of typed input it has not taken.
    """

    def __init__(self, engine: GuestHost, conn: GuestConnection) -> None:
        assert conn.guest is not None and conn.key is not None
        self.engine = engine
        self.conn = conn
        self.guest = conn.guest
        self.key_blob = conn.key.blob
        self.registry_mode = conn.guest.mode
        idle = conn.info  # the connection's "no terminal" row: this terminal takes it over
        taken = idle is not None and not any(s.info.id == idle.id for s in conn.sessions)
        self.info: ClientInfo = ClientInfo(
            id=idle.id if idle is not None and taken else engine.next_id(),
            guest=conn.guest.name, fingerprint=conn.key.fingerprint,
            peer=conn.peer, via=conn.via, share="", mode=conn.guest.mode.value,
        )  # fmt: skip
        conn.sessions.add(self)
        self._chan: asyncssh.SSHServerChannel[bytes] | None = None
        self._term = "xterm-256color"
        self._has_pty = False
        self._requested = ""
        self._share: Share | None = None
        self.former_names: set[str] = set()  # of its share, renamed while connected
        self._pty = PtyBridge(
            self._screen, self._pty_closed, engine.limits.input_buffer,
            self._input_full, self._input_ok,
        )  # fmt: skip
        self._input_paused = False
        self._channel_full = False  # asyncssh's own send buffer is over its limit
        self._input_open = True  # False from the moment the guest must stop typing
        # Moves to view not yet done: its keys are dropped until it is there.
        self._narrowing = 0
        self._mode_lock = asyncio.Lock()  # one tmux mode move at a time (they read, then act)
        self._focus = FocusReportFilter()
        self._closing: asyncio.Future[None] | None = None
        self._farewell: bytes = b""
        self._end_event = "leave"
        self._end_reason = "guest left"
        self._loop = asyncio.get_running_loop()
        self.fast: ssh_fastpath.ChannelFastPath | None = None
        self.relay: native_relay.NativeRelay | None = None  # while its terminal is steady
        self.picker: Picker | None = None  # shown while the guest chooses a share

    # --- asyncssh callbacks ------------------------------------------------------

    def connection_made(self, chan: asyncssh.SSHServerChannel[bytes]) -> None:
        self._chan = chan

    def pty_requested(
        self, term_type: str, term_size: tuple[int, int, int, int], term_modes: object
    ) -> bool:
        self._has_pty = True
        if term_type and not TERM_RE.fullmatch(term_type):
            # A guest's TERM reaches tmux and terminfo; only a plain name is passed on.
            self.engine.audit.record("error", client=self.info.id, guest=self.guest.name,
                                     reason="unusable TERM replaced", term=term_type)  # fmt: skip
        elif term_type:
            self._term = term_type
        self._update(cols=_clamp(term_size[0], 80), rows=_clamp(term_size[1], 24))
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
        if self.conn.fast is not None:
            self.conn.fast.interactive()  # the client is interactive now (TCP_NODELAY)
        self._loop.create_task(self._start_safely())

    async def _start_safely(self) -> None:
        try:
            await self._start()
        except (BrokenPipeError, ConnectionError):
            await self._shutdown()  # the guest went away while we were starting
        except Exception as exc:  # noqa: BLE001 - one guest's failure must not leak its PTY
            self.engine.audit.record("error", client=self.info.id, guest=self.guest.name,
                                     reason=f"terminal failed to start: {exc!r}")  # fmt: skip
            self._farewell = _msg("your terminal could not be started")
            self._end_reason, self._end_event = "terminal failed to start", "leave"
            await self._shutdown()

    def _turn_away(self, reason: str, **extra: object) -> None:
        """Refuse this session with one line on the guest's stderr."""
        self.engine.refused(self.conn.peer, self.info.fingerprint, reason,
                            via=self.conn.via, guest=self.guest.name, **extra)  # fmt: skip
        self.conn.sessions.discard(self)
        chan = self._chan
        if chan is not None and not chan.is_closing():
            chan.write_stderr(f"pairtui: {reason}\r\n".encode())
            chan.exit(1)

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        if self.picker is not None:
            self._picking(data)
            return
        self._typed(data)

    # --- choosing a share ------------------------------------------------------------

    async def _offer(self, shares: list[Share]) -> None:
        """Several shares and none named: the guest chooses (see :mod:`pairtui.picker`)."""
        about = await asyncio.to_thread(_describe, shares)
        self.picker = Picker(HOST, [Choice(s.name, about[s.name]) for s in shares])
        self._draw_picker(ENTER_SCREEN)

    def _draw_picker(self, before: bytes = b"") -> None:
        chan = self._chan
        if self.picker is not None and chan is not None and not chan.is_closing():
            chan.write(before + self.picker.screen(self.info.cols, self.info.rows))

    def _picking(self, data: bytes) -> None:
        assert self.picker is not None
        result = self.picker.feed(data)
        if result is None:
            self._draw_picker()
            return
        self.picker = None
        chan = self._chan
        if chan is not None and not chan.is_closing():
            chan.write(LEAVE_SCREEN)
        if isinstance(result, GaveUp):  # the guest's own choice: no refusal, no error
            self.conn.sessions.discard(self)
            if chan is not None and not chan.is_closing():
                chan.write_stderr(b"pairtui: you joined nothing\r\n")
                chan.exit(0)
            return
        # Checked again from the start, as a share named after `ssh` is: the registry or
        # the shares may have changed while the guest chose. The connection may have
        # been listed as one without a terminal meanwhile: this terminal takes that row.
        self._requested = result.name
        idle = self.conn.info
        if idle is not None and not any(x.info.id == idle.id for x in self.conn.sessions):
            self.info = replace(self.info, id=idle.id)
        self._loop.create_task(self._start_safely())

    def _typed(self, data: bytes) -> None:
        if not self._input_open or self._narrowing:
            return
        self.relay_typed(time.time())
        if self.info.mode != PAIR:
            data = self._focus(data)
            if not data:
                return
        else:
            self.engine.recordings.typed(self.info, data)
        self._pty.write(data)

    def _input_full(self) -> None:
        """Stop reading the channel while the pane is this far behind (the guest's SSH
        window then runs out and its client stops sending).

        Paused on the next turn of the loop, not now: asyncssh refills the whole window
        when it hands over the first of the packets it buffered while paused, so what
        it buffered must all be taken in one go, or it buffers a window more each time.
        """
        self._input_paused = True
        self._loop.call_soon(self._pause_input)

    def _pause_input(self) -> None:
        chan = self._chan
        if chan is not None and self._input_paused:
            chan.pause_reading()

    def _input_ok(self) -> None:
        self._input_paused = False
        if self._chan is not None:
            self._chan.resume_reading()

    def terminal_size_changed(self, width: int, height: int, pixw: int, pixh: int) -> None:
        cols, rows = _clamp(width, self.info.cols), _clamp(height, self.info.rows)
        if (cols, rows) == (self.info.cols, self.info.rows):
            return
        self._update(cols=cols, rows=rows)
        if self.picker is not None:
            self._draw_picker()
            return
        self._pty.resize(rows, cols)
        if self.info.id in self.engine.clients:
            self.engine.emit(ClientChanged(self.info))

    def pause_writing(self) -> None:
        self._channel_full = True
        self.update_reading()

    def resume_writing(self) -> None:
        self._channel_full = False
        self.update_reading()

    def _can_take_output(self) -> bool:
        return self._closing is None and not self._channel_full and not self.conn.output_full

    def update_reading(self) -> None:
        """Read tmux's output only while the guest can take it (and the native relay
        does not read it)."""
        self._pty.reading(
            self._can_take_output() and not (self.relay is not None and self.relay.active)
        )

    # --- the native relay (pairtui.native_relay) ----------------------------------

    def hold_relay(self) -> None:
        """Take the terminal back from the native relay now: before keys are cut off or
        a mode changes, and when what :meth:`relay_input` says may have changed. It
        starts again once the terminal is steady."""
        if self.relay is not None:
            self.relay.stop()

    def relay_wanted(self) -> bool:
        return (
            self._can_take_output()
            and self.picker is None
            and self._input_open
            and not self._narrowing
            and not self._input_paused
        )

    def relay_input(self) -> bool:
        return self.info.mode == PAIR and not self.engine.recordings.recording(self.info.share)

    def relay_typed(self, when: float) -> None:
        """The guest typed at ``when`` (through Python or the relay): its activity, noted
        once per ACTIVITY_STEP."""
        if when - (self.info.last_input or 0.0) >= ACTIVITY_STEP:
            self._update(last_input=when)

    def note_relay_activity(self) -> None:
        """The engine asks (once a second): keys the native relay delivered count as
        activity, as keys through Python do."""
        if self.relay is not None and (when := self.relay.last_input):
            self.relay_typed(when)

    def eof_received(self) -> bool:
        # Keep sending: an EOF from the guest (``ssh host </dev/null``) must not stop
        # the refusal message or the screen from reaching it.
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self._input_open = False
        if self._closing is None:
            self._end_reason = "connection lost" if exc else "guest left"
            self._loop.create_task(self._shutdown())
        if self.relay is not None:  # now, not when the shutdown runs
            self.relay.close()

    # --- lifecycle -----------------------------------------------------------------

    async def _start(self) -> None:
        chan = self._chan
        assert chan is not None
        if not self._has_pty:
            self._turn_away("a terminal is required; connect with `ssh -t` (or without a command)")
            return
        guest = self.engine.current_guest(self.key_blob)
        if isinstance(guest, str):  # removed or expired since this connection logged in
            self._turn_away(guest)
            self.conn.close(guest, "kick")
            return
        self._take_guest(guest)
        share = self.engine.resolve_share(guest, self._requested)
        if isinstance(share, str):
            self._turn_away(share, share=self._requested or None)
            return
        if isinstance(share, list):
            await self._offer(share)
            return
        if not await asyncio.to_thread(self.engine.shares.live, share):
            self._turn_away(f"share {share.name!r} is gone (its tmux session no longer exists)")
            return
        full = self.engine.room_for_terminal(self.conn)
        if full is not None:
            self._turn_away(full)
            return
        self._share = share
        self._update(share=share.name)
        notice = self.engine.recordings.notice(share.name)
        if notice:  # consent: said before the guest's terminal shows the share
            chan.write(f"{notice}\r\n".encode())
        argv = share.attach_argv(guest.mode)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/"),
            "TERM": self._term,
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "TMUX_TMPDIR": os.environ.get("TMUX_TMPDIR", "/tmp"),
        }
        try:
            await self._pty.start(argv, env, self.info.rows, self.info.cols)
        except OSError as exc:
            self._turn_away(f"cannot start tmux: {exc.strerror}")
            return
        self._update(tty=self._pty.tty, pid=self._pty.pid)
        # The registry may have changed while tmux started; nothing between this check
        # and register() yields, and every later change reaches it through reconcile().
        now = self.engine.current_guest(self.key_blob)
        if isinstance(now, str) or now.mode is not guest.mode or now.share != guest.share:
            why = now if isinstance(now, str) else "your invitation changed; connect again"
            self._farewell, self._end_reason, self._end_event = _msg(why), why, "kick"
            await self._shutdown()
            return
        if self.conn.fast is not None:
            self.fast = self.conn.fast.channel(chan, self._typed)
            if self.fast.enabled and native_relay.available():
                self.relay = native_relay.NativeRelay(self, self.fast, self._pty)
        self.update_reading()
        self.engine.register(self)
        if self.relay is not None:
            self._loop.call_soon(self.relay.start)
        if self._closing is not None:  # the guest left while tmux was starting
            await self._shutdown()

    def _update(self, **changes: Any) -> None:
        """A new snapshot of this client, listed in the old one's place: events and
        replies carry snapshots, so what a subscriber was given stays what happened."""
        self.info = replace(self.info, **changes)
        self.engine.client_changed(self.info, announce=False)

    def _take_guest(self, guest: Guest) -> None:
        """What the registry says now, not what it said at login, decides this terminal."""
        self.guest = guest
        self.registry_mode = guest.mode
        self._update(mode=guest.mode.value, guest=guest.name)

    def _screen(self, data: bytes) -> None:
        """tmux's output, on its way to the guest (one SSH packet by the fast path)."""
        chan = self._chan
        if chan is None or chan.is_closing():  # the guest is gone; _shutdown reaps tmux
            self._pty.reading(False)
            if self._closing is None:
                self._loop.create_task(self._shutdown())
            return
        if self.fast is not None:
            self.fast.send(data)
        else:
            chan.write(data)

    def _pty_closed(self) -> None:
        if self._closing is None:
            self._loop.create_task(self._tmux_ended())

    def follow_rename(self, shares: list[Share]) -> None:
        """If this guest's share lives on under another name, say so (no reconnect)."""
        mine = self._share
        renamed = mine.now_in(shares) if mine is not None else None
        if renamed is None or mine is None:
            return
        self.former_names.add(mine.name)
        self._share = renamed
        self._update(share=renamed.name)
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

    def disconnect(self, reason: str, event: str) -> Awaitable[None]:
        """End this guest's session, telling it why. Its keys stop at once, before the
        returned awaitable runs (the engine cuts several guests off in one go)."""
        self._input_open = False
        self.hold_relay()
        return self._disconnect(reason, event)

    async def _disconnect(self, reason: str, event: str) -> None:
        self._farewell = _msg(reason)
        self._end_reason, self._end_event = reason, event
        await self._shutdown()

    async def _shutdown(self) -> None:
        self._input_open = False
        if self.relay is not None:
            self.relay.close()
        if self.fast is not None:
            self.fast.close()
        if self._closing is not None:
            await asyncio.shield(self._closing)
            return
        self._closing = self._loop.create_future()
        try:
            # Whatever fails on the way (tmux, the audit log, the goodbye), the guest is
            # unlisted and its connection closed.
            try:
                await self._pty.stop(self._last_screen)
            finally:
                self.conn.sessions.discard(self)
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
        finally:
            if self.conn.conn is not None:
                self.conn.conn.close()
            self._closing.set_result(None)

    def _last_screen(self, data: bytes) -> None:
        """What tmux prints on its way out (it restores the guest's terminal)."""
        chan = self._chan
        if chan is not None and not chan.is_closing():
            chan.write(data)

    def switch_mode(self, mode: Mode) -> Awaitable[None]:
        """Move the live client to ``mode``. Towards view its keys stop at once, before
        the returned awaitable runs, and flow again once tmux has made it read-only."""
        narrowing = mode is not Mode.PAIR
        self.hold_relay()
        if narrowing:
            self._narrowing += 1
            if self.info.mode == PAIR:
                self._focus.tail = b"\x1b["  # its last keys as a pair guest may start one
        return self._switch_mode(mode, narrowing)

    async def _switch_mode(self, mode: Mode, narrowing: bool) -> None:
        """Moves are queued, never overlapped: a later one acts on what the earlier left,
        and the keys stay stopped while any move to view is still to be done."""
        try:
            async with self._mode_lock:
                await self._move(mode)
        finally:
            if narrowing:
                self._narrowing -= 1

    async def _move(self, mode: Mode) -> None:
        share = self._share
        if share is None or mode.value == self.info.mode:
            return
        pair = mode is Mode.PAIR
        try:
            await asyncio.to_thread(
                share.tmux().set_client_mode, self.info.tty,
                share.sessions.for_mode(pair), not pair,
            )  # fmt: skip
        except (PairtuiError, OSError) as exc:
            if not pair:  # it must not keep typing: out it goes
                await self.disconnect(f"your mode could not be changed ({exc})", "kick")
                return
            raise
        self._update(mode=mode.value)
        self.engine.audit.record("mode", client=self.info.id, guest=self.info.guest,
                                 mode=mode.value)  # fmt: skip
        self.engine.emit(ClientChanged(self.info))


class FocusReportFilter:
    """A view guest's input less focus reports (``ESC [ I`` / ``ESC [ O``), which tmux
    3.3 passes from read-only clients to the pane (and its ``pane-focus-in`` hooks):
    nothing of a view guest's may reach a pane.

    Nothing is held back (a lone Escape must still work), so a report split across
    packets is caught by what was sent last: the bytes that would complete it go.
    """

    def __init__(self) -> None:
        self.tail = b""  # the last bytes sent, if they could start a focus report

    def __call__(self, data: bytes) -> bytes:
        sent = self.tail
        buf = sent + data
        while (m := FOCUS_REPORTS.search(buf)) is not None:
            buf = buf[: max(m.start(), len(sent))] + buf[m.end() :]
        out = buf[len(sent) :]
        last = (sent + out)[-2:]
        self.tail = b"\x1b[" if last == b"\x1b[" else b"\x1b" if last[-1:] == b"\x1b" else b""
        return out


def _clamp(size: int, default: int) -> int:
    """A terminal size a guest asked for, within what a real terminal can be."""
    return default if size <= 0 else min(size, MAX_SIZE)


def _describe(shares: list[Share]) -> dict[str, str]:
    """What each share is, as tmux names it: ``session main``, ``window main:0 (vim)``.

    Window names can be set by programs in the host's panes: shown escaped.
    """
    windows = windows_of(shares)
    return {s.name: printable(shows(s, windows)) for s in shares}
