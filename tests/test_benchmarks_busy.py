"""The ``--busy`` setting (benchmarks/busy.py): real loops, ended by pid on every way out,
recorded in the JSON and the report, and the issue's busy targets judged only then."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from benchmarks import report
from benchmarks.busy import Busy, BusySpan, is_busy, legend_line, loop_count, record_span
from benchmarks.cli import build_parser, busy_if, is_reference_run, options
from benchmarks.phases import Bench, Options
from benchmarks.procs import Reaper
from benchmarks.reactor import Reactor


def _alive(pid: int) -> bool:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended


def _wait_gone(pids: list[int], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(_alive(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


def test_one_loop_per_core_and_at_least_one() -> None:
    assert loop_count(4) == 4
    assert loop_count(None) == 1
    assert loop_count(0) == 1


def test_the_loops_burn_cpu_and_stop_ends_them_by_pid() -> None:
    reaper = Reaper()
    try:
        busy = Busy(reaper, "echo", loops=2)
        busy.start()
        pids = busy.pids()
        assert len(pids) == 2
        time.sleep(0.5)
        span = busy.stop()
        assert _wait_gone(pids)
        assert span.loops == 2
        assert span.cpu_seconds > 0.1  # they really spun (2 loops, 0.5 s, a shared machine)
        assert reaper.roots() == []  # handed back: the reaper has nothing left to end
    finally:
        reaper.close()


def test_an_interrupted_run_still_ends_the_loops_through_the_reaper() -> None:
    reaper = Reaper()
    busy = Busy(reaper, "load", loops=2)
    busy.start()
    pids = busy.pids()
    reaper.close()  # what cli.main's finally does after Ctrl-C, SIGTERM or an error
    assert _wait_gone(pids)


def test_busy_if_spins_only_around_echo_and_load_and_records_each_span() -> None:
    reaper, reactor = Reaper(), Reactor()
    results: dict[str, Any] = {}
    try:
        quiet = Bench([], reactor, reaper, Options())
        with busy_if(quiet.opts, "echo", quiet, results):
            assert reaper.roots() == []
        busy = Bench([], reactor, reaper, Options(busy=True))
        with busy_if(busy.opts, "burst", busy, results):
            assert reaper.roots() == []
        assert "busy" not in results
        seen: list[int] = []
        with pytest.raises(KeyboardInterrupt), busy_if(busy.opts, "load", busy, results):
            seen = reaper.roots()
            raise KeyboardInterrupt  # the loops end on the way out all the same
        assert len(seen) == (os.cpu_count() or 1)
        assert _wait_gone(seen)
        assert results["busy"]["phases"][0]["phase"] == "load"
    finally:
        reaper.close()
        reactor.close()


def test_the_option_is_parsed_and_a_busy_run_is_never_the_reference() -> None:
    args = build_parser().parse_args(["--busy"])
    opts = options(args)
    assert opts.busy
    assert not is_reference_run(args, opts)
    assert not options(build_parser().parse_args([])).busy


def _load(k: int, p50: float, p99: float) -> dict[str, Any]:
    return {"echo_ms": {"p50": p50, "p99": p99}, "connected": k, "keys_lost": 0}


def test_busy_targets_are_judged_only_on_a_busy_run() -> None:
    results: dict[str, Any] = {"load": {"100": {"openssh": _load(100, 6.0, 16.0),
                                                "pairtui": _load(100, 5.0, 17.6)}}}  # fmt: skip

    def busy_checks() -> dict[str, Any]:
        return {c["goal"]: (c["value"], c["pass"]) for c in report.goals(results)
                if c["goal"].startswith("busy host")}  # fmt: skip

    assert busy_checks() == {
        "busy host: K=100 echo p50 <= 1x openssh": (None, None),
        "busy host: K=100 echo p99 <= 1x openssh": (None, None),
    }
    assert not is_busy(results)
    assert legend_line(results) is None
    record_span(results, BusySpan("load", 2, 20.0, 30.0))
    assert is_busy(results)
    assert busy_checks() == {
        "busy host: K=100 echo p50 <= 1x openssh": (0.83, True),
        "busy host: K=100 echo p99 <= 1x openssh": (1.1, False),
    }
    assert results["busy"]["phases"] == [
        {"phase": "load", "loops": 2, "seconds": 20.0, "loops_cpu_cores": 1.5}
    ]
    assert "host BUSY: 2 CPU-bound loops" in report.legend(results)
    assert "load 1.5" in report.legend(results)


def test_the_default_run_has_the_busy_pass_and_its_figures_are_the_busy_targets() -> None:
    assert {"busy", "fanout", "classic"} <= set(options(build_parser().parse_args([])).phases)
    quiet = {"openssh": _load(100, 6.0, 16.0), "pairtui": _load(100, 9.0, 24.0)}
    busy = {"openssh": _load(100, 6.0, 16.0), "pairtui": _load(100, 5.4, 16.0)}
    results: dict[str, Any] = {
        "load": {"100": quiet},
        "busy_pass": {"ks": [100], "echo": {}, "load": {"100": busy},
                      "loops": {"loops": 2, "loops_cpu_cores": 1.4}},
    }  # fmt: skip
    checks = {c["goal"]: (c["value"], c["pass"]) for c in report.goals(results)
              if c["goal"].startswith("busy host")}  # fmt: skip
    assert checks == {
        "busy host: K=100 echo p50 <= 1x openssh": (0.9, True),
        "busy host: K=100 echo p99 <= 1x openssh": (1.0, True),
    }
    assert not is_busy(results)  # the quiet table stays the quiet table
    text = report.busy_pass_text(results["busy_pass"])
    assert "2 CPU-bound loops, which held 1.4 cores" in text
    assert "K=100 echo p50 ms" in text
    assert "0.90x" in text


def test_the_issue_tightened_connect_and_idle_echo() -> None:
    def verdicts(connect: float, echo: float) -> dict[str, bool | None]:
        results = {
            "connect": {"openssh": {"p50": 100.0}, "pairtui": {"p50": connect}},
            "echo": {"openssh": {"p50": 1.0, "p99": 2.0},
                     "pairtui": {"p50": echo, "p99": 2.0 * echo}},
        }  # fmt: skip
        return {c["goal"]: c["pass"] for c in report.goals(results)
                if c["goal"].startswith(("connect", "idle"))}  # fmt: skip

    assert verdicts(30.0, 1.05) == {
        "connect-to-screen p50 <= 0.3x openssh": True,
        "idle echo p50 <= 1.05x openssh": True,
        "idle echo p99 <= 1.05x openssh": True,
    }
    assert set(verdicts(31.0, 1.06).values()) == {False}
