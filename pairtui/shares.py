"""Shares: named targets on a tmux server that guests are force-attached to.

The record of a share lives in ``shares.json`` in the state dir (so any pairtui
process sees it); the share itself is the pair of guest sessions on the tmux server.
"""

from __future__ import annotations

import contextlib
import getpass
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pairtui import paths
from pairtui.clock import iso_utc
from pairtui.errors import PairtuiError
from pairtui.jsonlist import JsonList
from pairtui.printable import printable
from pairtui.registry import Guest, Mode, Registry
from pairtui.tmux import SESSION_PREFIX, HostWindow, ShareSessions, Tmux, share_sessions

SHARE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


@dataclass(frozen=True)
class Share:
    name: str
    kind: str  # "session" or "window"
    target: str  # host session name, or the window id of the shared pane
    pane: str | None
    socket: str
    created: str
    # Which share this is, whatever it is renamed to: two shares of one session made in
    # the same second are still two. Files from before it have none ("").
    uid: str = ""
    # When it ends by itself (``pairtui share --for 2h``), UTC; "" for never.
    expires: str = ""

    @property
    def sessions(self) -> ShareSessions:
        return share_sessions(self.name)

    def tmux(self) -> Tmux:
        return Tmux(Path(self.socket))

    def attach_argv(self, mode: Mode) -> list[str]:
        """The ``tmux attach`` a guest in ``mode`` runs: the embedded server's, the
        ``pairtui join`` forced command's and the system guests' alike."""
        pair = mode is Mode.PAIR
        return self.tmux().attach_argv(self.sessions.for_mode(pair), readonly=not pair)

    def expires_at(self) -> datetime | None:
        return datetime.fromisoformat(self.expires) if self.expires else None

    def expired(self, now: datetime | None = None) -> bool:
        when = self.expires_at()
        return when is not None and when <= (now or datetime.now(UTC))

    def same_as(self, other: Share) -> bool:
        """The same share, whatever it is called now (a rename keeps everything else)."""
        if self.uid or other.uid:
            return self.uid == other.uid
        return (self.kind, self.target, self.socket, self.created) == (
            other.kind, other.target, other.socket, other.created
        )  # fmt: skip

    def now_in(self, shares: list[Share]) -> Share | None:
        """This share as ``shares`` lists it (perhaps renamed), or None if it was stopped."""
        return next((s for s in shares if s.same_as(self)), None)

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def _share(row: dict[str, Any]) -> Share:
    return Share(**row)


def validate_share_name(name: str) -> str:
    if not SHARE_NAME_RE.fullmatch(name):
        raise PairtuiError(
            f"invalid share name {name!r}: use letters, digits, '_' or '-' (up to 32)"
        )
    return name


