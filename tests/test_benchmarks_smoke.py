"""The benchmark harness stays runnable: a tiny real run against all three targets.

No figures are asserted (timings belong to benchmarks/, not to tests); the run must
finish, measure every target, and leave no process or directory behind.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.e2e


def _our_processes() -> set[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    return {line for line in out.stdout.splitlines() if "/tmp/ptb-" in line}


def test_quick_benchmark_run_measures_every_target(tmp_path: Path) -> None:
    before = set(Path("/tmp").glob("ptb-*"))
    out = tmp_path / "result.json"
    res = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--phases", "connect,echo",
         "--connect-samples", "2", "--echo-keys", "20", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    result = json.loads(out.read_text())
    for phase in ("connect", "echo"):
        for target in ("direct", "openssh", "pairtui"):
            assert result[phase][target]["n"] > 0, (phase, target)
    assert result["echo"]["pairtui"]["lost"] == 0
    assert set(Path("/tmp").glob("ptb-*")) == before
    assert not _our_processes()
