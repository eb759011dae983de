"""The dashboard phase: the real ``pairtui dashboard`` on a real PTY, read like a terminal.

The dashboard's output is fed, chunk by chunk with its arrival time, through a terminal
emulator (pyte); a condition on the emulated screen is true from the chunk that made it
true. Three figures (the dashboard issue's "Speed" section):

- **first paint**: launch → the main screen (the status line and the three tab labels)
  on the screen; also launch → "serving on" (the in-process engine is up) and the
  footer drawn;
- **join-to-row**: a real OpenSSH guest joins; from the engine's ``join`` line in
  ``$PAIRTUI_STATE_DIR/audit.jsonl`` (the moment the server has the client, wall clock,
  millisecond resolution) and from the guest seeing the pane's marker, to the guest's
  name on the dashboard's clients table;
- **idle CPU with 10 guests**: ``/proc/PID/stat`` of the dashboard process alone and,
  apart, of its children (the ``tmux attach`` clients the engine spawns), over a window.

The dashboard gets its own tmux server, config and state directories (so it never
attaches to the ``pairtui`` target's ``pairtui serve``), and one guest per key, named
``dgNN``, so that every join has a name of its own on screen.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks import procs
from benchmarks.phases import CORES, Bench, Options
from benchmarks.reactor import Guest, close_all
from benchmarks.screen import Screen, terminal
from benchmarks.stats import percentile, summary_ms
from benchmarks.targets import Lab, Pairtui, SetupError, _run
from benchmarks.tmuxhost import SESSION, echo_pane

SIZE = (120, 40)  # the dashboard's terminal: room for every client row
TABS = ("Clients", "Guests", "Shares")
SERVING = re.compile(r"serving on \S+:(\d+)")


class DashboardHost(Pairtui):
    """The dashboard's world: its own tmux server, guests ``dg00``… and a share."""

    name = "dashboard"

    def __init__(self, lab: Lab, guests: int) -> None:
        super().__init__(lab)
        self.guests = [f"dg{i:02d}" for i in range(guests)]
        self.keys: dict[str, Path] = {}
        self.audit = Path(self.env["PAIRTUI_STATE_DIR"]) / "audit.jsonl"

    def start(self) -> None:
        self.tmux.start()
        for name in self.guests:
            key = self.dir / f"{name}_ed25519"
            _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)],
                 self.env)  # fmt: skip
            self.keys[name] = key
            self.cli("guest", "add", name, "--key", str(key.with_suffix(".pub")),
                     "--mode", "pair")  # fmt: skip
        # The dashboard serves guests itself: a pairtui whose `share` starts a server in
        # the background when none runs is told not to (older ones have no such flag).
        quiet = ["--no-server"] if "--no-server" in self.cli("share", "--help") else []
        self.cli("share", "--tmux-socket", str(self.tmux.socket), "--session", SESSION,
                 "--name", SESSION, *quiet)  # fmt: skip

    def dashboard_argv(self) -> list[str]:
        return [self.lab.python, "-m", "pairtui", "dashboard", "--listen", "127.0.0.1",
                "--port", "0", "--tmux-socket", str(self.tmux.socket)]  # fmt: skip

    def guest_of(self, name: str) -> list[str]:
        argv = self.lab.ssh_argv(self.port, "guest", "-tt")
        argv[argv.index("-i") + 1] = str(self.keys[name])
        return argv


