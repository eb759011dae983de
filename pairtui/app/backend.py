"""What the dashboard drives: an engine, the guest registry and the host's shares.

The engine is either the in-process :class:`~pairtui.engine.Engine` or, when a
``pairtui serve`` already answers on the control socket, a
:class:`~pairtui.control.RemoteEngine` attached to it. Both keep
:class:`~pairtui.engine_api.EngineAPI`, which is all this module asks of them.

The heavy core (asyncssh, libtmux) is imported only inside :func:`load_services`,
which the app calls from a worker after its first paint.

Over 400 lines: :class:`Services` is the dashboard's one way to every host action
(guests, invitations, shares, tunnels), so no pane reaches the core another way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from pairtui import control, paths
from pairtui.config import Config
from pairtui.errors import PairtuiError
from pairtui.events import ClientInfo
from pairtui.fileutil import file_stamp

if TYPE_CHECKING:
    from datetime import datetime

    from pairtui.authorized_keys import GuestKey
    from pairtui.engine_api import EngineAPI
    from pairtui.host import Host
    from pairtui.invitations import Invitation
    from pairtui.registry import Guest
    from pairtui.shares import Share
    from pairtui.tmux import HostWindow
    from pairtui.tunnels import Tunnel


T = TypeVar("T")

SYSTEM_CLIENT_PREFIX = "sys-"  # pairtui.system's client ids


@dataclass(frozen=True)
class ServerState:
    """Where the dashboard's engine is at, for the status line."""

    phase: Literal["starting", "serving", "attached", "error", "stopped"] = "starting"
    listen: str = ""
    port: int = 0
    fingerprint: str = ""
    started: float = 0.0
    pid: int = 0
    message: str = ""

    @property
    def up(self) -> bool:
        return self.phase in ("serving", "attached")


@dataclass(frozen=True)
class Shareable:
    """A host session with something left to share: itself (``whole``) and free windows."""

    session: str
    whole: bool
    windows: tuple[HostWindow, ...]


@dataclass(frozen=True)
class HostState:
    """The host's tmux server as the Shares tab shows it."""

    shares: tuple[Share, ...] = ()
    windows: tuple[HostWindow, ...] = ()  # of the host sessions (not pairtui's own)
    live: frozenset[str] = frozenset()  # shares whose guest sessions exist
    error: str | None = None  # e.g. tmux not running

    @property
    def sessions(self) -> tuple[str, ...]:
        """The host sessions, in tmux's order (every session has a window)."""
        return tuple(dict.fromkeys(w.session for w in self.windows))

    def window(self, window_id: str) -> HostWindow | None:
        return next((w for w in self.windows if w.id == window_id), None)

    def shows(self, share: Share) -> tuple[str, str]:
        """The host session a share shows ("" if its window is gone), and what of it,
        as a tmux user names it: ``session work``, ``window work:2 (vim)``."""
        from pairtui.shares import shows

        window = self.window(share.target) if share.kind == "window" else None
        session = share.target if share.kind == "session" else window.session if window else ""
        return session, shows(share, {w.id: w for w in self.windows})

    def shareable(self) -> list[Shareable]:
        """What the host can still share: a session shared whole is not offered whole
        again, nor a window already shared on its own."""
        whole = {s.target for s in self.shares if s.kind == "session"}
        taken = {s.target for s in self.shares if s.kind == "window"}
        out = []
        for session in self.sessions:
            free = tuple(w for w in self.windows if w.session == session and w.id not in taken)
            if session not in whole or free:
                out.append(Shareable(session, session not in whole, free))
        return out

    @property
    def default(self) -> Share | None:
        """The share a plain ``ssh guest@host`` joins: the most recent one."""
        from pairtui.shares import default_share

        return default_share(self.shares)


class ShareHost(Protocol):
    """Shares on the host's tmux server; every method may block (call from a thread)."""

    def state(self) -> HostState: ...

    def changed(self) -> bool: ...

    def share(self, session: str, name: str | None, pane: str | None = None) -> Share: ...

    def unshare(self, name: str) -> Share: ...

    def rename(self, old: str, new: str) -> Share: ...

    def set_buffer(self, text: str) -> bool: ...


