"""The record phase (benchmarks/record.py): its arithmetic and lines, and a short real run.

The figures (pooled CPU, on/off ratios and their spread per cycle, the recording's size
per minute, the verdict) are checked on made-up windows; one real run of a couple of
seconds per window must measure every arm against the real ``pairtui serve`` and
OpenSSH, with the viewers really view guests, and leave nothing behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support import run_benchmarks

from benchmarks import report
from benchmarks.record import cast_seconds
from benchmarks.record_figures import Window, goals, summarize, summary_text


def _window(arm: str, cycle: int, cpu: float, echo_ms: list[float], **extra: Any) -> Window:
    fields: dict[str, Any] = {
        "arm": arm, "cycle": cycle, "connected": 11, "latencies": tuple(x / 1000 for x in echo_ms),
        "sent": len(echo_ms), "lost": 0, "elapsed": 10.0, "server_cpu": cpu,
        "server_tree_cpu": cpu * 0.9, "tmux_cpu": 0.2, "busy": 0.25,
        "modes": None if arm == "openssh" else {"pair": 1, "view": 10},
    }  # fmt: skip
    return Window(**{**fields, **extra})


def _record() -> dict[str, Any]:
    windows = [
        _window("off", 0, 0.40, [1.0, 1.0, 1.0, 2.0]),
        _window("on", 0, 0.50, [1.0, 1.1, 1.1, 2.0], cast_bytes=40_000),
        _window("openssh", 0, 0.30, [0.8, 0.8, 0.8, 1.0]),
        _window("off", 1, 0.40, [1.0, 1.0, 1.0, 2.0]),
        _window("on", 1, 0.44, [1.0, 1.0, 1.0, 2.0], cast_bytes=50_000),
        _window("openssh", 1, 0.30, [0.8, 0.8, 0.8, 1.0]),
    ]
    casts = [{"bytes": 60_000, "seconds": 15.0}, {"bytes": 60_000, "seconds": 15.0}]
    return summarize(windows, casts, 10)


def test_on_off_ratios_pool_the_windows_and_keep_the_spread_per_cycle() -> None:
    rec = _record()
    assert rec["arms"]["off"]["server_cpu"] == 0.04  # 0.8 CPU seconds over 20 s
    assert rec["arms"]["on"]["server_cpu"] == 0.047
    ratios = rec["on_off"]
    assert ratios["server_cpu"] == {"value": 1.18, "rounds": [1.25, 1.1], "min": 1.1,
                                    "max": 1.25}  # fmt: skip
    assert ratios["echo_p50"]["rounds"] == [1.1, 1.0]
    assert rec["arms"]["on"]["view_guests"] == 10
    assert rec["reference"]["openssh_echo_p50_ms"] == 0.8
    assert rec["reference"]["off_vs_openssh_echo_p50"] == 1.25
    assert rec["recording"]["kb_per_min"] == 240.0  # 120 kB in 30 s
    assert rec["recording"]["window_kb_per_min"] == 270.0  # 90 kB in 20 s


def test_the_verdict_judges_pooled_ratios_and_is_na_when_not_measured() -> None:
    verdicts = {c["goal"]: c["pass"] for c in goals(_record())}
    assert verdicts == {
        "record: server CPU on/off <= 1.25x": True,
        "record: echo p50 on/off <= 1.1x": True,
        "record: echo p95 on/off <= 1.25x": True,
        "record: keys lost with recording on == 0": True,
    }
    costly = _record()
    costly["on_off"]["server_cpu"]["value"] = 1.4
    assert goals(costly)[0]["pass"] is False
    assert all(c["pass"] is None for c in goals(None))
    # The run's target list carries them, n/a in a run without the phase.
    listed = [c for c in report.goals({}) if c["goal"].startswith("record:")]
    assert len(listed) == 4
    assert all(c["pass"] is None for c in listed)


def test_the_printed_lines() -> None:
    text = summary_text(_record()).splitlines()
    assert text[0].startswith("record: one share, 10 view guests and one pair guest typing")
    row = next(line for line in text if line.startswith("server CPU %"))
    assert row.split() == ["server", "CPU", "%", "4.0", "4.7", "1.18x", "1.10-1.25x", "<=",
                           "1.25x"]  # fmt: skip
    assert "openssh, same load: echo p50 0.80 ms; pairtui/openssh 1.25x off, 1.31x on" in text
    assert text[-1].startswith("recording size: 240 kB per minute (2 casts, 120 kB in 30 s")
    md = summary_text(_record(), markdown=True).splitlines()
    assert "| echo p50 ms | 1.00 | 1.05 | 1.05x | 1.00-1.10x | <= 1.1x |" in md
    assert summary_text({"status": "failed: no sshd"}) == "record phase: failed: no sshd"


def test_a_casts_length_is_the_time_of_its_last_event(tmp_path: Path) -> None:
    cast = tmp_path / "s.cast"
    cast.write_text('{"version": 2}\n[0.5, "o", "x"]\n[12.25, "m", "recording stopped"]\n')
    assert cast_seconds(cast) == 12.25
    assert cast_seconds(tmp_path / "missing.cast") is None


@pytest.mark.e2e
def test_a_short_record_run_measures_each_arm_and_leaves_nothing_behind(
    tmp_path: Path,
) -> None:
    res, result = run_benchmarks(
        tmp_path / "result.json", "--quick", "--phases", "record",
        "--targets", "openssh,pairtui", "--window", "1", timeout=240,
    )  # fmt: skip
    rec = result["record"]
    assert rec["status"] == "measured"
    assert [(w["cycle"], w["arm"]) for w in rec["windows"]] == [
        (0, "off"), (0, "on"), (0, "openssh"), (1, "off"), (1, "on"), (1, "openssh")]  # fmt: skip
    for arm in ("off", "on", "openssh"):
        assert rec["arms"][arm]["connected"] == 11, arm
        assert rec["arms"][arm]["echo_ms"]["n"] > 0, arm
    assert rec["arms"]["off"]["view_guests"] == rec["arms"]["on"]["view_guests"] == 10
    assert rec["recording"]["recordings"] == 2
    assert rec["recording"]["bytes"] > 0
    assert "record (pairtui serve)" in res.stdout
