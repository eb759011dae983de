"""Where a key's time goes inside each SSH server, from kernel timestamps, side by side.

Echo latency alone cannot say which part of the path makes one server slower, and
in-process timers see only pairtui. This pass (``--trace``, after the measured ones:
tracing perturbs what it measures) connects one guest per SSH target, finds the process
that relays the guest's session (sshd's session child, ``pairtui serve``) and, while
the guests type single keys as in the echo phase, records with ``perf`` (tracepoints,
no hardware counters needed) that process's syscalls and scheduling. Per key it then
reads off the two stretches only the server is on:

- **in**: from the poll/epoll return that reports the guest's packet, to the read of
  the socket, to the write of the key into the session's PTY;
- **out**: from the poll/epoll return that reports tmux's echo on the PTY, to its read,
  to the write of the packet to the socket;

and the server's on-CPU time per key (``/proc/PID/task/PID/schedstat``: everything it
does, on the critical path or not).
"""

from __future__ import annotations

import contextlib
import math
import re
import shutil
import signal
import subprocess
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import procs
from benchmarks.phases import Bench, connect_echo_guests, type_in_turns
from benchmarks.reactor import Guest, close_all
from benchmarks.stats import percentile
from benchmarks.targets import Target

# x86_64 syscall numbers.
POLLS = {7, 23, 232, 270, 271, 281, 441}  # poll select epoll_wait pselect6 ppoll epoll_pwait(2)
READS = {0, 45, 47, 19}  # read recvfrom recvmsg readv
WRITES = {1, 44, 46, 20}  # write sendto sendmsg writev
_TRACED = sorted({*POLLS, *READS, *WRITES})

_LINE = re.compile(r"^\s*(?P<tid>\d+)\s+(?P<time>[\d.]+):\s+(?P<event>[\w:]+):\s+(?P<rest>.*)$")
_ENTER = re.compile(r"NR (\d+) \((\w+)")
_EXIT = re.compile(r"NR (\d+) = (-?\d+)")
PENDING_S = 0.002  # a read not followed by a write this soon was not a key's


def find_perf() -> str | None:
    return shutil.which("perf")


@dataclass
class Relay:
    """The process that moves a guest's bytes between its TCP socket and its PTY."""

    pid: int
    sockets: set[int]
    ptys: set[int]
    keys: int = 0
    parts: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    oncpu: float = 0.0


def trace_phase(bench: Bench, out: Path) -> dict[str, Any]:
    perf = find_perf()
    if perf is None:
        return {"error": "perf is not installed (apt-get install -y linux-perf)"}
    targets = [t for t in bench.targets if t.name != "direct"]
    if not targets:
        return {"error": "no SSH target in this run"}
    guests: dict[str, Guest] = {}
    recorder: subprocess.Popen[bytes] | None = None
    keys = max(bench.opts.echo_keys // 2, 50)
    try:
        connect_echo_guests(bench, targets, "trace", guests)
        found = {t.name: _find_relay(t, guests[t.name]) for t in targets}
        relays = {name: r for name, r in found.items() if r is not None}
        if len(relays) < len(found):
            missing = ", ".join(name for name in found if name not in relays)
            return {"error": f"no relay process found for {missing}"}
        pids = ",".join(str(r.pid) for r in relays.values())
        with out.with_suffix(".log").open("wb") as log:
            recorder = bench.reaper.spawn(
                [perf, "record", "-q", "-o", str(out), "-p", pids,
                 "-e", "raw_syscalls:sys_enter", "--filter", _filter(),
                 "-e", "raw_syscalls:sys_exit", "--filter", _filter()],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )  # fmt: skip
        time.sleep(1.0)  # perf attaches to running tasks asynchronously
        if recorder.poll() is not None:
            return {"error": f"perf record failed: {_tail(out.with_suffix('.log'))}"}
        cpu0 = {name: _runtime(r.pid) for name, r in relays.items()}
        typers, _slow = type_in_turns(bench, guests, keys)
        for name, relay in relays.items():
            relay.oncpu = _runtime(relay.pid) - cpu0[name]
            relay.keys = sum(ty.sent - ty.lost for ty in typers[name])
    finally:
        if recorder is not None:
            _stop(recorder)
            bench.reaper.forget(recorder)
        close_all(list(guests.values()))
    if not out.exists():
        return {"error": f"perf wrote nothing: {_tail(out.with_suffix('.log'))}"}
    script = subprocess.run([perf, "script", "-i", str(out), "--ns",
                             "-F", "tid,time,event,trace"],
                            capture_output=True, text=True, check=False, timeout=300)  # fmt: skip
    if script.returncode != 0:
        return {"error": f"perf script failed: {script.stderr[-300:]}"}
    analyse(script.stdout.splitlines(), {r.pid: r for r in relays.values()})
    result: dict[str, Any] = {"keys_per_target": keys, "raw": out.name}
    result.update((name, summarize(relay)) for name, relay in relays.items())
    return result


def _filter() -> str:
    return " || ".join(f"id == {n}" for n in _TRACED)


def _stop(recorder: subprocess.Popen[bytes]) -> None:
    if recorder.poll() is None:
        recorder.send_signal(signal.SIGINT)
        try:
            recorder.wait(30)
        except subprocess.TimeoutExpired:
            recorder.kill()
            recorder.wait(5)


def _tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-300:].strip()
    except OSError:
        return "(no log)"


