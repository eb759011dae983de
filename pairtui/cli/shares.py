"""`pairtui share`, `unshare`, `ssh-string`: what is shared and how guests reach it."""

from __future__ import annotations

import argparse
from typing import Any

from pairtui import paths
from pairtui.cli.common import Adder, notify_engine, print_json, server_address, tmux_from_args
from pairtui.cli.serve import ensure_server
from pairtui.errors import PairtuiError
from pairtui.host import Host
from pairtui.shares import Share, default_share
from pairtui.ssh import ssh_strings
from pairtui.tmux import Tmux


def _share_json(share: Share, host: Host, default: Share | None) -> dict[str, Any]:
    listen, port, fp = server_address()
    is_default = default is not None and default.name == share.name
    strings = ssh_strings(listen, port, None if is_default else share.name)
    return {
        **share.to_json(),
        "default": is_default,
        "live": host.share_live(share),
        "ssh": [s.command for s in strings],
        "fingerprint": fp,
    }


def cmd_share(args: argparse.Namespace) -> int:
    host = Host(notify_engine)
    if args.action == "rename":
        if len(args.names) != 2:
            raise PairtuiError("usage: pairtui share rename OLD NEW")
        old, new = args.names
        share = host.rename_share(old, new)
        if args.json:
            print_json(_share_json(share, host, host.default_share()))
        else:
            print(f"share {old!r} is now {new!r}; its guests stay connected")
        return 0
    if args.names:
        raise PairtuiError(f"unexpected arguments: {' '.join(args.names)}")
    if args.action == "list":
        shares = host.share_list()
        default = default_share(shares)
        rows = [_share_json(s, host, default) for s in shares]
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
    if args.toggle and args.client:
        # Run by the key binding: tmux would show any output (or a non-zero exit) as a
        # view-mode page over the host's pane, so every outcome is a tmux message.
        try:
            message = _toggle(args, host, tmux)
        except PairtuiError as exc:
            message = f"pairtui: {exc}"
        tmux.display_message(message, client=args.client, duration_ms=10000)
        return 0
    if args.toggle:
        message = _toggle(args, host, tmux)
        if not args.json:
            print(message)
        return 0
    share = host.share(tmux, session=args.session, pane=args.pane, name=args.name)
    row = _share_json(share, host, host.default_share())
    if args.json:
        print_json(row)
    else:
        print(f"sharing {share.kind} {share.target} as {share.name!r}; guests join with:")
        for cmd in row["ssh"]:
            print(f"    {cmd}")
        print(f"host key fingerprint: {row['fingerprint']}")
    return 0


def _toggle(args: argparse.Namespace, host: Host, tmux: Tmux) -> str:
    """The tmux key: share the pane's window, or stop sharing it; say so in tmux."""
    if not args.pane:
        raise PairtuiError("--toggle needs --pane")
    window, _ = tmux.window_of_pane(args.pane)
    existing = host.share_for_window(window)
    result: dict[str, Any]
    if existing is not None:
        host.unshare(existing.name)
        message = f"pairtui: stopped sharing {existing.name}; its guests were disconnected"
        result = {"stopped": existing.name}
    else:
        started = ensure_server()
        share = host.share(tmux, pane=args.pane, name=args.name)
        tmux.select_pane(args.pane)
        row = _share_json(share, host, host.default_share())
        tmux.copy_to_buffer(row["ssh"][0])
        message = f"pairtui: sharing {share.name}: {row['ssh'][0]} (copied)"
        if started:
            message += f" -- started a pairtui server in the background (log: {paths.server_log()})"
        result = {"started": row, "server_started": started}
    if args.json:
        print_json(result)
    return message


def cmd_unshare(args: argparse.Namespace) -> int:
    share = Host(notify_engine).unshare(args.name)
    if args.json:
        print_json(share.to_json())
    else:
        print(f"stopped sharing {share.name!r}; its guests were disconnected")
    return 0


def cmd_ssh_string(args: argparse.Namespace) -> int:
    listen, port, fp = server_address()
    host = Host()
    default = host.default_share()
    share = args.share
    if share is not None:
        host.share_named(share)
    name = None if share is None or (default and default.name == share) else share
    strings = ssh_strings(listen, port, name)
    from pairtui.cli.tunnels import tunnel_strings

    tunnels = tunnel_strings((listen, port), name)
    if args.json:
        print_json({"fingerprint": fp, "ssh": [s.to_json() for s in strings], "tunnels": tunnels})
    else:
        for s in strings:
            print(s.command)
        for t in tunnels:
            for row in t["ssh"]:
                print(f"{row['command']}    # through tunnel {t['name']}: {t['summary']}")
        print(f"host key fingerprint: {fp}")
    return 0


def register(sub: Any, add: Adder) -> None:
    sh = add(sub, "share", cmd_share, "share a tmux session or pane (or: share list)")
    sh.add_argument(
        "action",
        nargs="?",
        choices=["list", "rename"],
        help="list the shares; rename OLD NEW (guests stay connected)",
    )
    sh.add_argument("names", nargs="*", metavar="NAME", help=argparse.SUPPRESS)
    sh.add_argument("--session", metavar="NAME", help="the tmux session (default: current)")
    sh.add_argument("--pane", metavar="%ID", help="share the window of this pane")
    sh.add_argument("--name", metavar="SHARE", help="the share's name")
    sh.add_argument("--tmux-socket", metavar="PATH|NAME", help="the host's tmux server")
    sh.add_argument(
        "--toggle",
        action="store_true",
        help="with --pane: stop sharing the pane's window if it is shared, else share it "
        "(starting a background server if none runs); what the tmux key binding runs",
    )
    sh.add_argument("--client", metavar="TTY", help="tmux client to show the result on")
    un = add(sub, "unshare", cmd_unshare, "stop a share and disconnect its guests")
    un.add_argument("name")
    ss = add(sub, "ssh-string", cmd_ssh_string, "print what guests type to join")
    ss.add_argument("share", nargs="?")
