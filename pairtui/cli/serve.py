"""`pairtui serve`, `stop` and `join`: running the engine, stopping it, the forced command.

``serve`` checks its arguments before anything starts (a bad one is one line), says what
it serves, then logs through :mod:`pairtui.log` (standard error); ``--json`` adds JSON
lines on standard output for scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pairtui import __version__, control, log, paths
from pairtui import config as config_mod
from pairtui.cli.common import Adder, no_server, print_json
from pairtui.clock import iso_utc
from pairtui.errors import PairtuiError
from pairtui.host import Host
from pairtui.printable import printable
from pairtui.registry import Guest
from pairtui.shares import Share, default_share, resolve_share
from pairtui.ssh import address, ssh_strings

if TYPE_CHECKING:  # asyncssh loads only once the server starts
    from pairtui.engine import Engine
    from pairtui.events import Event


def cmd_serve(args: argparse.Namespace) -> int:
    from pairtui import system
    from pairtui.engine import Engine
    from pairtui.tmux import tmux_binary

    level = log.parse_level(args.log_level or "info")
    cfg = config_mod.load()
    listen = checked_listen(args.listen, "--listen") if args.listen is not None else (
        checked_listen(cfg.listen, f"server.listen in {paths.config_file()}")
    )  # fmt: skip
    port = cfg.port if args.port is None else checked_port(args.port)
    tmux_binary()
    log.setup(level)
    out = JsonLines() if args.json else None

    async def run() -> None:
        stop = asyncio.Event()
        why: list[str] = []

        def stop_for(reason: str) -> None:
            why.append(reason)
            stop.set()

        engine = Engine(
            listen, port, limits=cfg.limits, recording=cfg.recording, log=log.SERVER.warning,
            keys_changed=system.sync_problems, on_stop=lambda: stop_for("`pairtui stop`"),
        )  # fmt: skip
        engine.subscribe(log.EventLog())
        if out is not None:
            engine.subscribe(out.event)

        loop = asyncio.get_running_loop()
        # SIGHUP (the terminal running us closed) ends us as gracefully as SIGTERM:
        # guests are told, leaves audited, the control socket removed. Caught from
        # before the start, so one that comes while starting stops us once started.
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, stop_for, sig.name)
        await engine.start()
        started = _started(engine)
        for line in _start_lines(started):
            log.START.info(line)
        if out is not None:
            out.write({"event": "serving", **started})
        try:
            await stop.wait()
        finally:
            reason = why[0] if why else "interrupted"
            log.SERVER.info(f"stopping ({reason}): disconnecting guests")
            await engine.stop()
            log.SERVER.info("stopped")
            if out is not None:
                out.write({"event": "stopped", "reason": reason})

    asyncio.run(run())
    return 0


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""Each ends ``pairtui serve`` gracefully (``pairtui stop`` asks for the same)."""

HOST_NAME = re.compile(r"(?=.{1,253}\Z)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?")  # fmt: skip


def checked_listen(text: str, source: str) -> str:
    """An address to bind: an IP address (``0.0.0.0`` or ``::`` for all) or a host name.

    Checked before anything starts, so a typo is one line, not a half-started server;
    whether the name resolves, or the address is this machine's, binding tells.
    """
    with contextlib.suppress(ValueError):
        return str(ipaddress.ip_address(text))
    if HOST_NAME.fullmatch(text):
        return text
    hint = " (without brackets or a port: the port is --port)" if ":" in text else ""
    raise PairtuiError(f"{source} must be an IP address or a host name, not {text!r}{hint}")


def checked_port(text: str) -> int:
    """A TCP port from 0 (the system picks a free one) to 65535, in one line if not."""
    try:
        port = int(text, 10)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise PairtuiError(f"--port must be a number from 0 to 65535, not {text!r}")
    return port


def _started(engine: Engine) -> dict[str, Any]:
    """What is served and how guests join: said at start (in words, or as JSON)."""
    host = Host()
    shares = engine.share_list()
    default = default_share(shares)
    rows = []
    for share in shares:
        name = None if default is not None and share.name == default.name else share.name
        rows.append({
            "name": share.name, "kind": share.kind, "target": share.target,
            "default": name is None, "live": host.share_live(share),
            "ssh": [s.command for s in ssh_strings(engine.listen, engine.port, name)],
        })  # fmt: skip
    return {
        "version": __version__, "pid": os.getpid(), "listen": engine.listen,
        "port": engine.port, "fingerprint": engine.fingerprint, "shares": rows,
    }  # fmt: skip


def _start_lines(started: dict[str, Any]) -> list[str]:
    where = address(started["listen"], started["port"])
    lines = [
        f"pairtui {__version__} serving on {where} (pid {started['pid']})",
        f"host key fingerprint: {started['fingerprint']}",
    ]
    for row in started["shares"]:
        what = f"share {row['name']} ({row['kind']} {row['target']}"
        what += ", the default)" if row["default"] else ")"
        if not row["live"]:
            lines.append(f"{what} is gone: its tmux session no longer exists")
            continue
        lines += [f"{what}: {cmd}" for cmd in row["ssh"]]
    if not started["shares"]:
        lines.append("nothing is shared yet: run `pairtui share` in tmux")
    return lines


