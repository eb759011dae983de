"""System guests: real Unix users who log in through the machine's own sshd.

The classic recipe, automated: ``pairtui system setup`` (as root) creates a Unix user
(``guest`` by default), writes its ``~/.ssh/authorized_keys`` from the pairtui registry
and lets that user reach the host's tmux server. Every key line is
``restrict,pty[,expiry-time=...],command="<tmux attach>"``: sshd runs nothing but the
literal, confined attach for that guest's share and mode, built by
:meth:`pairtui.tmux.Tmux.attach_argv` like the embedded server's. The guest user cannot
read the host's registry, so the line must not need it.

Access to tmux has two gates, both narrow and both recorded in ``system.json`` in the
state dir so that teardown undoes exactly them:

- the file system: a POSIX ACL entry for that user only, write on the socket (all a
  Unix socket ``connect`` needs) and search (``x``, no listing) on each directory
  above it the user could not already pass;
- tmux 3.3's ``server-access``: read-write (``-w``), granted once and never flipped.
  tmux has one entry per Unix user, and ``-w``/``-r`` rewrite the read-only flag of
  every client of that user at once, so flipping it with the guests' modes would free a
  view client that attaches between two tmux calls. A view client is read-only because
  its forced command attaches with ``-f read-only`` (set before it is attached, and
  nothing user-wide clears it afterwards); a pair client attaches without.

The forced command does not ``exec`` tmux: its ``sh -c`` parent stays, and its command
line (``...; : pairtui-guest=NAME``) tells ``pairtui clients`` which guest a tmux
client belongs to.
"""

from __future__ import annotations

import contextlib
import errno
import grp
import hashlib
import json
import os
import pwd
import re
import shlex
import shutil
import struct
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

import asyncssh

from pairtui import paths
from pairtui.errors import PairtuiError
from pairtui.fileutil import atomic_write, locked
from pairtui.registry import KEY_TAG, Guest, GuestKey, Mode, Registry
from pairtui.shares import Share, ShareStore, resolve_share
from pairtui.tmux import SESSION_PREFIX, Tmux, TmuxClient, require_server_access

DEFAULT_USER = "guest"
USER_RE = re.compile(r"[a-z_][a-z0-9_-]{0,30}")  # always used with fullmatch
MARKER = "pairtui-guest="
FILE_HEADER = (
    "# Written by pairtui (`pairtui system setup`) from its guest registry, and rewritten\n"
    "# on every guest or share change. Do not edit: use `pairtui guest ...`.\n"
)
# Groups that would give a guest more than a tmux attach if it ever got a shell.
PRIVILEGED_GROUPS = frozenset({"root", "sudo", "wheel", "admin", "adm", "docker", "lxd"})
POSIX_SHELLS = frozenset({"sh", "dash", "bash", "ksh", "mksh", "zsh", "ash", "busybox"})
DEFAULT_WRAPPER = Path("/usr/local/libexec/pairtui-authorized-keys")
SSHD_SNIPPET = Path("/etc/ssh/sshd_config.d/pairtui.conf")
PROCESS_WAIT = 5.0  # seconds teardown waits for the guest's sessions to end


# --- the record of what setup did --------------------------------------------------


@dataclass
class SystemState:
    """What ``system setup`` did (so teardown undoes exactly that) and what sync granted."""

    user: str
    uid: int
    gid: int
    home: str
    created_user: bool
    created_home: bool
    created_ssh_dir: bool
    host_uid: int
    acl_paths: list[str] = field(default_factory=list)
    sockets: list[str] = field(default_factory=list)
    digest: str = ""

    @property
    def authorized_keys(self) -> Path:
        return Path(self.home) / ".ssh" / "authorized_keys"


def state_file() -> Path:
    return paths.state_dir() / "system.json"


def load_state() -> SystemState | None:
    path = state_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return SystemState(**data)
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as exc:
        raise PairtuiError(f"{path} is not a valid system-guest record ({exc})") from None


def _save_state(state: SystemState) -> None:
    path = state_file()
    atomic_write(path, json.dumps(asdict(state), indent=2) + "\n", mode=0o600)
    _give_to_host(path, state.host_uid)


