"""No command prints a dependency's warnings; pairtui's own still show (issue 16).

Each case is a fresh interpreter that imports pairtui first, as every entry point does,
then meets a warning the way a host would: raised by a dependency's own code.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path
from typing import NamedTuple

import pytest

import pairtui

REPO = Path(__file__).resolve().parent.parent

# cryptography 51 on importing asyncssh 2.24, word for word (a UserWarning subclass).
DSA = (
    "DSA is deprecated and support will be removed in a future release. "
    "Use a more modern signature algorithm."
)


def _run(code: str, *python_flags: str, path: Path | None = None) -> str:
    """What ``code`` prints on standard error, after ``import pairtui``."""
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    if path is not None:
        env["PYTHONPATH"] = str(path)
    res = subprocess.run(
        [sys.executable, *python_flags, "-c", f"import pairtui\n{textwrap.dedent(code)}"],
        capture_output=True, text=True, timeout=60, check=False, env=env,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    return res.stderr


@pytest.fixture
def dependency(tmp_path: Path) -> Path:
    """A package that warns when imported, as a dependency does after an upgrade."""
    pkg = tmp_path / "somedep"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "import warnings\nwarnings.warn('old_api() is going away', UserWarning)\n"
    )
    return tmp_path


class Case(NamedTuple):
    test_id: str
    code: str
    flags: tuple[str, ...]
    shown: bool


CASES = [
    Case("a-dependency-quiet", "import somedep", (), False),
    Case("a-dependency-shown-with-W", "import somedep", ("-W", "default"), True),
    Case(
        "cryptography-dsa-quiet-even-with-W",
        f"""
        import warnings
        warnings.warn_explicit({DSA!r}, UserWarning, "misc.py", 32,
                               module="asyncssh.crypto.misc")
        """,
        ("-W", "default"),
        False,
    ),
    Case(
        "pairtui-own-shown",
        """
        import warnings
        warnings.warn_explicit("a pairtui warning", UserWarning, "engine.py", 1,
                               module="pairtui.engine")
        """,
        (),
        True,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.test_id for c in CASES])
def test_which_warnings_a_command_prints(case: Case, dependency: Path) -> None:
    err = _run(case.code, *case.flags, path=dependency)
    assert ("Warning" in err) is case.shown, err


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["guest", "list"]])
def test_the_cli_prints_nothing_on_standard_error(argv: list[str]) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "pairtui", *argv],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""


def test_the_suite_ignores_the_same_dependency_warnings_as_every_command() -> None:
    """A test module may import asyncssh before pairtui, so pairtui's filters cannot
    cover the suite: pyproject.toml lists them again."""

    ini = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    ignored = {
        (message, module)
        for action, message, _category, module, *_ in (f.split(":") for f in ini["filterwarnings"])
        if action == "ignore"
    }
    assert ignored == set(pairtui.KNOWN_WARNINGS)
