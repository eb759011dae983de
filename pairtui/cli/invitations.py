"""`pairtui invite`: a one-line ssh string that lets a colleague in with any key."""

from __future__ import annotations

import argparse
from typing import Any

from pairtui import paths
from pairtui.cli.common import (
    Adder,
    mode_arg,
    print_json,
    server_endpoint,
    tmux_from_args,
    warn_no_server,
)
from pairtui.cli.serve import ensure_server
from pairtui.errors import PairtuiError
from pairtui.host import Host
from pairtui.invitations import USER_PREFIX, Invitation
from pairtui.printable import printable
from pairtui.registry import Mode
from pairtui.ssh import ssh_strings
from pairtui.tunnels.model import guest_strings


def _about(inv: Invitation) -> str:
    share = f"share {inv.share}" if inv.share else "any share"
    left = max(0, inv.uses - inv.used)
    uses = f"{left} of {inv.uses} use{'s' if inv.uses != 1 else ''} left"
    until = f", until {inv.expires}" if inv.expires else ""
    named = f", as guest {inv.name}" if inv.name else ""
    ask = ", you admit each" if inv.admit == "ask" else ""
    return f"{inv.mode}, {share}, {uses}{until}{named}{ask}"


def cmd_invite(args: argparse.Namespace) -> int:
    host = Host()
    inv, token = host.invite(
        mode=args.mode, share=args.share or "", lifetime=args.expires, uses=args.uses,
        name=args.name or "", admit=args.admit,
    )  # fmt: skip
    # The line is of no use while nothing listens: start a server, as `share` does.
    started = False if args.no_server else ensure_server()
    at = server_endpoint()
    user = f"{USER_PREFIX}{token}"
    strings = ssh_strings(at.listen, at.port, inv.share or None, user=user)
    # Through each reverse tunnel too: any OpenSSH server can be the relay.
    strings += [s for t in host.tunnels() if t.enabled
                for s in guest_strings(t, inv.share or None, user=user)]  # fmt: skip
    copied = _copy(args, strings[0].command)
    if args.json:
        print_json({**inv.to_json(), "ssh": [s.to_json() for s in strings],
                    "fingerprint": at.fingerprint, "server_running": at.running,
                    "server_started": started, "copied": copied})  # fmt: skip
        return 0
    print(printable(f"invitation {inv.id} ({_about(inv)}); send one of these lines, "
                    "shown only this once:"))  # fmt: skip
    for s in strings:
        print(f"    {s.command}")
    print(f"host key fingerprint: {at.fingerprint}")
    if copied:
        print("the first line is in tmux's paste buffer (and your clipboard where tmux "
              "may set it)")  # fmt: skip
    if started:
        print(f"started a pairtui server in the background (log: {paths.server_log()}; "
              "`pairtui stop` stops it)")  # fmt: skip
    elif not at.running:
        warn_no_server()
    return 0


def _copy(args: argparse.Namespace, line: str) -> bool:
    """Into the host's tmux paste buffer, as the tmux key and the dashboard copy their
    strings; False when no tmux server runs (nothing to paste into then)."""
    try:
        tmux_from_args(args).copy_to_buffer(line)
    except PairtuiError:
        return False
    return True


def cmd_invite_list(args: argparse.Namespace) -> int:
    rows = Host().invitations()
    if args.json:
        print_json([r.to_json() for r in rows])
        return 0
    if not rows:
        print("no invitations: pairtui invite [--mode view|pair] [--expires 1h] [--uses 1]")
    for r in rows:
        state = r.unusable() or "open"
        print(printable(f"{r.id}  {state:<40}  {_about(r)}"))
    return 0


def cmd_invite_revoke(args: argparse.Namespace) -> int:
    inv = Host().revoke_invitation(args.id)
    if args.json:
        print_json(inv.to_json())
    else:
        print(f"invitation {inv.id} withdrawn (guests it let in stay guests)")
    return 0


def register(sub: Any, add: Adder) -> None:
    inv = add(
        sub,
        "invite",
        cmd_invite,
        "an ssh string that lets a colleague in with any key (invite list, invite revoke ID)",
        example="pairtui invite                       # view, one use\n"
        "pairtui invite --mode pair --expires 1h --name bob",
    )
    inv.add_argument("--mode", type=mode_arg, default=Mode.VIEW,
                     help="what the guest may do: view (default) or pair")  # fmt: skip
    inv.add_argument("--share", metavar="SHARE", help="the one share it opens (default: any)")
    inv.add_argument("--expires", metavar="WHEN",
                     help="when it and its guest run out (30m, 2h, 7d or a time)")  # fmt: skip
    inv.add_argument("--uses", type=int, default=1, metavar="N",
                     help="how many keys it may register (default 1)")  # fmt: skip
    inv.add_argument("--name", metavar="NAME",
                     help="the guest's name (default: guest-, then the key's start)")  # fmt: skip
    inv.add_argument("--admit", choices=("auto", "ask"), default="auto",
                     help="auto: the key is let in at once; ask: its guest knocks and "
                     "waits for you (pairtui knocks, admit, deny)")  # fmt: skip
    inv.add_argument("--no-server", action="store_true",
                     help="do not start a background server when none runs")  # fmt: skip
    inv.add_argument("--tmux-socket", metavar="PATH|NAME",
                     help="the tmux server whose paste buffer gets the line")  # fmt: skip
    actions = inv.add_subparsers(dest="invite_command", metavar="ACTION")
    add(actions, "list", cmd_invite_list, "every invitation: open, used, withdrawn or expired",
        example="pairtui invite list --json")  # fmt: skip
    rv = add(actions, "revoke", cmd_invite_revoke, "withdraw an invitation",
             example="pairtui invite revoke a1b2c3")  # fmt: skip
    rv.add_argument("id", metavar="ID", help="the invitation's id (see pairtui invite list)")
