"""`pairtui tunnel ...`: reverse tunnels through a relay sshd, for guests on other networks."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from pairtui import control
from pairtui.cli.common import Adder, Endpoint, print_json, server_endpoint, ssh_json
from pairtui.errors import PairtuiError
from pairtui.host import Host
from pairtui.tunnels import (
    BINDS,
    DEFAULT_REMOTE_PORT,
    Tunnel,
    fetch_host_key,
    guest_note,
    guest_strings,
    host_pattern,
    known_keys,
    openssh_command,
    parse_relay,
    trust_host_key,
)

WAIT_STEP = 0.1


def _ask(op: str, name: str | None = None) -> dict[str, Any] | None:
    """The running engine's answer, ``None`` when none runs."""
    try:
        return control.request(op, name=name) if name else control.request(op)
    except PairtuiError:
        return None


def _live() -> dict[str, dict[str, Any]] | None:
    reply = _ask("tunnels")
    if reply is None:
        return None
    return {row["name"]: row for row in reply.get("tunnels", [])}


def _offline_state(tunnel: Tunnel, server_running: bool) -> dict[str, Any]:
    if not tunnel.enabled:
        return {"state": "disabled", "summary": "disabled"}
    if server_running:  # added by hand while it runs
        summary = f"not started by the running server (pairtui tunnel up {tunnel.name})"
    else:
        summary = "not running (no pairtui server)"
    return {"state": "stopped", "summary": summary}


def _row(
    tunnel: Tunnel,
    live: dict[str, dict[str, Any]] | None,
    local: Endpoint,
    share: str | None = None,
) -> dict[str, Any]:
    status = (live or {}).get(tunnel.name) or _offline_state(tunnel, live is not None)
    return {
        **tunnel.to_json(),
        "relay": tunnel.relay,
        "remote": tunnel.remote,
        "state": status["state"],
        "summary": status["summary"],
        "status": status,
        "ssh": [
            ssh_json(
                s, local.fingerprint, via=tunnel.name, jump=None if tunnel.public else tunnel.relay
            )
            for s in guest_strings(tunnel, share)
        ],
        "note": guest_note(tunnel),
        "openssh": openssh_command(tunnel, local.listen, local.port),
        "host_key_known": bool(known_keys(tunnel.host, tunnel.port)),
    }


def tunnel_strings(local: Endpoint, share: str | None = None) -> list[dict[str, Any]]:
    """Per tunnel, what guests type through it (for ``pairtui ssh-string``)."""
    tunnels = Host().tunnels()
    live = _live() if tunnels else None
    keys = ("name", "relay", "remote", "state", "summary", "ssh", "note")
    return [{k: row[k] for k in keys} for row in (_row(t, live, local, share) for t in tunnels)]


def _print_row(row: dict[str, Any]) -> None:
    print(f"{row['name']}  {row['relay']}  listening on {row['remote']} there  "
          f"{row['summary']}")  # fmt: skip
    for s in row["ssh"]:
        print(f"    guests: {s['command']}")
    print(f"    ({row['note']})")
    print(f"    plain OpenSSH instead: {row['openssh']}")
    if not row["host_key_known"]:
        print(f"    the relay's host key is not known yet: pairtui tunnel trust {row['name']}")


def _wait_settled(name: str, timeout: float) -> dict[str, Any] | None:
    """The tunnel's state once it is no longer connecting (or when ``timeout`` ends)."""
    deadline = time.monotonic() + timeout
    row = None
    while True:
        row = (_live() or {}).get(name)
        if row is None or row["state"] != "connecting" or time.monotonic() >= deadline:
            return row
        time.sleep(WAIT_STEP)


