"""The classic phase's pure parts: one window's raw figures, what the JSON keeps, the
verdict and the printed table.

Kept apart from :mod:`benchmarks.classic` (which drives real processes) so that they are
unit-tested, and so that ``--show`` prints a saved result without loading the phase.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchmarks.stats import percentile, ratio, summary_ms

GOAL_K = 200  # the class size
# pairtui/openssh (classic recipe) at K = 200 on a quiet machine, from the issue.
RATIO_TARGETS: dict[str, tuple[str, float]] = {
    "echo_p50": ("echo p50", 1.0),
    "echo_p99": ("echo p99", 1.0),
    "server_cpu": ("server CPU", 0.8),
    "tmux_server_cpu": ("tmux server CPU", 1.2),
}
PSS_LIMIT_MB = 0.6


@dataclass(frozen=True)
class ClassicRun:
    """One target at one K: K view guests watching, the host typing, one window."""

    k: int
    connected: int
    tmux_clients: int
    connect_s: tuple[float, ...]
    latencies: tuple[tuple[float, ...], ...]  # per guest: each host key's arrival, seconds
    keys: int  # keys the host typed in the window
    lost: int  # (guest, key) pairs never shown within the key timeout
    elapsed: float  # wall seconds between the CPU readings
    cpu: dict[str, float]  # CPU seconds in the window: server, tmux, guests
    busy: float  # fraction of all cores busy on the machine
    base_pss_kib: int
    pss_kib: int
    pss_by_comm: dict[str, int]


def _mb(kib: float) -> float:
    return round(kib * 1024 / 1e6, 3)


def summarize(run: ClassicRun, cores: int) -> dict[str, Any]:
    """What the JSON keeps of one window (no raw samples)."""
    pooled = [x for g in run.latencies for x in g]
    p99s = [p for g in run.latencies if (p := percentile(list(g), 99)) is not None]

    def share(name: str) -> float | None:
        return round(run.cpu[name] / run.elapsed, 4) if run.elapsed > 0 else None

    return {
        "k": run.k,
        "connected": run.connected,
        "tmux_clients": run.tmux_clients,
        "connect_ms": summary_ms(list(run.connect_s)),
        "echo_ms": summary_ms(pooled),
        "per_guest_p99_ms_worst": round(max(p99s) * 1000, 2) if p99s else None,
        "host_keys": run.keys,
        "keys_lost": run.lost,
        "window_s": round(run.elapsed, 2),
        "server_cpu": share("server"),  # cores (1.0 = one core busy)
        "tmux_server_cpu": share("tmux"),
        "guest_clients_cpu": share("guests"),
        "pss_per_guest_mb": _mb((run.pss_kib - run.base_pss_kib) / max(run.connected, 1)),
        "pss_by_process_mb": {c: _mb(v) for c, v in run.pss_by_comm.items()},
        "machine_busy_cores": round(run.busy * cores, 3),
    }


def _figure(f: dict[str, Any], name: str) -> float | None:
    v = f.get("echo_ms", {}).get(name[5:]) if name.startswith("echo_") else f.get(name)
    return float(v) if isinstance(v, int | float) else None


def goals(classic: Any) -> list[dict[str, Any]]:
    """The issue's K=200 targets (n/a when K=200 did not run)."""
    by_k = classic.get("by_k", {}) if isinstance(classic, dict) else {}
    at = by_k.get(str(GOAL_K), {})
    mine, ref = at.get("pairtui", {}), at.get("openssh", {})
    checks: list[dict[str, Any]] = []
    for name, (label, limit) in RATIO_TARGETS.items():
        r = ratio(_figure(mine, name), _figure(ref, name))
        checks.append({"goal": f"classic K={GOAL_K}: {label} <= {limit:g}x openssh (tmux -r)",
                       "value": r, "pass": None if r is None else r <= limit})  # fmt: skip

    def absolute(label: str, v: Any, ok: bool) -> None:
        value = float(v) if isinstance(v, int | float) else None
        checks.append({"goal": f"classic K={GOAL_K}: {label}", "value": value,
                       "pass": None if value is None else ok})  # fmt: skip

    connected = mine.get("connected")
    absolute("all guests connected", connected, connected == GOAL_K)
    lost = mine.get("keys_lost")
    absolute("keys lost == 0", lost, lost == 0)
    pss = mine.get("pss_per_guest_mb")
    absolute(f"PSS per guest <= {PSS_LIMIT_MB:g} MB", pss,
             isinstance(pss, int | float) and pss <= PSS_LIMIT_MB)  # fmt: skip
    return checks


def _cell(v: Any, digits: int, scale: float = 1.0) -> str:
    return "-" if not isinstance(v, int | float) else f"{v * scale:.{digits}f}"


ROWS: list[tuple[str, str, int, float]] = [
    ("guests connected", "connected", 0, 1.0),
    ("connect p50 ms", "connect_ms.p50", 0, 1.0),
    ("echo p50 ms", "echo_ms.p50", 2, 1.0),
    ("echo p99 ms", "echo_ms.p99", 2, 1.0),
    ("worst guest p99 ms", "per_guest_p99_ms_worst", 1, 1.0),
    ("host keys typed", "host_keys", 0, 1.0),
    ("keys lost (guest x key)", "keys_lost", 0, 1.0),
    ("server CPU %", "server_cpu", 1, 100.0),
    ("tmux server CPU %", "tmux_server_cpu", 1, 100.0),
    ("ssh clients CPU %", "guest_clients_cpu", 1, 100.0),
    ("PSS per guest MB", "pss_per_guest_mb", 2, 1.0),
    ("machine busy %", "machine_busy_cores", 0, 100.0),
]


def _get(f: dict[str, Any], path: str) -> Any:
    node: Any = f
    for key in path.split("."):
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) else None


def summary_text(classic: dict[str, Any], *, markdown: bool = False) -> str:
    """Per K: each row for openssh and pairtui, and their ratio."""
    by_k = classic.get("by_k", {})
    status = classic.get("status", "?")
    if not by_k:
        return f"classic phase: {status}"
    head = ["classic (K view guests, host typing)", "openssh", "pairtui", "pairtui/ossh"]
    lines = [head]
    for k in sorted(by_k, key=int):
        o, p = by_k[k].get("openssh", {}), by_k[k].get("pairtui", {})
        for label, path, digits, scale in ROWS:
            ov, pv = _get(o, path), _get(p, path)
            r = ratio(_num(pv), _num(ov))
            lines.append([f"K={k} {label}", _cell(ov, digits, scale), _cell(pv, digits, scale),
                          "-" if r is None else f"{r:.2f}x"])  # fmt: skip
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|---|---:|---:|---:|"]
        out += ["| " + " | ".join(line) + " |" for line in lines[1:]]
    else:
        widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
        out = []
        for n, line in enumerate(lines):
            cells = [line[0].ljust(widths[0])]
            cells += [c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)]
            out.append("  ".join(cells))
            if n == 0:
                out.append("  ".join("-" * w for w in widths))
    note = ("classic: openssh guests run `tmux attach -r` on the host's session (no share "
            f"sessions), pairtui's are view guests of a share; window "
            f"{classic.get('window', '80x23 + status')}; {status}")  # fmt: skip
    return "\n".join([note, *([""] if markdown else []), *out])
