"""The printed report: a dashboard table only when the dashboard was measured."""

from __future__ import annotations

from typing import Any

from benchmarks.report import dashboard_table

NOT_MEASURED: dict[str, Any] = {
    "status": "not measured: not part of this run",
    "metrics": {"first_paint_s": None, "join_to_row_p95_ms": None},
    "targets": {"first_paint_s": "< 0.5", "join_to_row_p95_ms": "< 250"},
}


def test_a_run_without_the_dashboard_phase_prints_no_dashboard_table() -> None:
    assert dashboard_table({"dashboard": NOT_MEASURED}) == ""
    assert dashboard_table({}) == ""


def test_a_measured_dashboard_prints_its_figures() -> None:
    measured = {**NOT_MEASURED, "first_paint": {"paint_ms": {"p50": 366.4, "max": 420.0}}}
    table = dashboard_table({"dashboard": measured}, markdown=True).splitlines()
    assert table[2] == "| first paint p50 ms (main screen) | 366 | 500 ms |"
    assert "| join-to-row p95 ms (audit join) | - | < 250 |" in table
