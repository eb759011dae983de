"""The record phase (issue 18): what recording one share costs its server and its guests.

``pairtui record SHARE`` adds one read-only tmux client inside ``pairtui serve`` (on a PTY
of its own, the window's size) and writes what it draws into an asciicast. Its cost is
paid by the server (one more PTY to read, JSON to write, a look at the window's size
every half second) and possibly by the guests' echo. This phase measures both, in one
run, interleaved: cycles of three windows, each with its own fresh guests,

- ``off``: the ``pairtui`` target's share, recording off;
- ``on``: the same, recorded (``pairtui record SHARE --json`` before its guests join,
  ``--stop`` after they left, through the CLI as a host would);
- ``openssh``: the ``openssh`` target under the same load, for reference (pairtui's
  ratios to OpenSSH stay readable next to the other phases').

In every window 10 view guests (a second key, registered ``--mode view``; on the
``openssh`` target the same forced attach as everyone, typing nothing) and one pair guest
(the harness's ``bench`` key) are real ``ssh -tt`` clients on PTYs, the host prints a line
every ``--print-interval`` (the load phase's busy pane) and the pair guest types single
keys into ``cat`` as the idle echo phase does (20 ms ±50% apart, one in flight). Measured
over ``--window`` seconds once the server's process tree is steady: the pair guest's
echo latency, and the server's CPU from ``/proc`` (its process tree, as the load phase
reads it, *plus* the CPU of children it ran and reaped meanwhile: the recorder's
``tmux display-message`` every half second would otherwise not be counted), the tmux
server's and the machine's. With recording on, the cast's growth during the window and
each cast's size over its length give the recording's size per minute.

``2 x --rounds`` cycles (4; 2 with ``--quick``): about 3 minutes, so the phase runs only
when asked for (``--phases record``), like the soak. :mod:`benchmarks.record_figures`
turns the windows into ratios, the verdict and the printed lines.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks import procs, record_figures
from benchmarks.phases import (
    GUEST_SIZE,
    PRINTER,
    Bench,
    Overtime,
    Typer,
    _settle,
    _wait_tree,
    bench_python,
)
from benchmarks.reactor import Guest, close_all
from benchmarks.record_figures import Window
from benchmarks.targets import OpenSSH, Pairtui, Target, _run
from benchmarks.tmuxhost import SESSION, echo_pane, printer_pane

VIEWERS = 10
VIEWER = "viewer"  # the view guests' name in the pairtui target's registry
SHARE = SESSION  # the pairtui target shares its session under the session's name

# /proc/PID/stat fields after "pid (comm) ", counted from 0: cutime and cstime, the CPU
# of children the process has waited for (see proc(5)).
_CUTIME, _CSTIME = 13, 14


def reaped_cpu(pid: int) -> float:
    """CPU seconds of ``pid``'s children that ended and were waited for (0 if gone)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    rest = text[text.rindex(")") + 2 :].split()
    return (int(rest[_CUTIME]) + int(rest[_CSTIME])) / procs.CLK_TCK


def record_into(bench: Bench, results: dict[str, Any]) -> None:
    """The phase, into ``results["record"]``: a failure to set up is reported, not fatal;
    when the time budget runs out what was measured is kept (and Overtime goes on up)."""
    pairtui = next((t for t in bench.targets if isinstance(t, Pairtui)), None)
    openssh = next((t for t in bench.targets if isinstance(t, OpenSSH)), None)
    if pairtui is None:
        results["record"] = {"status": "failed: the pairtui target is not part of this run"}
        return
    windows: list[Window] = []
    casts: list[dict[str, Any]] = []
    status = "interrupted"
    try:
        run_cycles(bench, pairtui, openssh, windows, casts)
        status = "measured"
    except Overtime:
        status = "partial: time budget spent"
        raise
    except (RuntimeError, OSError) as exc:  # SetupError included
        status = f"failed: {exc}"
        bench.log(f"  record phase failed: {exc}")
    finally:
        out = record_figures.summarize(windows, casts, VIEWERS) if windows else {}
        out["status"] = status
        if openssh is None:
            out["note"] = "the openssh target is not part of this run: no reference"
        results["record"] = out
    if status != "measured":
        return
    ratios = out["on_off"]
    bench.log(f"  record on/off: server CPU {ratios['server_cpu']['value']}x, echo p50 "
              f"{ratios['echo_p50']['value']}x, p95 {ratios['echo_p95']['value']}x; "
              f"{out['recording']['kb_per_min']} kB/min")  # fmt: skip


def run_cycles(
    bench: Bench,
    pairtui: Pairtui,
    openssh: OpenSSH | None,
    windows: list[Window],
    casts: list[dict[str, Any]],
) -> None:
    """``2 x rounds`` cycles of off, on (and openssh), into ``windows`` and ``casts``."""
    viewer = _add_viewer(pairtui)
    cycles = 2 * bench.opts.rounds
    arms: list[tuple[str, Target]] = [("off", pairtui), ("on", pairtui)]
    if openssh is not None:
        arms.append(("openssh", openssh))
    try:
        for cycle in range(cycles):
            for arm, t in arms:
                bench.check_time()
                bench.log(f"phase record: cycle {cycle + 1}/{cycles}, {arm} ...")
                viewers = viewer if arm != "openssh" else t.guest_argv()
                if arm == "on":
                    w = _recorded(bench, pairtui, cycle, viewers, casts)
                else:
                    w = measure(bench, t, arm, cycle, viewers)
                windows.append(w)
                p50 = record_figures.echo_ms(w.latencies)["p50"]
                cpu = w.server_cpu / w.elapsed * 100
                bench.log(f"  connected {w.connected}/{VIEWERS + 1}, echo p50 {p50} ms, "
                          f"lost {w.lost}, server CPU {cpu:.1f}%")  # fmt: skip
    finally:
        with contextlib.suppress(RuntimeError, OSError):
            pairtui.cli("guest", "remove", VIEWER)


