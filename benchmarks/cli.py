"""``python -m benchmarks``: pairtui against OpenSSH's sshd and plain tmux, in one run.

See benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from benchmarks import report
from benchmarks.busy import BUSY_PHASES, Busy, record_span
from benchmarks.phases import (
    DEFAULT_PHASES,
    Bench,
    Options,
    Overtime,
    burst_phase,
    connect_phase,
    echo_phase,
    load_rounds,
)
from benchmarks.procs import Reaper
from benchmarks.reactor import Reactor
from benchmarks.targets import TARGETS, Lab, Pairtui, SetupError, Target, negotiated

RESULTS = Path(__file__).resolve().parent / "results"
# Only when asked for: the soak is a leak check of its own, not a figure of the table;
# the record phase (recording's cost, on/off) takes about 3 minutes more.
PHASES = (*DEFAULT_PHASES, "soak", "record")


def _csv(kind: type[int | str]) -> Any:
    def parse(text: str) -> list[Any]:
        return [kind(x) for x in text.split(",") if x.strip()]

    return parse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure pairtui serve against sshd + forced tmux attach and local tmux.",
    )
    p.add_argument("--quick", action="store_true",
                   help="a short smoke run of every phase (about 3 minutes)")  # fmt: skip
    p.add_argument("--targets", type=_csv(str), help="comma list of direct,openssh,pairtui")
    p.add_argument("--phases", type=_csv(str), help=f"comma list of {','.join(PHASES)} "
                   f"(default: {','.join(DEFAULT_PHASES)})")  # fmt: skip
    p.add_argument("--k", type=_csv(int), dest="ks", metavar="K,K", help="guest counts (10,50,100)")
    p.add_argument("--connect-samples", type=int, help="connections per target (15)")
    p.add_argument("--echo-keys", type=int, help="idle keystrokes per target (300)")
    p.add_argument("--burst-samples", type=int, help="bursts per target (3)")
    p.add_argument("--burst-lines", type=int, help="lines of `seq` per burst (200000)")
    p.add_argument("--window", type=float, help="seconds of typing per K (10)")
    p.add_argument("--rounds", type=int, help="times each K is measured per target (2)")
    p.add_argument("--key-rate", type=float, help="keys per second across all guests (40)")
    p.add_argument("--print-interval", type=float, help="seconds between printed lines (0.05)")
    p.add_argument("--connect-parallel", type=int, help="guests connecting at once (8)")
    p.add_argument("--max-seconds", type=float, help="time budget; later phases are skipped")
    p.add_argument("--soak-seconds", type=float, help="soak phase: seconds of churn (120)")
    p.add_argument("--pairtui-rev", metavar="REV",
                   help="measure pairtui/ as committed at REV (default: working tree)")  # fmt: skip
    p.add_argument("--pairtui-src", type=Path, metavar="DIR",
                   help="measure the pairtui package in DIR (a patched copy, say)")  # fmt: skip
    p.add_argument("--pairtui-loop", choices=["asyncio", "uvloop"], default="asyncio",
                   help="event loop for pairtui serve (uvloop: an experiment)")  # fmt: skip
    p.add_argument("--pairtui-python", metavar="PATH",
                   help="run pairtui on this Python 3.11 (with this venv's packages)")  # fmt: skip
    p.add_argument("--cipher", metavar="NAME",
                   help="`ssh -c NAME` for every SSH guest (default: ssh's choice)")  # fmt: skip
    p.add_argument("--busy", action="store_true",
                   help="CPU-bound loops on every core in the echo and load phases")  # fmt: skip
    p.add_argument("--busy-k", type=_csv(int), dest="busy_ks", metavar="K,K",
                   help="busy phase: guest counts of its load pass (100)")  # fmt: skip
    p.add_argument("--fanout-k", type=_csv(int), dest="fanout_ks", metavar="K,K",
                   help="fanout phase: view guest counts (10,100,200)")  # fmt: skip
    p.add_argument("--fanout-samples", type=int, help="fanout phase: screenfuls per K (5)")
    p.add_argument("--classic-k", type=_csv(int), dest="classic_ks", metavar="K,K",
                   help="classic phase: view guest counts (200)")  # fmt: skip
    p.add_argument("--classic-status-off", action="store_true",
                   help="classic phase: host status line off, window the guests' size")  # fmt: skip
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--profile", action="store_true",
                   help="afterwards, py-spy pairtui serve under --profile-k guests")  # fmt: skip
    p.add_argument("--profile-k", type=int, help="guests during the profile (50)")
    p.add_argument("--profile-native", action="store_true", help="py-spy --native (C frames)")
    p.add_argument("--trace", action="store_true",
                   help="afterwards, perf-trace each SSH server's share of an echo")  # fmt: skip
    p.add_argument("--out", type=Path, help="JSON path (default results/run-<time>.json)")
    p.add_argument("--no-latest", action="store_true",
                   help="do not update results/latest.json (implied by --quick)")  # fmt: skip
    p.add_argument("--show", type=Path, metavar="JSON",
                   help="print the table of a saved result instead of running")  # fmt: skip
    p.add_argument("--markdown", action="store_true", help="with --show: as Markdown")
    return p


def options(args: argparse.Namespace) -> Options:
    opts = Options()
    if args.quick:
        opts = dataclasses.replace(
            opts, quick=True, connect_samples=4, echo_keys=50, burst_samples=1,
            burst_lines=20_000, ks=[10, 50], window=3.0, rounds=1, max_seconds=240.0,
            profile_k=10, dashboard_starts=3, dashboard_joins=8, dashboard_idle_window=3.0,
            soak_seconds=10.0, fanout_ks=[10, 50], fanout_samples=2, classic_ks=[50],
            busy_ks=[10],
        )  # fmt: skip
    overrides = {
        "targets": args.targets, "phases": args.phases, "ks": args.ks,
        "connect_samples": args.connect_samples, "echo_keys": args.echo_keys,
        "burst_samples": args.burst_samples, "burst_lines": args.burst_lines,
        "window": args.window, "rounds": args.rounds, "key_rate": args.key_rate,
        "print_interval": args.print_interval,
        "connect_parallel": args.connect_parallel, "max_seconds": args.max_seconds,
        "profile_k": args.profile_k, "soak_seconds": args.soak_seconds,
        "fanout_ks": args.fanout_ks, "fanout_samples": args.fanout_samples,
        "classic_ks": args.classic_ks, "busy_ks": args.busy_ks,
    }  # fmt: skip
    opts = dataclasses.replace(opts, **{k: v for k, v in overrides.items() if v is not None})
    opts = dataclasses.replace(opts, seed=args.seed, profile=args.profile, busy=args.busy,
                               classic_status_off=args.classic_status_off,
                               profile_native=args.profile_native, trace=args.trace)  # fmt: skip
    unknown = [t for t in opts.targets if t not in TARGETS]
    unknown += [p for p in opts.phases if p not in PHASES]
    if unknown:
        raise SystemExit(f"benchmarks: unknown target or phase: {', '.join(unknown)}")
    # Keep the table's column order whatever order was asked for.
    opts.targets = [t for t in TARGETS if t in opts.targets]
    return opts


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.show:
        return show(args.show, markdown=args.markdown)
    opts = options(args)
    Pairtui.rev = args.pairtui_rev
    Pairtui.src_dir = args.pairtui_src.resolve() if args.pairtui_src else None
    Pairtui.loop = args.pairtui_loop
    Pairtui.python = args.pairtui_python
    Lab.cipher = args.cipher
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or RESULTS / f"run-{stamp}{'-quick' if opts.quick else ''}.json"
    results: dict[str, Any] = {"meta": {}, "status": "running"}
    reaper, reactor = Reaper(), Reactor()
    lab: Lab | None = None
    targets: list[Target] = []
    began = time.monotonic()
    try:
        lab = Lab(reaper)
        # The dashboard and soak phases bring their own worlds; the targets serve the others.
        own_world = ("dashboard", "soak")
        needed = [p for p in opts.phases if p not in own_world] or opts.profile or opts.trace
        targets = [TARGETS[name](lab) for name in opts.targets] if needed else []
        for t in targets:
            log(f"starting {t.name} ...")
            t.start()
        results["meta"] = meta(opts, targets, lab, stamp)
        bench = Bench(targets, reactor, reaper, opts)
        bench.log = log
        run_phases(bench, lab, opts, results, out)
        results["status"] = "complete"
    except Overtime as exc:
        results["status"] = f"partial: {exc}"
    except KeyboardInterrupt:
        results["status"] = "interrupted"
        log("interrupted: cleaning up")
    except SetupError as exc:
        results["status"] = f"setup failed: {exc}"
        log(f"setup failed: {exc}")
    finally:
        for t in targets:
            t.tmux.kill()
        reaper.close()
        reactor.close()
        if lab is not None:
            lab.remove()
    results["meta"]["duration_s"] = round(time.monotonic() - began, 1)
    results["meta"]["loadavg_end"] = os.getloadavg()
    results["goals"] = report.goals(results)
    results.setdefault("dashboard", report.dashboard_not_measured(results["status"]))
    print_results(results)
    report.write_json(results, out)
    print(f"\nstatus: {results['status']}; JSON: {out}")
    if results["status"] == "complete" and is_reference_run(args, opts) and not args.no_latest:
        report.write_json(results, RESULTS / "latest.json")
        print(f"updated {RESULTS / 'latest.json'}")
    return 0 if results["status"] == "complete" else 1


def is_reference_run(args: argparse.Namespace, opts: Options) -> bool:
    """Only a full run of every target and phase, without experiments, is "latest"."""
    return (
        not opts.quick
        and opts.targets == list(TARGETS)
        and opts.phases == list(DEFAULT_PHASES)
        and args.out is None
        and args.cipher is None
        and args.pairtui_loop == "asyncio"
        and args.pairtui_src is None
        and args.pairtui_python is None
        and not opts.busy
    )


def print_results(results: dict[str, Any], *, markdown: bool = False) -> None:
    ks = sorted(int(k) for k in results.get("load", {}))
    main_table = report.markdown_table(results, ks) if markdown else report.table(results, ks)
    if len(main_table.splitlines()) > 2:  # more than the header
        print()
        print(main_table)
    if dash := report.dashboard_table(results, markdown=markdown):
        print()
        print(dash)
    print()
    print(report.legend(results))
    print()
    print("targets from the issue (pairtui):")
    print(report.goals_text(results.get("goals") or report.goals(results)))
    if "soak" in results:
        from benchmarks.soak_figures import summary_text as soak_text

        print()
        print(soak_text(results["soak"], markdown=markdown))
    if "record" in results:
        from benchmarks.record_figures import summary_text as record_text

        print()
        print(record_text(results["record"], markdown=markdown))
    if "busy_pass" in results:
        print()
        print(report.busy_pass_text(results["busy_pass"], markdown=markdown))
    if "fanout" in results:
        from benchmarks.fanout_figures import summary_text as fanout_text

        print()
        print(fanout_text(results["fanout"], markdown=markdown))
    if "classic" in results:
        from benchmarks.classic_figures import summary_text as classic_text

        print()
        print(classic_text(results["classic"], markdown=markdown))
    if "trace" in results:
        from benchmarks.trace import summary_text as trace_text

        print()
        print(trace_text(results["trace"]))
    if "profile" in results:
        from benchmarks.profile import summary_text

        print()
        print(f"profile of pairtui serve at K={results['profile'].get('k')}:")
        print(summary_text(results["profile"]))


def show(path: Path, *, markdown: bool) -> int:
    import json

    try:
        results = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        print(f"benchmarks: cannot read {path}: {exc}", file=sys.stderr)
        return 1
    print_results(results, markdown=markdown)
    return 0


def run_phases(bench: Bench, lab: Lab, opts: Options, results: dict[str, Any], out: Path) -> None:
    runners = {"connect": connect_phase, "echo": echo_phase, "burst": burst_phase}
    for phase in opts.phases:
        t0 = time.monotonic()
        bench.check_time()
        if phase in runners:
            log(f"phase {phase} ...")
            with busy_if(opts, phase, bench, results):
                results[phase] = runners[phase](bench)
        elif phase == "dashboard":
            log("phase dashboard ...")
            run_dashboard(bench, lab, results)
        elif phase == "soak":
            log(f"phase soak ({opts.soak_seconds:g} s of churn, then a leak check) ...")
            run_soak(bench, lab, results)
        elif phase == "record":
            from benchmarks.record import record_into

            record_into(bench, results)
        elif phase == "fanout":
            from benchmarks.fanout import fanout_into

            fanout_into(bench, results)
        elif phase == "classic":
            from benchmarks.classic import classic_into

            classic_into(bench, results)
        elif phase == "busy":
            log("phase busy ...")
            run_busy_pass(bench, opts, results)
        else:
            with busy_if(opts, phase, bench, results):
                run_load(bench, opts, results)
        log(f"  ({time.monotonic() - t0:.1f}s)")
    if opts.trace:
        from benchmarks.trace import trace_phase

        log("tracing the SSH servers during idle echo ...")
        results["trace"] = trace_phase(bench, out.with_name(out.stem + "-trace.data"))
    if opts.profile:
        from benchmarks.profile import profile_phase

        pairtui = next((t for t in bench.targets if isinstance(t, Pairtui)), None)
        if pairtui is None:
            results["profile"] = {"error": "the pairtui target is not part of this run"}
            return
        log(f"profiling pairtui serve at K={opts.profile_k} ...")
        raw = out.with_name(out.stem + f"-profile-k{opts.profile_k}.txt")
        results["profile"] = profile_phase(bench, pairtui, opts.profile_k, raw)


@contextlib.contextmanager
def busy_if(opts: Options, phase: str, bench: Bench, results: dict[str, Any]) -> Iterator[None]:
    """With ``--busy``, CPU-bound loops on every core for the span of the echo and load
    phases (ended by pid right after; the reaper ends them on any other way out)."""
    if not opts.busy or phase not in BUSY_PHASES:
        yield
        return
    loops = Busy(bench.reaper, phase)
    log(f"  host busy: {loops.loops} CPU-bound loops")
    loops.start()
    try:
        yield
    finally:
        record_span(results, loops.stop())


def run_dashboard(bench: Bench, lab: Lab, results: dict[str, Any]) -> None:
    """The dashboard issue's figures; see benchmarks/dashboard.py."""
    from benchmarks.dashboard import dashboard_phase, summary

    detail: dict[str, Any] = {}
    status = "interrupted"
    try:
        detail = dashboard_phase(bench, lab)
        status = "measured"
    except Overtime:
        status = "partial: time budget spent"
        raise
    except (RuntimeError, OSError) as exc:  # SetupError included: reported, not fatal
        status = f"failed: {exc}"
        log(f"  dashboard phase failed: {exc}")
    finally:
        results["dashboard"] = report.dashboard_results(status, summary(detail), detail)
    m = results["dashboard"]["metrics"]
    log(f"  first paint {m['first_paint_s']} s, join-to-row p95 {m['join_to_row_p95_ms']} ms, "
        f"idle CPU {m['idle_cpu_10_guests_core_fraction']} of a core")  # fmt: skip


