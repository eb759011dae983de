"""The core runs without the UI: no module outside pairtui/app imports textual."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "pairtui"
UI_DIRS = {"app"}


def core_modules() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] not in UI_DIRS]


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_core_modules_do_not_import_textual() -> None:
    modules = core_modules()
    assert len(modules) >= 10  # the scan really sees the core
    offenders = [str(p.relative_to(PACKAGE)) for p in modules if "textual" in imported_roots(p)]
    assert offenders == []


def test_the_headless_engine_loads_without_textual_in_the_process() -> None:
    code = (
        "import sys, pairtui.engine, pairtui.cli, pairtui.registry, pairtui.shares;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))"
    )
    out = fresh_python(code)
    assert out.strip() == "[]"


def test_each_command_is_registered_by_the_group_the_cli_loads_for_it() -> None:
    import argparse

    from pairtui import cli

    def names(parser: argparse.ArgumentParser) -> set[str]:
        [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        return set(sub.choices)

    assert names(cli.build_parser()) == set(cli.COMMANDS)
    for group in cli.GROUPS:
        owned = {cmd for cmd, g in cli.COMMANDS.items() if g == group}
        assert names(cli.build_parser(group)) == owned, group


def test_the_dashboard_command_paints_before_asyncssh_and_libtmux_load() -> None:
    # What `pairtui` imports before Textual's first paint; the core follows in a thread.
    code = (
        "import sys; from pairtui.cli import build_parser;"
        "build_parser('dashboard').parse_args(['dashboard']);"
        "import pairtui.app.app;"
        "print(sorted(m for m in ('asyncssh', 'libtmux', 'cryptography') if m in sys.modules))"
    )
    out = fresh_python(code)
    assert out.strip() == "[]"


def test_version_loads_no_command_group() -> None:
    code = (
        "import sys, contextlib, io; from pairtui import cli\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
        "    cli.main(['--version'])\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('pairtui.cli.') and\n"
        "                m != 'pairtui.cli.common')\n"
        "print(out.getvalue().strip(), loaded)"
    )
    out = fresh_python(code)
    from pairtui import __version__

    assert out.strip() == f"pairtui {__version__} []"


def fresh_python(code: str) -> str:
    """What ``code`` prints in a new interpreter (what it imports is what counts)."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout


def test_the_tmux_layer_imports_under_a_stdout_without_an_encoding() -> None:
    # The dashboard loads the core while sys.stdout is Textual's print capture.
    code = (
        "import sys\n"
        "class Capture:\n"
        "    def write(self, s): return len(s)\n"
        "    def flush(self): pass\n"
        "sys.stdout = Capture()\n"
        "import pairtui.tmux, pairtui.engine\n"
        "assert isinstance(sys.stdout, Capture)\n"
        "sys.__stdout__.write('ok')\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout == "ok"
