"""The ``pairtui`` command line: one module per command group. ``--json`` everywhere."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from pairtui import __version__
from pairtui.cli import clients, guests, serve, shares, tmux
from pairtui.cli.common import Handler
from pairtui.errors import PairtuiError

GROUPS = (guests, shares, clients, serve, tmux)


def build_parser() -> argparse.ArgumentParser:
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

    for group in GROUPS:
        group.register(sub, add)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        args = parser.parse_args(["serve", *(argv or [])])
        handler = args.handler
    try:
        return handler(args)
    except PairtuiError as exc:
        print(f"pairtui: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a full disk, a permission: still one line, no traceback
        print(f"pairtui: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
