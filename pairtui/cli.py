"""The ``pairtui`` command line. Every command can print ``--json`` for scripts."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pairtui import __version__, control
from pairtui import config as config_mod
from pairtui.errors import PairtuiError
from pairtui.registry import Guest, GuestKey, Mode, Registry, parse_expiry, parse_public_keys
from pairtui.shares import Share, ShareStore, resolve_share, validate_share_name
from pairtui.ssh import fingerprint, load_or_create_host_key, ssh_strings
from pairtui.tmux import Tmux, resolve_socket

Handler = Callable[[argparse.Namespace], int]


def _print_json(data: object) -> None:
    print(json.dumps(data, indent=2))


def _notify_engine() -> None:
    """Let a running server apply registry/share changes to connected guests now."""
    with contextlib.suppress(PairtuiError):
        control.request("reload")


def _mode(value: str) -> Mode:
    try:
        return Mode(value)
    except ValueError:
        raise argparse.ArgumentTypeError("mode must be 'view' or 'pair'") from None


def _tmux(args: argparse.Namespace) -> Tmux:
    cfg = config_mod.load()
    return Tmux(resolve_socket(args.tmux_socket or cfg.tmux_socket))


# --- guests -------------------------------------------------------------------------


def _read_keys(args: argparse.Namespace) -> list[GuestKey]:
    from pairtui.forges import fetch_keys

    keys: list[GuestKey] = []
    for source in args.key or []:
        if source == "-":
            keys += parse_public_keys(sys.stdin.read(), source="standard input")
            continue
        try:
            with Path(source).expanduser().open(encoding="utf-8") as f:
                text = f.read(1 << 20)
        except (OSError, UnicodeDecodeError) as exc:
            raise PairtuiError(f"cannot read key file {source}: {exc}") from None
        keys += parse_public_keys(text, source=source)
    cfg = config_mod.load() if (args.github or args.gitlab) else None
    for forge in ("github", "gitlab"):
        user = getattr(args, forge)
        if user:
            assert cfg is not None
            keys += fetch_keys(forge, cfg.forges[forge], user)
    return keys


def _check_share(name: str | None) -> str | None:
    if name:
        validate_share_name(name)
    return name


def cmd_guest_add(args: argparse.Namespace) -> int:
    keys = _read_keys(args)
    if not keys:
        raise PairtuiError("give a key: --key PATH, --key - (standard input), --github or --gitlab")
    expires = parse_expiry(args.expires) if args.expires else None
    registry = Registry()
    existing = registry.guests().get(args.name)
    mode = args.mode or (None if existing else Mode(config_mod.load().default_mode))
    guest = registry.add(args.name, keys, mode=mode, share=_check_share(args.share),
                         expires=expires)  # fmt: skip
    _notify_engine()
    if args.json:
        _print_json(guest.to_json())
    else:
        verb = "added keys to" if existing else "added guest"
        print(f"{verb} {guest.name} ({guest.mode.value}): " +
              ", ".join(k.fingerprint for k in keys))  # fmt: skip
    return 0


def _describe(guest: Guest) -> str:
    parts = [guest.name, guest.mode.value]
    parts.append(f"share={guest.share}" if guest.share else "any share")
    if guest.expires:
        stamp = guest.expires.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        parts.append(("EXPIRED " if guest.expired() else "expires ") + stamp)
    lines = ["  ".join(parts)]
    lines += [f"    {k.algorithm} {k.fingerprint} {k.comment}".rstrip() for k in guest.keys]
    return "\n".join(lines)


def cmd_guest_list(args: argparse.Namespace) -> int:
    guests = list(Registry().guests().values())
    if args.json:
        _print_json([g.to_json() for g in guests])
    elif not guests:
        print("no guests yet: pairtui guest add NAME --key PATH")
    else:
        print("\n".join(_describe(g) for g in guests))
    return 0


def cmd_guest_remove(args: argparse.Namespace) -> int:
    guest = Registry().remove(args.name, fingerprint=args.key)
    _notify_engine()
    if args.json:
        _print_json(guest.to_json())
    else:
        what = f"key {args.key} of" if args.key else "guest"
        print(f"removed {what} {guest.name}")
    return 0


def cmd_guest_set(args: argparse.Namespace) -> int:
    if args.mode is None and args.expires is None and args.share is None:
        raise PairtuiError("nothing to change: give --mode, --expires or --share")
    expires: datetime | bool | None = False
    if args.expires is not None:
        expires = parse_expiry(args.expires)
    guest = Registry().update(args.name, mode=args.mode, share=_check_share(args.share),
                              expires=expires)  # fmt: skip
    _notify_engine()
    if args.json:
        _print_json(guest.to_json())
    else:
        print(_describe(guest))
    return 0


# --- shares -----------------------------------------------------------------------


def _server_address() -> tuple[str, int, str]:
    """Where guests connect: the running server's address, else the configured one."""
    status = None
    try:
        reply = control.request("status")
        status = reply["status"] if reply else None
    except PairtuiError:
        status = None
    if status:
        return str(status["listen"]), int(status["port"]), str(status["fingerprint"])
    cfg = config_mod.load()
    return cfg.listen, cfg.port, fingerprint(load_or_create_host_key())


