"""`pairtui serve` and `pairtui join`: running the engine, and the forced command."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from typing import Any

from pairtui import __version__, control, paths
from pairtui import config as config_mod
from pairtui.cli.common import Adder
from pairtui.errors import PairtuiError
from pairtui.host import Host
from pairtui.shares import resolve_share
from pairtui.ssh import ssh_strings


def cmd_serve(args: argparse.Namespace) -> int:
    from pairtui import system
    from pairtui.engine import Engine
    from pairtui.tmux import tmux_binary

    tmux_binary()
    cfg = config_mod.load()
    listen = args.listen or cfg.listen
    port = cfg.port if args.port is None else args.port

    async def run() -> None:
        engine = Engine(
            listen, port, limits=cfg.limits, log=_log, keys_changed=system.sync_problems
        )
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


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def cmd_join(args: argparse.Namespace) -> int:
    """The forced command a system sshd runs for a guest: exec the right tmux attach."""
    host = Host()
    guest = host.guest(args.guest)
    if guest.expired():
        raise PairtuiError("your invitation has expired")
    requested = os.environ.get("SSH_ORIGINAL_COMMAND", "").strip()
    share = resolve_share(guest, requested, host.share_list())
    if isinstance(share, str):
        raise PairtuiError(share)
    argv = share.attach_argv(guest.mode)
    os.environ.pop("TMUX", None)
    os.execv(argv[0], argv)


def register(sub: Any, add: Adder) -> None:
    sv = add(sub, "serve", cmd_serve, "run the SSH server headless until Ctrl-C")
    sv.add_argument("--listen", metavar="ADDR", help="address to bind (default 127.0.0.1)")
    sv.add_argument("--port", type=int, help="port (default 2222; 0 picks a free one)")

    j = add(sub, "join", cmd_join, "forced command for a system sshd (used in authorized_keys)")
    j.add_argument("guest")


def ensure_server(timeout: float = 10.0) -> bool:
    """Start a headless `pairtui serve` for this user unless one runs; True if started."""
    if control.ping():
        return False
    log = paths.server_log()
    with log.open("ab") as out:
        subprocess.Popen(
            [sys.executable, "-m", "pairtui", "serve"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if control.ping():
            return True
        time.sleep(0.05)
    raise PairtuiError(f"the background pairtui server did not start; see {log}")