class JsonLines:
    """``serve --json``: one JSON object per line on standard output, for scripts: a
    ``serving`` object (address, fingerprint, shares), then every engine event in the
    control socket's wire format (:func:`pairtui.control.codec.encode_event`) with a
    ``ts``, then ``stopped``. The log stays on standard error, in words."""

    def event(self, event: Event) -> None:
        from pairtui.control.codec import encode_event

        self.write(encode_event(event))

    def write(self, obj: dict[str, Any]) -> None:
        line = json.dumps({"ts": iso_utc(time.time()), **obj}, default=str)
        try:
            print(line, flush=True)
        except (OSError, ValueError):
            # The reader is gone (a closed pipe, a closed terminal): write nothing more,
            # and let neither this nor the flush at exit stop the shutdown.
            sys.stdout = Path(os.devnull).open("w")  # noqa: SIM115 - for good


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
    if isinstance(share, list):  # several it may join and none named: it chooses
        share = _choose(guest, share, host)
    argv = share.attach_argv(guest.mode)
    os.environ.pop("TMUX", None)
    os.execv(argv[0], argv)


def _choose(guest: Guest, shares: list[Share], host: Host) -> Share:
    """The share picker on the guest's terminal; what it chose is resolved again, as a
    share it had named (the shares may have changed meanwhile)."""

    from pairtui.picker import HOST, Choice, Picker, pick_on_terminal

    about = {s.name: f"{s.kind} {printable(s.target)}" for s in shares}
    picker = Picker(HOST,
                    [Choice(s.name, about[s.name]) for s in shares])  # fmt: skip
    chosen = pick_on_terminal(picker)
    if chosen is None:  # the guest's own choice, not an error
        print("pairtui: you joined nothing", file=sys.stderr)
        raise SystemExit(0)
    share = resolve_share(guest, chosen, host.share_list())
    if not isinstance(share, Share):
        raise PairtuiError(share if isinstance(share, str) else "you joined nothing")
    return share


SERVE_EXAMPLES = """\
examples:
  pairtui serve                          # 127.0.0.1:2222 (config: [server] listen, port)
  pairtui serve --listen 0.0.0.0 --port 2222 -v
  pairtui serve --json | jq -c 'select(.event == "joined")'

The log (one line per join, leave, kick, mode change, refusal or error) goes to
standard error: with a time in a terminal, the full UTC time in a file, a priority and
no time under systemd (journald stamps lines). --json writes JSON lines on standard
output: "serving" (address, fingerprint, shares), the engine's events, "stopped".
"""

STOP_EXAMPLES = """\
examples:
  pairtui stop             # the server started by `pairtui serve` or the tmux key
  pairtui stop --json      # {"stopped": true, "pid": 4242, "clients": 1}
"""

JOIN_HELP = "forced command for a system sshd (used in authorized_keys)"
JOIN_EXAMPLES = """\
Not for typing: the registry's own lines (pairtui's authorized_keys, valid for a system sshd
as for the embedded server) run it. With several shares and none asked for, it asks
which. (`pairtui system setup` writes its own forced commands instead.)

example (an authorized_keys line for guest alice):
  command="pairtui join alice",restrict,pty ssh-ed25519 AAAA... alice@laptop
"""


def register(sub: Any, add: Adder) -> None:
    sv = add(sub, "serve", cmd_serve, "run the SSH server headless until Ctrl-C, SIGTERM or SIGHUP")
    _examples(sv, SERVE_EXAMPLES)
    # Values are checked by cmd_serve, not argparse: a bad one is one line (and JSON
    # with --json), never a usage message or a traceback.
    sv.add_argument("--listen", metavar="ADDR",
                    help="address to bind: an IP address (0.0.0.0 for all) or a host name "
                         "(default 127.0.0.1)")  # fmt: skip
    sv.add_argument("--port", metavar="PORT",
                    help="TCP port, 0-65535 (default 2222; 0 picks a free one)")  # fmt: skip
    sv.add_argument("--log-level", metavar="LEVEL",
                    help=f"{', '.join(log.LEVELS)} (default info): debug adds resizes "
                         "and asyncssh's connection notes; warning keeps refusals and "
                         "errors")  # fmt: skip
    sv.add_argument("-v", "--verbose", dest="log_level", action="store_const", const="debug",
                    help="the same as --log-level debug")  # fmt: skip

    _examples(add(sub, "stop", cmd_stop, "stop the running server (guests are told; like SIGTERM)"),
              STOP_EXAMPLES)  # fmt: skip

    # Registered without a help line, so the command list leaves it out (argparse lists
    # every sub-parser given one): guests' sshd runs it, people don't.
    j = sub.add_parser("join", description=JOIN_HELP)
    j.set_defaults(handler=cmd_join)
    j.add_argument("--json", action="store_true", help="print JSON for scripts")
    j.add_argument("guest", metavar="GUEST", help="the guest whose key sshd matched")
    _examples(j, JOIN_EXAMPLES)


def _examples(parser: argparse.ArgumentParser, text: str) -> None:
    parser.epilog = text
    parser.formatter_class = argparse.RawDescriptionHelpFormatter  # keep the lines


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
        # Its control socket answers before its SSH port is bound (a port of 0 in the
        # config is only known then): started means serving, so the ssh strings the
        # caller prints next name the real port.
        with contextlib.suppress(PairtuiError):
            reply = control.request("status")
            if reply and int(reply["status"]["port"]) != 0:
                return True
        time.sleep(0.05)
    raise PairtuiError(f"the background pairtui server did not start; see {log}")
