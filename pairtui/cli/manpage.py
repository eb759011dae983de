"""`pairtui man`: the manual page, generated from the parser (argparse-manpage).

Printed rather than installed by a build step: a wheel has no place for it that ``man``
searches, and the page always matches the pairtui that prints it.
"""

from __future__ import annotations

import argparse
from typing import Any

from pairtui import __version__
from pairtui.cli.common import Adder, example_of, print_json, walk

SEE_ALSO = "ssh(1), sshd(8), tmux(1), systemctl(1), and pairtui's README"


def manpage() -> str:
    """The whole command line as roff, section 1: every command, its options, and an
    EXAMPLES section with each command's examples from its ``--help``."""
    from argparse_manpage.manpage import Manpage  # type: ignore[import-untyped]

    from pairtui.cli import build_parser

    parser = build_parser()
    examples = []
    for path, sub in walk(parser):
        if sub.epilog:
            name = " ".join(("pairtui", *path))
            examples += [f".SS {_roff(name)}", ".nf", *map(_roff, example_of(sub).splitlines()),
                         ".fi"]  # fmt: skip
    parser.epilog = None  # the top examples go with the others, not under COMMENTS
    sections = [("examples", "\n".join(examples)), ("see also", SEE_ALSO)]
    parser._manpage = [{"heading": h, "content": c} for h, c in sections]  # type: ignore[attr-defined]
    page = Manpage(parser, {"project_name": "pairtui", "version": __version__,
                            "manual_title": "pairtui manual",
                            "description": "share tmux with guests over SSH"})  # fmt: skip
    return str(page)


def _roff(text: str) -> str:
    """A line of text that roff prints as it is (no requests, no escapes)."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text.startswith((".", "'")) else text


def cmd_man(args: argparse.Namespace) -> int:
    page = manpage()
    if args.json:
        print_json({"roff": page})
    else:
        print(page, end="")
    return 0


def register(sub: Any, add: Adder) -> None:
    add(
        sub,
        "man",
        cmd_man,
        "print pairtui's manual page (roff), generated from this help",
        example="pairtui man | man -l -\n"
        "pairtui man > ~/.local/share/man/man1/pairtui.1   # then: man pairtui",
    )