def run_soak(bench: Bench, lab: Lab, results: dict[str, Any]) -> None:
    """Issue 15's soak; see benchmarks/soak.py. A failure to set up is reported, not fatal."""
    from benchmarks.soak import soak_phase

    try:
        results["soak"] = soak_phase(bench, lab)
    except (RuntimeError, OSError) as exc:  # SetupError included
        results["soak"] = {"status": f"failed: {exc}"}
        log(f"  soak phase failed: {exc}")
        return
    problems = results["soak"]["problems"]
    log(f"  soak: {'no leak, no error' if not problems else '; '.join(problems)}")


def run_load(bench: Bench, opts: Options, results: dict[str, Any]) -> None:
    """Every K on every target, ``rounds`` times (see :func:`load_rounds`)."""
    results["load"] = {}
    load_rounds(bench, opts.ks, results["load"])


def run_busy_pass(bench: Bench, opts: Options, results: dict[str, Any]) -> None:
    """Issue 19's busy host, in the default run: idle echo and load at ``busy_ks`` again,
    CPU-bound loops on every core throughout (ended by pid right after). The figures go
    to ``results["busy_pass"]``, apart from the quiet ones above."""
    if opts.busy:
        log("  skipped: with --busy the echo and load phases already ran on a busy host")
        return
    loops = Busy(bench.reaper, "busy")
    log(f"  host busy: {loops.loops} CPU-bound loops; echo, then load at K="
        f"{','.join(map(str, opts.busy_ks))}")  # fmt: skip
    out: dict[str, Any] = {"ks": list(opts.busy_ks), "load": {}}
    results["busy_pass"] = out
    loops.start()
    try:
        out["echo"] = echo_phase(bench)
        load_rounds(bench, opts.busy_ks, out["load"], label="busy load")
    finally:
        out["loops"] = loops.stop().figures()