def _share_json(share: Share, store: ShareStore, default: Share | None) -> dict[str, Any]:
    listen, port, fp = _server_address()
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
            _print_json(rows)
        elif not rows:
            print("nothing is shared: pairtui share [--session NAME | --pane %ID]")
        for row in [] if args.json else rows:
            state = "" if row["live"] else "  (gone: its tmux session no longer exists)"
            print(f"{row['name']}  {row['kind']} {row['target']}{state}")
            for cmd in row["ssh"]:
                print(f"    {cmd}")
        return 0
    tmux = _tmux(args)
    share = store.create(tmux, session=args.session, pane=args.pane, name=args.name)
    _notify_engine()
    row = _share_json(share, store, store.default())
    if args.json:
        _print_json(row)
    else:
        print(f"sharing {share.kind} {share.target} as {share.name!r}; guests join with:")
        for cmd in row["ssh"]:
            print(f"    {cmd}")
        print(f"host key fingerprint: {row['fingerprint']}")
    return 0


def cmd_unshare(args: argparse.Namespace) -> int:
    share = ShareStore().remove(args.name)
    _notify_engine()
    if args.json:
        _print_json(share.to_json())
    else:
        print(f"stopped sharing {share.name!r}; its guests were disconnected")
    return 0


def cmd_ssh_string(args: argparse.Namespace) -> int:
    listen, port, fp = _server_address()
    store = ShareStore()
    default = store.default()
    share = args.share
    if share is not None:
        store.get(share)
    name = None if share is None or (default and default.name == share) else share
    strings = ssh_strings(listen, port, name)
    if args.json:
        _print_json({"fingerprint": fp, "ssh": [s.to_json() for s in strings]})
    else:
        for s in strings:
            print(s.command)
        print(f"host key fingerprint: {fp}")
    return 0


# --- live clients -------------------------------------------------------------------


def _engine(op: str, target: str, mode: str | None = None) -> dict[str, Any]:
    reply = control.request(op, target=target, mode=mode)
    if reply is None:
        raise PairtuiError("no pairtui server is running (start one with `pairtui serve`)")
    return reply


def cmd_clients(args: argparse.Namespace) -> int:
    try:
        reply = control.request("clients")
    except PairtuiError:
        reply = None
    clients = reply["clients"] if reply else []
    if args.json:
        _print_json(clients)
    elif not clients:
        print("no guests connected" + ("" if reply else " (no pairtui server is running)"))
    else:
        for c in clients:
            print(f"{c['id']}  {c['guest']}  {c['mode']}  {c['share']}  from {c['peer']}  "
                  f"{c['fingerprint']}  {c['size']}  idle {c['idle_seconds']:.0f}s")  # fmt: skip
    return 0


def cmd_kick(args: argparse.Namespace) -> int:
    kicked = _engine("kick", target=args.target)["kicked"]
    if args.json:
        _print_json(kicked)
    else:
        for c in kicked:
            print(f"disconnected {c['guest']} ({c['id']}, from {c['peer']})")
    return 0


def cmd_mode(args: argparse.Namespace) -> int:
    changed = _engine("mode", target=args.target, mode=args.mode.value)["changed"]
    if args.json:
        _print_json(changed)
    else:
        for c in changed:
            print(f"{c['guest']} ({c['id']}) is now {c['mode']}")
    return 0


