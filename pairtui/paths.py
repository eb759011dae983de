"""Every file location pairtui uses, in one place.

Precedence: an explicit ``PAIRTUI_*_DIR`` variable, then platformdirs (which honours
``XDG_*``). Directories that hold secrets are created 0700.
"""

from __future__ import annotations

import os
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
    """Host key, shares, audit log and the control socket."""
    return _dir("PAIRTUI_STATE_DIR", platformdirs.user_state_path(APP, appauthor=False))


def registry_file() -> Path:
    return config_dir() / "authorized_keys"


def config_file() -> Path:
    return config_dir() / "config.toml"


def host_key_file() -> Path:
    return state_dir() / "ssh_host_ed25519_key"


def shares_file() -> Path:
    return state_dir() / "shares.json"


def audit_file() -> Path:
    return state_dir() / "audit.jsonl"


def control_socket() -> Path:
    return state_dir() / "control.sock"


def server_log() -> Path:
    return state_dir() / "serve.log"


def tunnels_file() -> Path:
    """Reverse tunnel definitions (`pairtui tunnel add`)."""
    return config_dir() / "tunnels.json"


def tunnel_known_hosts() -> Path:
    """Relay host keys the user accepted with `pairtui tunnel trust` (OpenSSH format)."""
    return config_dir() / "known_hosts"
