"""The classic phase (issue 19): K = 200 view guests, compared with the classic recipe.

The classic way to show a tmux session to a class is sshd with a forced
``tmux attach -r -t SESSION``: every guest a read-only client of the host's own session.
pairtui shares it instead (grouped share sessions, per-guest options, a status line), and
that costs the tmux server something the load phase does not show, since there the
``openssh`` guests attach read-write to the same session as pairtui shares. Here:

- ``openssh``: the guests' key forces ``tmux attach-session -r -t =pair`` (no share);
- ``pairtui``: the guests are ``--mode view`` guests of the share, as a class would be.

A new phase rather than a ``--classic-openssh`` option of the load phase: read-only
guests cannot type, so the load phase's echo (each guest typing into ``cat``) cannot be
taken on them. Here the host types: on the load phase's layout (a pane printing a line
every ``--print-interval`` above the active one), the harness writes one key at a time
into a FIFO the active pane copies to its terminal (see :mod:`benchmarks.viewers`), and
each key's echo is its arrival at *every* guest (K samples a key; a guest that has not
shown it within the key timeout loses it). The next key goes once every guest showed
the last, 1/``--key-rate`` s ±30% later. Over ``--window`` seconds: pooled echo p50/p99,
the worst guest's p99, keys lost, the server's, the tmux server's and the ``ssh``
clients' CPU, PSS per guest, from ``/proc`` exactly as the load phase reads them.

With ``--classic-status-off`` the host's session has its status line off and a window
the guests' full size (80x24), as in the issue's second harness: sshd's guests then see
the whole window, while a share's status line leaves pairtui's guests one row short, a
cropped view that follows the cursor (by default the window is 80x23 under the status
line, and every guest sees all of it).

K = 200 (50 with ``--quick``); only when asked for (``--phases classic``).
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks import procs
from benchmarks.classic_figures import ClassicRun, summarize
from benchmarks.phases import (
    CORES,
    PRINTER,
    Bench,
    Keys,
    Overtime,
    _settle,
    _wait_tree,
    bench_python,
)
from benchmarks.reactor import Guest, close_all
from benchmarks.targets import Target
from benchmarks.tmuxhost import COLS, ROWS, SESSION, echo_pane, printer_pane
from benchmarks.viewers import HostFifo, connect_many, live, viewer_argv


def classic_into(bench: Bench, results: dict[str, Any]) -> None:
    """The phase, into ``results["classic"]``; what was measured is kept on the way out."""
    window = "80x24, host status off" if bench.opts.classic_status_off else "80x23 + status"
    out: dict[str, Any] = {"status": "interrupted", "window": window, "by_k": {}}
    results["classic"] = out
    try:
        for i, k in enumerate(bench.opts.classic_ks):
            for t in bench.rotation(i):
                if t.name == "direct":
                    continue  # the floor says nothing about a share's cost to tmux
                bench.check_time()
                bench.log(f"phase classic: K={k} view guests on {t.name} ...")
                fig = summarize(one_window(bench, t, k), CORES)
                out["by_k"].setdefault(str(k), {})[t.name] = fig
                bench.log(f"  connected {fig['connected']}/{k}, echo p50 "
                          f"{fig['echo_ms']['p50']} ms p99 {fig['echo_ms']['p99']} ms, lost "
                          f"{fig['keys_lost']}, server CPU {fig['server_cpu']}, tmux CPU "
                          f"{fig['tmux_server_cpu']}")  # fmt: skip
        out["status"] = "measured"
    except Overtime:
        out["status"] = "partial: time budget spent"
        raise
    except (RuntimeError, OSError) as exc:  # SetupError included: reported, not fatal
        out["status"] = f"failed: {exc}"
        bench.log(f"  classic phase failed: {exc}")


class HostTyping:
    """The host types keys one at a time; each must show up at every guest."""

    def __init__(self, bench: Bench, fifo: HostFifo, guests: list[Guest]) -> None:
        self.bench, self.fifo, self.guests = bench, fifo, guests
        self.keys = Keys()
        self.latencies: dict[int, list[float]] = {g.pid: [] for g in guests}
        self.waiting: set[int] = set()
        self.sent = self.lost = 0

    def run(self, until: float) -> None:
        opts, reactor = self.bench.opts, self.bench.reactor
        gap = 1 / opts.key_rate
        while time.perf_counter() < until:
            key = self.keys.next()
            self.waiting = {g.pid for g in self.guests if not g.closed}
            for g in self.guests:
                if g.pid in self.waiting:
                    self._expect(g, key)
            at = self.fifo.write(key)
            for g in self.guests:
                g.sent_at = at
            self.sent += 1
            reactor.run(lambda: not self.waiting, opts.key_timeout)
            for g in self.guests:
                if g.pid in self.waiting:
                    g.forget_key()
                    self.lost += 1
            self.waiting.clear()
            reactor.sleep(gap * self.bench.rng.uniform(0.7, 1.3))

    def _expect(self, g: Guest, key: bytes) -> None:
        """Watch for ``key`` in ``g``'s output without typing it (the host does)."""

        def echoed(latency: float) -> None:
            self.latencies[g.pid].append(latency)
            self.waiting.discard(g.pid)

        g.pending, g.on_echo = key, echoed
        g._ktail = b""


