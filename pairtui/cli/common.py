"""Helpers every command group shares: JSON output (one shape for an ssh string), the
engine's control socket, tmux."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from pairtui import config as config_mod
from pairtui import control
from pairtui.errors import PairtuiError

if TYPE_CHECKING:  # asyncssh and libtmux load only for the commands that use them
    from pairtui.registry import Mode
    from pairtui.ssh import SshString
    from pairtui.tmux import Tmux

Handler = Callable[[argparse.Namespace], int]


class Adder(Protocol):
    """Adds a subcommand with its handler and a ``--json`` flag.

    ``help`` is its line in the parent's help and the start of its own; ``example`` is
    the end of its ``--help`` and goes into the man page (every command has one, a test
    checks); ``hidden`` keeps it out of the parent's list (commands sshd runs).
    """

    def __call__(
        self,
        parent: Any,
        name: str,
        handler: Handler,
        help: str,
        *,
        example: str | None = None,
        hidden: bool = False,
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


def warn_no_server() -> None:
    """Said by every command that prints an ssh string while nothing listens."""
    print("pairtui: warning: no pairtui server is running, so guests get \"Connection "
          "refused\"; start one with `pairtui serve` (or `pairtui service install`)",
          file=sys.stderr)  # fmt: skip


def engine_request(
    op: str, target: str | None = None, mode: str | None = None, **args: object
) -> dict[str, Any]:
    """Ask the running server; a clear error when there is none."""
    reply = control.request(op, None, target=target, mode=mode, **args)
    if reply is None:
        raise PairtuiError("no pairtui server is running (start one with `pairtui serve`)")
    return reply


@dataclass(frozen=True)
class Endpoint:
    """Where guests connect, and whether a server is there to answer them."""

    listen: str
    port: int
    fingerprint: str
    running: bool


def server_endpoint() -> Endpoint:
    """The running server's address, else the configured one (``running`` False)."""
    status = None
    try:
        reply = control.request("status")
        status = reply["status"] if reply else None
    except PairtuiError:
        status = None
    if status:
        return Endpoint(str(status["listen"]), int(status["port"]), str(status["fingerprint"]),
                        running=True)  # fmt: skip
    from pairtui.ssh import fingerprint, load_or_create_host_key

    cfg = config_mod.load()
    return Endpoint(cfg.listen, cfg.port, fingerprint(load_or_create_host_key()), running=False)


def server_address() -> tuple[str, int, str]:
    """Where guests connect: the running server's address, else the configured one."""
    at = server_endpoint()
    return at.listen, at.port, at.fingerprint


GUEST_USER = "guest"
"""The user every ssh string pairtui prints logs in as: any name works, the key decides
who the guest is."""


def ssh_json(
    string: SshString, fingerprint: str, *, via: str | None = None, jump: str | None = None
) -> dict[str, Any]:
    """One ssh string, described the same way by every command's ``--json``:
    ``share list``, ``share``, ``ssh-string`` and ``tunnel list`` alike.

    ``via`` names the tunnel it goes through (None: straight to this host's server);
    ``jump`` is the ProxyJump host when the guest goes through the relay's sshd.
    """
    return {
        "command": string.command,
        "host": string.host,
        "port": string.port,
        "user": GUEST_USER,
        "share": string.share,
        "fingerprint": fingerprint,
        "via": via,
        "jump": jump,
    }


# --- the command line's conventions (help, examples, one-line errors) ---------------


class UsageError(Exception):
    """A command line argparse refused; ``command`` is the subcommand path, if any."""

    def __init__(self, command: str, message: str) -> None:
        super().__init__(f"{command}: {message}" if command else message)
        self.command = command


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are raised (one line, for :func:`pairtui.cli.main`
    to print, as JSON too with ``--json``), never printed with the usage and exited."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        command = self.prog.partition(" ")[2]
        raise UsageError(command, _readable(message, self._commands()))

    def _commands(self) -> list[str]:
        """The subcommands this parser lists in its help (not the hidden ones)."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                return [shown.dest for shown in action._choices_actions]
        return []


_CHOICE_RE = re.compile(r"argument (COMMAND|ACTION): invalid choice: '(.*?)' \(choose from")
_REQUIRED_RE = re.compile(r"the following arguments are required: (COMMAND|ACTION)$")


def _readable(message: str, commands: list[str]) -> str:
    """argparse's words, said the way a command line tool says them."""
    if m := _CHOICE_RE.match(message):
        kind, given = m[1].lower(), m[2]
        close = difflib.get_close_matches(given, commands, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        return f"unknown {kind} {given!r} ({hint}{kind}s: {', '.join(commands)})"
    if m := _REQUIRED_RE.match(message):
        kind = m[1].lower()
        return f"missing {kind} ({kind}s: {', '.join(commands)})"
    return message


def epilog(example: str) -> str:
    """The ``--help`` footer: the example (or examples, one a line)."""
    lines = example.strip("\n").splitlines()
    return f"example{'s' if len(lines) > 1 else ''}:\n" + "\n".join(f"  {x}" for x in lines)


def wants_json(argv: Sequence[str]) -> bool:
    """``--json`` anywhere before a ``--``: errors are JSON even when argparse fails."""
    end = list(argv).index("--") if "--" in argv else len(argv)
    return "--json" in argv[:end]


def walk(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every parser of the command line with its command path, the top one first
    (for the man page's examples and the test that every command is described)."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, (*path, name))


def example_of(parser: argparse.ArgumentParser) -> str:
    """A command's example lines, as :func:`epilog` wrote them."""
    lines = (parser.epilog or "").splitlines()[1:]
    return "\n".join(line.removeprefix("  ") for line in lines)
