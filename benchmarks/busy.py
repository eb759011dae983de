"""The ``--busy`` setting (issue 19): the host compiles while it pairs.

Hosts run builds and tests while guests watch; pairtui serves every guest from one
process on one core, so with the machine busy it gets one share of the CPU where sshd's
per-connection processes get many. This setting puts a CPU-bound loop on every core
(``os.cpu_count()`` processes, each ``python -S -c 'while 1: pass'``, as a ``make -jN``
would) around the windows of the echo and load phases, so that their figures are taken
on a busy host, both targets alike (the phases interleave them).

The loops are started through the harness's :class:`~benchmarks.procs.Reaper`, so a
Ctrl-C, a SIGTERM or an error on the way ends them by pid like every other process; on
the normal path :meth:`Busy.stop` ends them right after the phase. What they got of the
CPU meanwhile is recorded (a loop that got little says the machine was busier still).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from benchmarks import procs

# The phases the loops run around; the others (connect, burst, ...) stay quiet.
BUSY_PHASES = ("echo", "load")
LOOP = "while 1: pass"


def loop_count(cores: int | None) -> int:
    """One loop per core (at least one: ``os.cpu_count()`` may not know)."""
    return max(cores or 1, 1)


def loop_argv(python: str = sys.executable) -> list[str]:
    """A tight pure loop: no site import, no I/O, nothing but CPU."""
    return [python, "-S", "-c", LOOP]


@dataclass(frozen=True)
class BusySpan:
    """What the loops got of the CPU while one phase ran."""

    phase: str
    loops: int
    seconds: float  # wall time from start to stop
    cpu_seconds: float  # CPU the loops used meanwhile, all of them

    def figures(self) -> dict[str, Any]:
        """For the JSON: cores the loops held on average (``loops`` is the most)."""
        held = self.cpu_seconds / self.seconds if self.seconds > 0 else None
        return {
            "phase": self.phase,
            "loops": self.loops,
            "seconds": round(self.seconds, 2),
            "loops_cpu_cores": None if held is None else round(held, 3),
        }


class Busy:
    """``os.cpu_count()`` CPU-bound loops for the span of a ``with`` block."""

    def __init__(self, reaper: procs.Reaper, phase: str, loops: int | None = None) -> None:
        self.reaper = reaper
        self.phase = phase
        self.loops = loop_count(os.cpu_count()) if loops is None else loops
        self._procs: list[subprocess.Popen[bytes]] = []
        self._began = 0.0
        self._cpu0: procs.CpuSnapshot | None = None
        self.span: BusySpan | None = None

    def start(self) -> None:
        for _ in range(self.loops):
            self._procs.append(self.reaper.spawn(
                loop_argv(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True,
            ))  # fmt: skip
        self._began = time.perf_counter()
        self._cpu0 = procs.CpuSnapshot.take(procs.tree(self.pids()))

    def pids(self) -> list[int]:
        return [p.pid for p in self._procs if p.poll() is None]

    def stop(self) -> BusySpan:
        """End every loop by pid (SIGTERM, then SIGKILL after a second) and reap it."""
        cpu = 0.0
        if self._cpu0 is not None:
            cpu = procs.cpu_seconds(self._cpu0, self._cpu0.refreshed())
        seconds = time.perf_counter() - self._began
        for p in self._procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    p.send_signal(signal.SIGTERM)
        for p in self._procs:
            try:
                p.wait(1.0)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5.0)
            self.reaper.forget(p)
        self._procs.clear()
        self.span = BusySpan(self.phase, self.loops, seconds, cpu)
        return self.span

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def record_span(results: dict[str, Any], span: BusySpan) -> None:
    """Into ``results["busy"]``: that the host was busy, and each phase's loops."""
    busy = results.setdefault("busy", {"loops": span.loops, "argv": loop_argv("python"),
                                       "phases": []})  # fmt: skip
    busy["phases"].append(span.figures())


def legend_line(results: dict[str, Any]) -> str | None:
    """The report's line saying the host was busy (None for a quiet run)."""
    busy = results.get("busy")
    if not isinstance(busy, dict):
        return None
    held = ", ".join(f"{p.get('phase')} {p.get('loops_cpu_cores')}" for p in busy.get("phases", []))
    return (f"host BUSY: {busy.get('loops')} CPU-bound loops ({LOOP!r}) during "
            f"{', '.join(BUSY_PHASES)}; cores the loops held: {held or '-'}")  # fmt: skip


def is_busy(results: dict[str, Any]) -> bool:
    return isinstance(results.get("busy"), dict) or bool(
        results.get("meta", {}).get("options", {}).get("busy")
    )
