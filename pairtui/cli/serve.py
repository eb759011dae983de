"""`pairtui serve` and `pairtui join`: running the engine, and the forced command."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pairtui import __version__, control, paths
from pairtui import config as config_mod
from pairtui.cli.common import Adder, no_server, print_json
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
        stop = asyncio.Event()
        why: list[str] = []

        def stop_for(reason: str) -> None:
            why.append(reason)
            stop.set()

        engine = Engine(
            listen, port, limits=cfg.limits, log=_log, keys_changed=system.sync_problems,
            on_stop=lambda: stop_for("`pairtui stop`"),
        )  # fmt: skip

        loop = asyncio.get_running_loop()
        # SIGHUP (the terminal running us closed) ends us as gracefully as SIGTERM:
        # guests are told, leaves audited, the control socket removed. Caught from
        # before the start, so one that comes while starting stops us once started.
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, stop_for, sig.name)
        await engine.start()
        _say(f"pairtui {__version__} serving on {listen}:{engine.port}")
        _say(f"host key fingerprint: {engine.fingerprint}")
        shares = engine.share_list()
        if shares:
            for s in ssh_strings(listen, engine.port):
                _say(f"guests join with: {s.command}")
        else:
            _say("nothing is shared yet: run `pairtui share` in tmux")
        try:
            await stop.wait()
        finally:
            _say(f"stopping ({why[0] if why else 'interrupted'}): disconnecting guests")
            await engine.stop()

    asyncio.run(run())
    return 0


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""Each ends ``pairtui serve`` gracefully (``pairtui stop`` asks for the same)."""


def _say(line: str, err: bool = False) -> None:
    try:
        print(line, file=sys.stderr if err else sys.stdout, flush=True)
    except (OSError, ValueError):
        # The terminal is gone (SIGHUP, EIO): say nothing more, and let neither this
        # nor the flush at exit stop the shutdown or fail it.
        sys.stdout = sys.stderr = Path(os.devnull).open("w")  # noqa: SIM115 - for good


def _log(line: str) -> None:
    _say(line, err=True)


STOP_WAIT = 20.0  # s: for the server to disconnect its guests and exit


def cmd_stop(args: argparse.Namespace) -> int:
    """Stop the running server as SIGTERM does: guests told why, leaves audited."""
    found = control.probe()
    if found.state == "busy" and found.pid:
        # It cannot answer (out of fds, say) but still runs its loop: SIGTERM is the
        # same graceful stop. The pid is the socket's listener, as the kernel says.
        os.kill(found.pid, signal.SIGTERM)
        pid, clients = found.pid, None
    elif found.state == "busy":
        raise PairtuiError(found.error)
    elif found.state != "running":
        raise PairtuiError(no_server(found.state))
    else:
        reply = control.request("stop")
        if reply is None:  # it ended between the two questions
            raise PairtuiError(no_server())
        pid, clients = int(reply["pid"]), int(reply["clients"])
    sock = paths.control_socket()
    deadline = time.monotonic() + STOP_WAIT
    while (sock.exists() or is_running(pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    if sock.exists() or is_running(pid):
        raise PairtuiError(
            f"the pairtui server (pid {pid}) is still stopping after {STOP_WAIT:.0f}s"
        )
    if args.json:
        print_json({"stopped": True, "pid": pid, "clients": clients})
    elif clients is None:
        print(f"stopped the pairtui server (pid {pid}), which did not answer, with SIGTERM")
    else:
        guests = f"{clients} client{'' if clients == 1 else 's'} disconnected"
        print(f"stopped the pairtui server (pid {pid}); {guests}")
    return 0


def is_running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting for its parent is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return stat.rsplit(") ", 1)[1][:1] not in {"Z", "X"}


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
    sv = add(sub, "serve", cmd_serve, "run the SSH server headless until Ctrl-C, SIGTERM or SIGHUP")
    sv.add_argument("--listen", metavar="ADDR", help="address to bind (default 127.0.0.1)")
    sv.add_argument("--port", type=int, help="port (default 2222; 0 picks a free one)")

    add(sub, "stop", cmd_stop, "stop the running server (guests are told; like SIGTERM)")

    j = add(sub, "join", cmd_join, "forced command for a system sshd (used in authorized_keys)")
    j.add_argument("guest")


def ensure_server(timeout: float = 10.0) -> bool:
    """Start a headless `pairtui serve` for this user unless one runs; True if started."""
    found = control.probe()
    if found.state == "running":
        return False
    if found.state == "busy":  # a second server would not help, nor could it bind
        raise PairtuiError(found.error)
    log = paths.server_log()
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)  # private like every other file (older versions made it 0644)
    with os.fdopen(fd, "ab") as out:
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
