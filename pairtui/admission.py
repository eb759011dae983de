"""Who gets in without a registered key: invitations and knock-to-admit.

An invitation (:mod:`pairtui.invitations`) registers the key of whoever uses its
``inv-TOKEN`` user name; the door (:mod:`pairtui.door`) lets an unregistered key wait
for the host, who admits it (registered once or remembered) or turns it away. Both end
in the same place, a key in the registry, so from then on every rule that holds for a
guest holds for it. This module is the engine's side of both: what a connection asks
while it logs in (:meth:`Admission.invitation`, :meth:`Admission.may_knock`,
:meth:`Admission.knock`) and what the host decides (:meth:`Admission.admit_knock`,
:meth:`Admission.deny_knock`, the door's opening and closing), each audited and told
to the front ends as an event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import asyncssh

from pairtui.audit import Audit
from pairtui.authorized_keys import GuestKey, parse_public_keys
from pairtui.door import DOOR_CLOSED, Door, Knock
from pairtui.errors import PairtuiError
from pairtui.events import DoorChanged, DoorState, Event, Knocked
from pairtui.invitations import USER_PREFIX, Invitation, InvitationStore, guest_name
from pairtui.limits import Limits, WrongTokens
from pairtui.registry import Guest, KeyIndex, Mode, Registry, parse_expiry
from pairtui.ssh import host_of


class Knocker(Protocol):
    """A logged-in connection as admission sees it (:class:`pairtui.guest_ssh.GuestConnection`)."""

    peer: str
    via: str
    guest: Guest | None
    key: GuestKey | None
    forget_guest_on_close: str

    def close(self, reason: str, event: str) -> None: ...


class Admission:
    """Invitations, the door and who waits at it, for one serving engine."""

    def __init__(
        self,
        registry_path: Path,
        audit: Audit,
        emit: Callable[[Event], None],
        reindex: Callable[[], KeyIndex],
        limits: Limits,
    ) -> None:
        """``reindex`` reloads the engine's key index (after a key was registered here)
        and returns it; ``emit`` publishes on the engine's bus."""
        self.registry_path = registry_path
        self.audit = audit
        self.emit = emit
        self._reindex = reindex
        self.invitations = InvitationStore()
        self.door = Door(limits.knock_timeout, limits.max_knocks, limits.max_knocks_per_peer)
        self._door_timer: asyncio.TimerHandle | None = None  # says when it closes by itself
        self._knocking: dict[str, tuple[Knocker, asyncssh.SSHKey]] = {}
        self._wrong_tokens = WrongTokens(limits.wrong_tokens)

    def stop(self) -> None:
        """The engine stops: the door's timer with it."""
        self._time_the_door(None)

    def invitation(self, username: str, peer: str, via: str = "") -> Invitation | str | None:
        """The open invitation an ``inv-TOKEN`` user name names, why it is no longer
        open (used, withdrawn, expired, or this peer tried too many wrong tokens), or
        None for a token nobody was given (counted against the peer)."""
        source = (host_of(peer), via)
        wait = self._wrong_tokens.wait(source)
        if wait:
            return f"too many wrong invitations from your address; try again in {wait:.0f} s"
        found = self.invitations.find(username.removeprefix(USER_PREFIX))
        if found is None:
            self._wrong_tokens.wrong(source)
            return None
        return found.unusable() or found

    def accept_invited(
        self, invitation: Invitation, key: asyncssh.SSHKey, peer: str, via: str = ""
    ) -> tuple[Guest, GuestKey] | str:
        """Register ``key`` (proven: its signature checked) as the invitation says and
        count the use, or say why not (another guest took the last use meanwhile)."""
        used = self.invitations.use(invitation.id)
        if isinstance(used, str):
            return used
        [gkey] = parse_public_keys(key.export_public_key().decode())
        registry = Registry(self.registry_path)
        names = set(registry.guests())
        # Always a guest of its own, with the invitation's mode, share and expiry: a
        # name taken since the invitation was made gets a suffix (alice-2), never the
        # rights of the guest who has it.
        name = guest_name(used.name, gkey.fingerprint, names)
        registry.add(name, [gkey], Mode(used.mode), used.share or None, used.expires_at())
        index = self._reindex()
        self.audit.record("invited", guest=name, fingerprint=gkey.fingerprint, peer=peer,
                          via=via or None, invitation=used.id,
                          left=max(0, used.uses - used.used))  # fmt: skip
        hit = index.by_blob.get(key.public_data)
        return hit if hit is not None else "your key could not be registered"

    # --- knock-to-admit (pairtui.door) -------------------------------------------------

    def door_state(self) -> DoorState:
        return self.door.snapshot()

    async def open_door(self, seconds: float, share: str = "") -> DoorState:
        """Let unregistered keys knock for ``seconds``: the one way the control socket
        (``pairtui door open``) and the dashboard open it, so both hear of it, and of
        its closing by itself."""
        state = self.door.open(seconds, share)
        self._time_the_door(seconds)
        self.audit.record("door", state="open", seconds=round(seconds), share=share or None)
        self.emit(DoorChanged(state))
        return state

    async def close_door(self) -> DoorState:
        """No more knocks; those waiting still wait."""
        self._time_the_door(None)
        state = self.door.close()
        self.audit.record("door", state="closed")
        self.emit(DoorChanged(state))
        return state

    def _time_the_door(self, seconds: float | None) -> None:
        if self._door_timer is not None:
            self._door_timer.cancel()
            self._door_timer = None
        if seconds is not None:
            loop = asyncio.get_running_loop()
            self._door_timer = loop.call_later(seconds, self._door_timed_out)

    def _door_timed_out(self) -> None:
        self._door_timer = None
        left = self.door.snapshot().seconds_left()
        if left > 0:  # the loop's clock ran ahead of the wall clock
            self._time_the_door(left + 0.05)
            return
        self.audit.record("door", state="closed", reason="its time was up")
        self.emit(DoorChanged(self.door.close(), timed_out=True))  # closed: a new state

    def may_knock(self, conn: Knocker, fingerprint: str, invited: bool = False) -> str | None:
        """Why the unregistered key ``fingerprint`` may not wait for the host, or None if
        it may (``invited``: it came with an ``--admit ask`` invitation, door or no door)."""
        if not invited and not self.door.is_open():
            return DOOR_CLOSED
        return self.door.room_for(host_of(conn.peer), fingerprint)

    def knock(
        self, conn: Knocker, key: asyncssh.SSHKey, invitation: Invitation | None = None
    ) -> Knock:
        """A guest whose key proved itself waits for the host: audited, and the host's
        tmux clients are told (batched with the joins and leaves)."""
        fp = key.get_fingerprint("sha256")
        if invitation is not None:
            knock = self.door.add(conn.peer, host_of(conn.peer), conn.via, fp,
                                  invitation=invitation.id, share=invitation.share,
                                  mode=invitation.mode)  # fmt: skip
        else:
            knock = self.door.add(conn.peer, host_of(conn.peer), conn.via, fp)
        self._knocking[knock.id] = (conn, key)
        self.audit.record("knock", knock=knock.id, code=knock.code, fingerprint=fp,
                          peer=conn.peer, via=conn.via or None)  # fmt: skip
        self.emit(Knocked(knock.info(), "waiting"))
        # Bounded in time whether or not it opens a terminal: a knock that never opens
        # one (ssh -N) must not hold a place in the waiting room for ever.
        asyncio.get_running_loop().call_later(knock.timeout + 1, self._knock_timed_out, knock)
        return knock

    def _knock_timed_out(self, knock: Knock) -> None:
        entry = self._knocking.get(knock.id)
        if entry is None:
            return  # decided, or gone
        if knock.decide is not None:  # its waiting room says so and closes
            knock.decide(("deny", "the host did not answer", "gone"))
            return
        self.knock_gone(knock)
        entry[0].close("the host did not answer", "refused")

    def knock_gone(self, knock: Knock, state: str = "gone") -> None:
        if self._knocking.pop(knock.id, None) is None:
            return  # said already
        self.door.gone(knock)
        self.emit(Knocked(knock.info(), state))

    def knocks(self) -> list[Knock]:
        return list(self.door.knocks.values())

    def admit_knock(
        self, ident: str, mode: Mode | None = None, remember: bool = False,
        expires: str | None = None, name: str = "", code: str | None = None,
    ) -> Knock:  # fmt: skip
        """Let a waiting guest in: its key is registered (``remember``: as a guest,
        until ``expires`` if given; otherwise only until that connection ends) and its
        terminal goes on into the share. A guest of an ``--admit ask`` invitation is
        registered as the invitation says (its use counted now), in ``mode`` if given.
        With ``code``, only if it is the knock's (the tmux menu asks the host to type it:
        a menu that opened over the host's typing must not admit by chance)."""
        knock = self.door.get(ident)
        if code is not None and code.strip() != knock.code:
            raise PairtuiError(f"wrong code {code.strip()!r}: {ident} is still waiting")
        conn, key = self._knocking[ident]
        if knock.invitation:
            invitation = next((i for i in self.invitations.load() if i.id == knock.invitation),
                              None)  # fmt: skip
            if invitation is None:
                raise PairtuiError(f"the invitation {knock.invitation} is gone")
            done = self.accept_invited(invitation, key, knock.peer, knock.via)
            if isinstance(done, str):
                self.deny_knock(ident, done)
                raise PairtuiError(f"{ident}: {done}")
            if mode is not None and mode.value != done[0].mode.value:
                Registry(self.registry_path).update(done[0].name, mode=mode)
                index = self._reindex()
                done = index.by_blob[key.public_data]
            conn.guest, conn.key = done
            self.audit.record(
                "admit", knock=ident, guest=done[0].name, peer=knock.peer,
                fingerprint=done[1].fingerprint, invitation=knock.invitation,
            )  # fmt: skip
            if knock.decide is not None:
                knock.decide(("admit",))
            return knock
        mode = mode or Mode(knock.mode)
        [gkey] = parse_public_keys(key.export_public_key().decode())
        registry = Registry(self.registry_path)
        names = set(registry.guests())
        guest = guest_name(name, gkey.fingerprint, names)
        until = parse_expiry(expires) if expires else None
        if not remember:  # admitted once: gone with the connection (a day at most)
            until = parse_expiry("1d")
            conn.forget_guest_on_close = guest
        registry.add(guest, [gkey], mode, knock.share or None, until)
        index = self._reindex()
        hit = index.by_blob.get(key.public_data)
        if hit is None:
            raise PairtuiError("the key could not be registered")
        conn.guest, conn.key = hit
        self.audit.record("admit", knock=ident, guest=guest, fingerprint=gkey.fingerprint,
                          peer=knock.peer, mode=mode.value, remember=remember)  # fmt: skip
        if knock.decide is not None:
            knock.decide(("admit",))
        return knock

    def deny_knock(self, ident: str, why: str = "the host did not let you in") -> Knock:
        knock = self.door.get(ident)
        self.door.denied(knock)
        self.audit.record("deny", knock=ident, fingerprint=knock.fingerprint, peer=knock.peer)
        if knock.decide is not None:
            knock.decide(("deny", why, "denied"))
        return knock
