"""`pairtui clients`, `kick`, `mode`: the live guests of a running server."""

from __future__ import annotations

import argparse
from typing import Any

from pairtui import control
from pairtui.cli.common import Adder, engine_request, mode_arg, print_json
from pairtui.errors import PairtuiError


def cmd_clients(args: argparse.Namespace) -> int:
    try:
        reply = control.request("clients")
    except PairtuiError:
        reply = None
    clients = reply["clients"] if reply else []
    if args.json:
        print_json(clients)
    elif not clients:
        print("no guests connected" + ("" if reply else " (no pairtui server is running)"))
    else:
        for c in clients:
            print(f"{c['id']}  {c['guest']}  {c['mode']}  {c['share']}  from {c['peer']}  "
                  f"{c['fingerprint']}  {c['size']}  idle {c['idle_seconds']:.0f}s")  # fmt: skip
    return 0


def cmd_kick(args: argparse.Namespace) -> int:
    kicked = engine_request("kick", target=args.target)["kicked"]
    if args.json:
        print_json(kicked)
    else:
        for c in kicked:
            print(f"disconnected {c['guest']} ({c['id']}, from {c['peer']})")
    return 0


def cmd_mode(args: argparse.Namespace) -> int:
    changed = engine_request("mode", target=args.target, mode=args.mode.value)["changed"]
    if args.json:
        print_json(changed)
    else:
        for c in changed:
            print(f"{c['guest']} ({c['id']}) is now {c['mode']}")
    return 0


def register(sub: Any, add: Adder) -> None:
    add(sub, "clients", cmd_clients, "list connected guests")
    k = add(sub, "kick", cmd_kick, "disconnect a guest (all its clients) or one client")
    k.add_argument("target", metavar="GUEST|CLIENT_ID")
    m = add(sub, "mode", cmd_mode, "switch a connected guest between view and pair")
    m.add_argument("target", metavar="GUEST|CLIENT_ID")
    m.add_argument("mode", type=mode_arg)
