"""`pairtui door`, `knocks`, `admit`, `deny`: letting in guests whose keys you don't have."""

from __future__ import annotations

import argparse
from typing import Any

from pairtui.cli.common import Adder, engine_request, mode_arg, print_json
from pairtui.door import DEFAULT_OPEN, open_for
from pairtui.printable import printable


def cmd_door(args: argparse.Namespace) -> int:
    action = args.door_command or "status"
    if action == "open":
        reply = engine_request("door", action=action, seconds=open_for(args.open_for),
                               share=args.share or "")  # fmt: skip
    else:
        reply = engine_request("door", action=action)
    door = reply["door"]
    if args.json:
        print_json(door)
    elif door["open"]:
        where = f" to share {door['share']}" if door["share"] else ""
        print(printable(f"the door is open{where} for {door['seconds_left']} s more: "
                        f"{door['waiting']} waiting (pairtui knocks)"))  # fmt: skip
    else:
        print(f"the door is closed ({door['waiting']} still waiting)")
    return 0


def cmd_knocks(args: argparse.Namespace) -> int:
    reply = engine_request("knocks")
    if args.json:
        print_json(reply["knocks"])
        return 0
    if not reply["knocks"]:
        print("nobody is waiting" + ("" if reply["door"]["open"] else " (the door is closed)"))
    for k in reply["knocks"]:
        via = f" via {k['via']}" if k["via"] else ""
        print(printable(f"{k['id']}  code {k['code']}  {k['peer']}{via}  key {k['fingerprint']}"
                        f"  waiting {k['waiting']:.0f} s"))  # fmt: skip
    return 0


def cmd_admit(args: argparse.Namespace) -> int:
    reply = engine_request(
        "admit", id=args.id, mode=args.mode.value if args.mode else None,
        remember=args.remember,
        expires=args.expires, name=args.name, code=args.code,
    )  # fmt: skip
    k = reply["admitted"]
    if args.json:
        print_json(k)
    else:
        kept = (
            "as its invitation says" if k["invitation"]
            else "remembered as a guest" if args.remember else "for this connection only"
        )  # fmt: skip
        mode = args.mode.value if args.mode else k["mode"]
        print(printable(f"admitted {k['id']} (code {k['code']}) as {mode}, {kept}"))
    return 0


def cmd_deny(args: argparse.Namespace) -> int:
    k = engine_request("deny", id=args.id)["denied"]
    if args.json:
        print_json(k)
    else:
        print(printable(f"turned away {k['id']} (code {k['code']}) from {k['peer']}"))
    return 0


def register(sub: Any, add: Adder) -> None:
    door = add(sub, "door", cmd_door,
               "let guests whose keys you don't have knock (door open/close; off by default)",
               example="pairtui door open --for 10m\npairtui door close")  # fmt: skip
    actions = door.add_subparsers(dest="door_command", metavar="ACTION")
    op = add(actions, "open", cmd_door, "unregistered keys may knock until it closes by itself",
             example="pairtui door open --for 10m --share main")  # fmt: skip
    op.add_argument("--for", dest="open_for", default=DEFAULT_OPEN, metavar="DURATION",
                    help="how long it stays open (default 10m; at most 24h)")  # fmt: skip
    op.add_argument("--share", metavar="SHARE", help="the one share admitted guests join")
    add(actions, "close", cmd_door, "no more knocks (those waiting still wait)",
        example="pairtui door close")  # fmt: skip
    add(sub, "knocks", cmd_knocks, "who is waiting at the door: id, code, address, key",
        example="pairtui knocks")  # fmt: skip
    ad = add(sub, "admit", cmd_admit, "let a waiting guest in, into the share at once",
             example="pairtui admit k4821 --mode pair --remember --expires 1d")  # fmt: skip
    ad.add_argument("id", metavar="ID", help="the knock's id (pairtui knocks)")
    ad.add_argument("--mode", type=mode_arg, default=None,
                    help="view or pair (default: the invitation's, else view)")  # fmt: skip
    ad.add_argument("--remember", action="store_true",
                    help="keep its key as a guest (default: for this connection only)")  # fmt: skip
    ad.add_argument("--expires", metavar="WHEN", help="with --remember: when the guest runs out")
    ad.add_argument("--name", metavar="NAME", default="", help="the guest's name")
    ad.add_argument("--code", metavar="CODE",
                    help="admit only if this is the code the guest reads out")  # fmt: skip
    dn = add(sub, "deny", cmd_deny, "turn a waiting guest away (one line, then closed)",
             example="pairtui deny k4821")  # fmt: skip
    dn.add_argument("id", metavar="ID", help="the knock's id (pairtui knocks)")