class Dashboard:
    """One running dashboard, its output replayed through pyte as it arrives."""

    def __init__(self, bench: Bench, host: DashboardHost) -> None:
        self.bench = bench
        self.host = host
        self.screen, self.stream = terminal(*SIZE)
        env = dict(host.env, COLORTERM="truecolor")
        # `python -m pairtui` from the measured source tree, like the pairtui target.
        self.guest = Guest(bench.reactor, bench.reaper, host.dashboard_argv(), env, size=SIZE,
                           record=True)  # fmt: skip
        self.spawned = self.guest.spawned
        self.fed_at = self.spawned
        self.bytes_fed = 0

    @property
    def pid(self) -> int:
        return self.guest.pid

    def feed(self) -> None:
        chunks = self.guest.chunks
        for at, data in chunks:
            self.stream.feed(data)
            self.fed_at = at
            self.bytes_fed += len(data)
        chunks.clear()

    def rows(self) -> list[str]:
        return [str(line).rstrip() for line in self.screen.display]

    def wait(self, cond: Callable[[Screen], bool], timeout: float) -> float | None:
        """Arrival time of the chunk after which ``cond(screen)`` first held, or None.

        Chunks are fed one at a time so the time is that of the chunk that did it.
        """
        found: list[float] = []

        def check() -> bool:
            chunks = self.guest.chunks
            while chunks:
                at, data = chunks.pop(0)
                self.stream.feed(data)
                self.fed_at, self.bytes_fed = at, self.bytes_fed + len(data)
                if cond(self.screen):
                    found.append(at)
                    return True
            if self.guest.closed:
                return True
            if cond(self.screen):  # already true before anything new arrived
                found.append(self.fed_at)
                return True
            return False

        self.bench.reactor.run(check, timeout)
        return found[0] if found else None

    def close(self) -> None:
        self.guest.close(10)


def _text(screen: Screen) -> list[str]:
    return [str(line) for line in screen.display]


def painted(screen: Screen) -> bool:
    """The main screen: the status line (starting or serving) and every tab label."""
    rows = _text(screen)
    top = "\n".join(rows[:3])
    tabs = next((r for r in rows if all(t in r for t in TABS)), None)
    return "pairtui" in top and tabs is not None


def serving(screen: Screen) -> bool:
    return SERVING.search("\n".join(_text(screen)[:3])) is not None and painted(screen)


