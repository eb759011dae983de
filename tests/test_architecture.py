"""The shape of the package: the core runs without the UI, and no module imports itself
back through others."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
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


# --- import cycles ----------------------------------------------------------------------


def module_name(path: Path) -> str:
    """``pairtui/app/app.py`` -> ``pairtui.app.app``; a package is its ``__init__``."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Every pairtui module ``name`` imports, wherever the import statement is: at the
    top, under ``if TYPE_CHECKING:``, or inside a function.

    ``from pkg import mod`` counts as importing ``pkg.mod`` when that is a module, else
    ``pkg`` itself. The parents of an imported module are not counted: Python runs their
    ``__init__`` first, but a package re-exporting its modules is not a design cycle.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in known else base)
    return {m for m in found if m in known and m != name}


def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    known = set(modules)
    return {name: imports_of(name, path, known) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> Iterator[list[str]]:
    """One cycle per strongly connected group of modules (Tarjan), as a path that ends
    where it starts."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    for group in groups:
        yield shortest_cycle(min(group), graph, group)


def shortest_cycle(start: str, graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """The shortest import path from ``start`` back to itself, inside its group."""
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        step = []
        for node in frontier:
            for nxt in sorted(graph[node] & group):
                if nxt == start:
                    return [*paths[node], start]
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    step.append(nxt)
        frontier = step
    raise AssertionError(f"{start} is in no cycle")


def test_the_import_graph_sees_every_kind_of_import(tmp_path: Path) -> None:
    pkg = tmp_path / "pairtui"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from . import leaf\n")
    (pkg / "sub" / "leaf.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from ..top import Thing\n"
        "def f():\n    import pairtui.other\n"
        "from pairtui.sub import helper\n"
    )
    known = {"pairtui", "pairtui.sub", "pairtui.sub.leaf", "pairtui.top", "pairtui.other"}
    leaf = imports_of("pairtui.sub.leaf", pkg / "sub" / "leaf.py", known)
    assert leaf == {"pairtui.top", "pairtui.other", "pairtui.sub"}
    init = imports_of("pairtui.sub", pkg / "sub" / "__init__.py", known)
    assert init == {"pairtui.sub.leaf"}
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert list(cycles(graph)) == [["a", "b", "c", "a"]]


def test_no_module_in_pairtui_imports_itself_back() -> None:
    graph = import_graph()
    assert {"pairtui.engine", "pairtui.app.app", "pairtui.app.commands"} <= set(graph)
    assert sum(map(len, graph.values())) >= 50  # the scan really sees the imports
    found = [" -> ".join(cycle) for cycle in cycles(graph)]
    assert found == [], "import cycles:\n" + "\n".join(found)


# --- long modules -----------------------------------------------------------------------

MAX_LINES = 400
WHY_LONG = "Over 400 lines: "  # starts a sentence of the module docstring that says why


def long_modules() -> dict[str, int]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            found[str(path.relative_to(PACKAGE))] = lines
    return found


def says_why_long(path: Path) -> bool:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    _, marker, why = doc.partition(WHY_LONG)
    return bool(marker) and len(why.split()) >= 5


def test_a_module_over_400_lines_says_why_in_its_docstring() -> None:
    unexplained = {
        name: lines for name, lines in long_modules().items() if not says_why_long(PACKAGE / name)
    }
    assert unexplained == {}, f"split them, or start a docstring sentence with {WHY_LONG!r}"


# --- front ends act through the host layer ----------------------------------------------

# The files of the host's guests, shares and tunnels: front ends reach them only through
# pairtui.host (every host action once), never by opening a store themselves.
PERSISTENCE = {"Registry", "ShareStore", "TunnelStore", "KeyIndex"}
FRONT_ENDS = ("cli", "app")


def _type_checking_only(tree: ast.Module) -> set[int]:
    """Line numbers of the statements under ``if TYPE_CHECKING:``."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                for sub in ast.walk(child):
                    if hasattr(sub, "lineno"):
                        lines.add(sub.lineno)
    return lines


def persistence_uses(source: str) -> list[str]:
    """Where ``source`` imports or names a persistence class outside type hints."""
    tree = ast.parse(source)
    hints = _type_checking_only(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.lineno not in hints:
            found += [f"line {node.lineno}: imports {a.name}" for a in node.names
                      if a.name in PERSISTENCE]  # fmt: skip
        elif isinstance(node, ast.Attribute) and node.attr in PERSISTENCE:
            found.append(f"line {node.lineno}: uses .{node.attr}")
    return found


def test_the_persistence_check_sees_imports_and_attributes_but_not_type_hints() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from pairtui.registry import Registry\n"
        "def f():\n    from pairtui.shares import ShareStore\n"
        "def g():\n    import pairtui.tunnels\n    return pairtui.tunnels.TunnelStore()\n"
    )
    assert persistence_uses(source) == ["line 5: imports ShareStore", "line 8: uses .TunnelStore"]


def test_front_ends_reach_the_hosts_files_only_through_the_host_layer() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): uses
        for front in FRONT_ENDS
        for path in sorted((PACKAGE / front).rglob("*.py"))
        if (uses := persistence_uses(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}, "use pairtui.host.Host instead"