def meta(opts: Options, targets: list[Target], lab: Lab, stamp: str) -> dict[str, Any]:
    def cmd(*argv: str) -> str:
        res = subprocess.run(list(argv), capture_output=True, text=True, check=False)
        return (res.stdout or res.stderr).strip().splitlines()[0]

    cpu = next((line.split(":", 1)[1].strip() for line in _lines("/proc/cpuinfo")
                if line.startswith("model name")), platform.machine())  # fmt: skip
    mem = next((line.split()[1] for line in _lines("/proc/meminfo")
                if line.startswith("MemTotal")), "0")  # fmt: skip
    osname = next((line.split("=", 1)[1].strip('"') for line in _lines("/etc/os-release")
                   if line.startswith("PRETTY_NAME=")), platform.system())  # fmt: skip
    info: dict[str, Any] = {
        "started": stamp,
        "machine": {
            "cpu": cpu, "cores": os.cpu_count(), "mem_gb": round(int(mem) / 1024**2, 1),
            "kernel": platform.release(), "os": osname,
        },
        "versions": {
            "python": platform.python_version(), "tmux": cmd("tmux", "-V"),
            "ssh": cmd("ssh", "-V"),
        },
        "loadavg_start": os.getloadavg(),
        "options": dataclasses.asdict(opts),
        "targets": {},
    }  # fmt: skip
    for t in targets:
        desc = t.describe()
        port = desc.get("port")
        if isinstance(port, int) and port:
            user = "guest" if t.name == "pairtui" else os.environ.get("USER", "root")
            desc["negotiated"] = negotiated(lab, port, user)
        info["targets"][t.name] = desc
    return info


def _lines(path: str) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)