def _give_to_host(path: Path, host_uid: int) -> None:
    """Files root writes in the host's state dir stay the host's (so its sync can update)."""
    if os.geteuid() == 0 and host_uid != 0:
        os.chown(path, host_uid, pwd.getpwuid(host_uid).pw_gid)


@contextlib.contextmanager
def _state_lock(host_uid: int) -> Iterator[None]:
    path = state_file()
    lock = path.with_name(path.name + ".lock")
    if not lock.exists():
        lock.touch(mode=0o600)
        _give_to_host(lock, host_uid)
    with locked(path):
        yield


# --- root -------------------------------------------------------------------------


def sudo_command(*args: str) -> str:
    """The exact command to run pairtui as root with this user's pairtui files."""
    env = {
        "PAIRTUI_CONFIG_DIR": str(paths.config_dir().resolve()),
        "PAIRTUI_STATE_DIR": str(paths.state_dir().resolve()),
    }
    assigns = [f"{k}={v}" for k, v in env.items()]
    return shlex.join(["sudo", "env", *assigns, sys.executable, "-m", "pairtui", *args])


def require_root(*args: str) -> None:
    if os.geteuid() != 0:
        raise PairtuiError(
            f"`pairtui {' '.join(args[:2])}` must run as root: it manages a Unix user, its "
            "~/.ssh/authorized_keys and file access to your tmux socket. Run:\n"
            f"    {sudo_command(*args)}"
        )


def host_uid() -> int:
    """The host is whoever owns the pairtui files (root's sudo run acts for them)."""
    return paths.config_dir().stat().st_uid


# --- the authorized_keys file -------------------------------------------------------


def forced_command(guest: Guest, shares: list[Share]) -> str:
    """What sshd runs for this guest: its confined tmux attach, or one line saying why not.

    As with the embedded server, ``ssh -t guest@host SHARE`` picks a share by name: the
    command the guest asked for (``$SSH_ORIGINAL_COMMAND``) is only ever compared with
    the names of the shares, quoted, in a ``case``; it is never run or expanded further.
    Anything else lands in the guest's default share.
    """
    default = _attach_or_say(guest, resolve_share(guest, "", shares))
    arms = [
        f"{shlex.quote(s.name)}) {_attach_or_say(guest, resolve_share(guest, s.name, shares))};;"
        for s in shares
    ]
    if len(arms) > 1:  # with one share every choice ends where the default does
        choice = " ".join([*arms, f"*) {default};;"])
        default = f'case "$SSH_ORIGINAL_COMMAND" in {choice} esac'
    return f"{default}; : {MARKER}{guest.name}"


def _attach_or_say(guest: Guest, target: Share | str) -> str:
    if isinstance(target, str):
        return shlex.join(["echo", f"pairtui: {target}"])
    pair = guest.mode is Mode.PAIR
    argv = target.tmux().attach_argv(target.sessions.for_mode(pair), readonly=not pair)
    return shlex.join(argv)


def key_line(guest: Guest, key: GuestKey, command: str) -> str:
    opts = ["restrict", "pty"]
    if guest.expires is not None:
        stamp = guest.expires.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")
        opts.append(f'expiry-time="{stamp}"')
    # sshd's option dequoting knows one escape only, \" (a backslash is otherwise literal).
    opts.append('command="{}"'.format(command.replace('"', '\\"')))
    comment = f"{KEY_TAG}{guest.name}" + (f" {key.comment}" if key.comment else "")
    return f"{','.join(opts)} {key.openssh} {comment}"


def render(guests: Iterable[Guest], shares: list[Share]) -> str:
    """The guest user's authorized_keys: one line per key of every unexpired guest."""
    out = [FILE_HEADER.rstrip("\n")]
    for guest in guests:
        if guest.expired() or not guest.keys:
            continue
        command = forced_command(guest, shares)
        out.append(f"# guest {guest.name}: {guest.mode.value}")
        out.extend(key_line(guest, key, command) for key in guest.keys)
    return "\n".join(out) + "\n"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def _write_keys_file(state: SystemState, text: str) -> None:
    """Root-owned, readable by the guest's group only (sshd reads it as the guest)."""
    path = state.authorized_keys
    atomic_write(path, text.encode("utf-8", "surrogateescape"), mode=0o640)
    os.chown(path, 0, state.gid)


