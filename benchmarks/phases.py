"""The measurements. Each phase interleaves the targets (the order rotates per round),
because the machines this runs on are shared and noisy: only ratios within one run,
taken side by side, mean anything.

Keys are CJK ideographs, a fresh one per keystroke: their UTF-8 bytes never occur in
escape sequences or in anything else on screen, so seeing them in a guest's output
can only be their echo. One key is in flight per guest at a time.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import procs
from benchmarks.reactor import Guest, Reactor, close_all, visible
from benchmarks.stats import percentile, summary_ms
from benchmarks.targets import Target
from benchmarks.tmuxhost import echo_pane, printer_pane, shell_pane

PRINTER = Path(__file__).resolve().parent / "printer.py"
CJK_FIRST, CJK_COUNT = 0x4E00, 0x9FFF - 0x4E00 + 1
GUEST_SIZE = (80, 24)
CORES = os.cpu_count() or 1


class Overtime(RuntimeError):
    """The run's time budget is spent; what was measured so far is reported."""


# The full run's phases. Issue 19's busy pass (echo and K=100 with every core busy),
# fan-out and classic phases are part of it: about 4 minutes more than the table's.
DEFAULT_PHASES = ("connect", "echo", "burst", "load", "busy", "fanout", "classic", "dashboard")


@dataclass
class Options:
    quick: bool = False
    targets: list[str] = field(default_factory=lambda: ["direct", "openssh", "pairtui"])
    phases: list[str] = field(default_factory=lambda: list(DEFAULT_PHASES))
    connect_samples: int = 15
    echo_keys: int = 300
    echo_gap: float = 0.02
    burst_samples: int = 3
    burst_lines: int = 200_000
    ks: list[int] = field(default_factory=lambda: [10, 50, 100])
    window: float = 10.0
    rounds: int = 2
    key_rate: float = 40.0
    print_interval: float = 0.05
    connect_parallel: int = 8
    key_timeout: float = 5.0
    seed: int = 1
    max_seconds: float = 1200.0
    profile: bool = False
    profile_k: int = 50
    profile_rate: int = 200
    profile_native: bool = False
    trace: bool = False
    dashboard_starts: int = 5
    dashboard_joins: int = 20
    dashboard_idle_guests: int = 10
    dashboard_idle_window: float = 10.0
    soak_seconds: float = 120.0
    soak_settle: float = 30.0
    soak_clients: int = 8
    # Issue 19: CPU-bound loops on every core around the echo and load phases
    # (benchmarks/busy.py); K view guests watching a screenful (benchmarks/fanout.py);
    # K view guests, the classic way on openssh (benchmarks/classic.py).
    busy: bool = False
    busy_ks: list[int] = field(default_factory=lambda: [100])
    fanout_ks: list[int] = field(default_factory=lambda: [10, 100, 200])
    fanout_samples: int = 5
    classic_ks: list[int] = field(default_factory=lambda: [200])
    classic_status_off: bool = False


class Keys:
    """A fresh single-character key per keystroke (CJK, 3 bytes of UTF-8)."""

    def __init__(self) -> None:
        self.n = 0

    def next(self) -> bytes:
        self.n += 1
        return chr(CJK_FIRST + self.n % CJK_COUNT).encode()


class Bench:
    """What every phase needs: targets, the reactor, options and the time budget."""

    def __init__(
        self, targets: Sequence[Target], reactor: Reactor, reaper: procs.Reaper, opts: Options
    ) -> None:
        self.targets = list(targets)
        self.reactor = reactor
        self.reaper = reaper
        self.opts = opts
        self.rng = random.Random(opts.seed)
        self.keys = {t.name: Keys() for t in targets}
        self.started = time.monotonic()
        self.log: Callable[[str], None] = print

    def check_time(self) -> None:
        if time.monotonic() - self.started > self.opts.max_seconds:
            raise Overtime(f"time budget of {self.opts.max_seconds:.0f}s spent")

    def rotation(self, i: int) -> list[Target]:
        n = len(self.targets)
        return [self.targets[(i + j) % n] for j in range(n)]

    def spawn(self, target: Target, *, record: bool = False) -> Guest:
        return Guest(self.reactor, self.reaper, target.guest_argv(), target.env,
                     size=GUEST_SIZE, record=record)  # fmt: skip

    def connect(self, target: Target, marker: str, timeout: float = 20) -> Guest:
        g = self.spawn(target)
        g.watch(marker)
        if not self.reactor.run(seen(g), timeout):
            g.close()
            raise RuntimeError(f"{target.name}: guest did not see {marker!r} in {timeout}s")
        if g.marker_at is None:
            g.close()
            raise RuntimeError(f"{target.name}: guest exited before seeing {marker!r}")
        return g

    def quiet(self, g: Guest, seconds: float, limit: float = 5.0) -> bool:
        """Wait until ``g`` has received nothing for ``seconds`` (at most ``limit``)."""
        give_up = time.perf_counter() + limit
        while True:
            now = time.perf_counter()
            if now - g.last_data >= seconds:
                return True
            if now >= give_up or g.closed:
                return False
            self.reactor.sleep_until(min(g.last_data + seconds, give_up))


