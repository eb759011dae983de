"""`pairtui share`, `unshare`, `ssh-string`: what is shared and how guests reach it."""

from __future__ import annotations

import argparse
from typing import Any

from pairtui.cli.common import Adder, notify_engine, print_json, server_address, tmux_from_args
from pairtui.shares import Share, ShareStore
from pairtui.ssh import ssh_strings


def _share_json(share: Share, store: ShareStore, default: Share | None) -> dict[str, Any]:
    listen, port, fp = server_address()
    is_default = default is not None and default.name == share.name
    strings = ssh_strings(listen, port, None if is_default else share.name)
    return {
        **share.to_json(),
        "default": is_default,
        "live": store.live(share),
        "ssh": [s.command for s in strings],
        "fingerprint": fp,
    }


def cmd_share(args: argparse.Namespace) -> int:
    store = ShareStore()
    if args.action == "list":
        shares = store.load()
        default = shares[-1] if shares else None
        rows = [_share_json(s, store, default) for s in shares]
        if args.json:
            print_json(rows)
        elif not rows:
            print("nothing is shared: pairtui share [--session NAME | --pane %ID]")
        for row in [] if args.json else rows:
            state = "" if row["live"] else "  (gone: its tmux session no longer exists)"
            print(f"{row['name']}  {row['kind']} {row['target']}{state}")
            for cmd in row["ssh"]:
                print(f"    {cmd}")
        return 0
    tmux = tmux_from_args(args)
    share = store.create(tmux, session=args.session, pane=args.pane, name=args.name)
    notify_engine()
    row = _share_json(share, store, store.default())
    if args.json:
        print_json(row)
    else:
        print(f"sharing {share.kind} {share.target} as {share.name!r}; guests join with:")
        for cmd in row["ssh"]:
            print(f"    {cmd}")
        print(f"host key fingerprint: {row['fingerprint']}")
    return 0


def cmd_unshare(args: argparse.Namespace) -> int:
    share = ShareStore().remove(args.name)
    notify_engine()
    if args.json:
        print_json(share.to_json())
    else:
        print(f"stopped sharing {share.name!r}; its guests were disconnected")
    return 0


def cmd_ssh_string(args: argparse.Namespace) -> int:
    listen, port, fp = server_address()
    store = ShareStore()
    default = store.default()
    share = args.share
    if share is not None:
        store.get(share)
    name = None if share is None or (default and default.name == share) else share
    strings = ssh_strings(listen, port, name)
    if args.json:
        print_json({"fingerprint": fp, "ssh": [s.to_json() for s in strings]})
    else:
        for s in strings:
            print(s.command)
        print(f"host key fingerprint: {fp}")
    return 0


def register(sub: Any, add: Adder) -> None:
    sh = add(sub, "share", cmd_share, "share a tmux session or pane (or: share list)")
    sh.add_argument("action", nargs="?", choices=["list"], help="list the shares")
    sh.add_argument("--session", metavar="NAME", help="the tmux session (default: current)")
    sh.add_argument("--pane", metavar="%ID", help="share the window of this pane")
    sh.add_argument("--name", metavar="SHARE", help="the share's name")
    sh.add_argument("--tmux-socket", metavar="PATH|NAME", help="the host's tmux server")
    un = add(sub, "unshare", cmd_unshare, "stop a share and disconnect its guests")
    un.add_argument("name")
    ss = add(sub, "ssh-string", cmd_ssh_string, "print what guests type to join")
    ss.add_argument("share", nargs="?")