# --- POSIX ACLs, written as the kernel's xattr (no setfacl needed) -----------------------

_ACL_XATTR = "system.posix_acl_access"
_ACL_VERSION = 2
_USER_OBJ, _USER, _GROUP_OBJ, _GROUP, _MASK, _OTHER = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
_NO_ID = 0xFFFFFFFF
Entry = tuple[int, int, int]  # (tag, perm, id)


def _acl_entries(path: Path) -> tuple[os.stat_result, list[Entry], bool]:
    """The access ACL of ``path``; a path without one has the three its mode implies."""
    st = path.stat()
    try:
        data = os.getxattr(path, _ACL_XATTR)
    except OSError as exc:
        if exc.errno not in (errno.ENODATA, errno.ENOTSUP):
            raise
        mode = st.st_mode
        base = [(_USER_OBJ, (mode >> 6) & 7, _NO_ID), (_GROUP_OBJ, (mode >> 3) & 7, _NO_ID),
                (_OTHER, mode & 7, _NO_ID)]  # fmt: skip
        return st, base, False
    (version,) = struct.unpack_from("<I", data)
    if version != _ACL_VERSION:
        raise PairtuiError(f"{path}: unknown ACL version {version}")
    entries = [struct.unpack_from("<HHI", data, off) for off in range(4, len(data), 8)]
    return st, [(t, p, i) for t, p, i in entries], True


def _set_acl(path: Path, entries: list[Entry]) -> None:
    named = [e for e in entries if e[0] in (_USER, _GROUP)]
    if not named:
        # Back to a plain mode: the group bits are the owning group's again, no mask.
        mode = path.stat().st_mode & 0o7777
        group = next(p for t, p, _ in entries if t == _GROUP_OBJ)
        with contextlib.suppress(OSError):
            os.removexattr(path, _ACL_XATTR)
        path.chmod((mode & ~0o070) | (group << 3))
        return
    data = struct.pack("<I", _ACL_VERSION) + b"".join(
        struct.pack("<HHI", *e) for e in sorted(entries, key=lambda e: (e[0], e[2]))
    )
    try:
        os.setxattr(path, _ACL_XATTR, data)
    except OSError as exc:
        if exc.errno == errno.ENOTSUP:
            raise PairtuiError(
                f"cannot give the guest user access to {path}: its file system has no POSIX "
                "ACLs (keep the tmux socket on one that has, e.g. the default /tmp/tmux-UID)"
            ) from None
        raise


def _effective(st: os.stat_result, entries: list[Entry], uid: int, gids: set[int]) -> int:
    """What ``uid`` may do, by POSIX ACL rules (an approximation for several groups)."""
    if uid == st.st_uid:
        return next(p for t, p, _ in entries if t == _USER_OBJ)
    mask = next((p for t, p, _ in entries if t == _MASK), 7)
    for tag, perm, ident in entries:
        if tag == _USER and ident == uid:
            return perm & mask
    groups = [
        p & mask
        for t, p, i in entries
        if (t == _GROUP_OBJ and st.st_gid in gids) or (t == _GROUP and i in gids)
    ]
    if groups:
        return max(groups)
    return next(p for t, p, _ in entries if t == _OTHER)


def acl_grant(path: Path, uid: int, gids: set[int], perm: int) -> bool:
    """Give ``uid`` ``perm`` on ``path`` if it lacks it; True when an entry was added."""
    st, entries, _ = _acl_entries(path)
    if _effective(st, entries, uid, gids) & perm == perm:
        return False
    if any(t == _USER and i == uid for t, _, i in entries):
        raise PairtuiError(
            f"{path} already has an ACL entry for uid {uid} without the access a guest needs; "
            f"remove it (setfacl -x u:{uid} {path}) and run setup again"
        )
    mask = next((p for t, p, _ in entries if t == _MASK), None)
    if mask is None:
        mask = next(p for t, p, _ in entries if t == _GROUP_OBJ)
    entries = [e for e in entries if e[0] != _MASK]
    entries += [(_USER, perm, uid), (_MASK, mask | perm, _NO_ID)]
    _set_acl(path, entries)
    return True