class FileWatch:
    """Tells whether a file changed since the last look: one ``stat``, no reading."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp = file_stamp(path)

    def changed(self) -> bool:
        stamp = file_stamp(self.path)
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        return True


class TmuxShareHost:
    """:class:`ShareHost` over the host's shares (:class:`~pairtui.host.Host`) and its
    real tmux server."""

    def __init__(self, host: Host, socket: Path) -> None:
        self.host = host
        self.socket = socket
        self._watch = FileWatch(host.shares.path)

    def state(self) -> HostState:
        from pairtui.tmux import Tmux

        self._watch.changed()  # what we read now is the latest
        try:
            shares = tuple(self.host.share_list())
        except PairtuiError as exc:
            return HostState(error=str(exc))
        try:
            windows = tuple(Tmux(self.socket).host_windows())
            error = None
        except PairtuiError as exc:
            windows, error = (), str(exc)
        live = frozenset(s.name for s in shares if self.host.share_live(s))
        return HostState(shares, windows, live, error)

    def changed(self) -> bool:
        return self._watch.changed()

    def share(self, session: str, name: str | None, pane: str | None = None) -> Share:
        """The whole session, or (``pane``) the window of that pane."""
        from pairtui.tmux import Tmux

        tmux = Tmux(self.socket)
        if pane:
            return self.host.share(tmux, pane=pane, name=name)
        return self.host.share(tmux, session=session, name=name)

    def unshare(self, name: str) -> Share:
        return self.host.unshare(name)

    def rename(self, old: str, new: str) -> Share:
        """Renamed in place: its guests stay connected and see the new name."""
        return self.host.rename_share(old, new)

    def set_buffer(self, text: str) -> bool:
        """Also copy into the tmux paste buffer when the dashboard runs inside tmux."""
        import os

        from pairtui.tmux import Tmux, resolve_socket

        if not os.environ.get("TMUX"):
            return False
        try:
            Tmux(resolve_socket()).copy_to_buffer(text)
        except PairtuiError:
            return False
        return True


@dataclass
class Services:
    """Everything the dashboard acts on, built off the UI's critical path.

    The host actions live here, free of any UI, so every front end does them alike:
    blocking file and tmux work runs in a thread, then the engine applies the change
    to connected guests at once (it would within a second on its own).
    """

    engine: EngineAPI
    host: Host
    shares: ShareHost
    attached: bool = False  # the engine is a separate `pairtui serve`
    forges: dict[str, str] = field(default_factory=dict)
    registry_watch: FileWatch | None = None
    invitation_watch: FileWatch | None = None

    def __post_init__(self) -> None:
        if self.registry_watch is None:
            self.registry_watch = FileWatch(self.host.registry.path)
        if self.invitation_watch is None:
            self.invitation_watch = FileWatch(self.host.invitation_store.path)

    async def _act(self, action: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A host action: the file work in a thread, then the engine applies it to every
        connected guest at once (it would within a second on its own)."""
        result = await asyncio.to_thread(action, *args, **kwargs)
        await self.engine.reconcile()
        return result

    async def guests(self) -> dict[str, Guest]:
        assert self.registry_watch is not None
        self.registry_watch.changed()  # what we read now is the latest
        return await asyncio.to_thread(self.host.guests)

    def guests_changed(self) -> bool:
        assert self.registry_watch is not None
        return self.registry_watch.changed()

    async def invitations(self) -> list[Invitation]:
        assert self.invitation_watch is not None
        self.invitation_watch.changed()  # what we read now is the latest
        return await asyncio.to_thread(self.host.invitations)

    def invitations_changed(self) -> bool:
        """A use counted by the server, or an ``invite`` or ``invite revoke`` elsewhere."""
        assert self.invitation_watch is not None
        return self.invitation_watch.changed()

    async def invite(
        self, mode: str, share: str, expires: datetime | None, uses: int, name: str,
        admit: str = "auto",
    ) -> tuple[Invitation, str]:  # fmt: skip
        """A new invitation and its token, which only the caller ever sees. Nobody
        connected changes, so the engine has nothing to reconcile: it reads the file
        when the invitation is used."""
        from pairtui.clock import iso_utc
        from pairtui.registry import Mode

        lifetime = iso_utc(expires) if expires else None  # a time the core parses as given
        return await asyncio.to_thread(
            self.host.invite, mode=Mode(mode), share=share, lifetime=lifetime, uses=uses,
            name=name, admit=admit,
        )  # fmt: skip

    async def revoke_invitation(self, ident: str) -> Invitation:
        return await asyncio.to_thread(self.host.revoke_invitation, ident)

    def invitation_strings(self, invitation: Invitation, token: str) -> list[str]:
        """What the invited colleague types: the user name carries the token."""
        from pairtui.invitations import USER_PREFIX
        from pairtui.ssh import ssh_strings

        share = invitation.share or None
        user = f"{USER_PREFIX}{token}"
        return [s.command for s in ssh_strings(self.engine.listen, self.engine.port, share, user)]

    async def host_state(self) -> HostState:
        return await asyncio.to_thread(self.shares.state)

    async def kick(self, client_id: str) -> list[ClientInfo]:
        if client_id.startswith(SYSTEM_CLIENT_PREFIX):  # came in through the machine's sshd
            from pairtui import system

            await asyncio.to_thread(system.kick, client_id)
            return []
        return await self.engine.kick(client_id)

    async def system_clients(self) -> list[ClientInfo] | None:
        """Guests who came in through the machine's sshd; ``None`` when not set up (a stat)."""
        from pairtui import system
        from pairtui.events import ClientInfo

        if not system.state_file().exists():
            return None
        found = await asyncio.to_thread(system.list_clients)
        return [
            ClientInfo(
                id=c.id, guest=c.guest or c.user, fingerprint="", peer=c.peer or f"sshd ({c.user})",
                share=c.share, mode=c.mode, since=c.since, last_input=c.activity,
                cols=c.cols, rows=c.rows, tty=c.tty, pid=c.pid,
            )
            for c in found
        ]  # fmt: skip

    async def set_guest_mode(self, name: str, mode: str) -> None:
        """Switch a guest's mode in the registry and, live, on its connected clients.

        The registry is what the engine reconciles against, so changing only the live
        clients would be undone within a second.
        """
        from pairtui.registry import Mode

        await asyncio.to_thread(self.host.update_guest, name, mode=Mode(mode))
        if any(c.guest == name for c in self.engine.clients.values()):
            await self.engine.set_mode(name, Mode(mode))

    async def add_guest(
        self,
        name: str,
        keys: list[GuestKey],
        mode: str,
        expires: datetime | bool | None,
        share: str | None,
    ) -> Guest:
        from pairtui.registry import Mode

        return await self._act(
            self.host.add_guest, name, keys, mode=Mode(mode), share=share, expires=expires
        )

    async def update_guest(
        self, name: str, mode: str, share: str, expires: datetime | bool | None
    ) -> Guest:
        from pairtui.registry import Mode

        return await self._act(
            self.host.update_guest, name, mode=Mode(mode), share=share, expires=expires
        )

    async def remove_guest(self, name: str) -> Guest:
        return await self._act(self.host.remove_guest, name)

    async def share(self, session: str, name: str | None, pane: str | None = None) -> Share:
        return await self._act(self.shares.share, session, name, pane)

    async def unshare(self, name: str) -> Share:
        return await self._act(self.shares.unshare, name)

    async def rename_share(self, old: str, new: str) -> Share:
        return await self._act(self.shares.rename, old, new)

    def tunnels(self) -> list[Tunnel]:
        try:
            return self.host.tunnels()
        except PairtuiError:
            return []

    async def set_tunnel(self, name: str, up: bool) -> None:
        """Bring a tunnel up or down (kept across restarts), in-process or via the server."""
        tunnels = self.engine.tunnels
        await (tunnels.up(name) if up else tunnels.down(name))

    def tunnel_summaries(self) -> dict[str, str]:
        """Each tunnel's state in words, as the engine knows it now (updates are events)."""
        return {i.name: i.describe() for i in self.engine.tunnels.infos()}

    def relay_strings(self, share: str | None) -> list[tuple[str, str]]:
        """``(command, tunnel name)`` for guests who come in through a relay."""
        from pairtui.tunnels import guest_strings

        try:
            tunnels = self.host.tunnels()
        except PairtuiError:
            return []
        return [(s.command, t.name) for t in tunnels for s in guest_strings(t, share)]

    def ssh_strings(self, share: str | None) -> list[str]:
        """What guests type to join ``share`` (``None``: the default share)."""
        from pairtui.ssh import ssh_strings

        return [s.command for s in ssh_strings(self.engine.listen, self.engine.port, share)]


def load_services(
    cfg: Config,
    listen: str | None = None,
    port: int | None = None,
    tmux_socket: str | None = None,
) -> Services:
    """Attach to a running ``pairtui serve`` if one answers, else build an in-process engine."""
    from pairtui import system
    from pairtui.host import Host
    from pairtui.tmux import resolve_socket

    socket = resolve_socket(tmux_socket or cfg.tmux_socket)
    host = Host()
    shares = TmuxShareHost(host, socket)
    if control.ping(paths.control_socket()):
        engine: EngineAPI = control.RemoteEngine()
        attached = True
    else:
        from pairtui.engine import Engine

        engine = Engine(
            listen or cfg.listen,
            cfg.port if port is None else port,
            limits=cfg.limits,
            recording=cfg.recording,
            keys_changed=system.sync_problems,
        )
        attached = False
    return Services(engine, host, shares, attached, dict(cfg.forges))
