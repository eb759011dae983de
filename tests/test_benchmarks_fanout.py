"""The fanout and classic phases (benchmarks/fanout.py, classic.py): the screenful, the
figures and verdicts on made-up runs, the host's FIFO, viewers that really are read-only
on both SSH targets, and one short real run that leaves nothing behind."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest
from support import harness_processes, run_benchmarks

from benchmarks import report
from benchmarks.classic_figures import ClassicRun
from benchmarks.classic_figures import goals as classic_goals
from benchmarks.classic_figures import summarize as classic_summary
from benchmarks.classic_figures import summary_text as classic_text
from benchmarks.fanout_figures import (
    COLS,
    ROWS,
    end_marker,
    goals,
    screen_rows,
    screenful,
    summarize,
    summary_text,
)
from benchmarks.screen import rows_of, terminal
from benchmarks.viewers import HostFifo

# --- the screenful ----------------------------------------------------------------------


def test_a_screenful_fills_the_pane_exactly_and_ends_with_its_own_marker() -> None:
    rows = screen_rows(200, 3)
    assert len(rows) == ROWS
    assert all(len(r) == COLS for r in rows)
    assert rows[-1].endswith(end_marker(200, 3))
    text = "\n".join(rows)
    assert text.count(end_marker(200, 3)) == 1
    assert screen_rows(200, 3) == rows  # deterministic: every target draws the same
    assert screen_rows(200, 4) != rows  # every sample changes every row
    assert all(a != b for a, b in zip(rows, screen_rows(200, 4), strict=True))


def test_the_bytes_draw_that_screen_whatever_was_on_it() -> None:
    screen, stream = terminal(80, 24)
    stream.feed(b"READY\r\n" + b"old text\r\n" * 30)
    stream.feed(screenful(10, 0))
    assert rows_of(screen, ROWS) == screen_rows(10, 0)
    stream.feed(screenful(10, 1))
    assert rows_of(screen, ROWS) == screen_rows(10, 1)


# --- fanout figures ---------------------------------------------------------------------


def _fanout() -> dict[str, Any]:
    ossh = summarize(10, 10, [0.2] * 10, [[0.002] * 9 + [0.004], [0.002] * 9 + [0.006]])
    missed: list[float | None] = [*[0.003] * 8, 0.004, None]
    mine = summarize(10, 10, [0.1] * 10, [[0.003] * 9 + [0.0045], missed])
    return {"status": "measured", "samples": 2, "by_k": {"10": {"pairtui": mine,
                                                                "openssh": ossh}}}  # fmt: skip


def test_the_figure_is_the_last_guest_and_a_missed_screen_is_counted_not_hidden() -> None:
    f = _fanout()["by_k"]["10"]
    assert f["openssh"]["last_guest_ms"] == {"p50": 5.0, "max": 6.0, "n": 2}
    # The second sample had a guest that never showed the screen: no "last guest" for it.
    assert f["pairtui"]["last_guest_ms"] == {"p50": 4.5, "max": 4.5, "n": 1}
    assert f["pairtui"]["screens_missed"] == 1
    assert f["pairtui"]["per_guest_ms"]["p50"] == 3.0


def test_fanout_verdicts_per_k_and_na_when_not_measured() -> None:
    checks = {c["goal"]: (c["value"], c["pass"]) for c in goals(_fanout(), [10, 100, 200])}
    assert checks == {
        "fanout K=10: last guest's final screen p50 <= 1x openssh": (0.9, True),
        "fanout K=100: last guest's final screen p50 <= 1x openssh": (None, None),
        "fanout K=200: last guest's final screen p50 <= 1x openssh": (None, None),
    }
    listed = [c for c in report.goals({}) if c["goal"].startswith("fanout")]
    assert [c["pass"] for c in listed] == [None, None, None]
    # A K measured beyond the issue's (--quick's 50) is judged too.
    quick = _fanout()
    quick["by_k"]["50"] = quick["by_k"]["10"]
    assert len(goals(quick, [10, 100, 200])) == 4


def test_the_fanout_table_lists_openssh_before_pairtui() -> None:
    lines = summary_text(_fanout()).splitlines()
    assert lines[0] == "fanout: 2 screenfuls per K and target; measured"
    assert lines[3].split()[:2] == ["K=10", "openssh"]
    assert lines[4].split() == ["K=10", "pairtui", "10/10", "4.5", "4.5", "3.0", "4.4", "1",
                                "0.90x"]  # fmt: skip
    assert summary_text({"status": "failed: no sshd"}) == "fanout phase: failed: no sshd"
    assert "| K=10 pairtui |" in summary_text(_fanout(), markdown=True)


# --- classic figures --------------------------------------------------------------------


def _run(k: int, server: float, tmux: float, lat_ms: float, pss_kib: int) -> ClassicRun:
    return ClassicRun(
        k=k, connected=k, tmux_clients=k, connect_s=(0.1,) * k,
        latencies=tuple((lat_ms / 1000, 2 * lat_ms / 1000) for _ in range(k)), keys=2, lost=0,
        elapsed=10.0, cpu={"server": server, "tmux": tmux, "guests": 1.0}, busy=0.5,
        base_pss_kib=1000, pss_kib=1000 + pss_kib * k, pss_by_comm={"sshd": 5},
    )  # fmt: skip


def test_classic_figures_and_the_issues_k200_targets() -> None:
    ossh = classic_summary(_run(200, 5.0, 1.3, 18.0, 2000), 2)
    mine = classic_summary(_run(200, 2.0, 5.9, 58.0, 500), 2)
    assert ossh["server_cpu"] == 0.5
    assert ossh["tmux_server_cpu"] == 0.13
    assert ossh["echo_ms"]["p50"] == 27.0  # pooled: half the samples 18 ms, half 36 ms
    assert mine["pss_per_guest_mb"] == 0.512
    classic: dict[str, Any] = {
        "status": "measured",
        "by_k": {"200": {"openssh": ossh, "pairtui": mine}},
    }
    checks = {c["goal"]: c["pass"] for c in classic_goals(classic)}
    assert checks == {
        "classic K=200: echo p50 <= 1x openssh (tmux -r)": False,
        "classic K=200: echo p99 <= 1x openssh (tmux -r)": False,
        "classic K=200: server CPU <= 0.8x openssh (tmux -r)": True,
        "classic K=200: tmux server CPU <= 1.2x openssh (tmux -r)": False,
        "classic K=200: all guests connected": True,
        "classic K=200: keys lost == 0": True,
        "classic K=200: PSS per guest <= 0.6 MB": True,
    }
    assert all(c["pass"] is None for c in classic_goals(None))
    assert all(c["pass"] is None for c in classic_goals({"by_k": {"50": classic["by_k"]["200"]}}))
    text = classic_text(classic).splitlines()
    row = next(line for line in text if line.startswith("K=200 tmux server CPU %"))
    assert row.split()[-3:] == ["13.0", "59.0", "4.54x"]


# --- the host's FIFO --------------------------------------------------------------------


def test_the_fifo_carries_the_hosts_bytes_and_gives_up_without_a_reader(tmp_path: Path) -> None:
    fifo = HostFifo(tmp_path / "host.fifo")
    with pytest.raises(RuntimeError, match="no reader"):
        fifo.open(timeout=0.2)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append((tmp_path / "host.fifo").read_bytes()))
    reader.start()
    began = fifo.write(screenful(10, 0))
    fifo.close()
    reader.join(5)
    assert got == [screenful(10, 0)]
    assert began > 0
    assert "while :; do cat" in fifo.pane("READY")


# --- real processes ---------------------------------------------------------------------


@pytest.mark.e2e
def test_viewers_are_read_only_on_both_ssh_targets() -> None:
    """sshd's viewers run ``tmux attach -r`` and pairtui's are view guests: a key a viewer
    types never reaches the pane (else the classic phase would compare other things)."""
    from benchmarks.phases import Bench, Options, seen
    from benchmarks.procs import Reaper
    from benchmarks.reactor import Guest, Reactor, close_all
    from benchmarks.targets import Lab, OpenSSH, Pairtui
    from benchmarks.tmuxhost import echo_pane
    from benchmarks.viewers import viewer_argv

    reaper, reactor = Reaper(), Reactor()
    lab = Lab(reaper)
    targets = [OpenSSH(lab), Pairtui(lab)]
    try:
        for t in targets:
            t.start()
        bench = Bench(targets, reactor, reaper, Options())
        for t in targets:
            t.tmux.single(echo_pane(f"READY-{t.name}"))
            writer = bench.connect(t, f"READY-{t.name}")
            viewer = Guest(reactor, reaper, viewer_argv(t), t.env)
            viewer.watch(f"READY-{t.name}")
            assert reactor.run(seen(viewer), 20)
            assert viewer.marker_at is not None, t.name
            viewer.write(b"VIEWERKEY")
            writer.write(b"WRITERKEY")
            writer.watch("WRITERKEY")
            assert reactor.run(seen(writer), 10), t.name
            reactor.sleep(0.5)
            pane = "\n".join(t.tmux.capture())
            assert "WRITERKEY" in pane, t.name
            assert "VIEWERKEY" not in pane, t.name
            close_all([writer, viewer])
    finally:
        for t in targets:
            t.tmux.kill()
        reaper.close()
        reactor.close()
        lab.remove()
    assert not harness_processes()


@pytest.mark.e2e
@pytest.mark.parametrize("window", ["default", "status-off"])
def test_a_short_fanout_and_classic_run_measures_both_targets_and_leaves_nothing_behind(
    tmp_path: Path, window: str
) -> None:
    res, results = run_benchmarks(
        tmp_path / "result.json", "--quick", "--phases", "fanout,classic",
        "--targets", "openssh,pairtui", "--fanout-k", "3", "--fanout-samples", "2",
        "--classic-k", "3", "--window", "1",
        *(["--classic-status-off"] if window == "status-off" else []),
        timeout=240, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert results["classic"]["window"].startswith("80x24" if window == "status-off" else "80x23")
    fan = results["fanout"]
    assert fan["status"] == "measured"
    for name in ("openssh", "pairtui"):
        f = fan["by_k"]["3"][name]
        assert f["connected"] == 3, name
        assert f["screens_missed"] == 0, name
        assert f["last_guest_ms"]["n"] == 2, name
        c = results["classic"]["by_k"]["3"][name]
        assert c["connected"] == 3, name
        assert c["keys_lost"] == 0, name
        assert c["echo_ms"]["n"] == 3 * c["host_keys"] > 0, name
    assert "fanout (screenful to K view guests)" in res.stdout
    assert "classic (K view guests, host typing)" in res.stdout