def acl_revoke(path: Path, uid: int) -> bool:
    """Remove ``uid``'s entry; the mask shrinks back (and the ACL goes when it was the last)."""
    try:
        _, entries, extended = _acl_entries(path)
    except FileNotFoundError:
        return False
    if not extended or not any(t == _USER and i == uid for t, _, i in entries):
        return False
    entries = [e for e in entries if not (e[0] == _USER and e[2] == uid) and e[0] != _MASK]
    group_class = [p for t, p, _ in entries if t in (_GROUP_OBJ, _USER, _GROUP)]
    mask = 0
    for perm in group_class:
        mask |= perm
    _set_acl(path, [*entries, (_MASK, mask, _NO_ID)])
    return True


def acl_has(path: Path, uid: int) -> bool:
    try:
        _, entries, _ = _acl_entries(path)
    except FileNotFoundError:
        return False
    return any(t == _USER and i == uid for t, _, i in entries)


def _socket_grants(socket: Path) -> list[tuple[Path, int]]:
    """Write on the socket; search on every directory above it."""
    socket = socket.resolve()
    return [(socket, 0o2), *((d, 0o1) for d in socket.parents)]


# --- clients of system guests -------------------------------------------------------


@dataclass(frozen=True)
class SystemClient:
    """A tmux client of the guest Unix user: someone who came in through sshd."""

    id: str
    guest: str  # "" when the process tree cannot tell
    user: str
    tty: str
    share: str
    mode: str
    pid: int
    since: float
    activity: float
    cols: int
    rows: int
    peer: str
    socket: str

    def to_json(self) -> dict[str, object]:
        now = time.time()
        return {
            "id": self.id,
            "guest": self.guest,
            "fingerprint": "",
            "peer": self.peer,
            "share": self.share,
            "mode": self.mode,
            "since": _iso(self.since),
            "connected_seconds": round(now - self.since, 1),
            "last_input": _iso(self.activity),
            "idle_seconds": round(now - self.activity, 1),
            "size": f"{self.cols}x{self.rows}",
            "tmux_client": self.tty,
            "pid": self.pid,
            "via": "sshd",
            "user": self.user,
            "terminal": True,
        }


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _origin(pid: int) -> tuple[str, str]:
    """(guest, peer) from the forced command's ``sh -c`` parent; "" what cannot be read."""
    ppid = _parent(pid)
    if ppid is None:
        return "", ""
    guest = peer = ""
    with contextlib.suppress(OSError):
        cmdline = Path(f"/proc/{ppid}/cmdline").read_bytes().decode("utf-8", "replace")
        if m := re.search(re.escape(MARKER) + r"([A-Za-z0-9._-]+)", cmdline):
            guest = m[1]
    with contextlib.suppress(OSError):  # only root may read another user's environment
        for var in Path(f"/proc/{ppid}/environ").read_bytes().split(b"\0"):
            if var.startswith(b"SSH_CONNECTION="):
                fields = var.decode(errors="replace").split("=", 1)[1].split()
                peer = f"{fields[0]}:{fields[1]}" if len(fields) >= 2 else ""
    return guest, peer


def _share_of(session: str) -> tuple[str, str] | None:
    """``pairtui-SHARE-view`` -> ``("SHARE", "view")``."""
    if not session.startswith(SESSION_PREFIX):
        return None
    base, _, mode = session.removeprefix(SESSION_PREFIX).rpartition("-")
    return (base, mode) if base and mode in ("view", "pair") else None


def _client_id(tty: str) -> str:
    return "sys-" + tty.removeprefix("/dev/").replace("/", "-")


def _sockets(state: SystemState, shares: list[Share]) -> list[str]:
    return sorted({*state.sockets, *(s.socket for s in shares)})


def _clients_on(tmux: Tmux, user: str) -> list[TmuxClient]:
    return [c for c in tmux.clients() if c.user == user]


