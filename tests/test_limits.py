"""The server's limits as values: parsing, making room, counting refusals, quiet logs."""

from __future__ import annotations

import asyncio
import errno
import resource
import socket

import pytest

from pairtui import limits
from pairtui.errors import PairtuiError
from pairtui.fd_budget import SpareFd
from pairtui.limits import (
    QuietExceptionHandler,
    RefusalCounter,
    StartupGate,
    Startups,
    WrongTokens,
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


def test_wrong_tokens_hold_off_their_peer_until_the_window_ends() -> None:
    tokens = WrongTokens(most=3, window=60)
    peer, other = ("198.51.100.7", ""), ("198.51.100.7", "office")  # direct, via a relay
    for t in range(3):
        assert tokens.wait(peer, now=t) == 0
        tokens.wrong(peer, now=t)
    assert tokens.wait(peer, now=10) == 50  # from the first wrong token on
    assert tokens.wait(other, now=10) == 0  # the same address through a relay is apart
    assert tokens.wait(peer, now=60) == 0
    tokens.wrong(peer, now=61)  # a new window: one wrong token is not enough
    assert tokens.wait(peer, now=62) == 0


def test_wrong_tokens_remember_a_bounded_number_of_peers() -> None:
    tokens = WrongTokens(most=1)
    for n in range(5000):
        tokens.wrong((f"10.{n // 256}.{n % 256}.1", ""), now=0)
    assert len(tokens._peers) == 1000
    assert tokens.wait(("10.19.135.1", ""), now=1) > 0  # the newest are kept


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


# --- out of file descriptors ------------------------------------------------------------


def test_short_of_descriptors_a_newcomer_displaces_a_silent_connection_not_one_that_talks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    missing = [0]
    gate = StartupGate(Startups(100, 30, 200), rng=lambda: 0.99, fds_short=lambda: missing[0])
    talking, silent = Conn("talking", progress=1), Conn("silent")
    gate.arrive(talking)
    gate.arrive(silent)
    missing[0] = 5
    gate.arrive(Conn("newcomer"))
    assert not silent.dropped  # it came a moment ago: a real client may not have spoken
    monkeypatch.setattr(limits, "SILENT_AFTER", 0.0)  # everyone waiting is old now
    gate.arrive(Conn("another"))
    assert silent.dropped and not talking.dropped and gate.dropped == 1  # one in, one out
    missing[0] = 0
    gate.arrive(Conn("at ease"))
    assert gate.dropped == 1 and len(gate) == 4


def test_prune_drops_as_many_silent_connections_as_descriptors_are_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    missing = [0]
    gate = StartupGate(Startups(100, 30, 200), rng=lambda: 0.99, fds_short=lambda: missing[0])
    conns = [Conn("talking", progress=2)] + [Conn(f"silent{i}") for i in range(5)]
    for c in conns:
        gate.arrive(c)
    assert gate.prune() == 0  # nothing missing
    missing[0] = 3
    assert gate.prune() == 0  # nobody has been silent long enough
    monkeypatch.setattr(limits, "SILENT_AFTER", 0.0)
    assert gate.prune() == 3
    assert [c.name for c in conns if c.dropped] == ["silent0", "silent1", "silent2"]
    assert len(gate) == 3


def test_an_accept_out_of_descriptors_empties_the_queue_and_says_so_once() -> None:
    lines: list[str] = []
    spare = SpareFd()
    handler = QuietExceptionHandler(lines.append, interval=3600, spare=spare)
    loop = asyncio.new_event_loop()
    try:
        with socket.create_server(("127.0.0.1", 0)) as listener:
            listener.setblocking(False)
            clients = [socket.create_connection(listener.getsockname()) for _ in range(2)]
            error = OSError(errno.EMFILE, "Too many open files")
            context = {"message": limits.ACCEPT_ERROR, "exception": error, "socket": listener}
            handler(loop, context)
            clients.append(socket.create_connection(listener.getsockname()))
            handler(loop, context)  # within the interval: closed, not written
            for c in clients:
                assert c.recv(1) == b""
                c.close()
    finally:
        loop.close()
        spare.close()
    said = "socket.accept() out of system resource: [Errno 24] Too many open files"
    assert lines == [f"pairtui: {said}; 2 waiting connections closed unanswered"]