def _runtime(pid: int) -> float:
    """Seconds the process's main thread has been on a CPU (exact, unlike ticks)."""
    try:
        return int(Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return math.nan


def _find_relay(target: Target, guest: Guest) -> Relay | None:
    """The server-side process holding both the guest's TCP connection and a PTY master.

    sshd's privileged monitor may hold both too; the relay is the deepest such process.
    """
    port = _local_port_of(guest.pid)
    if port is None:
        return None
    tree = procs.tree(target.server_roots([guest.pid]))
    tcp = _tcp_inodes_to(port)
    found: dict[int, Relay] = {}
    for pid in tree:
        links = _fd_links(pid)
        ptys = {fd for fd, link in links.items() if link == "/dev/ptmx"}
        sockets = {fd for fd, link in links.items() if _socket_inode(link) in tcp}
        if sockets and ptys:
            found[pid] = Relay(pid, sockets, ptys)
    return _deepest(found, {pid: st.ppid for pid, st in tree.items()})


def _deepest(found: dict[int, Relay], parent: Mapping[int, int]) -> Relay | None:
    def depth(pid: int) -> int:
        n = 0
        while pid in parent and n < 64:
            pid, n = parent[pid], n + 1
        return n

    return max(found.values(), key=lambda r: depth(r.pid), default=None)


def _local_port_of(pid: int) -> int | None:
    """The local TCP port of the guest's ``ssh`` (the server sees it as the peer port)."""
    inodes = {_socket_inode(link) for link in _fd_links(pid).values()}
    return next((local for local, _remote, inode in _tcp_table() if inode in inodes), None)


def _fd_links(pid: int) -> dict[int, str]:
    out = {}
    try:
        for entry in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                out[int(entry.name)] = str(entry.readlink())
    except OSError:
        pass
    return out


def _socket_inode(link: str) -> int | None:
    m = re.fullmatch(r"socket:\[(\d+)\]", link)
    return int(m[1]) if m else None


def _tcp_inodes_to(port: int) -> set[int]:
    return {inode for _local, remote, inode in _tcp_table() if remote == port}


def _tcp_table() -> list[tuple[int, int, int]]:
    rows = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            rows.append((int(cols[1].rsplit(":", 1)[1], 16), int(cols[2].rsplit(":", 1)[1], 16),
                         int(cols[9])))  # fmt: skip
    return rows


def analyse(lines: list[str], relays: dict[int, Relay]) -> None:
    """Walk each relay's events in order and cut them into per-key stretches.

    A stretch starts at a poll-type return; the first read after it says which way
    the bytes go (socket: in, PTY: out); it ends at the first write to the other side.
    sshd polls again between its read and its write, so a poll return keeps a read
    that is still waiting for its write (for up to ``PENDING_S``).
    """
    state: dict[int, dict[str, Any]] = {pid: {"woke": None, "read": None, "dir": None}
                                        for pid in relays}  # fmt: skip
    for line in lines:
        m = _LINE.match(line)
        if not m:
            continue
        t = float(m["time"])
        event = m["event"]
        tid = int(m["tid"])
        if tid not in state:
            continue  # another thread of the process (pairtui's executor): not the relay
        st, relay = state[tid], relays[tid]
        if event == "raw_syscalls:sys_exit":
            ex = _EXIT.search(m["rest"])
            pending = st["read"] is not None and t - st["read"] < PENDING_S
            if ex and int(ex[1]) in POLLS and int(ex[2]) > 0 and not pending:
                st.update(woke=t, read=None, dir=None)
        elif event == "raw_syscalls:sys_enter":
            en = _ENTER.search(m["rest"])
            if not en or st["woke"] is None:
                continue
            nr, fd = int(en[1]), int(en[2], 16)
            if nr in READS and st["read"] is None:
                if fd in relay.sockets:
                    st.update(read=t, dir="in")
                elif fd in relay.ptys:
                    st.update(read=t, dir="out")
            elif nr in WRITES and st["read"] is not None:
                to = relay.ptys if st["dir"] == "in" else relay.sockets
                if fd in to:
                    d = st["dir"]
                    relay.parts[f"{d}: wake to read"].append(st["read"] - st["woke"])
                    relay.parts[f"{d}: read to write"].append(t - st["read"])
                    relay.parts[f"{d}: wake to write"].append(t - st["woke"])
                    st.update(woke=None, read=None, dir=None)


def summarize(relay: Relay) -> dict[str, Any]:
    out: dict[str, Any] = {"pid": relay.pid}
    for name, values in sorted(relay.parts.items()):
        us = [v * 1e6 for v in values]
        out[name] = {"n": len(us), "p50_us": _r(percentile(us, 50)),
                     "p90_us": _r(percentile(us, 90))}  # fmt: skip
    ins = percentile([v * 1e6 for v in relay.parts.get("in: wake to write", [])], 50)
    outs = percentile([v * 1e6 for v in relay.parts.get("out: wake to write", [])], 50)
    if ins is not None and outs is not None:
        out["critical_p50_us"] = _r(ins + outs)
    out["keys"] = relay.keys
    per_key = relay.oncpu * 1e6 / relay.keys if relay.keys else math.nan
    out["oncpu_per_key_us"] = None if math.isnan(per_key) else _r(per_key)
    return out


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def summary_text(result: dict[str, Any]) -> str:
    if "error" in result:
        return f"  trace: {result['error']}"
    names = [n for n in ("openssh", "pairtui") if n in result]
    rows = ["in: wake to read", "in: read to write", "in: wake to write",
            "out: wake to read", "out: read to write", "out: wake to write"]  # fmt: skip
    head = f"  {'p50 µs (p90)':24}" + "".join(f"{n:>18}" for n in names)
    lines = [f"  per key, inside the server (perf; {result.get('keys_per_target')} keys each):",
             head]  # fmt: skip
    for row in rows:
        cells = []
        for n in names:
            part = result[n].get(row)
            cells.append(f"{part['p50_us']:8.1f} ({part['p90_us']:6.1f})" if part else f"{'-':>17}")
        lines.append(f"  {row:24}" + "".join(f"{c:>18}" for c in cells))
    for label, key in (("both stretches (p50s)", "critical_p50_us"),
                       ("on-CPU per key", "oncpu_per_key_us")):  # fmt: skip
        vals = [result[n].get(key) for n in names]
        lines.append(
            f"  {label:24}"
            + "".join(f"{v:>18.1f}" if v is not None else f"{'-':>18}" for v in vals)
        )
    return "\n".join(lines)
