"""What the soak phase reads from the server before and after, and what it makes of it.

A long-running ``pairtui serve`` must come back to where it started once the guests are
gone: the same open descriptors, no ``tmux attach`` child, no client on the host's tmux
server, nobody listed by the engine, and every ``join`` in the audit log closed by a
``leave`` or ``kick``. Anything else after the settle period is a leak and fails the
phase; RSS is reported (Python's allocator keeps freed arenas, so growth alone proves
nothing) but does not fail it.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks import procs
from benchmarks.tmuxhost import TmuxHost

# Audit events that open a client's record, and those that close one.
OPENS = ("join", "connect")
CLOSES = ("leave", "kick")


def audit_counts(path: Path) -> tuple[int, dict[str, int]]:
    """Lines in the audit log, and how many of each event."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return 0, {}
    events: Counter[str] = Counter()
    for line in lines:
        try:
            events[str(json.loads(line).get("event", "?"))] += 1
        except (ValueError, AttributeError):
            events["(unreadable)"] += 1
    return len(lines), dict(events)


def quick(pid: int, tmux: TmuxHost) -> dict[str, int]:
    """The figures the settle loop polls (cheap: /proc and one tmux command)."""
    return {
        "fds": len(procs.fd_targets(pid)),
        "children": max(len(procs.tree([pid])) - 1, 0),
        "tmux_clients": tmux.client_count(),
    }


def take(pid: int, tmux: TmuxHost, audit: Path, engine_clients: int | None) -> dict[str, Any]:
    """Everything compared before and after; ``engine_clients`` is what ``pairtui clients``
    listed (read by the caller *after* the descriptors here: its control connection is one
    more socket in the server while it runs)."""
    targets = procs.fd_targets(pid)
    status = procs.status_fields(pid)
    lines, events = audit_counts(audit)
    sessions = [s for s in tmux.run("list-sessions", "-F", "#{session_name}",
                                    check=False).splitlines() if s]  # fmt: skip
    return {
        "alive": bool(status),
        "fds": len(targets),
        "fd_kinds": dict(Counter(procs.fd_kind(t) for t in targets)),
        "rss_kib": status.get("VmRSS"),
        "threads": status.get("Threads"),
        "children": max(len(procs.tree([pid])) - 1, 0),
        "tmux_clients": tmux.client_count(),
        "tmux_sessions": len(sessions),
        "engine_clients": engine_clients,
        "audit_lines": lines,
        "audit_events": events,
    }


def engine_client_count(argv: list[str], env: dict[str, str], cwd: Path) -> int | None:
    """``pairtui clients --json``: how many clients the server lists (None: no answer)."""
    try:
        res = subprocess.run([*argv, "clients", "--json"], capture_output=True, text=True,
                             env=env, cwd=cwd, timeout=30, check=False)  # fmt: skip
        listed = json.loads(res.stdout) if res.returncode == 0 else None
    except (subprocess.TimeoutExpired, ValueError):
        return None
    return len(listed) if isinstance(listed, list) else None


def verdict(before: dict[str, Any], after: dict[str, Any], errors: dict[str, int]) -> list[str]:
    """Why the phase fails: leaks left after the settle period and wrong behaviour seen
    during the churn (empty: it passes)."""
    return leaks(before, after) + [f"{kind}: {n}" for kind, n in sorted(errors.items())]