# --- server -------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    from pairtui.server import Engine
    from pairtui.tmux import tmux_binary

    tmux_binary()
    cfg = config_mod.load()
    listen = args.listen or cfg.listen
    port = cfg.port if args.port is None else args.port

    async def run() -> None:
        engine = Engine(listen, port)
        await engine.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(f"pairtui {__version__} serving on {listen}:{engine.port}", flush=True)
        print(f"host key fingerprint: {engine.fingerprint}", flush=True)
        shares = engine.share_list()
        if shares:
            for s in ssh_strings(listen, engine.port):
                print(f"guests join with: {s.command}", flush=True)
        else:
            print("nothing is shared yet: run `pairtui share` in tmux", flush=True)
        await stop.wait()
        print("stopping: disconnecting guests", flush=True)
        await engine.stop()

    asyncio.run(run())
    return 0


def cmd_join(args: argparse.Namespace) -> int:
    """The forced command a system sshd runs for a guest: exec the right tmux attach."""
    guest = Registry().get(args.guest)
    if guest.expired():
        raise PairtuiError("your invitation has expired")
    requested = os.environ.get("SSH_ORIGINAL_COMMAND", "").strip()
    share = resolve_share(guest, requested, ShareStore().load())
    if isinstance(share, str):
        raise PairtuiError(share)
    pair = guest.mode is Mode.PAIR
    argv = share.tmux().attach_argv(share.sessions.for_mode(pair), readonly=not pair)
    os.environ.pop("TMUX", None)
    os.execv(argv[0], argv)


# --- parser ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pairtui", description=__doc__)
    p.add_argument("--version", action="version", version=f"pairtui {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def add(parent: Any, name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
        sp: argparse.ArgumentParser = parent.add_parser(name, help=help, description=help)
        sp.set_defaults(handler=handler)
        sp.add_argument("--json", action="store_true", help="print JSON for scripts")
        return sp

    guest = sub.add_parser("guest", help="manage guests and their keys")
    gsub = guest.add_subparsers(dest="guest_command", metavar="ACTION", required=True)
    ga = add(gsub, "add", cmd_guest_add, "add a guest, or a key to an existing guest")
    ga.add_argument("name")
    ga.add_argument("--key", action="append", metavar="PATH",
                    help="public key file, or - for standard input (repeatable)")  # fmt: skip
    ga.add_argument("--github", metavar="USER", help="import USER's keys from GitHub")
    ga.add_argument("--gitlab", metavar="USER", help="import USER's keys from GitLab")
    ga.add_argument("--mode", type=_mode, help="view (read-only, default) or pair")
    ga.add_argument("--expires", metavar="WHEN", help="e.g. 2h, 7d, 2026-12-01T10:00")
    ga.add_argument("--share", metavar="SHARE", help="only this share")
    add(gsub, "list", cmd_guest_list, "list guests and their keys")
    gr = add(gsub, "remove", cmd_guest_remove, "remove a guest (or one of its keys)")
    gr.add_argument("name")
    gr.add_argument("--key", metavar="FINGERPRINT", help="remove only this key")
    gs = add(gsub, "set", cmd_guest_set, "change a guest's mode, expiry or share")
    gs.add_argument("name")
    gs.add_argument("--mode", type=_mode)
    gs.add_argument("--expires", metavar="WHEN", help="new expiry, or 'never'")
    gs.add_argument("--share", metavar="SHARE", help="restrict to SHARE ('' lifts it)")

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

    add(sub, "clients", cmd_clients, "list connected guests")
    k = add(sub, "kick", cmd_kick, "disconnect a guest (all its clients) or one client")
    k.add_argument("target", metavar="GUEST|CLIENT_ID")
    m = add(sub, "mode", cmd_mode, "switch a connected guest between view and pair")
    m.add_argument("target", metavar="GUEST|CLIENT_ID")
    m.add_argument("mode", type=_mode)

    sv = add(sub, "serve", cmd_serve, "run the SSH server headless until Ctrl-C")
    sv.add_argument("--listen", metavar="ADDR", help="address to bind (default 127.0.0.1)")
    sv.add_argument("--port", type=int, help="port (default 2222; 0 picks a free one)")

    j = add(sub, "join", cmd_join, "forced command for a system sshd (used in authorized_keys)")
    j.add_argument("guest")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        args = parser.parse_args(["serve", *(argv or [])])
        handler = args.handler
    try:
        return handler(args)
    except PairtuiError as exc:
        print(f"pairtui: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
