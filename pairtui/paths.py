"""Every file location pairtui uses, in one place.

Precedence: an explicit ``PAIRTUI_*_DIR`` variable, then platformdirs (which honours
``XDG_*``). Directories that hold secrets are created 0700. The control socket goes in
``$XDG_RUNTIME_DIR/pairtui`` when the session has a private runtime dir (emptied at
logout, as a socket should be), else in the state dir as before.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import platformdirs

APP = "pairtui"


def _dir(env: str, default: Path) -> Path:
    override = os.environ.get(env)
    path = Path(override).expanduser() if override else default
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def config_dir() -> Path:
    """Config and the guest registry (which grants access, so 0700)."""
    return _dir("PAIRTUI_CONFIG_DIR", platformdirs.user_config_path(APP, appauthor=False))


def state_dir() -> Path:
    """Host key, shares, audit log (and the control socket without a runtime dir)."""
    return _dir("PAIRTUI_STATE_DIR", platformdirs.user_state_path(APP, appauthor=False))


def registry_file() -> Path:
    return config_dir() / "authorized_keys"


def config_file() -> Path:
    return config_dir() / "config.toml"


def host_key_file() -> Path:
    return state_dir() / "ssh_host_ed25519_key"


def shares_file() -> Path:
    return state_dir() / "shares.json"


def invitations_file() -> Path:
    return state_dir() / "invitations.json"


def recordings_dir() -> Path:
    """Recordings of shares (what guests saw, and with ``--input`` what they typed): 0700,
    as they may hold anything that was on the host's screen."""
    path = state_dir() / "recordings"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def audit_file() -> Path:
    return state_dir() / "audit.jsonl"


def runtime_dir() -> Path | None:
    """``$XDG_RUNTIME_DIR/pairtui``, or ``None`` when there is no runtime dir that is
    this user's alone (unset, missing, someone else's, or open to others)."""
    base = os.environ.get("XDG_RUNTIME_DIR", "")
    if not base or not Path(base).is_absolute():  # the spec: relative paths are ignored
        return None
    path = Path(base) / APP
    try:
        if not _private(Path(base)):
            return None
        path.mkdir(mode=0o700, exist_ok=True)
    except OSError:
        return None
    return path if _private(path) else None


def _private(path: Path) -> bool:
    st = path.lstat()
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o077


def control_socket() -> Path:
    """Where the running server listens, or where a new one will.

    In the runtime dir when there is one; but a socket already in the state dir (a
    server started by an older pairtui, or where no runtime dir was set) is used until
    that server stops, so it is still found, and stopped, as before.
    """
    old = state_dir() / "control.sock"
    runtime = runtime_dir()
    if runtime is None:
        return old
    new = runtime / "control.sock"
    return old if old.exists() and not new.exists() else new


def server_log() -> Path:
    return state_dir() / "serve.log"


def tunnels_file() -> Path:
    """Reverse tunnel definitions (`pairtui tunnel add`)."""
    return config_dir() / "tunnels.json"


def tunnel_known_hosts() -> Path:
    """Relay host keys the user accepted with `pairtui tunnel trust` (OpenSSH format)."""
    return config_dir() / "known_hosts"
