"""Bring system guests in line with the registry and the shares, after every change.

One pass rewrites the keys file (as root; the host only learns it is stale), gives
the guest user file and tmux access to each live shared server, and applies the
registry to connected clients: the uninvited are detached, changed modes are moved.
It prints nothing: it runs in the engine's thread as well as in the CLI, and each
caller reports the :class:`SyncReport` its own way.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pairtui.errors import PairtuiError
from pairtui.registry import Guest, Registry
from pairtui.shares import Share, ShareStore, may_join
from pairtui.system import acl
from pairtui.system.clients import clients_on, origin
from pairtui.system.keys_file import digest, key_count, read_keys_file, render, write_keys_file
from pairtui.system.state import SystemState, load_state, save_state, state_file, state_lock
from pairtui.system.sudo import sudo_command
from pairtui.tmux import Tmux, share_of_session


@dataclass
class SyncReport:
    """What one sync did, and what the host should be told about it."""

    wrote: bool = False
    stale: bool = False  # the file needs rewriting and only root may
    lines: int = 0
    detached: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    keys_file: str = ""
    error: str = ""  # why the sync stopped (then nothing else is set)

    def problems(self) -> list[str]:
        """One message per thing the host should hear about; [] after a clean sync."""
        if self.error:
            return [self.error]
        out = list(self.warnings)
        if self.stale:
            out.append(
                f"{self.keys_file} is out of date and only root may rewrite it; run:\n"
                f"    {sudo_command('system', 'sync')}\n"
                "  (or let sshd ask pairtui instead: `pairtui system sshd-config`)"
            )
        return out


def socket_grants(socket: Path) -> list[tuple[Path, int]]:
    """Write on the socket; search on every directory above it."""
    socket = socket.resolve()
    return [(socket, 0o2), *((d, 0o1) for d in socket.parents)]


def _grant_socket(state: SystemState, socket: Path, report: SyncReport) -> None:
    gids = set(os.getgrouplist(state.user, state.gid))
    for path, perm in socket_grants(socket):
        try:
            if acl.grant(path, state.uid, gids, perm) and str(path) not in state.acl_paths:
                state.acl_paths.append(str(path))
        except PermissionError:
            report.warnings.append(
                f"cannot let {state.user} pass {path} (not yours): run `pairtui system sync` "
                "as root"
            )
            return


def _grant_access(tmux: Tmux, user: str) -> None:
    """Give ``user`` read-write tmux access without ever widening one of its clients.

    ``server-access -w`` frees every client of the user: only safe while it has none
    that tmux would still serve. An unlisted user has none (tmux ends a client whose user
    is not listed, and ``CLIENT_EXIT`` is never cleared), so the first grant is safe. An
    older pairtui left view-only setups read-only (``(R)``): its clients are ended with
    the entry (``-d``) before the new one is made, and reconnect read-only by their
    forced commands. Already read-write: nothing is sent at all.
    """
    readonly = tmux.server_access().get(user)
    if readonly is False:
        return
    if readonly:
        tmux.deny_user(user)
    tmux.allow_writer(user)


def _reconcile(
    tmux: Tmux, state: SystemState, guests: dict[str, Guest], shares: list[Share]
) -> list[str]:
    """Apply the registry to connected clients: drop the uninvited, move changed modes.

    A writable client in a view session cannot come from pairtui (its mode moves flip
    read-only and the session in one tmux command): it is ended, never trusted.
    """
    _grant_access(tmux, state.user)
    detached: list[str] = []
    for c in clients_on(tmux, state.user):
        where = share_of_session(c.session)
        name, _ = origin(c.pid)
        if where is not None and where[1] == "view" and not c.readonly:
            with contextlib.suppress(PairtuiError):
                tmux.detach_client(c.tty)
                detached.append(name or c.tty)
            continue
        guest = guests.get(name)
        if where is None or not name:
            continue  # not pairtui's, or cannot tell whose: access rules above still hold
        target = next((s for s in shares if s.name == where[0]), None)
        if guest is None or guest.expired() or target is None or not may_join(guest, target):
            with contextlib.suppress(PairtuiError):
                tmux.detach_client(c.tty)
                detached.append(name)
            continue
        want = guest.mode.value
        if where[1] != want:
            with contextlib.suppress(PairtuiError):
                tmux.set_client_mode(c.tty, target.sessions.for_mode(want == "pair"),
                                     readonly=want == "view")  # fmt: skip
    return detached


def sync(state: SystemState) -> SyncReport:
    """Make the file, the tmux access and the connected clients match registry and shares."""
    report = SyncReport(keys_file=str(state.authorized_keys))
    guests = Registry().guests()
    shares = ShareStore().load()
    text = render(guests.values(), shares)
    text_digest = digest(text)
    report.lines = key_count(text)
    with state_lock(state.host_uid):
        fresh = load_state()
        if fresh is not None:
            state.acl_paths, state.sockets, state.digest = (
                fresh.acl_paths,
                fresh.sockets,
                fresh.digest,
            )
        before = asdict(state)
        if os.geteuid() == 0:
            if read_keys_file(state) != text:
                write_keys_file(state, text)
                report.wrote = True
            state.digest = text_digest
        elif text_digest != state.digest:
            report.stale = True
        for socket in sorted({s.socket for s in shares}):
            tmux = Tmux(Path(socket))
            if not tmux.alive():
                continue
            _grant_socket(state, Path(socket), report)
            try:
                report.detached += _reconcile(tmux, state, guests, shares)
            except PairtuiError as exc:
                report.warnings.append(f"tmux on {socket}: {exc}")
                continue
            if socket not in state.sockets:
                state.sockets.append(socket)
        if asdict(state) != before:
            save_state(state)
    return report


def sync_if_set_up() -> SyncReport | None:
    """After every change pairtui makes; only a stat (and None) when not set up.

    A sync that fails returns a report with ``error`` set rather than raising: the
    change that led to it has been made, and the host hears why the sync did not follow.
    """
    if not state_file().exists():
        return None
    try:
        state = load_state()
        if state is None:
            return None
        return sync(state)
    except (PairtuiError, OSError) as exc:
        return SyncReport(error=str(exc))


def sync_problems() -> list[str]:
    """:func:`sync_if_set_up` for a server: what the host should hear ([] when fine or
    not set up). The engine calls it, in a worker thread, after the registry changed or
    an invitation ran out, and writes each problem to the audit log."""
    report = sync_if_set_up()
    return report.problems() if report is not None else []