def seen(g: Guest) -> Callable[[], bool]:
    """A predicate: the guest saw its marker, or ended."""
    return lambda: g.marker_at is not None or g.closed


class Typer:
    """One guest typing: a key, wait for its echo (or ``timeout``: lost), pause, repeat."""

    def __init__(
        self,
        bench: Bench,
        guest: Guest,
        keys: Keys,
        *,
        gap: float,
        jitter: float = 0.0,
        count: int | None = None,
        until: float | None = None,
    ) -> None:
        self.bench, self.guest, self.keys = bench, guest, keys
        self.gap, self.jitter, self.count, self.until = gap, jitter, count, until
        self.latencies: list[float] = []
        self.lost = 0
        self.sent = 0
        self.done = False
        self._token = 0
        # The token of this typer's key awaiting its echo. The guest outlives the typer
        # (the echo phase types in rounds), so an expiry may only drop its own key.
        self._in_flight: int | None = None

    def start(self, at: float) -> None:
        self.bench.reactor.call_at(at, self._send, track=True)

    def stop(self) -> None:
        """Give up: no more keys; a key still in flight counts as lost."""
        if self._in_flight is not None:
            self._in_flight = None
            self.guest.forget_key()
            self.lost += 1
        self.count, self.done = self.sent, True

    def _finished(self) -> bool:
        if self.guest.closed:
            return True
        if self.count is not None and self.sent >= self.count:
            return True
        return self.until is not None and time.perf_counter() >= self.until

    def _send(self) -> None:
        if self._finished():
            self.done = True
            return
        self._token += 1
        token = self._token
        self._in_flight = token
        self.guest.type_key(self.keys.next(), self._echoed)
        self.sent += 1
        timeout = self.bench.opts.key_timeout
        self.bench.reactor.call_at(time.perf_counter() + timeout, lambda: self._expire(token))

    def _echoed(self, latency: float) -> None:
        self._in_flight = None
        self.latencies.append(latency)
        self._next()

    def _expire(self, token: int) -> None:
        if token == self._in_flight:
            self._in_flight = None
            self.guest.forget_key()
            self.lost += 1
            self._next()

    def _next(self) -> None:
        if self._finished():
            self.done = True
            return
        gap = self.gap * self.bench.rng.uniform(1 - self.jitter, 1 + self.jitter)
        self.bench.reactor.call_at(time.perf_counter() + gap, self._send, track=True)


# --- connect-to-screen ------------------------------------------------------------------


def connect_phase(bench: Bench) -> dict[str, Any]:
    """Launch the client, time until a marker already on the pane is on its screen."""
    samples: dict[str, list[float]] = {t.name: [] for t in bench.targets}
    failed = dict.fromkeys(samples, 0)
    for t in bench.targets:
        t.tmux.single(echo_pane(f"READY-{t.name}-connect"))
    bench.reactor.sleep(0.3)
    for i in range(bench.opts.connect_samples):
        bench.check_time()
        for t in bench.rotation(i):
            g = bench.spawn(t)
            g.watch(f"READY-{t.name}-connect")
            bench.reactor.run(seen(g), 20)
            if g.marker_at is not None:
                samples[t.name].append(g.marker_at - g.spawned)
            else:
                failed[t.name] += 1
            g.close()
            t.tmux.wait_clients(0, 5)
            bench.reactor.sleep(0.05)
    return {name: {**summary_ms(s), "failed": failed[name]} for name, s in samples.items()}


# --- idle echo ----------------------------------------------------------------------------


