"""The processes the harness starts, and what ``/proc`` says they cost.

Every process the harness starts goes through a :class:`Reaper`, which ends them (and
whatever they started) by pid on the way out, also after Ctrl-C or a failure. CPU and
memory are read from ``/proc/PID/stat`` and ``/proc/PID/smaps_rollup`` over a
process tree, so that per-connection children (sshd's per-session processes, the
``tmux attach`` clients a server spawns) are charged to the server that made them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")

# Fields after "pid (comm) ", counted from 0: state, ppid, ... (see proc(5)).
_PPID, _UTIME, _STIME, _STARTTIME = 1, 11, 12, 19


@dataclass(frozen=True)
class Stat:
    pid: int
    ppid: int
    start: int  # start time in clock ticks since boot: tells a reused pid apart
    cpu: float  # user + system seconds, all threads


def read_stat(pid: int) -> Stat | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    rest = text[text.rindex(")") + 2 :].split()
    cpu = (int(rest[_UTIME]) + int(rest[_STIME])) / CLK_TCK
    return Stat(pid, int(rest[_PPID]), int(rest[_STARTTIME]), cpu)


def all_stats() -> dict[int, Stat]:
    out: dict[int, Stat] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            st = read_stat(int(entry.name))
            if st is not None:
                out[st.pid] = st
    return out


def tree(roots: Iterable[int], stats: Mapping[int, Stat] | None = None) -> dict[int, Stat]:
    """The roots and all their descendants that are alive now."""
    stats = all_stats() if stats is None else stats
    kids: dict[int, list[int]] = {}
    for st in stats.values():
        kids.setdefault(st.ppid, []).append(st.pid)
    out: dict[int, Stat] = {}
    todo = [pid for pid in roots if pid in stats]
    while todo:
        pid = todo.pop()
        if pid in out:
            continue
        out[pid] = stats[pid]
        todo.extend(kids.get(pid, ()))
    return out


@dataclass(frozen=True)
class CpuSnapshot:
    at: float
    procs: dict[tuple[int, int], float]

    @classmethod
    def take(cls, procs: Mapping[int, Stat]) -> CpuSnapshot:
        return cls(time.perf_counter(), {(s.pid, s.start): s.cpu for s in procs.values()})

    def refreshed(self) -> CpuSnapshot:
        """The same processes read again (those that ended are dropped)."""
        now: dict[tuple[int, int], float] = {}
        for pid, start in self.procs:
            st = read_stat(pid)
            if st is not None and st.start == start:
                now[(pid, start)] = st.cpu
        return CpuSnapshot(time.perf_counter(), now)


def cpu_seconds(before: CpuSnapshot, after: CpuSnapshot) -> float:
    """CPU used between two snapshots by processes alive at both (new ones count whole)."""
    total = 0.0
    for key, cpu in after.procs.items():
        total += cpu - before.procs.get(key, 0.0)
    return total


def pss_kib(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def tree_pss_kib(procs: Iterable[int]) -> int:
    return sum(pss_kib(pid) for pid in procs)


def pss_by_comm(procs: Iterable[int]) -> dict[str, int]:
    """PSS in KiB summed per process name (``tmux: client``, ``sshd``, ``python``...)."""
    out: dict[str, int] = {}
    for pid in procs:
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        out[comm] = out.get(comm, 0) + pss_kib(pid)
    return out


def fd_targets(pid: int) -> list[str]:
    """What each open descriptor of ``pid`` points at (``socket:[N]``, ``/dev/ptmx``, ...).

    The soak phase counts them before and after: a descriptor left per connection is
    the leak a long-running server must not have, and its target says which kind.
    """
    out: list[str] = []
    try:
        entries = list(os.scandir(f"/proc/{pid}/fd"))
    except OSError:
        return out
    for entry in entries:
        with contextlib.suppress(OSError):  # closed meanwhile
            out.append(str(Path(entry.path).readlink()))
    return out


def fd_kind(target: str) -> str:
    """A descriptor's kind: ``socket``, ``pipe``, ``anon_inode:[eventpoll]``, a /dev node..."""
    if target.startswith(("socket:", "pipe:")):
        return target.split(":", 1)[0]
    if target.startswith("/dev/pts/"):
        return "/dev/pts/*"
    return target


def status_fields(pid: int) -> dict[str, int]:
    """``VmRSS`` (KiB) and ``Threads`` from ``/proc/PID/status`` (empty if it is gone)."""
    out: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "Threads"):
            out[name] = int(value.split()[0])
    return out


@dataclass(frozen=True)
class MachineCpu:
    """Whole-machine busy/total jiffies from ``/proc/stat`` (to see saturation)."""

    busy: int
    total: int

    @classmethod
    def take(cls) -> MachineCpu:
        with Path("/proc/stat").open() as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        total = sum(fields[:8])
        return cls(total - idle, total)


def machine_busy(before: MachineCpu, after: MachineCpu) -> float:
    """Fraction of all cores busy between two readings."""
    total = after.total - before.total
    return (after.busy - before.busy) / total if total > 0 else 0.0


class Reaper:
    """Owns every process the harness starts and ends them, by pid, on close."""

    def __init__(self) -> None:
        self._popens: list[subprocess.Popen[bytes]] = []
        self._adopted: list[tuple[int, int]] = []  # (pid, start) of daemons such as tmux

    def spawn(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        proc: subprocess.Popen[bytes] = subprocess.Popen(list(argv), **kwargs)
        self._popens.append(proc)
        return proc

    def adopt(self, pid: int) -> None:
        """Track a process we caused to start that is not our child (a daemonised tmux)."""
        st = read_stat(pid)
        if st is not None:
            self._adopted.append((pid, st.start))

    def forget(self, proc: subprocess.Popen[bytes]) -> None:
        """Drop a child that has been waited for."""
        with contextlib.suppress(ValueError):
            self._popens.remove(proc)

    def roots(self) -> list[int]:
        pids = [p.pid for p in self._popens if p.returncode is None]
        for pid, start in self._adopted:
            st = read_stat(pid)
            if st is not None and st.start == start:
                pids.append(pid)
        return pids

    def close(self, grace: float = 3.0) -> None:
        """SIGTERM everything still running (and its descendants), then SIGKILL."""
        for _ in range(3):
            victims = tree(self.roots())
            if not victims:
                break
            _signal_all(victims, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and _alive(victims):
                self._reap()
                time.sleep(0.05)
            _signal_all({k: v for k, v in victims.items() if _same(v)}, signal.SIGKILL)
            self._reap()
        for proc in self._popens:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(1)
        self._popens.clear()
        self._adopted.clear()

    def _reap(self) -> None:
        for proc in self._popens:
            proc.poll()


def _same(st: Stat) -> bool:
    now = read_stat(st.pid)
    return now is not None and now.start == st.start


def _alive(victims: Mapping[int, Stat]) -> bool:
    return any(_same(st) and not _zombie(st.pid) for st in victims.values())


def _zombie(pid: int) -> bool:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return text[text.rindex(")") + 2] == "Z"


def _signal_all(victims: Mapping[int, Stat], sig: signal.Signals) -> None:
    for st in victims.values():
        if _same(st):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(st.pid, sig)
