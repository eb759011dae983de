"""The soak phase (benchmarks/soak.py) runs through the real harness and sees leaks.

A few seconds of churn against the real ``pairtui serve`` must report the before/after
figures and pass; the same churn against a copy of pairtui that leaks a descriptor per
join must fail, naming the descriptors. The verdict's rules are checked on their own.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from support import CHECKOUT, run_benchmarks

from benchmarks.soak_figures import growth, verdict

FIGURES = ("fds", "rss_kib", "threads", "children", "tmux_clients", "tmux_sessions",
           "engine_clients", "audit_lines")  # fmt: skip


def _figures(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "alive": True, "fds": 8, "fd_kinds": {"socket": 4, "pipe": 2, "/dev/null": 2},
        "rss_kib": 50_000, "threads": 3, "children": 0, "tmux_clients": 0, "tmux_sessions": 3,
        "engine_clients": 0, "audit_lines": 10, "audit_events": {"join": 3, "leave": 3},
    }  # fmt: skip
    return {**base, **changes}


def test_a_server_back_where_it_started_passes() -> None:
    after = _figures(rss_kib=60_000, threads=4, audit_lines=40,
                     audit_events={"join": 13, "leave": 9, "kick": 4, "mode": 5})  # fmt: skip
    assert verdict(_figures(), after, {}) == []
    g = growth(_figures(), after, ops=15)
    assert g["audit_lines_per_op"] == 2.0
    assert g["audit_events"] == {"join": 10, "kick": 4, "leave": 6, "mode": 5}


def test_what_a_server_keeps_after_the_settle_fails_it() -> None:
    after = _figures(fds=11, fd_kinds={"socket": 6, "pipe": 2, "/dev/null": 2, "/dev/ptmx": 1},
                     children=1, tmux_clients=1, engine_clients=2,
                     audit_events={"join": 5, "leave": 3})  # fmt: skip
    problems = verdict(_figures(), after, {"join failed": 2})
    assert problems == [
        "open fds grew by 3 (+1 /dev/ptmx, +2 socket)",
        "tmux clients: 0 before, 1 after",
        "server child processes: 0 before, 1 after",
        "the server still lists 2 clients",
        "audit: 2 joins/connects but 0 leaves/kicks",
        "join failed: 2",
    ]
    assert verdict(_figures(), _figures(alive=False), {})[0] == "pairtui serve is no longer running"


def _soak(out: Path, *extra: str) -> dict[str, Any]:
    _, result = run_benchmarks(out, "--phases", "soak", "--soak-seconds", "5", *extra,
                               timeout=240)  # fmt: skip
    assert result["soak"].get("status") == "measured", result["soak"]
    return result


@pytest.mark.e2e
def test_a_short_soak_of_pairtui_serve_leaves_nothing_behind(tmp_path: Path) -> None:
    soak = _soak(tmp_path / "soak.json")["soak"]
    for when in ("before", "after"):
        assert all(isinstance(soak[when][name], int) for name in FIGURES), soak[when]
    assert soak["after"]["alive"]
    assert soak["leaks"] == []
    # Every step did what it should: a view guest's key never reached the pane (this
    # found tmux.set_client_mode reading another client's read-only flag).
    assert soak["errors"] == {}, soak["error_examples"]
    assert soak["after"]["tmux_clients"] == soak["after"]["engine_clients"] == 0
    assert sum(soak["ops"].values()) >= 3  # a few: a busy machine runs pairtui slowly
    assert soak["done"]["clients joined"] >= 1
    assert soak["growth"]["audit_lines"] > 0
    assert soak["samples"]


@pytest.mark.e2e
def test_the_soak_fails_a_server_that_leaks_a_descriptor_per_join(tmp_path: Path) -> None:
    leaky = tmp_path / "leaky"
    shutil.copytree(CHECKOUT / "pairtui", leaky / "pairtui",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    engine = leaky / "pairtui" / "engine.py"
    text = engine.read_text()
    register = "    def register(self, session: GuestSession) -> None:\n"
    assert register in text and "\nimport os\n" in text
    leak = "        os.open('/dev/null', os.O_RDONLY)  # the leak this test must see\n"
    engine.write_text(text.replace(register, register + leak, 1))

    result = _soak(tmp_path / "soak.json", "--pairtui-src", str(leaky))
    soak = result["soak"]
    joins = soak["growth"]["audit_events"]["join"]
    assert joins >= 1
    assert soak["after"]["fds"] - soak["before"]["fds"] == joins
    assert soak["problems"] == [f"open fds grew by {joins} (+{joins} /dev/null)"]
    goal = next(g for g in result["goals"] if g["goal"].startswith("soak"))
    assert goal["pass"] is False
