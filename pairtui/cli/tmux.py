"""`pairtui tmux install/uninstall` and `pairtui status`: pairtui from inside tmux."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pairtui import control
from pairtui.cli.common import Adder, epilog, no_server, print_json, tmux_from_args
from pairtui.errors import PairtuiError
from pairtui.printable import printable
from pairtui.tmux_notify import status_text
from pairtui.tmux_plugin import DEFAULT_KEY, default_conf, install, uninstall


def _conf(args: argparse.Namespace) -> Path | None:
    if args.live:
        return None
    return Path(args.config).expanduser() if args.config else default_conf()


def cmd_install(args: argparse.Namespace) -> int:
    tmux = tmux_from_args(args)
    result = install(tmux, args.key, _conf(args), force=args.force)
    if args.json:
        print_json(result.to_json())
        return 0
    print("\n".join(result.lines))
    print()
    where = []
    if result.live:
        where.append("bound on the running tmux server")
    if result.config:
        where.append(f"{'written to' if result.changed else 'already in'} {result.config}")
    print(f"prefix + {args.key} shares the current pane ({'; '.join(where) or 'printed only'}).")
    if result.replaced:
        print(f"It replaced {_binding(result.replaced)}; `pairtui tmux uninstall` puts it back.")
    print("Keep your own ~/.tmux.conf? Add the lines above and run `pairtui tmux install --live`.")
    return 0


def cmd_uninstall(args: argparse.Namespace) -> int:
    tmux = tmux_from_args(args)
    result = uninstall(tmux, _conf(args))
    if args.json:
        print_json(result.to_json())
        return 0
    done = "removed the pairtui key binding"
    if result.deleted:
        done += f" and {result.config}, which install had made"
    elif result.changed:
        done += f" and its block in {result.config}"
    print(done)
    if result.replaced:
        print(f"put back {_binding(result.replaced)}")
    return 0


def _binding(row: str) -> str:
    """A ``list-keys`` row on one line (tmux pads its columns)."""
    return f"`{printable(' '.join(row.split()))}`"


def cmd_status(args: argparse.Namespace) -> int:
    """For scripts and ``#(pairtui status --tmux)``: who is in, from the running server.

    A server that takes connections but does not answer is "busy" (exit 1: whether
    anyone is in cannot be told), never "not running"; a socket nobody listens on is
    "stale" (the last server was killed), which is not running either.
    """
    if args.tmux:  # every few seconds: one question only
        try:
            reply = control.request("clients")
        except PairtuiError:
            print("pairtui: not answering")
            return 1
        print(_status_line(reply["clients"] if reply else []))
        return 0
    found = control.probe()
    clients: list[dict[str, Any]] = []
    if found.state == "running":
        try:
            reply = control.request("clients")
        except PairtuiError as exc:
            found = control.Probe("busy", error=str(exc))
        else:
            clients = reply["clients"] if reply else []
    if args.json:
        extra = {"error": found.error, "pid": found.pid or None} if found.error else {}
        running = {"busy": None}.get(found.state, found.state == "running")
        print_json({"running": running, "state": found.state, "server": found.status,
                    "clients": clients, **extra})  # fmt: skip
    elif found.state == "busy":
        print(f"pairtui: {printable(found.error)}", file=sys.stderr)
    elif found.status is None:
        print(no_server(found.state))
    else:
        st = found.status
        server = (f"pairtui {st.get('version', '?')}, pid {st['pid']} on {st['listen']}:"
                  f"{st['port']} since {st.get('started', '?')}")  # fmt: skip
        print(f"{_status_line(clients) or 'no guests connected'} ({printable(server)})")
    return 1 if found.state == "busy" else 0


def _status_line(clients: list[dict[str, Any]]) -> str:
    return printable(status_text([str(c["share"]) for c in clients]))


def register(sub: Any, add: Adder) -> None:
    about = "the tmux key binding that shares the current pane"
    tm = sub.add_parser(
        "tmux", help=about, description=about,
        epilog=epilog("pairtui tmux install\npairtui tmux uninstall"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    tsub = tm.add_subparsers(dest="tmux_command", metavar="ACTION", required=True)
    for name, handler, text, example in (
        ("install", cmd_install, "bind prefix + KEY to share/unshare the current pane",
         "pairtui tmux install --key S\npairtui tmux install --live   # keep ~/.tmux.conf"),
        ("uninstall", cmd_uninstall, "remove what install added (a replaced binding comes back)",
         "pairtui tmux uninstall"),
    ):  # fmt: skip
        p = add(tsub, name, handler, text, example=example)
        p.add_argument("--tmux-socket", metavar="PATH|NAME", help="the host's tmux server")
        p.add_argument("--config", metavar="PATH", help="tmux config file (default ~/.tmux.conf)")
        p.add_argument("--live", action="store_true", help="only the running tmux server")
        if name == "install":
            p.add_argument(
                "--key", default=DEFAULT_KEY, help=f"key after the prefix ({DEFAULT_KEY})"
            )
            p.add_argument(
                "--force",
                action="store_true",
                help="replace the key's binding if it has one (uninstall puts it back)",
            )
    st = add(sub, "status", cmd_status, "who is connected, in one line",
             example="pairtui status\npairtui status --json\n"
             "set -g status-right '#(pairtui status --tmux)'   # in ~/.tmux.conf")  # fmt: skip
    st.add_argument("--tmux", action="store_true", help="for #(...) in tmux's status line")