def _full_window(t: Target, *, on: bool) -> None:
    """The host's session without its status line, its window the guests' whole terminal
    (``on``), or back as the other phases expect it."""
    rows = ROWS + 1 if on else ROWS
    status = "off" if on else "on"
    t.tmux.run("set-option", "-t", f"={SESSION}:", "status", status, ";", "resize-window",
               "-t", f"={SESSION}:0", "-x", str(COLS), "-y", str(rows))  # fmt: skip


def one_window(bench: Bench, t: Target, k: int) -> ClassicRun:
    opts, reactor = bench.opts, bench.reactor
    fifo = HostFifo(t.dir / "classic.fifo")
    marker = f"READY-{t.name}-classic{k}"
    clients0 = t.tmux.client_count()
    if opts.classic_status_off:
        _full_window(t, on=True)
    t.tmux.load(printer_pane(bench_python(), PRINTER, opts.print_interval), fifo.pane(marker))
    reactor.sleep(0.5)
    base = procs.tree(t.server_roots([]))
    base_pss = procs.tree_pss_kib(base)
    guests: list[Guest] = []
    try:
        guests, connect_s, _failed = connect_many(bench, t, viewer_argv(t), k, marker)
        watching = live(guests)
        pids = [g.pid for g in watching]
        _settle(reactor, t, pids, 10.0)
        reactor.sleep(1.0)
        tmux_clients = t.tmux.client_count() - clients0
        stats = procs.all_stats()
        before = {
            "server": procs.CpuSnapshot.take(procs.tree(t.server_roots(pids), stats)),
            "tmux": procs.CpuSnapshot.take({t.tmux.pid: stats[t.tmux.pid]}),
            "guests": procs.CpuSnapshot.take(procs.tree(t.guest_side(pids), stats)),
        }
        machine0 = procs.MachineCpu.take()
        fifo.open()
        typing = HostTyping(bench, fifo, watching)
        typing.run(time.perf_counter() + opts.window)
        after = {name: snap.refreshed() for name, snap in before.items()}
        machine1 = procs.MachineCpu.take()
        by_comm = procs.pss_by_comm(procs.tree(t.server_roots(pids)))
    finally:
        fifo.close()
        close_all(guests)
        t.tmux.wait_clients(clients0, 30)
        if opts.classic_status_off:
            _full_window(t, on=False)
    _wait_tree(t, len(base), 15)
    t.tmux.single(echo_pane("idle"))
    return ClassicRun(
        k=k, connected=len(watching), tmux_clients=tmux_clients, connect_s=tuple(connect_s),
        latencies=tuple(tuple(typing.latencies[g.pid]) for g in watching), keys=typing.sent,
        lost=typing.lost, elapsed=after["server"].at - before["server"].at,
        cpu={name: procs.cpu_seconds(before[name], after[name]) for name in before},
        busy=procs.machine_busy(machine0, machine1), base_pss_kib=base_pss,
        pss_kib=sum(by_comm.values()), pss_by_comm=by_comm,
    )  # fmt: skip
