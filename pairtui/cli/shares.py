"""`pairtui share`, `unshare`, `ssh-string`: what is shared and how guests reach it."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from pairtui import control, paths
from pairtui.cli.common import (
    Adder,
    Endpoint,
    notify_engine,
    print_json,
    server_endpoint,
    ssh_json,
    tmux_from_args,
    warn_no_server,
)
from pairtui.cli.record import said_started, start_recording
from pairtui.cli.serve import ensure_server
from pairtui.durations import duration
from pairtui.errors import PairtuiError
from pairtui.host import Host
from pairtui.printable import printable
from pairtui.shares import Share, default_share, shows, windows_of
from pairtui.ssh import ssh_strings
from pairtui.tmux import HostWindow, Tmux


def _until(share: Share) -> str:
    """`` until 18:30 (1h 59m left)`` for a share with a lifetime, else nothing."""
    when = share.expires_at()
    if when is None:
        return ""
    left = (when - datetime.now(UTC)).total_seconds()
    return f" until {when.astimezone():%H:%M} ({duration(left)} left)"


def _share_json(
    share: Share, host: Host, default: Share | None, at: Endpoint, windows: dict[str, HostWindow]
) -> dict[str, Any]:
    is_default = default is not None and default.name == share.name
    strings = ssh_strings(at.listen, at.port, None if is_default else share.name)
    return {
        **share.to_json(),
        "shows": shows(share, windows),
        "default": is_default,
        "live": host.share_live(share),
        "ssh": [ssh_json(s, at.fingerprint) for s in strings],
        "fingerprint": at.fingerprint,
        "server_running": at.running,
    }


def cmd_share(args: argparse.Namespace) -> int:
    host = Host(notify_engine)
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
    if args.record and args.no_server and control.probe().state != "running":
        raise PairtuiError("--record needs a running server: leave out --no-server")
    share = host.share(
        tmux, session=args.session, pane=args.pane, name=args.name, lifetime=args.lifetime
    )
    # Guests get "Connection refused" without a server: start one, as the tmux key does
    # (once the share is made: a share that cannot be made starts nothing).
    started = False if args.no_server else ensure_server()
    recording = start_recording(share.name, keys=False) if args.record else None
    row = _share_json(share, host, host.default_share(), server_endpoint(), windows_of([share]))
    if args.json:
        print_json({**row, "server_started": started, "recording": recording})
        return 0
    print(printable(f"sharing {row['shows']} as {share.name!r}{_until(share)}; guests join with:"))
    for s in row["ssh"]:
        print(f"    {s['command']}")
    print(f"host key fingerprint: {row['fingerprint']}")
    if started:
        print(f"started a pairtui server in the background (log: {paths.server_log()}; "
              "`pairtui stop` stops it)")  # fmt: skip
    elif not row["server_running"]:
        warn_no_server()
    if recording is not None:
        print(said_started(recording))
    return 0


def cmd_share_list(args: argparse.Namespace) -> int:
    host = Host()
    shares = host.share_list()
    default = default_share(shares)
    at = server_endpoint() if shares else None
    windows = windows_of(shares)
    rows = [_share_json(s, host, default, at, windows) for s in shares] if at else []
    share_of = {s.name: s for s in shares}
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("nothing is shared: pairtui share [--session NAME | --pane %ID]")
    for row in rows:
        state = "" if row["live"] else "  (gone: its tmux session no longer exists)"
        print(printable(f"{row['name']}  {row['shows']}{_until(share_of[row['name']])}{state}"))
        for s in row["ssh"]:
            print(f"    {s['command']}")
    if at and not at.running:
        warn_no_server()
    return 0


def cmd_share_rename(args: argparse.Namespace) -> int:
    host = Host(notify_engine)
    share = host.rename_share(args.old, args.new)
    if args.json:
        at, windows = server_endpoint(), windows_of([share])
        print_json(_share_json(share, host, host.default_share(), at, windows))
    else:
        print(f"share {args.old!r} is now {args.new!r}; its guests stay connected")
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
        row = _share_json(share, host, host.default_share(), server_endpoint(), {})
        command = row["ssh"][0]["command"]
        tmux.copy_to_buffer(command)
        message = f"pairtui: sharing {share.name}: {command} (copied)"
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
    at = server_endpoint()
    host = Host()
    default = host.default_share()
    share = args.share
    if share is not None:
        host.share_named(share)
    name = None if share is None or (default and default.name == share) else share
    strings = [ssh_json(s, at.fingerprint) for s in ssh_strings(at.listen, at.port, name)]
    from pairtui.cli.tunnels import tunnel_strings

    tunnels = tunnel_strings(at, name)
    if args.json:
        print_json({"share": name, "fingerprint": at.fingerprint, "server_running": at.running,
                    "ssh": strings, "tunnels": tunnels})  # fmt: skip
        return 0
    for s in strings:
        print(s["command"])
    for t in tunnels:
        for row in t["ssh"]:
            print(f"{row['command']}    # through tunnel {t['name']}: {t['summary']}")
    print(f"host key fingerprint: {at.fingerprint}")
    if not at.running:
        warn_no_server()
    return 0


def register(sub: Any, add: Adder) -> None:
    sh = add(
        sub,
        "share",
        cmd_share,
        "share a tmux session, or one window (share list, share rename OLD NEW)",
        example="pairtui share                      # the session you are in\n"
        "pairtui share --session work --name demo\n"
        "pairtui share --pane %3            # only the window of pane %3\n"
        "pairtui share --for 2h             # ends by itself in two hours",
    )
    sh.add_argument(
        "--session", metavar="NAME", help="the tmux session to share (default: the one you are in)"
    )
    sh.add_argument(
        "--pane", metavar="%ID", help="share only the window of this pane (guests see that window)"
    )
    sh.add_argument(
        "--name",
        metavar="SHARE",
        help="the share's name, which guests may ask for (default: from tmux)",
    )
    sh.add_argument(
        "--tmux-socket",
        metavar="PATH|NAME",
        help="the host's tmux server: a socket path, or a name as with tmux -L",
    )
    sh.add_argument(
        "--no-server", action="store_true", help="do not start a background server when none runs"
    )
    sh.add_argument(
        "--record",
        action="store_true",
        help="record it from now on, as `pairtui record SHARE` (guests are told)",
    )
    sh.add_argument(
        "--for",
        dest="lifetime",
        metavar="DURATION",
        help="end the share by itself after this long (30m, 2h, 1d) or at a time "
        "(2026-12-06T18:00); the running server ends it and tells its guests",
    )
    # What the tmux key binding runs (pairtui tmux install); not for people.
    sh.add_argument("--toggle", action="store_true", help=argparse.SUPPRESS)
    sh.add_argument("--client", metavar="TTY", help=argparse.SUPPRESS)
    actions = sh.add_subparsers(dest="share_command", metavar="ACTION")
    add(
        actions,
        "list",
        cmd_share_list,
        "the shares, what each shows, whether it is live, and its ssh strings",
        example="pairtui share list --json",
    )
    rn = add(
        actions,
        "rename",
        cmd_share_rename,
        "rename a share in place: its guests stay connected; invitations follow",
        example="pairtui share rename main demo",
    )
    rn.add_argument("old", metavar="OLD", help="the share's name now")
    rn.add_argument("new", metavar="NEW", help="its new name")

    un = add(
        sub,
        "unshare",
        cmd_unshare,
        "stop a share and disconnect its guests",
        example="pairtui unshare demo",
    )
    un.add_argument("name", metavar="SHARE", help="the share to stop (see pairtui share list)")
    ss = add(
        sub,
        "ssh-string",
        cmd_ssh_string,
        "print what guests type to join (and the host key fingerprint to check)",
        example="pairtui ssh-string\npairtui ssh-string demo --json",
    )
    ss.add_argument(
        "share",
        metavar="SHARE",
        nargs="?",
        help="a share other than the default (guests then ask for it by name)",
    )
