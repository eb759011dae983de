"""Every host action, once: what the CLI, the dashboard and the tmux key all do.

An action changes the host's files (the registry, ``shares.json``, ``tunnels.json``:
each written atomically under its lock) and then calls the front end's ``changed``,
its way of telling whoever serves guests: the CLI sends the running server a reload
and syncs system guests; the dashboard awaits its engine's reconcile. Reading goes
through here too, so no front end opens a store itself (tests/test_architecture.py
checks it). Everything here may block: the dashboard calls it from a worker thread.

Live actions on connections (kick, a mode switch for this session only, a tunnel up
or down now) are the engine's: front ends ask it through
:class:`~pairtui.engine_api.EngineAPI` or the control socket.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from pairtui.authorized_keys import GuestKey
from pairtui.errors import PairtuiError
from pairtui.invitations import Invitation, InvitationStore
from pairtui.registry import (
    Guest,
    Mode,
    Registry,
    authorized_line,
    parse_expiry,
    validate_name,
)
from pairtui.shares import Share, ShareStore, default_share, validate_share_name
from pairtui.system.keys_file import forced_command, key_line
from pairtui.system.state import load_state, state_file
from pairtui.tunnels import Tunnel, TunnelStore

if TYPE_CHECKING:
    from pairtui.tmux import Tmux


def _nothing() -> None:
    """The ``changed`` of a front end with nobody to tell (no engine to reach yet)."""


class Host:
    """The host's guests, shares and tunnels, and every change to them.

    Args:
        changed: called after every change of guests or shares, once the file is written.
        registry, shares, tunnels: the stores (tests give their own; front ends don't).
    """

    def __init__(
        self,
        changed: Callable[[], None] = _nothing,
        *,
        registry: Registry | None = None,
        shares: ShareStore | None = None,
        tunnels: TunnelStore | None = None,
    ) -> None:
        self._changed = changed
        self.registry = registry or Registry()
        self.shares = shares or ShareStore()
        self.tunnel_store = tunnels or TunnelStore()
        self.invitation_store = InvitationStore()

    # --- guests ------------------------------------------------------------------------

    def guests(self) -> dict[str, Guest]:
        return self.registry.guests()

    def guest(self, name: str) -> Guest:
        return self.registry.get(name)

    def add_guest(
        self,
        name: str,
        keys: Iterable[GuestKey],
        mode: Mode | None = None,
        share: str | None = None,
        expires: datetime | bool | None = False,
    ) -> Guest:
        """A new guest, or more keys for one (see :meth:`Registry.add`)."""
        guest = self.registry.add(name, keys, mode=mode, share=share, expires=expires)
        self._changed()
        return guest

    def update_guest(
        self,
        name: str,
        mode: Mode | None = None,
        share: str | None = None,
        expires: datetime | bool | None = False,
    ) -> Guest:
        """Change what a guest may do; connected clients follow at once."""
        guest = self.registry.update(name, mode=mode, share=share, expires=expires)
        self._changed()
        return guest

    def remove_guest(self, name: str, fingerprint: str | None = None) -> Guest:
        """Remove a guest (or one of its keys); its connections end at once."""
        guest = self.registry.remove(name, fingerprint)
        self._changed()
        return guest

    # --- shares ------------------------------------------------------------------------

    def share_list(self) -> list[Share]:
        return self.shares.load()

    def share_named(self, name: str) -> Share:
        return self.shares.get(name)

    def default_share(self) -> Share | None:
        """The share a plain ``ssh guest@host`` joins."""
        return default_share(self.shares.load())

    def share_for_window(self, window: str) -> Share | None:
        return self.shares.for_window(window)

    def share_live(self, share: Share) -> bool:
        """Whether its guest sessions still exist in tmux."""
        return self.shares.live(share)

    def share(
        self, tmux: Tmux, *, session: str | None = None, pane: str | None = None,
        name: str | None = None, lifetime: str | None = None,
    ) -> Share:  # fmt: skip
        """Share a whole session (default: the current one) or the window of a pane;
        with a ``lifetime`` (``2h``, or a time), the running server ends it then."""
        expires = parse_expiry(lifetime) if lifetime else None
        share = self.shares.create(tmux, session=session, pane=pane, name=name, expires=expires)
        self._changed()
        return share

    def unshare(self, name: str) -> Share:
        """Stop a share; its guests are disconnected."""
        share = self.shares.remove(name)
        self._changed()
        return share

    def rename_share(self, old: str, new: str) -> Share:
        """Renamed in place: its guests stay connected, and guests invited to it by the
        old name are invited by the new one."""
        share = self.shares.rename(old, new, self.registry)
        self._changed()
        return share

    # --- invitations -------------------------------------------------------------------

    def invite(
        self, *, mode: Mode = Mode.VIEW, share: str = "", lifetime: str | None = None,
        uses: int = 1, name: str = "", admit: str = "auto",
    ) -> tuple[Invitation, str]:  # fmt: skip
        """A new invitation and its token, shown once (only its hash is kept)."""
        if share:
            validate_share_name(share)
        if name:
            validate_name(name)
            if name in self.guests():
                raise PairtuiError(
                    f"guest {name} exists: an invitation makes a new guest (another --name; "
                    f"a new key for {name}: pairtui guest add {name} --key ...)"
                )
        expires = parse_expiry(lifetime) if lifetime else None
        return self.invitation_store.create(
            mode=mode, share=share, name=name, expires=expires, uses=uses, admit=admit
        )

    def invitations(self) -> list[Invitation]:
        return self.invitation_store.load()

    def revoke_invitation(self, ident: str) -> Invitation:
        """Nobody gets in with it any more (keys it registered stay guests)."""
        return self.invitation_store.revoke(ident)

    # --- tunnels -----------------------------------------------------------------------

    def tunnels(self) -> list[Tunnel]:
        return self.tunnel_store.load()

    def tunnel(self, name: str) -> Tunnel:
        return self.tunnel_store.get(name)

    # Connected guests do not depend on tunnels.json, so these do not call ``changed``:
    # the front end then asks the engine to bring the tunnel up or down.

    def add_tunnel(self, tunnel: Tunnel) -> Tunnel:
        return self.tunnel_store.add(tunnel)

    def set_tunnel_enabled(self, name: str, enabled: bool) -> Tunnel:
        """Kept across restarts."""
        return self.tunnel_store.set_enabled(name, enabled)

    def remove_tunnel(self, name: str) -> Tunnel:
        return self.tunnel_store.remove(name)


@dataclass(frozen=True)
class KeyLines:
    """A guest's authorized_keys lines, one per key: the registry's (``pairtui join``)
    and, once system guests are set up, the system guest's, which sshd runs for them
    (the literal tmux attach: the guest user cannot read the registry)."""

    join: tuple[str, ...]
    system: tuple[str, ...] = ()
    system_user: str | None = None  # None: system guests are not set up

    @property
    def in_use(self) -> tuple[str, ...]:
        """The lines sshd runs for this guest on this host."""
        return self.join if self.system_user is None else self.system

    def text(self) -> str:
        """For the clipboard: with system guests, both sets under ``#`` labels (comments
        to sshd), the system guest's first."""
        if self.system_user is None:
            return "\n".join(self.join)
        where = f"{self.system_user} ~/.ssh/authorized_keys (pairtui system setup)"
        return "\n".join(
            [
                f"# {where}: the tmux attach",
                *self.system,
                "# a sshd of your own, reading pairtui's registry: pairtui join",
                *self.join,
            ]
        )


def key_lines(guest: Guest, shares: Sequence[Share]) -> KeyLines:
    """Blocks for a stat (are system guests set up?) and, if they are, a read of their
    record. Front ends show and copy these; which lines apply is decided here.

    Raises:
        PairtuiError: tmux is not installed (a system guest's line names it).
    """
    join = tuple(authorized_line(guest, key) for key in guest.keys)
    if not state_file().exists():
        return KeyLines(join)
    try:
        state = load_state()
    except PairtuiError:
        state = None
    command = forced_command(guest, list(shares))
    return KeyLines(
        join,
        tuple(key_line(guest, key, command) for key in guest.keys),
        f"{state.user}'s" if state else "the system guest's",
    )
