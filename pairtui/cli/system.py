"""`pairtui system ...` and `authorized-keys-command`: guests under the machine's own sshd."""

from __future__ import annotations

import argparse
import pwd
from pathlib import Path
from typing import Any

from pairtui.cli.common import Adder, print_json
from pairtui.errors import PairtuiError
from pairtui.system import provision, sshd, sync
from pairtui.system.state import load_state
from pairtui.system.sudo import host_uid, require_root


def cmd_setup(args: argparse.Namespace) -> int:
    state, report = provision.setup(args.user)
    if args.json:
        print_json({"user": state.user, "created_user": state.created_user,
                    "authorized_keys": str(state.authorized_keys), "keys": report.lines,
                    "tmux_sockets": state.sockets, "acl_paths": state.acl_paths,
                    "warnings": report.warnings})  # fmt: skip
        return 0
    made = "created" if state.created_user else "using the existing"
    print(f"{made} user {state.user}; {report.lines} key line(s) in {state.authorized_keys}")
    for socket in state.sockets:
        print(f"{state.user} may attach to the pairtui sessions on {socket}")
    if not state.sockets:
        print("nothing is shared yet: `pairtui share` grants tmux access when you share")
    for warning in report.warnings:
        print(f"warning: {warning}")
    print(f"guests join with: ssh {state.user}@THIS-HOST   (their key decides who they are)")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    require_root("system", "sync")
    state = load_state()
    if state is None:
        raise PairtuiError("system guests are not set up (see `pairtui system setup`)")
    report = sync.sync(state)
    if args.json:
        print_json({"wrote": report.wrote, "keys": report.lines, "detached": report.detached,
                    "warnings": report.warnings})  # fmt: skip
    else:
        print(f"{state.authorized_keys}: {report.lines} key line(s)"
              + (" (rewritten)" if report.wrote else " (already up to date)"))  # fmt: skip
        for warning in report.warnings:
            print(f"warning: {warning}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    info = provision.status()
    if args.json:
        print_json(info)
    elif not info["set_up"]:
        print("system guests are not set up (see `pairtui system setup --help`)")
    else:
        made = "created by pairtui" if info["created_user"] else "not created by pairtui"
        print(f"user {info['user']} (uid {info['uid']}, {made}), home {info['home']}")
        fresh = {True: "up to date", False: "OUT OF DATE (pairtui system sync)"}[info["in_sync"]]
        print(f"{info['authorized_keys']}: {info['keys']} key line(s), {fresh}")
        for s in info["tmux_sockets"]:
            state = "running" if s["live"] else "not running"
            access = s["server_access"] or "no access"
            print(f"tmux {s['socket']} ({state}): {access}, ACL {'yes' if s['acl'] else 'no'}")
        for path in info["acl_paths"]:
            print(f"ACL entry for {info['user']} on {path}")
        print(f"{info['clients']} system guest(s) connected")
    return 0


def cmd_teardown(args: argparse.Namespace) -> int:
    done = provision.teardown()
    if args.json:
        print_json(done)
    else:
        for line in done:
            print(line)
        print("system guests are torn down")
    return 0


def cmd_sshd_config(args: argparse.Namespace) -> int:
    state = load_state()
    user = args.user or (state.user if state else provision.DEFAULT_USER)
    command_user = args.command_user or pwd.getpwuid(host_uid()).pw_name
    out = sshd.sshd_config(user, command_user, Path(args.wrapper))
    if args.json:
        print_json(out)
        return 0
    print(f"# 1. As root, write {out['wrapper_path']} (owned by root, mode 0755; sshd refuses")
    print("#    a command that anyone else may change):")
    print(out["wrapper"])
    print(f"# 2. Add this to {out['sshd_config_path']}, then `sshd -t && systemctl reload ssh`:")
    print(out["sshd_config"], end="")
    return 0


def cmd_authorized_keys_command(args: argparse.Namespace) -> int:
    """sshd logs what this prints on stderr; a failure lets no key in."""
    try:
        line = sshd.authorized_keys_command(args.user, args.key_type, args.key)
    except OSError as exc:
        raise PairtuiError(f"cannot read the registry: {exc}") from None
    print(line, end="")
    return 0


def register(sub: Any, add: Adder) -> None:
    parent = add(
        sub,
        "system",
        cmd_status,
        "guests as Unix users under this machine's sshd (alone: system status)",
        example="sudo pairtui system setup --user guest\npairtui system status",
    )
    ssub = parent.add_subparsers(dest="system_command", metavar="ACTION")
    setup_help = "as root: create the guest user, write its authorized_keys, grant tmux access"
    s = add(ssub, "setup", cmd_setup, setup_help, example="sudo pairtui system setup")
    s.add_argument("--user", default=provision.DEFAULT_USER, help="Unix user (default: guest)")
    add(
        ssub,
        "status",
        cmd_status,
        "what is set up, and whether it is in sync",
        example="pairtui system status --json",
    )
    add(
        ssub,
        "sync",
        cmd_sync,
        "as root: rewrite the guest user's authorized_keys now",
        example="sudo pairtui system sync",
    )
    add(
        ssub,
        "teardown",
        cmd_teardown,
        "as root: undo exactly what setup did",
        example="sudo pairtui system teardown",
    )
    c = add(
        ssub,
        "sshd-config",
        cmd_sshd_config,
        "print an sshd snippet that asks pairtui for keys (AuthorizedKeysCommand)",
        example="pairtui system sshd-config --user guest",
    )
    c.add_argument("--user", help="the guests' Unix user (default: the one set up, or guest)")
    c.add_argument("--command-user", help="who sshd runs the command as (default: you)")
    c.add_argument("--wrapper", default=str(sshd.DEFAULT_WRAPPER), help="wrapper script path")
    akc_help = "for sshd's AuthorizedKeysCommand %%u %%t %%k: the line for a registered key"
    a = add(
        sub,
        "authorized-keys-command",
        cmd_authorized_keys_command,
        akc_help,
        example=f"AuthorizedKeysCommand {sshd.DEFAULT_WRAPPER} %u %t %k\n"
        "(in sshd_config: pairtui system sshd-config writes it)",
    )
    a.add_argument("user", help="%%u: the Unix user sshd logs in")
    a.add_argument("key_type", help="%%t: the offered key's type")
    a.add_argument("key", help="%%k: the offered key, base64")
