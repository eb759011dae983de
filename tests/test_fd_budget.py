"""What the open-file limit leaves for guests: the budget, the count, the spare."""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import socket
from collections.abc import Iterator

import pytest

from pairtui import fd_budget
from pairtui.fd_budget import FdBudget, SpareFd, full_message, open_fds


def test_the_budget_counts_what_starting_guests_will_still_open() -> None:
    """A burst of logins sees the descriptors open now, not the PTYs each will open in a
    moment; the budget counts those, so the burst does not all fit and then all fail."""
    in_use = [10]
    budget = FdBudget(100, reserve=20, count=lambda: in_use[0])
    assert budget.capacity() == (100 - 10 - 20) // fd_budget.GUEST_FDS
    in_use[0] = 60  # 50 connections accepted, none with a terminal yet
    admitted = [who for who in range(50) if budget.admit(who)]
    assert admitted == list(range(10))  # 60 open + 2 each for 10 leaves the reserve
    assert budget.admit(0)  # asked again: still in
    assert budget.terminal(3)  # its first terminal was counted when it came in
    assert not budget.terminal(99)  # another terminal for a guest in: no room
    assert budget.shortfall() == fd_budget.GUEST_FDS  # 20 left after those 10: the reserve
    in_use[0] = 62  # guest 0's terminal runs: its PTY and pidfd are open
    budget.settle(0)
    budget.settle(0)  # twice is harmless
    assert not budget.admit(50)
    in_use[0] = 30  # many left
    assert budget.admit(50) and budget.terminal(99)
    assert budget.shortfall() == 0


def test_far_from_the_limit_descriptors_are_counted_once_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counts = [0]

    def count() -> int:
        counts[0] += 1
        return 500

    budget = FdBudget(10_000, count=count)
    assert all(budget.admit(who) for who in range(100))
    assert counts[0] == 1  # at the start only: each admission took one more as estimate
    near = FdBudget(500 + fd_budget.RESERVE_FDS + fd_budget.COUNT_MARGIN, count=count)
    for who in range(3):
        near.admit(who)
    assert counts[0] == 2 + 3  # close to the limit: counted at every question
    monkeypatch.setattr(fd_budget, "RECOUNT_AFTER", 0.0)
    assert budget.admit(100)
    assert counts[0] == 6  # a second later: counted again


def test_the_guest_count_in_the_refusal_reads_right() -> None:
    assert full_message(1) == "this host is full (1 guest); try again later"
    assert full_message(29) == "this host is full (29 guests); try again later"


def test_open_descriptors_are_counted() -> None:
    before = open_fds()
    fd = os.open(os.devnull, os.O_RDONLY)
    try:
        assert open_fds() == before + 1
    finally:
        os.close(fd)


@contextlib.contextmanager
def out_of_descriptors() -> Iterator[None]:
    """This process with every descriptor its (lowered) soft limit allows open."""
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    fillers: list[int] = []
    resource.setrlimit(resource.RLIMIT_NOFILE, (open_fds() + 20, before[1]))
    try:
        with contextlib.suppress(OSError):
            while True:
                fillers.append(os.open(os.devnull, os.O_RDONLY))
        yield
    finally:
        for fd in fillers:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, before)


def test_out_of_descriptors_the_spare_turns_waiting_connections_away() -> None:
    """``accept`` fails and would leave the clients waiting for good; with the spare
    given back each is accepted and closed, and the listener stays."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)
        clients = [socket.create_connection(listener.getsockname(), timeout=5) for _ in range(3)]
        spare = SpareFd()
        try:
            with out_of_descriptors():
                with pytest.raises(OSError) as failed:
                    listener.accept()
                assert failed.value.errno == errno.EMFILE
                assert spare.turn_away(listener.fileno()) == 3
                assert spare.held  # taken back
            for c in clients:
                assert c.recv(1) == b""  # closed: its ssh would say so at once
            late = socket.create_connection(listener.getsockname(), timeout=5)
            conn, _ = listener.accept()  # the listener still works
            conn.close()
            late.close()
        finally:
            spare.close()
            for c in clients:
                c.close()
