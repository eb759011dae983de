"""The server's limits as values: parsing, making room, counting refusals, quiet logs."""

from __future__ import annotations

import asyncio
import resource

import pytest

from pairtui.errors import PairtuiError
from pairtui.limits import (
    QuietExceptionHandler,
    RefusalCounter,
    StartupGate,
    Startups,
    raise_fd_limit,
)


class Conn:
    def __init__(self, name: str, progress: int = 0) -> None:
        self.name, self._progress, self.dropped = name, progress, ""

    def progress(self) -> int:
        return self._progress

    def drop(self, reason: str) -> None:
        self.dropped = reason


def test_startups_parse_like_sshd() -> None:
    assert Startups.parse("10:30:100") == Startups(10, 30, 100)
    assert Startups.parse("8") == Startups(8, 100, 8)
    for bad in ("10:30", "a:b:c", "100:30:10", "10:130:100", "0"):
        with pytest.raises(PairtuiError):
            Startups.parse(bad)
    s = Startups(10, 30, 100)
    assert s.drop_probability(9) == 0
    assert s.drop_probability(10) == pytest.approx(0.3)
    assert s.drop_probability(55) == pytest.approx(0.65)
    assert s.drop_probability(100) == 1


def test_a_full_gate_drops_the_connection_that_got_least_far_and_never_the_newcomer() -> None:
    gate = StartupGate(Startups(2, 100, 3), rng=lambda: 0.99)
    talking = Conn("talking", progress=1)
    silent_old, silent_new = Conn("silent-old"), Conn("silent-new")
    for c in (talking, silent_old, silent_new):
        gate.arrive(c)  # from 2 waiting on, each newcomer makes room with p >= 1
    assert silent_old.dropped and not silent_new.dropped and not talking.dropped
    newcomer = Conn("newcomer")
    gate.arrive(newcomer)
    assert silent_new.dropped and not talking.dropped and not newcomer.dropped
    assert len(gate) == 2 and gate.dropped == 2
    gate.leave(talking)
    gate.leave(talking)  # twice is harmless
    assert len(gate) == 1


def test_below_full_room_is_made_only_as_often_as_the_rate_says() -> None:
    draws = iter([0.5, 0.1])
    gate = StartupGate(Startups(1, 30, 10), rng=lambda: next(draws))
    first, second, third = Conn("1"), Conn("2"), Conn("3")
    gate.arrive(first)
    gate.arrive(second)  # 0.5 >= 0.3: nobody dropped
    gate.arrive(third)  # 0.1 < p: the oldest silent one goes
    assert not second.dropped and first.dropped and len(gate) == 2


def test_refusals_are_shown_a_few_times_per_peer_then_counted() -> None:
    counter = RefusalCounter(interval=10, shown=3)
    shown = [counter.allow(("198.51.100.7", ""), now=t) for t in range(6)]
    assert shown == [True, True, True, False, False, False]
    assert counter.allow(("198.51.100.8", ""), now=5)  # another peer has its own count
    assert counter.flush(now=9) == []
    assert counter.flush(now=15) == [(("198.51.100.7", ""), 3)]
    assert counter.flush(now=100) == []  # the other peer's interval ends quietly
    assert counter.allow(("198.51.100.7", ""), now=101)


def test_the_same_loop_error_is_written_once_per_interval() -> None:
    lines: list[str] = []
    handler = QuietExceptionHandler(lines.append, interval=3600)
    loop = asyncio.new_event_loop()
    try:
        for _ in range(50):
            handler(loop, {"message": "socket.accept() out of system resource",
                           "exception": OSError(24, "Too many open files")})  # fmt: skip
        handler(loop, {"message": "something else"})
    finally:
        loop.close()
    assert lines == [
        "pairtui: socket.accept() out of system resource: [Errno 24] Too many open files",
        "pairtui: something else",
    ]


def test_the_soft_file_limit_is_raised_to_the_hard_one() -> None:
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, before[1]))
        soft, hard = raise_fd_limit()
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == soft
        assert soft == (hard if hard != resource.RLIM_INFINITY else 1 << 20)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, before)
