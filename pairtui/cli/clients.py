"""`pairtui clients`, `kick`, `mode`: the live guests of a running server."""

from __future__ import annotations

import argparse
from typing import Any

from pairtui import control, system
from pairtui.cli.common import Adder, engine_request, mode_arg, no_server, print_json
from pairtui.cli.table import table
from pairtui.durations import duration
from pairtui.errors import PairtuiError
from pairtui.events import where
from pairtui.printable import printable

HEADER = ("ID", "GUEST", "MODE", "SHARE", "FROM", "CONNECTED", "IDLE", "SIZE", "KEY")


def cmd_clients(args: argparse.Namespace) -> int:
    # A server that does not answer is an error (exit 1), never "no server running".
    reply = control.request("clients")
    clients = reply["clients"] if reply else []
    # Guests who came in through the machine's sshd, from tmux's client list.
    local = [c.to_json() for c in system.list_clients()]
    if args.json:
        print_json(clients + local)
        return 0
    if not clients and not local:
        print("no guests connected" + ("" if reply else f" ({no_server()})"))
        return 0
    rows = [_row(c, where(c["peer"], c.get("via", ""))) for c in clients]
    rows += [_row(c, f"sshd as {c['user']} on {c['tmux_client']}") for c in local]
    # Peers as a relay reports them and guests' names: escaped in the table, exact in JSON.
    print("\n".join(table(HEADER, rows)))
    return 0


def _row(c: dict[str, Any], origin: str) -> list[str]:
    share = c["share"] or "(connected, no terminal)"
    return [c["id"], c["guest"] or "?", c["mode"], share, origin,
            duration(c["connected_seconds"]), duration(c["idle_seconds"]), c["size"],
            c["fingerprint"] or "-"]  # fmt: skip


def cmd_kick(args: argparse.Namespace) -> int:
    local = [c.to_json() for c in system.kick(args.target)]
    try:
        kicked = engine_request("kick", target=args.target)["kicked"]
    except PairtuiError:
        if not local:
            raise
        kicked = []
    kicked += local
    if args.json:
        print_json(kicked)
    else:
        for c in kicked:
            who, peer = c["guest"] or c["tmux_client"], where(c["peer"], c.get("via", "")) or "sshd"
            print(printable(f"disconnected {who} ({c['id']}, from {peer})"))
    return 0


def cmd_mode(args: argparse.Namespace) -> int:
    try:
        changed = engine_request("mode", target=args.target, mode=args.mode.value)["changed"]
    except PairtuiError:
        local = [c for c in system.list_clients() if args.target in (c.id, c.guest, c.tty)]
        if local:
            name = local[0].guest or "NAME"
            raise PairtuiError(
                f"{args.target} came in through sshd, where the mode follows the registry: "
                f"pairtui guest set {name} --mode {args.mode.value}"
            ) from None
        raise
    if args.json:
        print_json(changed)
    else:
        for c in changed:
            print(printable(f"{c['guest']} ({c['id']}) is now {c['mode']}"))
    return 0


def register(sub: Any, add: Adder) -> None:
    add(
        sub,
        "clients",
        cmd_clients,
        "connected guests: who, mode, share, from where, for how long, idle, key",
        example="pairtui clients\npairtui clients --json",
    )
    k = add(
        sub,
        "kick",
        cmd_kick,
        "disconnect a guest (all its clients) or one client",
        example="pairtui kick alice\npairtui kick c3          # one client, by its ID",
    )
    k.add_argument(
        "target",
        metavar="GUEST|CLIENT_ID",
        help="a guest's name, or a client's ID from pairtui clients",
    )
    m = add(
        sub,
        "mode",
        cmd_mode,
        "switch a connected guest between view and pair, live",
        example="pairtui mode alice pair",
    )
    m.add_argument(
        "target",
        metavar="GUEST|CLIENT_ID",
        help="a guest's name, or a client's ID from pairtui clients",
    )
    m.add_argument(
        "mode", type=mode_arg, metavar="view|pair", help="view (read-only) or pair (can type)"
    )
