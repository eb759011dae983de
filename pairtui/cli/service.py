"""`pairtui service install|uninstall`: `pairtui serve` as a systemd user service.

The unit runs this installation's pairtui by its absolute path (the venv's script, not
whatever ``pairtui`` is first on a later ``PATH``), and stops it with SIGTERM, which is
``pairtui serve``'s graceful stop: guests are told why and their leaves audited.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from pairtui import control
from pairtui.cli.common import Adder, print_json
from pairtui.errors import PairtuiError
from pairtui.fileutil import atomic_write, read_text

UNIT_NAME = "pairtui.service"
MARK = "# Written by `pairtui service install`; `pairtui service uninstall` removes it."
ENABLE = "systemctl --user daemon-reload && systemctl --user enable --now pairtui"


def unit_dir() -> Path:
    """Where systemd looks for the user's own units (``$XDG_CONFIG_HOME/systemd/user``)."""
    config = os.environ.get("XDG_CONFIG_HOME", "")
    base = Path(config) if config and Path(config).is_absolute() else Path.home() / ".config"
    return base / "systemd" / "user"


def pairtui_argv() -> list[str]:
    """This pairtui by absolute path: its console script beside the interpreter, else
    ``python -m pairtui`` (the interpreter's path is kept as it is: a venv's python is
    a symlink whose target would lose the venv)."""
    python = Path.cwd() / sys.executable  # absolute, symlinks kept
    script = python.parent / "pairtui"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [str(python), "-m", "pairtui"]


def _quote(word: str) -> str:
    """One word of a systemd command line: ``%`` and ``$`` doubled, quoted if needed."""
    word = word.replace("%", "%%").replace("$", "$$")
    if word and not any(c.isspace() or c in "\"'\\;" for c in word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unit_text(argv: list[str]) -> str:
    command = " ".join(_quote(w) for w in [*argv, "serve"])
    return f"""{MARK}
[Unit]
Description=pairtui: share tmux with guests over SSH
Documentation=man:pairtui(1)

[Service]
Type=exec
ExecStart={command}
# SIGTERM is pairtui's graceful stop (guests told why, leaves audited); then the rest.
KillMode=mixed
TimeoutStopSec=30
Restart=on-failure
RestartSec=5

[Install]
WantedBy=default.target
"""


def _ours(text: str) -> bool:
    return text.startswith(MARK)


def cmd_install(args: argparse.Namespace) -> int:
    path = unit_dir() / UNIT_NAME
    argv = pairtui_argv()
    text = unit_text(argv)
    old = read_text(path)
    if old and not _ours(old) and not args.force:
        raise PairtuiError(f"{path} exists and was not written by pairtui; "
                           "keep it, or replace it with --force")  # fmt: skip
    changed = old != text
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, text, mode=0o644)
    running = control.probe().state == "running"
    if args.json:
        print_json({"unit": str(path), "changed": changed, "exec_start": [*argv, "serve"],
                    "enable": ENABLE, "server_running": running})  # fmt: skip
        return 0
    print(f"{'wrote' if changed else 'already up to date:'} {path} (runs {argv[0]} serve)")
    if running:
        print("a pairtui server runs now: stop it first (pairtui stop), or the service's "
              "cannot take its port")  # fmt: skip
    print(f"start it now and at every login: {ENABLE}")
    print("keep it running after you log out: loginctl enable-linger")
    return 0


def cmd_uninstall(args: argparse.Namespace) -> int:
    path = unit_dir() / UNIT_NAME
    old = read_text(path)
    if old and not _ours(old) and not args.force:
        raise PairtuiError(f"{path} was not written by pairtui; remove it yourself, or "
                           "with --force")  # fmt: skip
    removed = []
    # What `systemctl --user enable` made: links to our unit in a *.wants directory.
    for link in sorted(unit_dir().glob(f"*.wants/{UNIT_NAME}")):
        if link.is_symlink():
            link.unlink()
            removed.append(str(link))
    if path.exists() or path.is_symlink():
        path.unlink()
        removed.append(str(path))
    if args.json:
        print_json({"unit": str(path), "removed": removed})
        return 0
    if not removed:
        print(f"nothing to remove: {path} does not exist")
        return 0
    for name in removed:
        print(f"removed {name}")
    print("if it still runs: systemctl --user stop pairtui && systemctl --user daemon-reload")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    path = unit_dir() / UNIT_NAME
    text = read_text(path)
    wanted_by = sorted(str(p.parent.name) for p in unit_dir().glob(f"*.wants/{UNIT_NAME}"))
    current = bool(text) and text == unit_text(pairtui_argv())
    if args.json:
        print_json({"unit": str(path), "installed": bool(text), "ours": _ours(text),
                    "current": current, "enabled": bool(wanted_by)})  # fmt: skip
    elif not text:
        print(f"not installed ({path} does not exist): pairtui service install")
    else:
        state = "enabled" if wanted_by else f"not enabled ({ENABLE})"
        fresh = "" if current else " (written for another pairtui: pairtui service install)"
        print(f"{path}: {state}{fresh}" if _ours(text) else f"{path}: not written by pairtui")
    return 0


def register(sub: Any, add: Adder) -> None:
    sv = add(
        sub,
        "service",
        cmd_status,
        "pairtui serve as a systemd user service (alone: service status)",
        example=f"pairtui service install && {ENABLE}\npairtui service uninstall",
    )
    ssub = sv.add_subparsers(dest="service_command", metavar="ACTION")
    i = add(
        ssub,
        "install",
        cmd_install,
        f"write {UNIT_NAME} into ~/.config/systemd/user and say how to enable it",
        example=f"pairtui service install && {ENABLE}",
    )
    i.add_argument(
        "--force", action="store_true", help="replace a pairtui.service that pairtui did not write"
    )
    add(
        ssub,
        "status",
        cmd_status,
        f"whether {UNIT_NAME} is installed, current and enabled",
        example="pairtui service status --json",
    )
    u = add(
        ssub,
        "uninstall",
        cmd_uninstall,
        f"remove {UNIT_NAME} (and its enablement links)",
        example="systemctl --user disable --now pairtui; pairtui service uninstall",
    )
    u.add_argument(
        "--force", action="store_true", help="remove a pairtui.service that pairtui did not write"
    )
