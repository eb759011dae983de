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
        "import sys, pairtui.server, pairtui.cli, pairtui.registry, pairtui.shares;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.strip() == "[]"