def echo_phase(bench: Bench) -> dict[str, Any]:
    """Single keys into ``cat`` (raw, no tty echo) on an otherwise idle screen."""
    guests: dict[str, Guest] = {}
    machine0 = procs.MachineCpu.take()
    try:
        connect_echo_guests(bench, bench.targets, "echo", guests)
        typers, slow = type_in_turns(bench, guests, bench.opts.echo_keys)
    finally:
        close_all(list(guests.values()))
    out: dict[str, Any] = {}
    for name, ts in typers.items():
        lat = [x for ty in ts for x in ty.latencies]
        out[name] = {**summary_ms(lat), "lost": sum(ty.lost for ty in ts),
                     "sent": sum(ty.sent for ty in ts)}  # fmt: skip
    # Diagnostics: rounds that lost keys or took long, and how busy the machine was.
    out["slow_rounds"] = slow
    out["machine_busy_cores"] = round(procs.machine_busy(machine0, procs.MachineCpu.take())
                                      * CORES, 2)  # fmt: skip
    return out


def connect_echo_guests(
    bench: Bench, targets: list[Target], label: str, guests: dict[str, Guest]
) -> None:
    """One guest per target on a ``cat`` pane, into ``guests`` (the caller closes them)."""
    for t in targets:
        marker = f"READY-{t.name}-{label}"
        t.tmux.single(echo_pane(marker))
        guests[t.name] = bench.connect(t, marker)
    for g in guests.values():
        bench.quiet(g, 0.3)


def type_in_turns(
    bench: Bench, guests: dict[str, Guest], keys: int
) -> tuple[dict[str, list[Typer]], list[dict[str, Any]]]:
    """``keys`` single keys per guest, 25 at a time, the targets taking turns.

    Returns each target's typers and the rounds that lost keys or took long.
    """
    opts = bench.opts
    typers: dict[str, list[Typer]] = {name: [] for name in guests}
    slow: list[dict[str, Any]] = []
    per_round = 25
    for r in range(math.ceil(keys / per_round)):
        bench.check_time()
        for t in bench.rotation(r):
            if t.name not in guests:
                continue
            n = min(per_round, keys - r * per_round)
            typer = Typer(bench, guests[t.name], bench.keys[t.name], gap=opts.echo_gap,
                          jitter=0.5, count=n)  # fmt: skip
            began = time.perf_counter()
            typer.start(began)
            # Bounded: a round that loses more than a few keys is given up on.
            limit = n * (opts.echo_gap * 2 + 0.05) + 3 * opts.key_timeout + 5
            if not bench.reactor.run(lambda: typer.done, limit):  # noqa: B023
                typer.stop()
            took = time.perf_counter() - began
            if typer.lost or took > n * (opts.echo_gap * 2 + 0.05) + 1:
                slow.append({"round": r, "target": t.name, "seconds": round(took, 2),
                             "lost": typer.lost, "sent": typer.sent})  # fmt: skip
            typers[t.name].append(typer)
    return typers, slow


# --- output burst -------------------------------------------------------------------------


@dataclass
class BurstSample:
    t0: float
    start: int  # index of the first chunk after Enter
    end: int
    expected: list[str]
    marker: str
    marker_at: float | None
    nbytes: int


def burst_phase(bench: Bench) -> dict[str, Any]:
    """``seq 1 N`` typed by the guest, then time until its screen is the pane's final one.

    The guest's output is recorded with arrival times and replayed through a terminal
    emulator (pyte) afterwards, outside the measurement; the time reported is when the
    emulated screen became, and stayed, equal to ``tmux capture-pane`` of that pane.
    """
    opts = bench.opts
    guests: dict[str, Guest] = {}
    samples: dict[str, list[BurstSample]] = {t.name: [] for t in bench.targets}
    try:
        for t in bench.targets:
            marker = f"READY-{t.name}-burst"
            t.tmux.single(shell_pane(marker))
            g = bench.spawn(t, record=True)
            g.watch(marker)
            if not bench.reactor.run(seen(g), 20):
                raise RuntimeError(f"{t.name}: burst guest did not connect")
            guests[t.name] = g
        for i in range(opts.burst_samples):
            bench.check_time()
            for t in bench.rotation(i):
                samples[t.name].append(_one_burst(bench, t, guests[t.name], i))
    finally:
        close_all(list(guests.values()))
    bench.log("  replaying burst output through pyte to check the final screens ...")
    out: dict[str, Any] = {}
    for name, ss in samples.items():
        results = _replay(guests[name].chunks, ss)
        finals = [r["final_s"] for r in results if r["final_s"] is not None]
        out[name] = {
            **summary_ms(finals),
            "correct": sum(1 for r in results if r["correct"]),
            "mismatches": [r["diff"] for r in results if not r["correct"]],
            "samples": len(results),
            "marker_ms": summary_ms([r["marker_s"] for r in results if r["marker_s"] is not None]),
            "bytes_p50": percentile([float(s.nbytes) for s in ss], 50),
        }
    return out