def leaks(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What the server kept after the settle period that it had not before."""
    problems: list[str] = []
    if not after["alive"]:
        return ["pairtui serve is no longer running"]
    grew = after["fds"] - before["fds"]
    if grew > 0:
        kinds = Counter(after["fd_kinds"])
        kinds.subtract(before["fd_kinds"])
        more = ", ".join(f"+{n} {k}" for k, n in sorted(kinds.items()) if n > 0)
        problems.append(f"open fds grew by {grew} ({more})")
    for name, label in (("tmux_clients", "tmux clients"), ("children", "server child processes"),
                        ("tmux_sessions", "tmux sessions")):  # fmt: skip
        if after[name] > before[name]:
            problems.append(f"{label}: {before[name]} before, {after[name]} after")
    if after["engine_clients"] is None:
        problems.append("`pairtui clients` got no answer after the soak")
    elif after["engine_clients"] > 0:
        problems.append(f"the server still lists {after['engine_clients']} clients")
    opened, closed = _delta(before, after, OPENS), _delta(before, after, CLOSES)
    if opened != closed:
        problems.append(f"audit: {opened} joins/connects but {closed} leaves/kicks")
    return problems


def _delta(before: dict[str, Any], after: dict[str, Any], events: tuple[str, ...]) -> int:
    return sum(after["audit_events"].get(e, 0) - before["audit_events"].get(e, 0) for e in events)


def growth(before: dict[str, Any], after: dict[str, Any], ops: int) -> dict[str, Any]:
    def diff(name: str) -> int | None:
        a, b = after.get(name), before.get(name)
        return a - b if isinstance(a, int) and isinstance(b, int) else None

    rss = diff("rss_kib")
    lines = diff("audit_lines") or 0
    events = {e: n - before["audit_events"].get(e, 0) for e, n in after["audit_events"].items()}
    return {
        "fds": diff("fds"),
        "rss_mb": None if rss is None else round(rss * 1024 / 1e6, 2),
        "threads": diff("threads"),
        "children": diff("children"),
        "tmux_clients": diff("tmux_clients"),
        "tmux_sessions": diff("tmux_sessions"),
        "audit_lines": lines,
        "audit_lines_per_op": round(lines / ops, 2) if ops else None,
        "audit_events": {e: n for e, n in sorted(events.items()) if n},
    }


ROWS = (
    ("server open fds", "fds"),
    ("server RSS MB", "rss_kib"),
    ("server threads", "threads"),
    ("server child processes", "children"),
    ("tmux clients (host's server)", "tmux_clients"),
    ("tmux sessions", "tmux_sessions"),
    ("clients listed by the server", "engine_clients"),
    ("audit log lines", "audit_lines"),
)


def summary_text(soak: dict[str, Any], *, markdown: bool = False) -> str:
    """The soak's before/after table, what was done, and the verdict."""
    if "before" not in soak or "after" not in soak:
        return f"soak (pairtui serve): {soak.get('status', 'not measured')}"
    before, after = soak["before"], soak["after"]
    lines = [["soak (pairtui serve)", "before", "after", "growth"]]
    for label, key in ROWS:
        b, a = before.get(key), after.get(key)
        if key == "rss_kib":
            b = None if b is None else round(b * 1024 / 1e6, 1)
            a = None if a is None else round(a * 1024 / 1e6, 1)
        g = "-" if not isinstance(a, int | float) or not isinstance(b, int | float) else a - b
        lines.append([label, _cell(b), _cell(a), _cell(g, sign=True)])
    if markdown:
        out = ["| " + " | ".join(lines[0]) + " |", "|---|---:|---:|---:|"]
        out += ["| " + " | ".join(line) + " |" for line in lines[1:]]
    else:
        widths = [max(len(line[i]) for line in lines) for i in range(4)]
        out = []
        for n, line in enumerate(lines):
            cells = [line[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(line[1:], widths[1:],
                                                                          strict=True)]  # fmt: skip
            out.append("  ".join(cells))
            if n == 0:
                out.append("  ".join("-" * w for w in widths))
    g = soak.get("growth", {})
    ops = soak.get("ops", {})
    out.append("")
    out.append(f"{soak.get('ran_s')} s of churn, {sum(ops.values())} operations "
               f"({', '.join(f'{k} {v}' for k, v in ops.items())}); "
               f"settled {soak.get('settled_after_s')} s after the last guest left")  # fmt: skip
    out.append(f"done: {', '.join(f'{k} {v}' for k, v in soak.get('done', {}).items())}")
    out.append(
        f"audit: +{g.get('audit_lines')} lines, {g.get('audit_lines_per_op')} per "
        f"operation ({', '.join(f'{k} {v}' for k, v in g.get('audit_events', {}).items())})"
    )
    log = soak.get("server_log", {})
    out.append(f"server log: {log.get('lines')} lines, {log.get('tracebacks')} tracebacks")
    problems = soak.get("problems", [])
    out.append(f"verdict: {'PASS' if not problems else 'FAIL'}"
               + "".join(f"\n  - {p}" for p in problems))  # fmt: skip
    return "\n".join(out)


def _cell(v: object, *, sign: bool = False) -> str:
    if not isinstance(v, int | float):
        return "-"
    text = f"{v:.1f}" if isinstance(v, float) else str(v)
    return f"+{text}" if sign and v > 0 else text