def _add_viewer(t: Pairtui) -> list[str]:
    """A second key, registered as a view guest; the ``ssh`` its guests run."""
    key = t.dir / "viewer_ed25519"
    if not key.exists():
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", VIEWER, "-f", str(key)],
             t.env)  # fmt: skip
    t.cli("guest", "add", VIEWER, "--key", str(key.with_suffix(".pub")), "--mode", "view")
    argv = t.guest_argv()
    argv[argv.index("-i") + 1] = str(key)
    return argv


def _recorded(
    bench: Bench, t: Pairtui, cycle: int, viewers: list[str], casts: list[dict[str, Any]]
) -> Window:
    """One window with the share recorded from before its guests join to after they left."""
    began = time.monotonic()
    path = Path(json.loads(t.cli("record", SHARE, "--json"))["path"])
    try:
        return measure(bench, t, "on", cycle, viewers, cast=path)
    finally:
        stopped = json.loads(t.cli("record", SHARE, "--stop", "--json"))
        size = int(stopped.get("size") or _size(path) or 0)
        casts.append({"bytes": size, "seconds": round(cast_seconds(path)
                                                      or time.monotonic() - began, 2)})  # fmt: skip


def cast_seconds(path: Path) -> float | None:
    """The time of a cast's last event (its "recording stopped" marker): its length."""
    try:
        with path.open("rb") as f:
            f.seek(max(f.seek(0, 2) - 4096, 0))
            last = f.read().splitlines()[-1]
        event = json.loads(last)
    except (OSError, ValueError, IndexError):
        return None
    return float(event[0]) if isinstance(event, list) and event else None


def _size(path: Path | None) -> int | None:
    if path is None:
        return None
    try:
        return path.stat().st_size
    except OSError:
        return None


def measure(
    bench: Bench, t: Target, arm: str, cycle: int, viewers: list[str], cast: Path | None = None
) -> Window:
    """Fresh guests (one pair guest, then the viewers) on the load layout; one window."""
    opts, reactor = bench.opts, bench.reactor
    marker = f"READY-{t.name}-rec{cycle}-{arm}"
    t.tmux.load(printer_pane(bench_python(), PRINTER, opts.print_interval), echo_pane(marker))
    reactor.sleep(0.5)
    base = len(procs.tree(t.server_roots([])))  # the recorder's tmux client included
    clients0 = t.tmux.client_count()
    guests = [Guest(reactor, bench.reaper, argv, t.env, size=GUEST_SIZE)
              for argv in [t.guest_argv(), *[viewers] * VIEWERS]]  # fmt: skip
    try:
        for g in guests:
            g.watch(marker)
        reactor.run(lambda: all(g.marker_at is not None or g.closed for g in guests), 30)
        typist = guests[0]
        if typist.marker_at is None or typist.closed:
            raise RuntimeError(f"{t.name}: the pair guest did not see {marker!r} in 30 s")
        live = [g for g in guests if g.marker_at is not None and not g.closed]
        pids = [g.pid for g in live]
        modes = client_modes(t) if isinstance(t, Pairtui) else None
        _settle(reactor, t, pids, 10.0)
        reactor.sleep(1.0)
        roots = t.server_roots(pids)
        stats = procs.all_stats()
        server0 = procs.CpuSnapshot.take(procs.tree(roots, stats))
        tmux0 = procs.CpuSnapshot.take({t.tmux.pid: stats[t.tmux.pid]})
        reaped0 = sum(reaped_cpu(pid) for pid in roots)
        machine0, size0 = procs.MachineCpu.take(), _size(cast)
        start = time.perf_counter()
        end = start + opts.window
        typer = Typer(bench, typist, bench.keys[t.name], gap=opts.echo_gap, jitter=0.5,
                      until=end)  # fmt: skip
        typer.start(start)
        reactor.sleep_until(end)
        server1, tmux1 = server0.refreshed(), tmux0.refreshed()
        reaped = sum(reaped_cpu(pid) for pid in roots) - reaped0
        machine1, size1 = procs.MachineCpu.take(), _size(cast)
        if not reactor.run(lambda: typer.done, opts.key_timeout + 2):
            typer.stop()
    finally:
        close_all(guests)
    t.tmux.wait_clients(clients0, 30)
    _wait_tree(t, base, 15)
    t.tmux.single(echo_pane("idle"))
    tree_cpu = procs.cpu_seconds(server0, server1)
    grown = None if size0 is None or size1 is None else size1 - size0
    return Window(
        arm=arm, cycle=cycle, connected=len(live), latencies=tuple(typer.latencies),
        sent=typer.sent, lost=typer.lost, elapsed=server1.at - server0.at,
        server_cpu=tree_cpu + reaped, server_tree_cpu=tree_cpu,
        tmux_cpu=procs.cpu_seconds(tmux0, tmux1), busy=procs.machine_busy(machine0, machine1),
        cast_bytes=grown, modes=modes,
    )  # fmt: skip


def client_modes(t: Pairtui) -> dict[str, int]:
    """How many clients ``pairtui clients`` lists in each mode: the viewers must be view
    guests (read before the window, so this request is not measured)."""
    listed = json.loads(t.cli("clients", "--json"))
    return dict(Counter(str(c.get("mode")) for c in listed))
