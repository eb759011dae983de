"""The ``pairtui`` command line: one module per command group. ``--json`` everywhere.

Exit status: 0 done, 1 the command failed (one ``pairtui: ...`` line on standard error),
2 the command line is wrong (the same one line; argparse's usage is not repeated), 130
interrupted. With ``--json`` anywhere, a failure also prints ``{"error": ...}`` on
standard output, where the result would have been.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from pairtui import __version__
from pairtui.cli.common import Handler, Parser, UsageError, epilog, wants_json
from pairtui.errors import PairtuiError
from pairtui.printable import printable

GROUPS = (
    "dashboard", "guests", "invitations", "door", "shares", "clients", "serve", "tmux", "system",
    "tunnels", "completion", "manpage", "service", "record", "recordings",
)  # fmt: skip

COMMANDS = {
    "dashboard": "dashboard", "config": "dashboard", "guest": "guests", "invite": "invitations",
    "door": "door", "knocks": "door", "admit": "door", "deny": "door",
    "share": "shares",
    "unshare": "shares", "ssh-string": "shares", "clients": "clients", "kick": "clients",
    "mode": "clients", "serve": "serve", "stop": "serve", "join": "serve", "tmux": "tmux",
    "status": "tmux",
    "system": "system", "authorized-keys-command": "system", "tunnel": "tunnels",
    "completion": "completion", "man": "manpage", "service": "service", "record": "record",
    "recordings": "recordings", "play": "recordings",
}  # fmt: skip
"""Which group module registers each command: a command loads only its own group (and
what that needs), so the dashboard paints before asyncssh is imported and the tmux
status line's `pairtui status` stays quick. A test checks this against the parser."""

INTERNAL = frozenset({"join", "authorized-keys-command"})
"""Commands that sshd runs, not people: they work, with their own ``--help``, but the
top-level help, the error for a mistyped command and the completion do not offer them."""

DESCRIPTION = "Share tmux with guests over SSH. Every command takes --json."
TOP_EXAMPLE = """\
pairtui guest add alice --github alice     # invite alice (view only)
pairtui share                              # share this tmux session; starts the server
pairtui clients                            # who is in
pairtui COMMAND --help                     # every command's options, with an example"""


def group(name: str) -> ModuleType:
    return importlib.import_module(f"pairtui.cli.{name}")


def build_parser(only: str | None = None, *, groups: Sequence[str] = GROUPS) -> Parser:
    p = Parser(prog="pairtui", description=DESCRIPTION, epilog=epilog(TOP_EXAMPLE))
    version = f"pairtui {__version__}"
    p.add_argument("-V", "--version", action="version", version=version, help="print the version")
    sub = p.add_subparsers(title="commands", dest="command", metavar="COMMAND", parser_class=Parser)

    def add(
        parent: Any,
        name: str,
        handler: Handler,
        help: str,
        *,
        example: str | None = None,
        hidden: bool = False,
    ) -> argparse.ArgumentParser:
        shown = {} if hidden or (parent is sub and name in INTERNAL) else {"help": help}
        sp: argparse.ArgumentParser = parent.add_parser(
            name,
            description=help.replace("%%", "%"),  # only help lines are %-formatted
            epilog=epilog(example) if example else None,
            **shown,
        )
        sp.set_defaults(handler=handler)
        sp.add_argument("--json", action="store_true", help="print JSON for scripts")
        return sp

    for name in [only] if only else groups:
        group(name).register(sub, add)
    return p


EXIT_FAILED = 1
EXIT_USAGE = 2

_TOP_LEVEL = {"-h", "--help", "-V", "--version"}


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None and "_ARGCOMPLETE" in os.environ:  # the shell asks for completions
        _complete()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in _TOP_LEVEL):
        argv = ["dashboard", *argv]  # `pairtui [--port N ...]` opens the dashboard
    # `--version` needs no command at all; `--help` and typos get the whole list.
    groups = () if argv[0] in {"-V", "--version"} else GROUPS
    as_json = wants_json(argv)
    parser = build_parser(COMMANDS.get(argv[0]), groups=groups)
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:  # said by the command they were given to, not by `pairtui`
            raise UsageError(
                _command_of(parser, args), f"unrecognized arguments: {' '.join(extra)}"
            )
    except UsageError as exc:
        return _fail(exc, as_json, EXIT_USAGE)
    args.json = getattr(args, "json", False) or as_json
    handler: Handler = args.handler
    try:
        return handler(args)
    except UsageError as exc:  # a command that checks its arguments itself
        return _fail(exc, as_json, EXIT_USAGE)
    except (PairtuiError, OSError) as exc:  # OSError: a full disk, a permission
        return _fail(exc, as_json, EXIT_FAILED)
    except KeyboardInterrupt:
        return 130


def _command_of(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """The subcommand path argparse went down: ``share rename``."""
    path: list[str] = []
    while True:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        name = getattr(args, subs[0].dest, None) if subs else None
        if subs and name in (subs[0].choices or {}):
            path.append(name)
            parser = subs[0].choices[name]
        else:
            return " ".join(path)


def _fail(exc: Exception, as_json: bool, status: int) -> int:
    if as_json:  # scripts read a JSON error where the result was
        error = exc.to_json() if isinstance(exc, PairtuiError) else {"error": str(exc)}
        print(json.dumps(error, indent=2))
    # One line, no traceback; a message may quote what a guest or forge sent.
    print(f"pairtui: {printable(str(exc), multiline=True)}", file=sys.stderr)
    return status


def _complete() -> None:
    """Answer the shell from the parser (``pairtui completion`` wrote the shell's side);
    argcomplete exits the process once it has. Commands only sshd runs are not offered."""
    import argcomplete

    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name in INTERNAL:
                action.choices.pop(name, None)
    argcomplete.autocomplete(parser)
