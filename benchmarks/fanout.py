"""The fan-out phase (issue 19): the host prints a screenful, K guests watch.

A teacher may have 200 students watching; what they wait for is the last of them
having the teacher's screen. For each K (10, 100, 200; 10 and 50 with ``--quick``) and
each target in turn (the order rotating per K), K view guests connect (real ``ssh -tt``
clients on 80x24 PTYs, read like terminals; see :mod:`benchmarks.viewers` for who they
are on each target) to a pane that copies a FIFO to its terminal. Then, ``--fanout-samples``
times, the harness writes a deterministic full screen of text ending with a unique
marker into the FIFO (the host printing it) and waits until every guest has shown the
marker and gone quiet. Afterwards each guest's recorded output is replayed through a
terminal emulator (as the burst phase does): a guest's time is when its emulated screen
became, and stayed, equal to ``tmux capture-pane`` of the pane; a sample's figure is
the last guest's. Reported per K and target: the last guest's time p50 and max over the
samples, every guest's p50/p99, screens missed; the target is pairtui/openssh <= 1.0x.

Only when asked for (``--phases fanout``): with K = 200 it takes about two minutes.
"""

from __future__ import annotations

from typing import Any

from benchmarks import fanout_figures as figures
from benchmarks import procs
from benchmarks.phases import Bench, BurstSample, Overtime, _replay, _wait_tree
from benchmarks.reactor import Guest, close_all
from benchmarks.targets import Target
from benchmarks.tmuxhost import echo_pane
from benchmarks.viewers import HostFifo, all_quiet, connect_many, live, viewer_argv


def fanout_into(bench: Bench, results: dict[str, Any]) -> None:
    """The phase, into ``results["fanout"]``; what was measured is kept on the way out."""
    out: dict[str, Any] = {"status": "interrupted", "samples": bench.opts.fanout_samples,
                           "by_k": {}}  # fmt: skip
    results["fanout"] = out
    try:
        for i, k in enumerate(bench.opts.fanout_ks):
            for t in bench.rotation(i):
                bench.check_time()
                bench.log(f"phase fanout: K={k} on {t.name} ...")
                fig = one_target(bench, t, k)
                out["by_k"].setdefault(str(k), {})[t.name] = fig
                bench.log(f"  connected {fig['connected']}/{k}, last guest's final screen "
                          f"p50 {fig['last_guest_ms']['p50']} ms, missed "
                          f"{fig['screens_missed']}")  # fmt: skip
        out["status"] = "measured"
    except Overtime:
        out["status"] = "partial: time budget spent"
        raise
    except (RuntimeError, OSError) as exc:  # SetupError included: reported, not fatal
        out["status"] = f"failed: {exc}"
        bench.log(f"  fanout phase failed: {exc}")


def one_target(bench: Bench, t: Target, k: int) -> dict[str, Any]:
    """K view guests on ``t``, ``fanout_samples`` screenfuls; the figures."""
    reactor = bench.reactor
    fifo = HostFifo(t.dir / "fanout.fifo")
    marker = f"READY-{t.name}-fan{k}"
    base = t.tmux.client_count()
    t.tmux.single(fifo.pane(marker))
    reactor.sleep(0.3)
    tree0 = _tree_size(t)
    guests: list[Guest] = []
    per_guest: dict[int, list[BurstSample]] = {}
    try:
        guests, connect_s, _failed = connect_many(bench, t, viewer_argv(t), k, marker,
                                                  record=True)  # fmt: skip
        watching = live(guests)
        if not watching:
            raise RuntimeError(f"{t.name}: no view guest saw {marker!r}")
        all_quiet(bench, watching, 0.5, 10)
        for i in range(bench.opts.fanout_samples):
            bench.check_time()
            end = figures.end_marker(k, i)
            starts = {g.pid: (len(g.chunks), g.nbytes) for g in watching}
            for g in watching:
                g.watch(end)
            t0 = fifo.write(figures.screenful(k, i))
            fifo.close()
            reactor.run(lambda: all(g.marker_at is not None or g.closed
                                    for g in watching), 20)  # fmt: skip
            all_quiet(bench, watching, 0.3, 10)
            expected = t.tmux.capture()
            for g in watching:
                start, nbytes = starts[g.pid]
                per_guest.setdefault(g.pid, []).append(BurstSample(
                    t0, start, len(g.chunks), expected, end, g.marker_at, g.nbytes - nbytes,
                ))  # fmt: skip
            reactor.sleep(0.2)
    finally:
        fifo.close()
        close_all(guests)
        t.tmux.wait_clients(base, 30)
        _wait_tree(t, tree0, 15)
        t.tmux.single(echo_pane("idle"))
    bench.log(f"  replaying {len(watching)} guests' output through pyte ...")
    samples: list[list[float | None]] = [[] for _ in range(bench.opts.fanout_samples)]
    for g in watching:
        for i, r in enumerate(_replay(g.chunks, per_guest.get(g.pid, []))):
            samples[i].append(r["final_s"])
    # Guests that never connected never had a screen: missed, not silently dropped.
    for s in samples:
        s.extend([None] * (k - len(watching)))
    return figures.summarize(k, len(watching), connect_s, samples)


def _tree_size(t: Target) -> int:
    return len(procs.tree(t.server_roots([])))
