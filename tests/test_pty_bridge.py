"""The PTY bridge with real children: output, window size, bounded input, stopping."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable

from pairtui.pty_bridge import PtyBridge

ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TERM": "dumb", "LANG": "C.UTF-8"}


class Sink:
    def __init__(self) -> None:
        self.data = b""
        self.eof = False
        self.full = 0
        self.ok = 0

    def bridge(self, input_limit: int = 1024) -> PtyBridge:
        def output(data: bytes) -> None:
            self.data += data

        def eof() -> None:
            self.eof = True

        def full() -> None:
            self.full += 1

        def ok() -> None:
            self.ok += 1

        return PtyBridge(output, eof, input_limit, full, ok)


async def until(check: Callable[[], object], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_output_flows_only_while_reading_is_on_and_eof_is_told_once() -> None:
    sink = Sink()
    pty = sink.bridge()
    await pty.start(["sh", "-c", "read x; echo got-$x; stty size"], ENV, rows=30, cols=100)
    assert pty.tty.startswith("/dev/pts/") and pty.pid > 0
    pty.write(b"one\n")
    await asyncio.sleep(0.3)
    assert b"got-one" not in sink.data  # not reading yet: it waits in the PTY
    pty.reading(True)
    await until(lambda: sink.eof, "the child to exit")
    assert b"got-one" in sink.data and b"30 100" in sink.data
    await pty.stop(lambda data: None)
    assert not pty.open


async def test_a_resize_reaches_the_child() -> None:
    sink = Sink()
    pty = sink.bridge()
    await pty.start(["sh", "-c", "trap 'stty size' WINCH; while :; do sleep 0.05; done"], ENV,
                    rows=24, cols=80)  # fmt: skip
    pty.reading(True)
    await asyncio.sleep(0.2)
    pty.resize(50, 132)
    await until(lambda: b"50 132" in sink.data, "the new size")
    last: list[bytes] = []
    await pty.stop(last.append)
    assert not pty.open


async def test_input_the_child_does_not_take_is_bounded_by_asking_to_pause() -> None:
    sink = Sink()
    pty = sink.bridge(input_limit=4096)
    await pty.start(["sleep", "30"], ENV, rows=24, cols=80)
    # The kernel takes some first (its PTY buffers, up to ~68 KiB, how much depends on
    # when it moves them along): write until the bridge holds some back, then more.
    for _ in range(1024):
        pty.write(b"x" * 1024)
        if sink.full:
            break
    for _ in range(64):
        pty.write(b"x" * 1024)
    assert sink.full == 1  # asked once to stop sending, however much more came meanwhile
    assert sink.ok == 0
    started = time.monotonic()
    await pty.stop(lambda data: None)  # SIGTERM ends it at once
    assert time.monotonic() - started < 2
    assert not pty.open
    pty.write(b"after")  # a closed bridge takes nothing and does not fail


async def test_what_the_child_prints_on_its_way_out_goes_to_the_last_output() -> None:
    sink = Sink()
    pty = sink.bridge()
    await pty.start(["sh", "-c", "trap 'echo bye-now; exit 0' TERM; while :; do sleep 0.05; done"],
                    ENV, rows=24, cols=80)  # fmt: skip
    await asyncio.sleep(0.3)
    last: list[bytes] = []
    await pty.stop(last.append)
    assert b"bye-now" in b"".join(last)