def _one_burst(bench: Bench, t: Target, g: Guest, i: int) -> BurstSample:
    ready = f"READY-{t.name}-burst{i}"
    for _ in range(2):  # a fresh shell; once more if the guest did not see it start
        t.tmux.single(shell_pane(ready))
        g.watch(ready)
        if bench.reactor.run(seen(g), 10) and g.marker_at is not None:
            break
    bench.quiet(g, 0.3)
    end_marker = f"BURST-{i}-END"
    # The marker is quoted apart as typed, so only the command's output contains it whole.
    g.write(f'seq 1 {bench.opts.burst_lines}; echo BU""RST-{i}-END'.encode())
    bench.quiet(g, 0.3)
    start, bytes0 = len(g.chunks), g.nbytes
    g.watch(end_marker)
    g.write(b"\r")
    t0 = time.perf_counter()
    bench.reactor.run(seen(g), 60)
    bench.quiet(g, 0.5, limit=10)
    expected = t.tmux.capture()
    if g.marker_at is None:
        tail = visible(b"".join(d for _, d in g.chunks[-20:]))[-300:]
        bench.log(f"  {t.name}: burst {i} end never seen; pane ends {expected[-3:]!r}; "
                  f"guest output ends {tail!r}")  # fmt: skip
    return BurstSample(t0, start, len(g.chunks), expected, end_marker, g.marker_at,
                       g.nbytes - bytes0)  # fmt: skip


def _replay(chunks: list[tuple[float, bytes]], samples: list[BurstSample]) -> list[dict[str, Any]]:
    from benchmarks.screen import rows_of, terminal

    screen, stream = terminal(*GUEST_SIZE)
    results: list[dict[str, Any]] = []
    pos = 0
    for s in samples:
        for _, data in chunks[pos : s.start]:
            stream.feed(data)
        good_since: float | None = None
        seen_marker = False
        tail = b""
        needle = s.marker.encode()
        for at, data in chunks[s.start : s.end]:
            stream.feed(data)
            if not seen_marker:
                seen_marker = needle in visible(tail + data)
                tail = (tail + data)[-512:]
                if not seen_marker:
                    continue
            shown = rows_of(screen, len(s.expected))
            if shown != s.expected:
                good_since = None
            elif good_since is None:
                good_since = at
        pos = s.end
        shown = rows_of(screen, len(s.expected))
        diff = [
            {"row": i, "guest": got, "pane": want}
            for i, (got, want) in enumerate(zip(shown, s.expected, strict=False))
            if got != want
        ]
        results.append({
            "correct": good_since is not None,
            "diff": diff[:4],
            "final_s": None if good_since is None else good_since - s.t0,
            "marker_s": None if s.marker_at is None else s.marker_at - s.t0,
        })  # fmt: skip
    return results


# --- concurrency --------------------------------------------------------------------------


