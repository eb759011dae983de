"""Running as root on the host's behalf: who the host is, and how to ask for sudo.

Setup, sync and teardown change a Unix user and files only root may change, while the
pairtui files they read are the host's. A run without root stops with the exact
``sudo`` command that points root at those files.
"""

from __future__ import annotations

import os
import shlex
import sys

from pairtui import paths
from pairtui.errors import PairtuiError


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
