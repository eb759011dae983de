"""Helpers every command group shares: JSON output, the engine's control socket, tmux."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from pairtui import config as config_mod
from pairtui import control
from pairtui.errors import PairtuiError

if TYPE_CHECKING:  # asyncssh and libtmux load only for the commands that use them
    from pairtui.registry import Mode
    from pairtui.tmux import Tmux

Handler = Callable[[argparse.Namespace], int]


class Adder(Protocol):
    """Adds a subcommand with its handler and a ``--json`` flag."""

    def __call__(
        self, parent: Any, name: str, handler: Handler, help: str
    ) -> argparse.ArgumentParser: ...


def print_json(data: object) -> None:
    print(json.dumps(data, indent=2))


def notify_engine() -> None:
    """Let a running server apply registry/share changes to connected guests now.

    System guests (``pairtui system setup``) are brought in line as well.
    """
    from pairtui.system import sync

    with contextlib.suppress(PairtuiError):
        control.request("reload")
    report = sync.sync_if_set_up()
    for problem in report.problems() if report else []:
        print(f"pairtui: system guests: {problem}", file=sys.stderr)


def mode_arg(value: str) -> Mode:
    from pairtui.registry import Mode

    try:
        return Mode(value)
    except ValueError:
        raise argparse.ArgumentTypeError("mode must be 'view' or 'pair'") from None


def tmux_from_args(args: argparse.Namespace) -> Tmux:
    from pairtui.tmux import Tmux, resolve_socket

    cfg = config_mod.load()
    return Tmux(resolve_socket(getattr(args, "tmux_socket", None) or cfg.tmux_socket))


def no_server(state: str = "none") -> str:
    """What to say when no server runs; ``state`` as :class:`pairtui.control.Probe` has it."""
    if state == "stale":  # a socket nobody listens on: the last server was killed
        return "no pairtui server is running (the last one did not exit cleanly)"
    return "no pairtui server is running"


def engine_request(op: str, target: str, mode: str | None = None) -> dict[str, Any]:
    """Ask the running server; a clear error when there is none."""
    reply = control.request(op, target=target, mode=mode)
    if reply is None:
        raise PairtuiError("no pairtui server is running (start one with `pairtui serve`)")
    return reply


def server_address() -> tuple[str, int, str]:
    """Where guests connect: the running server's address, else the configured one."""
    status = None
    try:
        reply = control.request("status")
        status = reply["status"] if reply else None
    except PairtuiError:
        status = None
    if status:
        return str(status["listen"]), int(status["port"]), str(status["fingerprint"])
    from pairtui.ssh import fingerprint, load_or_create_host_key

    cfg = config_mod.load()
    return cfg.listen, cfg.port, fingerprint(load_or_create_host_key())
