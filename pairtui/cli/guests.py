"""`pairtui guest ...`: the registry from the command line."""

from __future__ import annotations

import argparse
import contextlib
import sys
from datetime import UTC, datetime
from typing import Any

from pairtui import config as config_mod
from pairtui import control
from pairtui.authorized_keys import GuestKey, parse_public_keys
from pairtui.cli.common import Adder, mode_arg, notify_engine, print_json
from pairtui.errors import PairtuiError
from pairtui.host import Host
from pairtui.printable import printable
from pairtui.registry import Guest, Mode, parse_expiry
from pairtui.shares import validate_share_name


def _read_keys(args: argparse.Namespace, forges: dict[str, str]) -> list[GuestKey]:
    """Every source is read and checked before any forge is asked."""
    from pairtui.keys import KeySource, fetch, forge_user, read_key_source

    sources: list[KeySource] = []
    for given in args.key or []:
        if given == "-":
            keys = parse_public_keys(sys.stdin.read(), source="standard input")
            sources.append(KeySource(tuple(keys)))
        else:
            sources.append(read_key_source(given, forges))
    sources += [forge_user(forge, getattr(args, forge))
                for forge in ("github", "gitlab") if getattr(args, forge)]  # fmt: skip
    return [key for source in sources for key in fetch(source, forges)]


def _check_share(name: str | None) -> str | None:
    if name:
        validate_share_name(name)
    return name


def cmd_guest_add(args: argparse.Namespace) -> int:
    cfg = config_mod.load()
    keys = _read_keys(args, cfg.forges)
    if not keys:
        raise PairtuiError("give a key: --key PATH, --key - (standard input), --key FORGE:USER, "
                           "--github or --gitlab")  # fmt: skip
    expires = parse_expiry(args.expires) if args.expires is not None else False
    host = Host(notify_engine)
    existing = host.guests().get(args.name)
    mode = args.mode or (None if existing else Mode(cfg.default_mode))
    guest = host.add_guest(args.name, keys, mode=mode, share=_check_share(args.share),
                           expires=expires)  # fmt: skip
    if args.json:
        print_json(guest.to_json())
    else:
        verb = "added keys to" if existing else "added guest"
        print(f"{verb} {guest.name} ({guest.mode.value}): " +
              ", ".join(k.fingerprint for k in keys))  # fmt: skip
    return 0


def _describe(guest: Guest) -> str:
    """The registry's text for people; comments are the guests' words, shown escaped."""
    parts = [guest.name, guest.mode.value]
    parts.append(f"share={printable(guest.share)}" if guest.share else "any share")
    if guest.expires:
        stamp = guest.expires.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        parts.append(("EXPIRED " if guest.expired() else "expires ") + stamp)
    lines = ["  ".join(parts)]
    lines += [f"    {k.algorithm} {k.fingerprint} {printable(k.comment)}".rstrip()
              for k in guest.keys]  # fmt: skip
    return "\n".join(lines)


def cmd_guest_list(args: argparse.Namespace) -> int:
    guests = list(Host().guests().values())
    if args.json:
        print_json([g.to_json() for g in guests])
    elif not guests:
        print("no guests yet: pairtui guest add NAME --key PATH")
    else:
        print("\n".join(_describe(g) for g in guests))
    return 0


def cmd_guest_remove(args: argparse.Namespace) -> int:
    host = Host(notify_engine)
    before = host.guests().get(args.name)
    guest = host.remove_guest(args.name, fingerprint=args.key)
    if args.json:
        print_json(guest.to_json())
    else:
        left = {k.fingerprint for k in guest.keys}
        gone = [k.fingerprint for k in (before.keys if before else []) if k.fingerprint not in left]
        what = f"key {', '.join(gone) or args.key} of" if args.key else "guest"
        print(f"removed {what} {guest.name}")
    return 0


def cmd_guest_set(args: argparse.Namespace) -> int:
    if args.mode is None and args.expires is None and args.share is None:
        raise PairtuiError("nothing to change: give --mode, --expires or --share")
    expires: datetime | bool | None = False
    if args.expires is not None:
        expires = parse_expiry(args.expires)
    guest = Host(notify_engine).update_guest(
        args.name, mode=args.mode, share=_check_share(args.share), expires=expires
    )
    if args.mode is not None:
        # An explicit mode also overrides a live `pairtui mode` switch of its clients.
        with contextlib.suppress(PairtuiError):
            control.request("mode", target=args.name, mode=args.mode.value)
    if args.json:
        print_json(guest.to_json())
    else:
        print(_describe(guest))
    return 0


def register(sub: Any, add: Adder) -> None:
    guest = add(
        sub,
        "guest",
        cmd_guest_list,
        "manage guests and their keys (alone: guest list)",
        example="pairtui guest add alice --github alice\npairtui guest list",
    )
    gsub = guest.add_subparsers(dest="guest_command", metavar="ACTION")

    ga = add(
        gsub,
        "add",
        cmd_guest_add,
        "add a guest, or a key to an existing guest",
        example="pairtui guest add alice --key alice.pub --mode pair --expires 2h\n"
        "pairtui guest add bob --key github:bob --share demo",
    )
    ga.add_argument("name", metavar="NAME", help="the guest's name (letters, digits, . _ -)")
    ga.add_argument(
        "--key",
        action="append",
        metavar="PATH",
        help="public key file, - for standard input, or FORGE:USER for a forge "
        "of the config, e.g. github:alice (repeatable)",
    )
    ga.add_argument("--github", metavar="USER", help="import USER's keys from GitHub")
    ga.add_argument("--gitlab", metavar="USER", help="import USER's keys from GitLab")
    ga.add_argument(
        "--mode",
        type=mode_arg,
        metavar="view|pair",
        help="view (read-only; the default of the config) or pair (can type)",
    )
    ga.add_argument(
        "--expires",
        metavar="WHEN",
        help="e.g. 2h, 7d, 2026-12-01T10:00, or never (default: kept, or never)",
    )
    ga.add_argument("--share", metavar="SHARE", help="only this share")
    add(
        gsub,
        "list",
        cmd_guest_list,
        "list guests and their keys",
        example="pairtui guest list --json",
    )
    gr = add(
        gsub,
        "remove",
        cmd_guest_remove,
        "remove a guest (or one of its keys)",
        example="pairtui guest remove alice\npairtui guest remove alice --key SHA256:nThbg6kX",
    )
    gr.add_argument("name", metavar="NAME", help="the guest")
    gr.add_argument(
        "--key",
        metavar="FINGERPRINT",
        help="remove only this key (its SHA256 fingerprint, or enough of its start)",
    )
    gs = add(
        gsub,
        "set",
        cmd_guest_set,
        "change a guest's mode, expiry or share",
        example="pairtui guest set alice --mode pair --expires 1h",
    )
    gs.add_argument("name", metavar="NAME", help="the guest")
    gs.add_argument(
        "--mode",
        type=mode_arg,
        metavar="view|pair",
        help="view (read-only) or pair (can type); connected clients switch now",
    )
    gs.add_argument("--expires", metavar="WHEN", help="new expiry, or 'never'")
    gs.add_argument("--share", metavar="SHARE", help="restrict to SHARE ('' lifts it)")
