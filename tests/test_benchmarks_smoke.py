"""The benchmark harness stays runnable: a tiny real run against all three targets.

No figures are asserted (timings belong to benchmarks/, not to tests); the run must
finish, measure every target, and leave no process or directory behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import CHECKOUT, run_benchmarks

pytestmark = pytest.mark.e2e


def test_quick_benchmark_run_measures_every_target(tmp_path: Path) -> None:
    _, result = run_benchmarks(
        tmp_path / "result.json", "--quick", "--phases", "connect,echo",
        "--connect-samples", "2", "--echo-keys", "20",
    )  # fmt: skip
    for phase in ("connect", "echo"):
        for target in ("direct", "openssh", "pairtui"):
            assert result[phase][target]["n"] > 0, (phase, target)
    assert result["echo"]["pairtui"]["lost"] == 0


def test_the_busy_phase_measures_echo_and_load_on_a_busy_host_and_ends_its_loops(
    tmp_path: Path,
) -> None:
    res, result = run_benchmarks(
        tmp_path / "result.json", "--quick", "--phases", "busy", "--targets", "openssh,pairtui",
        "--busy-k", "3", "--echo-keys", "10", "--window", "1",
    )  # fmt: skip
    busy = result["busy_pass"]
    assert busy["loops"]["loops"] == (os.cpu_count() or 1)
    assert busy["loops"]["loops_cpu_cores"] > 0.3  # the loops really ran
    for target in ("openssh", "pairtui"):
        assert busy["echo"][target]["n"] == 10, target
        assert busy["load"]["3"][target]["connected"] == 3, target
    assert "busy host (every core busy" in res.stdout
    assert (
        "while 1: pass"
        not in subprocess.run(
            ["ps", "-eo", "args"], capture_output=True, text=True, check=True
        ).stdout
    )


def test_every_pairtui_world_of_a_run_has_its_own_control_socket() -> None:
    """The dashboard phase must serve, not attach to the pairtui target's server: the
    control socket is in $XDG_RUNTIME_DIR, so each world needs a runtime dir of its own."""
    from benchmarks.dashboard import DashboardHost
    from benchmarks.procs import Reaper
    from benchmarks.targets import Lab, Pairtui

    reaper = Reaper()
    lab = Lab(reaper)
    try:
        sockets = set()
        for world in (Pairtui(lab), DashboardHost(lab, 1)):
            res = subprocess.run(
                [sys.executable, "-c", "from pairtui import paths; print(paths.control_socket())"],
                env=world.env, capture_output=True, text=True, check=True, cwd=CHECKOUT,
            )  # fmt: skip
            sockets.add(res.stdout.strip())
        assert len(sockets) == 2, sockets
    finally:
        reaper.close()
        lab.remove()