def row_of(name: str) -> Callable[[Screen], bool]:
    """``name`` as a row of the clients table (the left edge; toasts are on the right)."""
    needle = f" {name} "

    def cond(screen: Screen) -> bool:
        return any(needle in r[: SIZE[0] // 2] for r in _text(screen)[4:])

    return cond


def no_row_of(name: str) -> Callable[[Screen], bool]:
    has = row_of(name)
    return lambda screen: not has(screen)


# --- the phase ----------------------------------------------------------------------------


def dashboard_phase(bench: Bench, lab: Lab) -> dict[str, Any]:
    opts = bench.opts
    host = DashboardHost(lab, max(opts.dashboard_idle_guests, 1))
    desc = host.describe()
    out: dict[str, Any] = {"source": desc["source"], "textual": _textual_version(),
                           "terminal": f"{SIZE[0]}x{SIZE[1]}"}  # fmt: skip
    try:
        host.start()
        out["first_paint"] = _first_paint(bench, host, opts)
        bench.check_time()
        out.update(_joins_and_idle(bench, host, opts))
    finally:
        host.tmux.kill()
    return out


def _first_paint(bench: Bench, host: DashboardHost, opts: Options) -> dict[str, Any]:
    paint: list[float] = []
    ready: list[float] = []
    failed = 0
    for i in range(opts.dashboard_starts):
        bench.check_time()
        d = Dashboard(bench, host)
        try:
            at = d.wait(painted, 30)
            up = d.wait(serving, 30)
            if at is None or up is None:
                failed += 1
                bench.log(f"  dashboard start {i}: no main screen; screen: {d.rows()[:6]!r}")
                continue
            paint.append(at - d.spawned)
            ready.append(up - d.spawned)
            bench.reactor.sleep(0.3)  # let it settle: a quit mid-start is not the point
        finally:
            _quit(bench, d)
    return {
        "paint_ms": summary_ms(paint),
        "serving_ms": summary_ms(ready),
        "samples_paint_ms": [round(x * 1000, 1) for x in paint],
        "samples_serving_ms": [round(x * 1000, 1) for x in ready],
        "failed": failed,
    }


def _quit(bench: Bench, d: Dashboard) -> None:
    """``q`` (no guests: no question), then the usual SIGTERM/SIGKILL if it lingers."""
    if not d.guest.closed:
        d.guest.write(b"q")
        bench.reactor.run(lambda: d.guest.closed or d.guest.proc.poll() is not None, 5)
    d.close()


def _joins_and_idle(bench: Bench, host: DashboardHost, opts: Options) -> dict[str, Any]:
    marker = "READY-dashboard"
    host.tmux.single(echo_pane(marker))
    d = Dashboard(bench, host)
    guests: list[Guest] = []
    join_s: list[float] = []  # audit `join` → row
    marker_s: list[float] = []  # guest saw the marker → row
    launch_s: list[float] = []  # ssh launched → row
    missed = 0
    idle: dict[str, Any] = {}
    try:
        if d.wait(serving, 30) is None:
            raise SetupError(f"the dashboard did not start serving: {d.rows()[:6]!r}")
        m = SERVING.search("\n".join(d.rows()[:3]))
        assert m is not None
        host.port = int(m[1])
        # wall clock = perf_counter + offset (the audit log has wall-clock stamps)
        offset = time.time() - time.perf_counter()
        names = host.guests
        for i in range(opts.dashboard_joins):
            bench.check_time()
            name = names[i % len(names)]
            audit_lines = _audit_count(host.audit)
            g = Guest(bench.reactor, bench.reaper, host.guest_of(name), host.env)
            g.watch(marker)
            at = d.wait(row_of(name), 15)
            bench.reactor.run(lambda: g.marker_at is not None or g.closed, 10)  # noqa: B023
            joined = _audit_join(host.audit, audit_lines, name)
            if at is None or joined is None:
                missed += 1
                bench.log(f"  join {i} ({name}): row {'seen' if at else 'not seen'}, audit "
                          f"{'seen' if joined else 'not seen'}")  # fmt: skip
            else:
                join_s.append(at + offset - joined)
                launch_s.append(at - g.spawned)
                if g.marker_at is not None:
                    marker_s.append(at - g.marker_at)
            g.close()
            d.wait(no_row_of(name), 10)
            bench.reactor.sleep(0.05)
        bench.check_time()
        idle = _idle(bench, host, d, guests, marker, opts)
    finally:
        close_all(guests)
        if guests:
            bench.reactor.sleep(0.5)
        # Guests are gone, so `q` quits without asking; else SIGTERM.
        _quit(bench, d)
    return {
        "join_to_row_ms": {**summary_p95(join_s), "missed": missed},
        "marker_to_row_ms": summary_p95(marker_s),
        "launch_to_row_ms": summary_ms(launch_s),
        "samples_join_to_row_ms": [round(x * 1000, 1) for x in join_s],
        "idle": idle,
    }


def _idle(
    bench: Bench, host: DashboardHost, d: Dashboard, guests: list[Guest], marker: str,
    opts: Options,
) -> dict[str, Any]:  # fmt: skip
    """``dashboard_idle_guests`` guests connected and idle; CPU over the window.

    The same window with no guest connected first, as a baseline: what the dashboard
    costs on its own, whoever is in.
    """
    base = {"settled_after_s": round(_settle(bench, d), 1),
            **_cpu_window(bench, host, d, opts.dashboard_idle_window)}  # fmt: skip
    bench.check_time()
    for name in host.guests[: opts.dashboard_idle_guests]:
        g = Guest(bench.reactor, bench.reaper, host.guest_of(name), host.env)
        g.watch(marker)
        guests.append(g)
    bench.reactor.run(lambda: all(g.marker_at is not None or g.closed for g in guests), 30)
    connected = sum(1 for g in guests if g.marker_at is not None and not g.closed)
    for name in host.guests[: opts.dashboard_idle_guests]:
        d.wait(row_of(name), 5)
    settled = _settle(bench, d)  # the joins' aftermath (notifications fading out) is not idle
    busy = {"settled_after_s": round(settled, 1),
            **_cpu_window(bench, host, d, opts.dashboard_idle_window)}  # fmt: skip
    return {
        "guests": opts.dashboard_idle_guests,
        "connected": connected,
        **busy,
        "no_guests": base,
        "cores": CORES,
    }


def _settle(bench: Bench, d: Dashboard, quiet: float = 6.0, limit: float = 30.0) -> float:
    """Wait until the screen has not changed for ``quiet`` seconds (bounded); "idle"
    starts there: the join notifications have timed out (Textual's default, 5 s) and
    been taken down. Returns the seconds waited, reported with the figures."""
    began = time.monotonic()
    seen, since = d.guest.nbytes, time.monotonic()
    while time.monotonic() - began < limit:
        bench.reactor.sleep(0.1)
        if d.guest.nbytes != seen:
            seen, since = d.guest.nbytes, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return time.monotonic() - began


def _cpu_window(bench: Bench, host: DashboardHost, d: Dashboard, window: float) -> dict[str, Any]:
    stats = procs.all_stats()
    me = {d.pid: stats[d.pid]} if d.pid in stats else {}
    kids = {p: s for p, s in procs.tree([d.pid], stats).items() if p != d.pid}
    before = {
        "dashboard": procs.CpuSnapshot.take(me),
        "children": procs.CpuSnapshot.take(kids),
        "tmux": procs.CpuSnapshot.take({host.tmux.pid: stats[host.tmux.pid]}),
    }
    bytes0 = d.guest.nbytes
    driver0 = time.process_time()
    bench.reactor.sleep(window)
    after = {k: v.refreshed() for k, v in before.items()}
    elapsed = after["dashboard"].at - before["dashboard"].at
    cpu = {k: procs.cpu_seconds(before[k], after[k]) / elapsed for k in before}
    return {
        "window_s": round(elapsed, 2),
        "dashboard_cpu": round(cpu["dashboard"], 4),  # cores (1.0 = one core busy)
        "children_cpu": round(cpu["children"], 4),
        "children": len(kids),
        "tmux_server_cpu": round(cpu["tmux"], 4),
        "dashboard_threads": _threads(d.pid),
        "output_bytes_per_s": round((d.guest.nbytes - bytes0) / elapsed, 1),
        "harness_cpu": round((time.process_time() - driver0) / elapsed, 4),
    }


def _textual_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("textual")
    except PackageNotFoundError:
        return "?"


def _threads(pid: int) -> int | None:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return None


def _audit_count(path: Path) -> int:
    try:
        return len(path.read_bytes().splitlines())
    except FileNotFoundError:
        return 0


def _audit_join(path: Path, skip: int, guest: str) -> float | None:
    """Wall-clock time of the first ``join`` of ``guest`` after line ``skip``."""
    try:
        lines = path.read_text().splitlines()[skip:]
    except FileNotFoundError:
        return None
    for line in lines:
        with contextlib.suppress(ValueError):
            row = json.loads(line)
            if row.get("event") == "join" and row.get("guest") == guest:
                return datetime.fromisoformat(str(row["ts"])).timestamp()
    return None


def summary(results: dict[str, Any]) -> dict[str, Any]:
    """The three figures the issue sets targets for."""
    paint = results.get("first_paint", {}).get("paint_ms", {})
    join = results.get("join_to_row_ms", {})
    idle = results.get("idle", {})

    def num(v: Any) -> float | None:
        return float(v) if isinstance(v, int | float) else None

    p50 = num(paint.get("p50"))
    return {
        "first_paint_s": None if p50 is None else round(p50 / 1000, 3),
        "join_to_row_p95_ms": num(join.get("p95")),
        "idle_cpu_10_guests_core_fraction": num(idle.get("dashboard_cpu")),
    }


def summary_p95(seconds: list[float]) -> dict[str, float | int | None]:
    """:func:`summary_ms` plus p95 (the issue's join-to-row figure)."""
    p95 = percentile([s * 1000 for s in seconds], 95)
    return {**summary_ms(seconds), "p95": None if p95 is None else round(p95, 2)}