def list_clients(state: SystemState | None = None) -> list[SystemClient]:
    """Connected system guests, from the tmux client lists; [] when not set up."""
    state = state or load_state()
    if state is None:
        return []
    out = []
    for socket in _sockets(state, ShareStore().load()):
        for c in _clients_on(Tmux(Path(socket)), state.user):
            share = (_share_of(c.session) or (c.session, ""))[0]
            guest, peer = _origin(c.pid)
            out.append(SystemClient(
                _client_id(c.tty), guest, c.user, c.tty, share,
                "view" if c.readonly else "pair", c.pid, float(c.created),
                float(c.activity or c.created), c.width, c.height, peer, socket,
            ))  # fmt: skip
    return out


def kick(target: str, state: SystemState | None = None) -> list[SystemClient]:
    """Detach system clients matching a guest name, client id or tty."""
    found = [c for c in list_clients(state) if target in (c.id, c.guest, c.tty)]
    for c in found:
        with contextlib.suppress(PairtuiError):  # it may have left meanwhile
            Tmux(Path(c.socket)).detach_client(c.tty)
    return found


# --- sync ---------------------------------------------------------------------------


@dataclass
class SyncReport:
    wrote: bool = False
    stale: bool = False  # the file needs rewriting and only root may
    lines: int = 0
    detached: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _gids(state: SystemState) -> set[int]:
    return set(os.getgrouplist(state.user, state.gid))


def _grant_socket(state: SystemState, socket: Path, report: SyncReport) -> None:
    gids = _gids(state)
    for path, perm in _socket_grants(socket):
        try:
            if acl_grant(path, state.uid, gids, perm) and str(path) not in state.acl_paths:
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
    for c in _clients_on(tmux, state.user):
        where = _share_of(c.session)
        name, _ = _origin(c.pid)
        if where is not None and where[1] == "view" and not c.readonly:
            with contextlib.suppress(PairtuiError):
                tmux.detach_client(c.tty)
                detached.append(name or c.tty)
            continue
        guest = guests.get(name)
        if where is None or not name:
            continue  # not pairtui's, or cannot tell whose: access rules above still hold
        target = None if guest is None or guest.expired() else resolve_share(guest, "", shares)
        if guest is None or not isinstance(target, Share) or target.name != where[0]:
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
    report = SyncReport()
    guests = Registry().guests()
    shares = ShareStore().load()
    text = render(guests.values(), shares)
    digest = _digest(text)
    report.lines = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    with _state_lock(state.host_uid):
        fresh = load_state()
        if fresh is not None:
            state.acl_paths, state.sockets, state.digest = (
                fresh.acl_paths,
                fresh.sockets,
                fresh.digest,
            )
        before = asdict(state)
        if os.geteuid() == 0:
            current = _read_or_none(state.authorized_keys)
            if current != text:
                _write_keys_file(state, text)
                report.wrote = True
            state.digest = digest
        elif digest != state.digest:
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
            _save_state(state)
    return report