def cmd_add(args: argparse.Namespace) -> int:
    user, host, port = parse_relay(args.relay)
    identity = None
    if args.identity:
        path = Path(args.identity).expanduser()
        if not path.is_file():
            raise PairtuiError(f"identity file {args.identity} does not exist")
        identity = str(path.resolve())
    tunnel = Host().add_tunnel(
        Tunnel(args.name, user, host, port, args.remote_port, args.remote_bind, identity)
    )
    running = _ask("tunnel-up", name=tunnel.name) is not None
    row = _row(tunnel, _live() if running else None, server_endpoint())
    if args.json:
        print_json(row)
        return 0
    print(f"added tunnel {tunnel.name}: {tunnel.relay}, guests reach port {tunnel.remote_port} "
          f"on {tunnel.remote_bind} there")  # fmt: skip
    for s in row["ssh"]:
        print(f"    guests: {s['command']}")
    print(f"    ({row['note']})")
    print(f"    plain OpenSSH instead: {row['openssh']}")
    if not row["host_key_known"]:
        print(f"the relay's host key is not known yet; check and accept it with: "
              f"pairtui tunnel trust {tunnel.name}")  # fmt: skip
    print("it comes up now in the running server" if running
          else "it comes up when `pairtui serve` (or the dashboard) starts")  # fmt: skip
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    tunnels = Host().tunnels()
    live = _live()
    local = server_endpoint()
    rows = [_row(t, live, local) for t in tunnels]
    if args.json:
        print_json(rows)
    elif not rows:
        print("no tunnels: pairtui tunnel add NAME USER@HOST[:PORT]")
    for row in [] if args.json else rows:
        _print_row(row)
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    tunnel = Host().set_tunnel_enabled(args.name, True)
    reply = _ask("tunnel-up", name=tunnel.name)
    row = _wait_settled(tunnel.name, args.wait) if reply is not None else None
    if args.json:
        print_json({**tunnel.to_json(), "status": row})
    elif row is None:
        print(f"tunnel {tunnel.name} enabled; it comes up when `pairtui serve` starts")
    else:
        print(f"tunnel {tunnel.name}: {row['summary']}")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    tunnel = Host().set_tunnel_enabled(args.name, False)
    reply = _ask("tunnel-down", name=tunnel.name)
    if args.json:
        print_json({**tunnel.to_json(), "status": reply["tunnel"] if reply else None})
    else:
        print(f"tunnel {tunnel.name} is down and stays disabled until `pairtui tunnel up "
              f"{tunnel.name}`")  # fmt: skip
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    tunnel = Host().remove_tunnel(args.name)
    _ask("tunnel-down", name=tunnel.name)
    if args.json:
        print_json(tunnel.to_json())
    else:
        print(f"removed tunnel {tunnel.name} ({tunnel.relay})")
    return 0


def cmd_trust(args: argparse.Namespace) -> int:
    tunnel = Host().tunnel(args.name)
    key = asyncio.run(fetch_host_key(tunnel))
    fp = key.get_fingerprint("sha256")
    where = f"{tunnel.host}:{tunnel.port}"
    known = [k.get_fingerprint("sha256") for k in known_keys(tunnel.host, tunnel.port)]
    result = {"name": tunnel.name, "relay": where, "algorithm": key.get_algorithm(),
              "fingerprint": fp, "known": known, "trusted": False}  # fmt: skip
    if fp in known:
        result["trusted"] = True
        _trust_done(args, result, f"{where} presents {key.get_algorithm()} {fp}, "
                                  "which is trusted already")  # fmt: skip
        return 0
    if not args.json:
        print(f"{where} presents host key {key.get_algorithm()} {fp}")
        if known:
            print(f"WARNING: known_hosts has a different key for it: {', '.join(known)}. "
                  "Trust the new one only if you know the relay's key changed.")  # fmt: skip
        print("Compare with the relay's own (run there: ssh-keygen -lf "
              "/etc/ssh/ssh_host_ed25519_key.pub).")  # fmt: skip
    if args.fingerprint:
        if args.fingerprint.strip() != fp:
            raise PairtuiError(
                f"{where} presents {fp}, not {args.fingerprint.strip()}: not trusted"
            )
    elif not args.yes:
        if not sys.stdin.isatty():
            raise PairtuiError(
                f"confirm with --fingerprint {fp} (or --yes) when not run interactively"
            )
        answer = input("Trust this key for the tunnel? [y/N] ").strip().lower()
        if answer not in {"y", "yes"}:
            raise PairtuiError("not trusted; nothing changed")
    path = trust_host_key(tunnel, key)
    result["trusted"] = True
    reply = _ask("tunnel-up", name=tunnel.name) if tunnel.enabled else None
    message = f"trusted {fp} for {host_pattern(tunnel.host, tunnel.port)} (in {path})"
    _trust_done(args, result, message + ("; the tunnel is reconnecting" if reply else ""))
    return 0