def load_phase(
    bench: Bench, t: Target, k: int, on_window: Callable[[float], None] | None = None
) -> LoadRun:
    """K guests on a window with a printing pane; each types single keys into ``cat``."""
    opts, reactor = bench.opts, bench.reactor
    marker = f"READY-{t.name}-k{k}"
    t.tmux.load(printer_pane(bench_python(), PRINTER, opts.print_interval), echo_pane(marker))
    reactor.sleep(0.5)
    base = procs.tree(t.server_roots([]))
    base_pss = procs.tree_pss_kib(base)

    guests: list[Guest] = []
    connect_s: list[float] = []
    failed: list[Guest] = []
    deadline = time.perf_counter() + 30 + k * 0.5

    def launch() -> None:
        if len(guests) >= k:
            return
        g = bench.spawn(t)
        guests.append(g)
        g.watch(marker, on_marker)
        reactor.call_at(time.perf_counter() + 30, lambda: give_up(g))

    def on_marker(g: Guest) -> None:
        assert g.marker_at is not None
        connect_s.append(g.marker_at - g.spawned)
        launch()

    def give_up(g: Guest) -> None:
        if g.marker_at is None and g not in failed:
            failed.append(g)
            launch()

    for _ in range(min(opts.connect_parallel, k)):
        launch()
    reactor.run(lambda: len(connect_s) + len(failed) >= k, max(deadline - time.perf_counter(), 1))
    live = [g for g in guests if g.marker_at is not None and not g.closed]
    try:
        _settle(reactor, t, [g.pid for g in live], 10.0)
        reactor.sleep(1.0)
        tmux_clients = t.tmux.client_count()
        pids = [g.pid for g in live]
        stats = procs.all_stats()
        server = procs.tree(t.server_roots(pids), stats)
        before = {
            "server": procs.CpuSnapshot.take(server),
            "tmux": procs.CpuSnapshot.take({t.tmux.pid: stats[t.tmux.pid]}),
            "panes": procs.CpuSnapshot.take(
                {p: s for p, s in procs.tree([t.tmux.pid], stats).items() if p != t.tmux.pid}
            ),
            "guests": procs.CpuSnapshot.take(procs.tree(t.guest_side(pids), stats)),
        }
        machine0, driver0, lags0 = procs.MachineCpu.take(), time.process_time(), len(reactor.lags)
        start = time.perf_counter()
        end = start + opts.window
        if on_window is not None:
            on_window(opts.window)
        gap = k / opts.key_rate
        typers = [Typer(bench, g, bench.keys[t.name], gap=gap, jitter=0.3, until=end) for g in live]
        for ty in typers:
            ty.start(start + bench.rng.uniform(0, gap))
        reactor.sleep_until(end)
        after = {name: snap.refreshed() for name, snap in before.items()}
        machine1, driver1 = procs.MachineCpu.take(), time.process_time()
        lags = reactor.lags[lags0:]
        elapsed = after["server"].at - before["server"].at
        reactor.run(lambda: all(ty.done for ty in typers), opts.key_timeout + gap + 2)
        by_comm = procs.pss_by_comm(procs.tree(t.server_roots([g.pid for g in live])))
        pss = sum(by_comm.values())
    finally:
        close_all(guests)
    settled = t.tmux.wait_clients(0, 30)
    _wait_tree(t, len(base), 15)
    t.tmux.single(echo_pane("idle"))

    cpu = {name: procs.cpu_seconds(before[name], after[name]) for name in before}
    return LoadRun(
        k=k, connected=len(live), tmux_clients=tmux_clients, connect_s=connect_s,
        latencies=[ty.latencies for ty in typers], sent=sum(ty.sent for ty in typers),
        lost=sum(ty.lost for ty in typers), elapsed=elapsed, cpu=cpu,
        driver_cpu=driver1 - driver0, busy=procs.machine_busy(machine0, machine1),
        lags=lags, server_procs=len(before["server"].procs), base_pss_kib=base_pss,
        pss_kib=pss, pss_by_comm=by_comm, cleaned_up=settled,
    )  # fmt: skip


def load_rounds(bench: Bench, ks: list[int], into: dict[str, Any], label: str = "load") -> None:
    """Every K in ``ks`` on every target, ``rounds`` times, the target order rotating each
    time; summaries into ``into[str(k)][target]`` (what was measured, on any way out)."""
    runs: dict[int, dict[str, list[LoadRun]]] = {k: {} for k in ks}
    rounds = bench.opts.rounds
    step = 0
    try:
        for rnd in range(rounds):
            for k in ks:
                for t in bench.rotation(step):
                    bench.check_time()
                    bench.log(f"phase {label}: round {rnd + 1}/{rounds}, K={k} on {t.name} ...")
                    run = load_phase(bench, t, k)
                    runs[k].setdefault(t.name, []).append(run)
                    lat = [x for g in run.latencies for x in g]
                    p50 = percentile(lat, 50)
                    bench.log(f"  connected {run.connected}/{k}, echo p50 "
                              f"{'-' if p50 is None else f'{p50 * 1000:.2f}'} ms, lost "
                              f"{run.lost}, server CPU "
                              f"{run.cpu['server'] / run.elapsed * 100:.0f}%")  # fmt: skip
                step += 1
    finally:
        for k, by_target in runs.items():
            if by_target:
                into[str(k)] = {n: summarize_load(r) for n, r in by_target.items()}


