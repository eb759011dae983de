"""sshd asks pairtui instead of reading a file: the ``AuthorizedKeysCommand`` route.

With the snippet and wrapper from :func:`sshd_config`, sshd runs
``pairtui authorized-keys-command USER TYPE KEY`` for each offered key and gets the same
confined line the keys file would hold, or nothing; no file needs root to rewrite it.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import asyncssh

from pairtui import paths
from pairtui.registry import Registry
from pairtui.shares import ShareStore
from pairtui.system.keys_file import forced_command, key_line
from pairtui.system.state import load_state

DEFAULT_WRAPPER = Path("/usr/local/libexec/pairtui-authorized-keys")
SSHD_SNIPPET = Path("/etc/ssh/sshd_config.d/pairtui.conf")


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