def _trust_done(args: argparse.Namespace, result: dict[str, Any], message: str) -> None:
    if args.json:
        print_json(result)
    else:
        print(message)


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 1-65535, not {value!r}")
    return port


def register(sub: Any, add: Adder) -> None:
    tp = add(
        sub,
        "tunnel",
        cmd_list,
        "reverse tunnels through a relay sshd, for guests on other networks (alone: tunnel list)",
        example="pairtui tunnel add vps me@relay.example.org\npairtui tunnel trust vps\n"
        "pairtui tunnel list",
    )
    tsub = tp.add_subparsers(dest="tunnel_command", metavar="ACTION")
    ta = add(
        tsub,
        "add",
        cmd_add,
        "add a tunnel (it comes up with the server)",
        example="pairtui tunnel add vps me@relay.example.org:2200 --remote-port 2222",
    )
    ta.add_argument("name", metavar="NAME", help="the tunnel's name, for the other commands")
    ta.add_argument("relay", metavar="USER@HOST[:PORT]", help="an sshd the host can log into")
    ta.add_argument(
        "--remote-port",
        type=_port,
        default=DEFAULT_REMOTE_PORT,
        metavar="PORT",
        help=f"port the relay listens on for guests ({DEFAULT_REMOTE_PORT})",
    )
    ta.add_argument(
        "--remote-bind",
        choices=BINDS,
        default=BINDS[0],
        help="relay address to listen on: its loopback (guests use ssh -J), or every "
        "address (needs GatewayPorts there)",
    )
    ta.add_argument(
        "--identity",
        metavar="PATH",
        help="private key for the relay (default: the keys in ~/.ssh and ssh-agent)",
    )
    add(
        tsub,
        "list",
        cmd_list,
        "tunnels, their live state and what guests type through them",
        example="pairtui tunnel list --json",
    )
    tu = add(
        tsub,
        "up",
        cmd_up,
        "enable a tunnel and bring it up now",
        example="pairtui tunnel up vps --wait 10",
    )
    tu.add_argument("name", metavar="NAME", help="the tunnel")
    tu.add_argument(
        "--wait",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="wait this long for the outcome (5)",
    )
    td = add(
        tsub,
        "down",
        cmd_down,
        "bring a tunnel down and keep it disabled",
        example="pairtui tunnel down vps",
    )
    td.add_argument("name", metavar="NAME", help="the tunnel")
    tr = add(tsub, "remove", cmd_remove, "remove a tunnel", example="pairtui tunnel remove vps")
    tr.add_argument("name", metavar="NAME", help="the tunnel")
    tt = add(
        tsub,
        "trust",
        cmd_trust,
        "show the relay's host key and accept it",
        example="pairtui tunnel trust vps\n"
        "pairtui tunnel trust vps --fingerprint SHA256:...   # in scripts",
    )
    tt.add_argument("name", metavar="NAME", help="the tunnel")
    tt.add_argument(
        "--fingerprint",
        metavar="SHA256:...",
        help="accept only if the relay presents this key (for scripts)",
    )
    tt.add_argument("--yes", action="store_true", help="accept without asking")