class ShareStore:
    """Reads and edits ``shares.json``; newest share last."""

    def __init__(self, path: Path | None = None) -> None:
        self._file = JsonList(path or paths.shares_file(), "shares", _share, Share.to_json)
        self.path = self._file.path

    def load(self) -> list[Share]:
        return self._file.load()

    def get(self, name: str) -> Share:
        for share in self.load():
            if share.name == name:
                return share
        raise PairtuiError(f"no share named {name!r} (see `pairtui share list`)")

    def default(self) -> Share | None:
        return default_share(self.load())

    def _edit(self) -> contextlib.AbstractContextManager[list[Share]]:
        return self._file.edit()

    def create(
        self,
        tmux: Tmux,
        *,
        session: str | None = None,
        pane: str | None = None,
        name: str | None = None,
        expires: datetime | None = None,
    ) -> Share:
        """Share a whole session (default: the current one) or the window of a pane,
        until ``expires`` (UTC) if given."""
        if session and pane:
            raise PairtuiError("give either --session or --pane, not both")
        if pane:
            window, host_session = tmux.window_of_pane(pane)
            kind, target = "window", window
            index = tmux.window_index(pane)
            default_name = f"{host_session}-{index}"
        else:
            host_session = session or tmux.current_session()
            if host_session.startswith(SESSION_PREFIX):
                raise PairtuiError(f"{host_session!r} is a pairtui guest session; share its host")
            if not tmux.has_session(host_session):
                raise PairtuiError(f"no tmux session named {host_session!r}")
            kind, target = "session", host_session
            default_name = host_session
        share_name = validate_share_name(name or suggested_name(default_name))
        with self._edit() as shares:
            tmux.create_share(
                share_name,
                session=target if kind == "session" else None,
                window=target if kind == "window" else None,
                host=getpass.getuser(),
            )
            shares[:] = [s for s in shares if s.name != share_name]
            share = Share(
                name=share_name,
                kind=kind,
                target=target,
                pane=pane,
                socket=str(tmux.socket),
                created=iso_utc(datetime.now(UTC)),
                uid=secrets.token_hex(8),
                expires=iso_utc(expires) if expires is not None else "",
            )
            shares.append(share)
        return share

    def remove_expired(self) -> list[Share]:
        """Stop every share whose time ran out (its tmux sessions too)."""
        with self._edit() as shares:
            ended = [s for s in shares if s.expired()]
            shares[:] = [s for s in shares if not s.expired()]
        for share in ended:
            with contextlib.suppress(PairtuiError, OSError):
                tmux = share.tmux()
                if tmux.alive():
                    tmux.kill_share(share.name)
        return ended

    def remove(self, name: str) -> Share:
        with self._edit() as shares:
            found = [s for s in shares if s.name == name]
            if not found:
                raise PairtuiError(f"no share named {name!r} (see `pairtui share list`)")
            shares[:] = [s for s in shares if s.name != name]
        share = found[0]
        tmux = share.tmux()
        if tmux.alive():
            tmux.kill_share(name)
        return share

    def rename(self, old: str, new: str, registry: Registry | None = None) -> Share:
        """Give a share a new name; its guests stay connected (their tmux sessions are
        renamed in place) and the engine follows it by :meth:`Share.same_as`. Guests
        invited to the share by name are invited by the new name (``registry``), after
        shares.json is written: the engine tolerates that order, not the other."""
        validate_share_name(new)
        with self._edit() as shares:
            found = next((s for s in shares if s.name == old), None)
            if found is None:
                raise PairtuiError(f"no share named {old!r} (see `pairtui share list`)")
            if new == old:
                return found
            if any(s.name == new for s in shares):
                raise PairtuiError(f"there is already a share named {new!r}")
            tmux = found.tmux()
            if tmux.alive() and tmux.has_session(found.sessions.view):
                tmux.rename_share(old, new, host=getpass.getuser())
            renamed = replace(found, name=new)
            shares[shares.index(found)] = renamed
        if registry is not None:
            registry.rename_share(old, new)
        return renamed

    def for_window(self, window: str) -> Share | None:
        """The pane share of a window, if there is one."""
        return next((s for s in self.load() if s.kind == "window" and s.target == window), None)

    def live(self, share: Share) -> bool:
        return share.tmux().has_session(share.sessions.view)

    def renew_guards(self) -> None:
        """Every live share gets today's guards (see :meth:`Tmux.renew_guards`), one tmux
        server at a time; a server that is gone is left as it is."""
        by_server: dict[str, list[Share]] = {}
        for share in self.load():
            by_server.setdefault(share.socket, []).append(share)
        for shares in by_server.values():
            with contextlib.suppress(PairtuiError, OSError):
                shares[0].tmux().renew_guards([s.sessions.pair for s in shares])


def windows_of(shares: Sequence[Share]) -> dict[str, HostWindow]:
    """The host's windows (by id) on every tmux server a window share lives on."""
    found: dict[str, HostWindow] = {}
    for socket in {s.socket for s in shares if s.kind == "window"}:
        try:
            found |= {w.id: w for w in Tmux(Path(socket)).host_windows()}
        except (PairtuiError, OSError):
            continue  # that tmux server is gone: the share says so through "live"
    return found


def shows(share: Share, windows: Mapping[str, HostWindow]) -> str:
    """What a share shows, named as tmux users name it: ``session work``, ``window
    work:2 (vim)`` (the one place: the CLI, the dashboard and the guests' picker)."""
    if share.kind == "session":
        return f"session {share.target}"
    window = windows.get(share.target)
    return f"window {window.label}" if window else f"window {share.target}"


def may_join(guest: Guest, share: Share) -> bool:
    """A guest invited to one share may join that one; any other guest, any share."""
    return not guest.share or guest.share == share.name


def resolve_share(guest: Guest, requested: str, shares: list[Share]) -> Share | list[Share] | str:
    """The share a guest lands in, the shares it must choose from, or why it may not.

    What the guest asked for (the command after ``ssh``) must name a share it may
    join; anything else is refused with the names it may use, never another share's.
    Asking for nothing joins the only share the guest may join, or lets it choose: the
    most recent share could be one the host forgot.
    """
    allowed = [s for s in shares if may_join(guest, s) and not s.expired()]
    if requested:
        found = next((s for s in allowed if s.name == requested), None)
        if found is not None:
            return found
        names = ", ".join(s.name for s in allowed)
        asked = printable(requested[:40])
        return f"no share '{asked}' for you" + (
            f"; you may join: {names}" if names else "; nothing you may join is shared now"
        )
    if guest.share and not allowed:
        return "the share you were invited to is not running right now"
    if not allowed:
        return "nothing is shared right now; ask the host to run `pairtui share`"
    return allowed[0] if len(allowed) == 1 else allowed


def default_share(shares: Sequence[Share]) -> Share | None:
    """The share a guest joins without naming one, if there is just one; with several,
    a guest who names none chooses (the one place that says so; the CLI, the dashboard
    and the server all ask here)."""
    return shares[0] if len(shares) == 1 else None


def suggested_name(name: str) -> str:
    """A valid share name made from a session name (or ``session-index`` for a window)."""
    # A share name starts with a letter or digit: no leading "_" or "-".
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", name).lstrip("_-").rstrip("-")[:32]
    return cleaned or "share"
