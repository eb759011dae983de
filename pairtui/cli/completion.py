"""`pairtui completion bash|zsh|fish`: shell completion, generated from the parser.

argcomplete (one library for bash, zsh and fish) writes the shell's side; when the shell
asks, ``pairtui`` itself answers from the same parser the commands are defined in, so a
new command or option completes without anyone keeping a script up to date.
"""

from __future__ import annotations

import argparse
from typing import Any

from pairtui.cli.common import Adder, print_json

SHELLS = ("bash", "zsh", "fish")

INSTALL = {
    "bash": "pairtui completion bash > ~/.local/share/bash-completion/completions/pairtui",
    "zsh": "pairtui completion zsh > ~/.zfunc/_pairtui   # with fpath+=~/.zfunc before compinit",
    "fish": "pairtui completion fish > ~/.config/fish/completions/pairtui.fish",
}


def cmd_completion(args: argparse.Namespace) -> int:
    from argcomplete.shell_integration import shellcode

    script = shellcode(["pairtui"], shell=args.shell)
    if args.json:
        print_json({"shell": args.shell, "script": script, "install": INSTALL[args.shell]})
    else:
        print(script, end="" if script.endswith("\n") else "\n")
    return 0


def register(sub: Any, add: Adder) -> None:
    examples = "\n".join(INSTALL[shell] for shell in SHELLS)
    p = add(
        sub,
        "completion",
        cmd_completion,
        "print the shell completion script for bash, zsh or fish",
        example=examples,
    )
    p.add_argument("shell", choices=SHELLS, metavar="SHELL", help="bash, zsh or fish")
