"""A typer counts only its own keys as lost, however the rounds on one guest line up.

The echo phase types in rounds of 25 keys, a new typer per round on the same guest, so a
finished typer's expiry timer is still pending while a later round's key is in flight.
Timers are fired by hand here, in the order that once lost a later round's key (a false
"lost" and a round stuck until its time limit in about half of all runs).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, cast

from benchmarks.phases import Keys, Typer


class Timers:
    """The reactor's call_at, fired only when the test says so."""

    def __init__(self) -> None:
        self.due: list[tuple[float, Callable[[], None]]] = []

    def call_at(self, when: float, fn: Callable[[], None], *, track: bool = False) -> None:
        self.due.append((when, fn))

    def fire(self, index: int) -> None:
        self.due.pop(index)[1]()


class Guest:
    """One pending key at a time, as the harness's guest terminal keeps it."""

    def __init__(self) -> None:
        self.closed = False
        self.pending: bytes | None = None
        self.on_echo: Callable[[float], None] | None = None
        self.typed: list[bytes] = []

    def type_key(self, key: bytes, on_echo: Callable[[float], None]) -> None:
        self.pending, self.on_echo = key, on_echo
        self.typed.append(key)

    def forget_key(self) -> None:
        self.pending = self.on_echo = None

    def echo(self) -> None:
        """The pending key shows up on the screen."""
        callback = self.on_echo
        self.pending = self.on_echo = None
        if callback is not None:
            callback(0.001)


def _typer(timers: Timers, guest: Guest) -> Typer:
    bench = SimpleNamespace(reactor=timers, opts=SimpleNamespace(key_timeout=5.0),
                            rng=random.Random(0))  # fmt: skip
    return Typer(cast(Any, bench), cast(Any, guest), Keys(), gap=0.02, count=1)


def test_an_earlier_rounds_expiry_leaves_a_later_rounds_key_alone() -> None:
    timers, guest = Timers(), Guest()
    first = _typer(timers, guest)
    first.start(0.0)
    timers.fire(0)  # first sends its key; its expiry is now due[0]
    guest.echo()
    assert first.done and first.latencies == [0.001]

    second = _typer(timers, guest)
    second.start(0.0)
    timers.fire(1)  # second sends its key
    assert guest.pending is not None
    timers.fire(0)  # first's expiry, five seconds after its key, while second's is out
    assert guest.pending is not None and first.lost == 0
    guest.echo()
    assert second.latencies == [0.001] and second.lost == 0 and second.done


def test_a_key_without_an_echo_is_lost_once_and_typing_goes_on() -> None:
    timers, guest = Timers(), Guest()
    typer = _typer(timers, guest)
    typer.count = 2
    typer.start(0.0)
    timers.fire(0)  # the first key
    timers.fire(0)  # its expiry: no echo
    assert typer.lost == 1 and guest.pending is None and not typer.done
    timers.fire(0)  # the next key, after the gap
    assert len(guest.typed) == 2 and guest.pending == guest.typed[1]
    typer.stop()  # given up with that key still out: lost too
    assert typer.lost == 2 and guest.pending is None and typer.done
