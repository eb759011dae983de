"""`pairtui` (no command) / `pairtui dashboard`, and `pairtui config ...`."""

from __future__ import annotations

import argparse
import sys
import tomllib
from typing import Any

from pairtui import config as config_mod
from pairtui import paths
from pairtui.cli.common import Adder, epilog, print_json
from pairtui.errors import PairtuiError


def cmd_dashboard(args: argparse.Namespace) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise PairtuiError(
            "the dashboard needs a terminal; run `pairtui serve` for the headless server"
        )
    from pairtui.app import run  # the only place the CLI loads Textual

    return run(
        listen=getattr(args, "listen", None),
        port=getattr(args, "port", None),
        tmux_socket=getattr(args, "tmux_socket", None),
    )


def cmd_config_path(args: argparse.Namespace) -> int:
    path = paths.config_file()
    if args.json:
        print_json({"path": str(path), "exists": path.exists()})
    else:
        print(path)
    return 0


def cmd_config_check(args: argparse.Namespace) -> int:
    """Strict: besides what every command checks, keymap ids and the theme must exist."""
    path = paths.config_file()
    cfg = config_mod.load(path)
    bindings, themes, broken = _dashboard_names()
    problems = config_mod.check_names(cfg, path, bindings=bindings, themes=themes)
    for theme_file in broken:  # the dashboard skips them with a warning too
        print(f"pairtui: warning: {theme_file}", file=sys.stderr)
    if problems:
        raise ConfigProblems(problems)
    if args.json:
        print_json({"path": str(path), "exists": path.exists(), "ok": True,
                    "warnings": broken})  # fmt: skip
    else:
        print(f"{path}: ok" if path.exists() else f"{path}: ok (no file: the defaults apply)")
    return 0


class ConfigProblems(PairtuiError):
    """Every problem ``config check`` found, one a line (``problems`` in JSON)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems

    def to_json(self) -> dict[str, object]:
        return {"error": self.problems[0], "problems": self.problems}


def _dashboard_names() -> tuple[set[str], set[str], list[str]]:
    """The dashboard's binding ids and themes, and the theme files it would skip.

    Loads Textual (only ``config check`` needs to); the app is built, never run.
    """
    from pairtui.app import PairtuiApp
    from pairtui.app.themes import bundled_dir, load_themes

    def no_services() -> Any:
        raise PairtuiError("not for running")

    app = PairtuiApp(no_services, config=config_mod.Config())
    bindings = {b.id for _, b in app.all_bindings() if b.id}
    loaded = load_themes(bundled_dir(), config_mod.themes_dir())
    themes = set(app.available_themes) | set(loaded.themes)
    return bindings, themes, [str(p) for p in loaded.problems]


def cmd_config_example(args: argparse.Namespace) -> int:
    if args.json:  # the same text, and what it means once read
        print_json({"toml": config_mod.EXAMPLE, "values": tomllib.loads(config_mod.EXAMPLE)})
    else:
        print(config_mod.EXAMPLE, end="")
    return 0


def register(sub: Any, add: Adder) -> None:
    d = add(
        sub,
        "dashboard",
        cmd_dashboard,
        "open the dashboard (the default command: pairtui alone opens it)",
        example="pairtui\npairtui dashboard --port 2200 --tmux-socket work",
    )
    d.add_argument(
        "--listen",
        metavar="ADDR",
        help="address for the SSH server (default: [server] listen, 127.0.0.1)",
    )
    d.add_argument(
        "--port", type=int, help="port for the SSH server (default: [server] port, 2222)"
    )
    d.add_argument(
        "--tmux-socket",
        metavar="PATH|NAME",
        help="the host's tmux server: a socket path, or a name as with tmux -L",
    )
    c = sub.add_parser(
        "config",
        help="where the config file is, and what it may hold",
        description="where the config file is, and what it may hold",
        epilog=epilog(
            "pairtui config check\npairtui config example > ~/.config/pairtui/config.toml"
        ),
    )
    csub = c.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    add(
        csub, "path", cmd_config_path, "print the config file's path", example="pairtui config path"
    )
    add(
        csub,
        "check",
        cmd_config_check,
        "validate the config file strictly: every key, keymap id and theme must exist",
        example="pairtui config check",
    )
    add(
        csub,
        "example",
        cmd_config_example,
        "print a config file with every key and default",
        example="pairtui config example > ~/.config/pairtui/config.toml",
    )