def _read_or_none(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8", "surrogateescape")
    except FileNotFoundError:
        return None


def sync_if_set_up() -> None:
    """Called after every change pairtui makes; a stat when system guests are not set up."""
    if not state_file().exists():
        return
    try:
        state = load_state()
        if state is None:
            return
        report = sync(state)
    except (PairtuiError, OSError) as exc:
        print(f"pairtui: system guests: {exc}", file=sys.stderr)
        return
    for warning in report.warnings:
        print(f"pairtui: system guests: {warning}", file=sys.stderr)
    if report.stale:
        print(
            f"pairtui: system guests: {state.authorized_keys} is out of date and only root "
            f"may rewrite it; run:\n    {sudo_command('system', 'sync')}\n"
            "  (or let sshd ask pairtui instead: `pairtui system sshd-config`)",
            file=sys.stderr,
        )


# --- setup, status, teardown --------------------------------------------------------


def _check_existing_user(pw: pwd.struct_passwd, host: int) -> None:
    if pw.pw_uid == 0 or pw.pw_uid == host:
        raise PairtuiError(f"{pw.pw_name!r} is root or you: choose a separate user for guests")
    shell = Path(pw.pw_shell).name
    if shell not in POSIX_SHELLS:
        raise PairtuiError(
            f"user {pw.pw_name!r} has the shell {pw.pw_shell}; sshd runs forced commands "
            f"through the login shell, so it needs a POSIX shell (usermod -s /bin/sh "
            f"{pw.pw_name})"
        )
    groups = {g.gr_name for g in grp.getgrall() if pw.pw_name in g.gr_mem}
    groups.add(grp.getgrgid(pw.pw_gid).gr_name)
    if groups & PRIVILEGED_GROUPS:
        raise PairtuiError(
            f"user {pw.pw_name!r} is in {', '.join(sorted(groups & PRIVILEGED_GROUPS))}: "
            "a guest account must not be able to administer this machine"
        )


def _run(*argv: str) -> None:
    res = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    if res.returncode != 0:
        raise PairtuiError(f"{argv[0]} failed: {res.stderr.strip() or res.returncode}")


def setup(user: str = DEFAULT_USER) -> tuple[SystemState, SyncReport]:
    """Create (or adopt) the guest user, write its keys file, grant tmux access."""
    require_root("system", "setup", "--user", user)
    require_server_access()
    if not USER_RE.fullmatch(user):
        raise PairtuiError(f"invalid user name {user!r}: lower-case letters, digits, '_', '-'")
    host = host_uid()
    state = load_state()
    if state is not None and state.user != user:
        raise PairtuiError(
            f"system guests are already set up as user {state.user!r}; "
            "run `pairtui system teardown` first"
        )
    if state is None:
        state = _create(user, host)
    if shutil.which("sshd") is None and not Path("/usr/sbin/sshd").exists():
        print("pairtui: note: no sshd here yet (apt-get install openssh-server)", file=sys.stderr)
    return state, sync(state)


def _create(user: str, host: int) -> SystemState:
    try:
        pw: pwd.struct_passwd | None = pwd.getpwnam(user)
    except KeyError:
        pw = None
    created_user = pw is None
    if pw is None:
        # '*' is no password at all: it never matches, and unlike '!' sshd does not take
        # it for a locked account (key logins still work, with or without PAM).
        _run("useradd", "--no-create-home", "--home-dir", f"/home/{user}",
             "--shell", "/bin/sh", "--password", "*", "--user-group",
             "--comment", "pairtui guest", user)  # fmt: skip
        pw = pwd.getpwnam(user)
    else:
        _check_existing_user(pw, host)
    home = Path(pw.pw_dir)
    state = SystemState(user, pw.pw_uid, pw.pw_gid, str(home), created_user, False, False, host)
    _save_state(state)  # from here on, teardown can undo what follows
    if not home.exists():
        # Owned by root: the guest owns no file and no directory it could write to.
        home.mkdir(mode=0o755)
        os.chown(home, 0, 0)
        state.created_home = True
        _save_state(state)
    ssh_dir = home / ".ssh"
    if not ssh_dir.exists():
        ssh_dir.mkdir(mode=0o755)
        os.chown(ssh_dir, 0, 0)
        state.created_ssh_dir = True
        _save_state(state)
    existing = _read_or_none(state.authorized_keys)
    if existing is not None and not existing.startswith(FILE_HEADER.splitlines()[0]):
        raise PairtuiError(
            f"{state.authorized_keys} exists and was not written by pairtui; move it away "
            "(or let sshd ask pairtui instead: `pairtui system sshd-config`)"
        )
    return state


def status() -> dict[str, Any]:
    state = load_state()
    if state is None:
        return {"set_up": False}
    guests = Registry().guests()
    shares = ShareStore().load()
    text = render(guests.values(), shares)
    try:
        in_sync = _read_or_none(state.authorized_keys) == text
    except PermissionError:  # only root and the guest read it: trust the last write
        in_sync = _digest(text) == state.digest
    sockets = []
    for socket in _sockets(state, shares):
        tmux = Tmux(Path(socket))
        live = tmux.alive()
        access = tmux.server_access().get(state.user) if live else None
        sockets.append({
            "socket": socket,
            "live": live,
            "server_access": None if access is None else ("read-only" if access else "read-write"),
            "acl": acl_has(Path(socket), state.uid),
        })  # fmt: skip
    return {
        "set_up": True,
        "user": state.user,
        "uid": state.uid,
        "created_user": state.created_user,
        "home": state.home,
        "authorized_keys": str(state.authorized_keys),
        "keys": sum(1 for line in text.splitlines() if line and not line.startswith("#")),
        "in_sync": in_sync,
        "tmux_sockets": sockets,
        "acl_paths": list(state.acl_paths),
        "clients": len(list_clients(state)),
    }


def _user_processes(uid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid:
                    pids.append(int(entry.name))
    return pids


def teardown() -> list[str]:
    """Undo what setup and sync did, step by step; the record shrinks as each is undone."""
    require_root("system", "teardown")
    state = load_state()
    if state is None:
        raise PairtuiError("system guests are not set up (nothing to undo)")
    done: list[str] = []
    for socket in list(state.sockets):
        tmux = Tmux(Path(socket))
        if tmux.alive() and tmux.deny_user(state.user):
            done.append(f"removed {state.user}'s access to tmux on {socket}")
        state.sockets.remove(socket)
        _save_state(state)
    for path in list(state.acl_paths):
        if acl_revoke(Path(path), state.uid):
            done.append(f"removed {state.user}'s ACL entry on {path}")
        state.acl_paths.remove(path)
        _save_state(state)
    keys = state.authorized_keys
    existing = _read_or_none(keys)
    if existing is not None and existing.startswith(FILE_HEADER.splitlines()[0]):
        keys.unlink()
        done.append(f"removed {keys}")
    if state.created_ssh_dir:
        with contextlib.suppress(FileNotFoundError):
            keys.parent.rmdir()
            done.append(f"removed {keys.parent}")
        state.created_ssh_dir = False
        _save_state(state)
    if state.created_home:
        with contextlib.suppress(FileNotFoundError):
            Path(state.home).rmdir()
            done.append(f"removed {state.home}")
        state.created_home = False
        _save_state(state)
    if state.created_user:
        deadline = time.monotonic() + PROCESS_WAIT
        while (pids := _user_processes(state.uid)) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pids:
            raise PairtuiError(
                f"{state.user} still has processes ({', '.join(map(str, pids[:10]))}): "
                "its ssh sessions have not ended; run teardown again when they have"
            )
        _run("userdel", state.user)
        done.append(f"removed user {state.user}")
    state_file().unlink()
    return done


# --- sshd's AuthorizedKeysCommand ------------------------------------------------------


def authorized_keys_command(user: str, key_type: str, key_data: str) -> str:
    """The line for ``key`` if it belongs to a registered, unexpired guest; else ""."""
    state = load_state()
    if state is not None and user != state.user:
        return ""
    try:
        key = asyncssh.import_public_key(f"{key_type} {key_data}")
    except (asyncssh.KeyImportError, ValueError):
        return ""
    shares = ShareStore().load()
    for guest in Registry().guests().values():
        if guest.expired():
            continue
        for k in guest.keys:
            if k.blob == key.public_data:
                return key_line(guest, k, forced_command(guest, shares)) + "\n"
    return ""


def sshd_config(user: str, command_user: str, wrapper: Path = DEFAULT_WRAPPER) -> dict[str, str]:
    """A root-owned wrapper and a ``Match User`` block: sshd asks pairtui for each key."""
    env = [
        f"PAIRTUI_CONFIG_DIR={paths.config_dir().resolve()}",
        f"PAIRTUI_STATE_DIR={paths.state_dir().resolve()}",
    ]
    call = shlex.join(["exec", "env", *env, sys.executable, "-m", "pairtui",
                       "authorized-keys-command"])  # fmt: skip
    script = (
        "#!/bin/sh\n"
        f"# sshd runs this as {command_user} to ask pairtui which keys may log in as {user}.\n"
        f'{call} "$@"\n'
    )
    snippet = (
        f"# pairtui: guests log in as {user}; sshd asks pairtui which keys may.\n"
        f"Match User {user}\n"
        "    AuthorizedKeysFile none\n"
        f"    AuthorizedKeysCommand {wrapper} %u %t %k\n"
        f"    AuthorizedKeysCommandUser {command_user}\n"
        "    AuthenticationMethods publickey\n"
        "    PasswordAuthentication no\n"
        "    KbdInteractiveAuthentication no\n"
        "    DisableForwarding yes\n"
        "    PermitTTY yes\n"
    )
    return {
        "wrapper_path": str(wrapper),
        "wrapper": script,
        "sshd_config_path": str(SSHD_SNIPPET),
        "sshd_config": snippet,
    }
