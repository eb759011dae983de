"""Where ``pairtui serve`` spends its time under load: py-spy, summarised.

A separate pass after the measured ones (sampling perturbs what it measures): the
pairtui target alone at K guests, with ``py-spy record`` attached for the load window
(``--native`` adds C frames: OpenSSL, the interpreter). The raw collapsed stacks are
kept next to the JSON; the summary groups self time by function and by package.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.phases import Bench, load_phase, summarize_load
from benchmarks.targets import Pairtui

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def find_py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def profile_phase(bench: Bench, target: Pairtui, k: int, out: Path) -> dict[str, Any]:
    py_spy = find_py_spy()
    if py_spy is None:
        return {"error": "py-spy is not installed (.venv/bin/pip install py-spy)"}
    assert target.proc is not None
    spies: list[subprocess.Popen[bytes]] = []
    errors = out.with_suffix(".log")

    def attach(seconds: float) -> None:
        with errors.open("wb") as log:
            spies.append(bench.reaper.spawn(
                [py_spy, "record", "--pid", str(target.proc.pid if target.proc else 0),
                 "--duration", str(max(int(seconds), 1)), "--rate", str(bench.opts.profile_rate),
                 "--format", "raw", "--output", str(out),
                 *(["--native"] if bench.opts.profile_native else [])],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            ))  # fmt: skip

    load = load_phase(bench, target, k, on_window=attach)
    deadline = time.monotonic() + 30
    for spy in spies:
        while spy.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if spy.poll() is None:
            spy.kill()
            spy.wait(5)
        bench.reaper.forget(spy)
    if not out.exists():
        return {"error": f"py-spy wrote nothing: {errors.read_text(errors='replace')[-300:]}"}
    summary = summarize(out, bench.opts.window, bench.opts.profile_rate)
    return {"k": k, "raw": str(out), "load_while_profiled": summarize_load([load]), **summary}


def _package(path: str) -> str:
    for pkg in ("asyncssh", "cryptography", "pairtui", "libtmux", "uvloop"):
        if f"/{pkg}/" in path or path.startswith(f"{pkg}/"):
            return pkg
    for mod in ("asyncio", "selectors", "subprocess", "logging", "json"):
        if f"/{mod}/" in path or path.endswith(f"/{mod}.py") or path.startswith(f"{mod}/"):
            return f"stdlib {mod}"
    return "other" if path else "native/unknown"


def summarize(raw: Path, seconds: float, rate: int, top: int = 15) -> dict[str, Any]:
    """Self and inclusive time per function, and self time per package."""
    self_fn: Counter[str] = Counter()
    incl_fn: Counter[str] = Counter()
    self_pkg: Counter[str] = Counter()
    total = other_threads = waiting = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        if not stack.startswith("_run_module_as_main"):
            # Not the event loop's thread: asyncio's child watcher threads (one per
            # subprocess, blocked in waitpid) and executor workers.
            other_threads += n
            continue
        frames = [f for f in map(_frame, stack.split(";")) if f is not None]
        if not frames:
            continue
        leaf = frames[-1]
        if leaf[0].startswith(("EpollSelector.select ", "_PollLikeSelector.select ")):
            # Waiting for the next event (py-spy cannot always tell a thread blocked in
            # epoll_wait from a running one), plus the selector's own bookkeeping.
            waiting += n
            continue
        total += n
        self_fn[leaf[0]] += n
        self_pkg[_package(leaf[1])] += n
        for name in {f[0] for f in frames}:
            incl_fn[name] += n

    def pct(counter: Counter[str]) -> list[dict[str, Any]]:
        rows = [(k, v) for k, v in counter.most_common() if v < 0.995 * total]  # not main() &c.
        return [{"name": k, "pct": round(100 * v / total, 1)} for k, v in rows[:top]]

    expected = seconds * rate
    return {
        "samples": total,  # event loop thread, working (percentages are of these)
        "selector_samples": waiting,
        "other_thread_samples": other_threads,
        # py-spy drops samples of a sleeping thread: active samples / (seconds x rate)
        # approximates the share of a core the event loop thread was busy.
        "busy_fraction_of_a_core": round(total / expected, 3) if expected else None,
        "selector_fraction_of_a_core": round(waiting / expected, 3) if expected else None,
        "self_by_package": pct(self_pkg),
        "self_by_function": pct(self_fn),
        "inclusive_by_function": pct(incl_fn),
    }


def _frame(text: str) -> tuple[str, str] | None:
    m = _FRAME.match(text.strip())
    if m is None:
        return None
    path = m["file"]
    short = re.sub(r"^.*/(site-packages|lib/python3\.\d+)/", "", path)
    return f"{m['func']} ({short})", path


def summary_text(profile: dict[str, Any]) -> str:
    if "error" in profile:
        return f"  profile: {profile['error']}"
    busy = profile["busy_fraction_of_a_core"]
    others = profile.get("other_thread_samples", 0)
    lines = [
        f"  py-spy: {profile['samples']} samples of the event loop thread working ({busy} of a"
        + f" core), {profile.get('selector_samples', 0)} in the selector (waiting or polling),"
        + f" {others} of other threads; raw stacks: {profile['raw']}",
        "  shares below are of the working samples",
    ]
    lines.append("  self time by package:")
    lines += [f"    {e['pct']:5.1f}%  {e['name']}" for e in profile["self_by_package"]]
    lines.append("  self time by function:")
    lines += [f"    {e['pct']:5.1f}%  {e['name']}" for e in profile["self_by_function"]]
    lines.append("  inclusive time by function:")
    lines += [f"    {e['pct']:5.1f}%  {e['name']}" for e in profile["inclusive_by_function"]]
    return "\n".join(lines)
