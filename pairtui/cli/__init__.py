"""The ``pairtui`` command line: one module per command group. ``--json`` everywhere."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from pairtui import __version__
from pairtui.cli.common import Handler
from pairtui.errors import PairtuiError
from pairtui.printable import printable

GROUPS = ("dashboard", "guests", "shares", "clients", "serve", "tmux", "system", "tunnels")

COMMANDS = {
    "dashboard": "dashboard", "config": "dashboard", "guest": "guests", "share": "shares",
    "unshare": "shares", "ssh-string": "shares", "clients": "clients", "kick": "clients",
    "mode": "clients", "serve": "serve", "stop": "serve", "join": "serve", "tmux": "tmux",
    "status": "tmux",
    "system": "system", "authorized-keys-command": "system", "tunnel": "tunnels",
}  # fmt: skip
"""Which group module registers each command: a command loads only its own group (and
what that needs), so the dashboard paints before asyncssh is imported and the tmux
status line's `pairtui status` stays quick. A test checks this against the parser."""


def group(name: str) -> ModuleType:
    return importlib.import_module(f"pairtui.cli.{name}")


def build_parser(
    only: str | None = None, *, groups: Sequence[str] = GROUPS
) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pairtui", description="Share tmux with guests over SSH. Every command takes --json."
    )
    p.add_argument("--version", action="version", version=f"pairtui {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def add(parent: Any, name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
        sp: argparse.ArgumentParser = parent.add_parser(name, help=help, description=help)
        sp.set_defaults(handler=handler)
        sp.add_argument("--json", action="store_true", help="print JSON for scripts")
        return sp

    for name in [only] if only else groups:
        group(name).register(sub, add)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in {"-h", "--help", "--version"}):
        argv = ["dashboard", *argv]  # `pairtui [--port N ...]` opens the dashboard
    # `--version` needs no command at all; `--help` and typos get the whole list.
    groups = () if argv[0] == "--version" else GROUPS
    args = build_parser(COMMANDS.get(argv[0]), groups=groups).parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except (PairtuiError, OSError) as exc:  # OSError: a full disk, a permission
        if getattr(args, "json", False):  # scripts read a JSON error where the result was
            error = exc.to_json() if isinstance(exc, PairtuiError) else {"error": str(exc)}
            print(json.dumps(error, indent=2))
        # One line, no traceback; a message may quote what a guest or forge sent.
        print(f"pairtui: {printable(str(exc), multiline=True)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
