"""benchmarks/tmux_cost counts the instructions of the tmux server it drives.

A real tmux server under callgrind and a real client in a PTY. The count must be the
counted server's: a client that started its own server (not under valgrind) before the
counted one listened would leave the counted server idle, and every case would cost ~0.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.tmux_cost import key_case, per_event


def test_a_typed_key_costs_the_counted_tmux_server_instructions(tmp_path: Path) -> None:
    cost = per_event(lambda n: key_case("host", n, tmp_path), 5, 45)
    # tmux 3.3a: ~30k instructions to read a key, write it to `cat` and draw its echo.
    assert 5_000 < cost < 300_000, cost
