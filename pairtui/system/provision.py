"""The guest Unix user's life: setup creates or adopts it, teardown undoes exactly that.

Each step setup takes is recorded before the next one, so a teardown after a failed
setup still finds everything to undo; status says what is set up and in sync.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pairtui.errors import PairtuiError
from pairtui.registry import Registry
from pairtui.shares import ShareStore
from pairtui.system import acl, procfs
from pairtui.system.clients import known_sockets, list_clients
from pairtui.system.keys_file import digest, key_count, read_keys_file, render, written_by_pairtui
from pairtui.system.state import SystemState, load_state, save_state, state_file
from pairtui.system.sudo import host_uid, require_root
from pairtui.system.sync import SyncReport, sync
from pairtui.tmux import Tmux, require_server_access

DEFAULT_USER = "guest"
USER_RE = re.compile(r"[a-z_][a-z0-9_-]{0,30}")  # always used with fullmatch
# Groups that would give a guest more than a tmux attach if it ever got a shell.
PRIVILEGED_GROUPS = frozenset({"root", "sudo", "wheel", "admin", "adm", "docker", "lxd"})
POSIX_SHELLS = frozenset({"sh", "dash", "bash", "ksh", "mksh", "zsh", "ash", "busybox"})
PROCESS_WAIT = 5.0  # seconds teardown waits for the guest's sessions to end


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
    save_state(state)  # from here on, teardown can undo what follows
    if not home.exists():
        # Owned by root: the guest owns no file and no directory it could write to.
        home.mkdir(mode=0o755)
        os.chown(home, 0, 0)
        state.created_home = True
        save_state(state)
    ssh_dir = home / ".ssh"
    if not ssh_dir.exists():
        ssh_dir.mkdir(mode=0o755)
        os.chown(ssh_dir, 0, 0)
        state.created_ssh_dir = True
        save_state(state)
    existing = read_keys_file(state)
    if existing is not None and not written_by_pairtui(existing):
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
        in_sync = read_keys_file(state) == text
    except PermissionError:  # only root and the guest read it: trust the last write
        in_sync = digest(text) == state.digest
    sockets = []
    for socket in known_sockets(state, shares):
        tmux = Tmux(Path(socket))
        live = tmux.alive()
        access = tmux.server_access().get(state.user) if live else None
        sockets.append({
            "socket": socket,
            "live": live,
            "server_access": None if access is None else ("read-only" if access else "read-write"),
            "acl": acl.has_entry(Path(socket), state.uid),
        })  # fmt: skip
    return {
        "set_up": True,
        "user": state.user,
        "uid": state.uid,
        "created_user": state.created_user,
        "home": state.home,
        "authorized_keys": str(state.authorized_keys),
        "keys": key_count(text),
        "in_sync": in_sync,
        "tmux_sockets": sockets,
        "acl_paths": list(state.acl_paths),
        "clients": len(list_clients(state)),
    }


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
        save_state(state)
    for path in list(state.acl_paths):
        if acl.revoke(Path(path), state.uid):
            done.append(f"removed {state.user}'s ACL entry on {path}")
        state.acl_paths.remove(path)
        save_state(state)
    keys = state.authorized_keys
    existing = read_keys_file(state)
    if existing is not None and written_by_pairtui(existing):
        keys.unlink()
        done.append(f"removed {keys}")
    if state.created_ssh_dir:
        with contextlib.suppress(FileNotFoundError):
            keys.parent.rmdir()
            done.append(f"removed {keys.parent}")
        state.created_ssh_dir = False
        save_state(state)
    if state.created_home:
        with contextlib.suppress(FileNotFoundError):
            Path(state.home).rmdir()
            done.append(f"removed {state.home}")
        state.created_home = False
        save_state(state)
    if state.created_user:
        deadline = time.monotonic() + PROCESS_WAIT
        while (pids := procfs.user_processes(state.uid)) and time.monotonic() < deadline:
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
