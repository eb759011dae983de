"""`pairtui` (no command) / `pairtui dashboard`, and `pairtui config ...`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pairtui import config as config_mod
from pairtui import paths
from pairtui.cli.common import Adder, print_json
from pairtui.errors import PairtuiError


def cmd_dashboard(args: argparse.Namespace) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise PairtuiError(
            "the dashboard needs a terminal; run `pairtui serve` for the headless server"
        )
    from pairtui.app import run  # the only place the CLI loads Textual

    return run(
        listen=getattr(args, "listen", None),
        port=getattr(args, "port", None),
        tmux_socket=getattr(args, "tmux_socket", None),
    )


def cmd_config_path(args: argparse.Namespace) -> int:
    path = paths.config_file()
    if args.json:
        print_json({"path": str(path), "exists": path.exists()})
    else:
        print(path)
    return 0


def cmd_config_check(args: argparse.Namespace) -> int:
    cfg = config_mod.load()
    if args.json:
        print_json({"path": str(paths.config_file()), "ok": True, "port": cfg.port})
    else:
        print(f"{paths.config_file()}: ok")
    return 0


def cmd_config_example(args: argparse.Namespace) -> int:
    print(config_mod.EXAMPLE, end="")
    return 0


def register(sub: Any, add: Adder) -> None:
    d = add(sub, "dashboard", cmd_dashboard, "open the dashboard (the default command)")
    d.add_argument("--listen", metavar="ADDR", help="address for the SSH server")
    d.add_argument("--port", type=int, help="port for the SSH server")
    d.add_argument("--tmux-socket", metavar="PATH|NAME", help="the host's tmux server")
    c = sub.add_parser("config", help="where the config file is, and what it may hold")
    csub = c.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    add(csub, "path", cmd_config_path, "print the config file's path")
    add(csub, "check", cmd_config_check, "validate the config file")
    add(csub, "example", cmd_config_example, "print a config file with every key and default")