@dataclass
class LoadRun:
    """One target at one K, raw; :func:`summarize_load` merges repeated rounds."""

    k: int
    connected: int
    tmux_clients: int
    connect_s: list[float]
    latencies: list[list[float]]  # per guest
    sent: int
    lost: int
    elapsed: float
    cpu: dict[str, float]  # CPU seconds in the window: server, tmux, panes, guests
    driver_cpu: float
    busy: float
    lags: list[float]
    server_procs: int
    base_pss_kib: int
    pss_kib: int
    pss_by_comm: dict[str, int]  # KiB per process name, with K guests
    cleaned_up: bool


def summarize_load(runs: list[LoadRun]) -> dict[str, Any]:
    """Pool latencies over rounds; CPU as total CPU seconds over total window seconds."""
    k = runs[0].k
    lat = [x for r in runs for g in r.latencies for x in g]
    per_guest = [g for r in runs for g in r.latencies]
    p50s = [p for g in per_guest if (p := percentile(g, 50)) is not None]
    p99s = [p for g in per_guest if (p := percentile(g, 99)) is not None]
    elapsed = sum(r.elapsed for r in runs)

    def cores(name: str) -> float:
        return sum(r.cpu[name] for r in runs) / elapsed

    driver = sum(r.driver_cpu for r in runs) / elapsed
    busy = sum(r.busy * r.elapsed for r in runs) / elapsed
    ours = sum(cores(n) for n in ("server", "tmux", "panes", "guests")) + driver
    per_guest_kib = [(r.pss_kib - r.base_pss_kib) / max(r.connected, 1) for r in runs]
    return {
        "k": k,
        "rounds": len(runs),
        "connected": min(r.connected for r in runs),
        "tmux_clients": min(r.tmux_clients for r in runs),
        "connect_ms": summary_ms([x for r in runs for x in r.connect_s]),
        "echo_ms": summary_ms(lat),
        "per_guest_p50_ms_median": _ms(percentile(p50s, 50)),
        "per_guest_p99_ms_median": _ms(percentile(p99s, 50)),
        "per_guest_p99_ms_worst": _ms(max(p99s) if p99s else None),
        "keys_sent": sum(r.sent for r in runs),
        "keys_lost": sum(r.lost for r in runs),
        "window_s": round(elapsed, 2),
        "server_cpu": round(cores("server"), 4),  # cores (1.0 = one core busy)
        "server_cpu_rounds": [round(r.cpu["server"] / r.elapsed, 4) for r in runs],
        "server_procs": max(r.server_procs for r in runs),
        "tmux_server_cpu": round(cores("tmux"), 4),
        "panes_cpu": round(cores("panes"), 4),
        "guest_clients_cpu": round(cores("guests"), 4),
        "pss_base_mb": _mb(min(r.base_pss_kib for r in runs)),
        "pss_mb": _mb(max(r.pss_kib for r in runs)),
        "pss_by_process_mb": {c: _mb(v) for c, v in runs[-1].pss_by_comm.items()},
        "pss_per_guest_mb": _mb(sum(per_guest_kib) / len(runs)),
        "driver": {
            "cpu": round(driver, 4),
            "timer_lag_ms": summary_ms([x for r in runs for x in r.lags]),
            "machine_busy_cores": round(busy * CORES, 3),
            # Cores used by everything else on this (shared) machine meanwhile.
            "others_cpu": round(busy * CORES - ours, 3),
        },
        "cleaned_up": all(r.cleaned_up for r in runs),
    }


def _mb(kib: float) -> float:
    """KiB (as /proc reports) to MB of 10^6 bytes, the unit of the issue's target."""
    return round(kib * 1024 / 1e6, 3)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def _settle(reactor: Reactor, t: Target, pids: list[int], timeout: float) -> None:
    """Wait until the server's process tree stops changing for a second.

    Work a server does because guests joined (e.g. tmux commands run per join) is not
    the steady state the load window measures.
    """
    deadline = time.monotonic() + timeout
    last: set[int] = set()
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        now = set(procs.tree(t.server_roots(pids)))
        if now != last:
            last, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since >= 1.0:
            return
        reactor.sleep(0.1)  # keep reading the guests meanwhile


def _wait_tree(t: Target, size: int, timeout: float) -> None:
    """Let the server's per-connection processes exit before the next measurement."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(procs.tree(t.server_roots([]))) > size:
        time.sleep(0.1)


def bench_python() -> str:
    import sys

    return sys.executable
