"""What the record phase makes of its windows: on/off ratios, their spread, the verdict.

Kept apart from :mod:`benchmarks.record` (which drives real processes) so that the
arithmetic and the printed lines are unit-tested, and so ``--show`` prints a saved
result without loading the phase. Raw windows come in as :class:`Window` values; what
goes into the run's JSON is plain numbers (latencies pooled per arm, no raw samples).

Ratios are recording on over recording off, taken two ways: pooled over every window
of an arm (the figure judged), and per cycle (the on window over the off window right
before it), whose minimum and maximum are the spread. On a shared, noisy machine the
spread says whether a ratio is the recording or the neighbours.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from benchmarks.stats import percentile, ratio

ARMS = ("off", "on", "openssh")

# The targets: recording one share costs at most this much server CPU, and leaves the
# pair guest's echo within the noise of recording off (on/off of pooled figures).
TARGETS: dict[str, float] = {
    "server_cpu": 1.25,
    "echo_p50": 1.10,
    "echo_p95": 1.25,
}
LABELS = {
    "server_cpu": "server CPU",
    "echo_p50": "echo p50",
    "echo_p95": "echo p95",
}


@dataclass(frozen=True)
class Window:
    """One measured window of one arm: ``off`` / ``on`` (pairtui, recording off or on) or
    ``openssh`` (the reference, under the same load)."""

    arm: str
    cycle: int
    connected: int  # guests that joined (the typing one included)
    latencies: tuple[float, ...]  # seconds, the pair guest's echoes
    sent: int
    lost: int
    elapsed: float  # wall seconds between the two CPU readings
    server_cpu: float  # CPU seconds: the server's tree plus the children it reaped
    server_tree_cpu: float  # the same without the reaped children (short tmux commands)
    tmux_cpu: float  # the host's tmux server
    busy: float  # fraction of all cores busy on the machine meanwhile
    cast_bytes: int | None = None  # with recording on: bytes the cast grew by meanwhile
    modes: dict[str, int] | None = None  # pairtui: its clients by mode (`pairtui clients`)


def _round(x: float | None, digits: int = 2) -> float | None:
    return None if x is None else round(x, digits)


def echo_ms(latencies: list[float] | tuple[float, ...]) -> dict[str, Any]:
    """n, p50, p95, p99 and max in milliseconds (p95 is the phase's tail figure)."""
    ms = [x * 1000 for x in latencies]
    return {
        "n": len(ms),
        "p50": _round(percentile(ms, 50)),
        "p95": _round(percentile(ms, 95)),
        "p99": _round(percentile(ms, 99)),
        "max": _round(max(ms)) if ms else None,
    }


def pooled(windows: list[Window]) -> dict[str, Any]:
    """One arm over all its windows: latencies pooled, CPU as seconds over wall seconds."""
    wall = sum(w.elapsed for w in windows)
    views = [w.modes.get("view", 0) for w in windows if w.modes is not None]

    def cores(total: float) -> float | None:
        return round(total / wall, 4) if wall > 0 else None

    return {
        "windows": len(windows),
        "connected": min((w.connected for w in windows), default=0),
        # The fewest view guests the server listed in any window (pairtui's arms only).
        "view_guests": min(views, default=None),
        "echo_ms": echo_ms([x for w in windows for x in w.latencies]),
        "keys_sent": sum(w.sent for w in windows),
        "keys_lost": sum(w.lost for w in windows),
        "window_s": round(wall, 2),
        "server_cpu": cores(sum(w.server_cpu for w in windows)),  # 1.0 = one core busy
        "server_tree_cpu": cores(sum(w.server_tree_cpu for w in windows)),
        "tmux_server_cpu": cores(sum(w.tmux_cpu for w in windows)),
        "machine_busy_cores": cores(sum(w.busy * w.elapsed for w in windows) * _cores()),
    }


def _cores() -> int:
    return os.cpu_count() or 1


def _window_figures(w: Window) -> dict[str, Any]:
    out: dict[str, Any] = {
        "cycle": w.cycle,
        "arm": w.arm,
        "connected": w.connected,
        "echo_ms": echo_ms(w.latencies),
        "keys_lost": w.lost,
        "window_s": round(w.elapsed, 2),
        "server_cpu": round(w.server_cpu / w.elapsed, 4) if w.elapsed > 0 else None,
        "server_tree_cpu": round(w.server_tree_cpu / w.elapsed, 4) if w.elapsed > 0 else None,
        "tmux_server_cpu": round(w.tmux_cpu / w.elapsed, 4) if w.elapsed > 0 else None,
        "machine_busy_cores": round(w.busy * _cores(), 3),
    }
    if w.cast_bytes is not None:
        out["cast_bytes"] = w.cast_bytes
    if w.modes is not None:
        out["modes"] = w.modes
    return out


def _figure(arm: dict[str, Any], name: str) -> float | None:
    """``server_cpu``, ``echo_p50`` or ``echo_p95`` of a window's or an arm's figures."""
    v = arm.get("echo_ms", {}).get(name[5:]) if name.startswith("echo_") else arm.get(name)
    return float(v) if isinstance(v, int | float) else None


def on_off(windows: list[dict[str, Any]], arms: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Each figure's on/off ratio (pooled), and per cycle with its min and max."""
    off = {w["cycle"]: w for w in windows if w["arm"] == "off"}
    on = {w["cycle"]: w for w in windows if w["arm"] == "on"}
    out: dict[str, Any] = {}
    for name in TARGETS:
        rounds = [ratio(_figure(on[c], name), _figure(off[c], name)) for c in sorted(on)
                  if c in off]  # fmt: skip
        known = [r for r in rounds if r is not None]
        out[name] = {
            "value": ratio(_figure(arms.get("on", {}), name), _figure(arms.get("off", {}), name)),
            "rounds": rounds,
            "min": min(known, default=None),
            "max": max(known, default=None),
        }
    return out


def summarize(
    windows: list[Window], recordings: list[dict[str, Any]], viewers: int
) -> dict[str, Any]:
    """The phase's JSON: per arm, on/off ratios, the OpenSSH reference, the cast's size.

    ``recordings`` are the casts written (``bytes``, ``seconds`` from start to stop).
    """
    arms = {a: pooled([w for w in windows if w.arm == a]) for a in ARMS
            if any(w.arm == a for w in windows)}  # fmt: skip
    per_window = [_window_figures(w) for w in windows]
    ossh = _figure(arms.get("openssh", {}), "echo_p50")
    reference = {
        "openssh_echo_p50_ms": ossh,
        "off_vs_openssh_echo_p50": ratio(_figure(arms.get("off", {}), "echo_p50"), ossh),
        "on_vs_openssh_echo_p50": ratio(_figure(arms.get("on", {}), "echo_p50"), ossh),
    }
    total = sum(int(r.get("bytes") or 0) for r in recordings)
    seconds = sum(float(r.get("seconds") or 0) for r in recordings)
    grown = [w for w in windows if w.arm == "on" and w.cast_bytes is not None]
    grown_s = sum(w.elapsed for w in grown)
    grown_rate = sum(w.cast_bytes or 0 for w in grown) / grown_s if grown_s > 0 else None
    size = {
        "recordings": len(recordings),
        "bytes": total,
        "seconds": round(seconds, 1),
        # The whole casts, start to stop (joins and leaves included): what a host keeps.
        "kb_per_min": round(total / seconds * 60 / 1000, 1) if seconds > 0 else None,
        # Only the measured windows (steady output), from the file's size at their edges.
        "window_kb_per_min": None if grown_rate is None else round(grown_rate * 60 / 1000, 1),
        "files": recordings,
    }
    return {
        "status": "measured",
        "viewers": viewers,
        "cycles": len({w.cycle for w in windows}),
        "arms": arms,
        "on_off": on_off(per_window, arms),
        "reference": reference,
        "recording": size,
        "windows": per_window,
        "targets": {name: f"<= {limit:g}x" for name, limit in TARGETS.items()},
    }


def goals(record: Any) -> list[dict[str, Any]]:
    """The record targets with the measured value and a verdict (n/a when not measured)."""
    ratios = record.get("on_off", {}) if isinstance(record, dict) else {}
    checks: list[dict[str, Any]] = []
    for name, limit in TARGETS.items():
        v = ratios.get(name, {}).get("value")
        value = float(v) if isinstance(v, int | float) else None
        checks.append({"goal": f"record: {LABELS[name]} on/off <= {limit:g}x", "value": value,
                       "pass": None if value is None else value <= limit})  # fmt: skip
    on = record.get("arms", {}).get("on") if isinstance(record, dict) else None
    lost = on.get("keys_lost") if isinstance(on, dict) else None
    value = float(lost) if isinstance(lost, int | float) else None
    checks.append({"goal": "record: keys lost with recording on == 0", "value": value,
                   "pass": None if value is None else value == 0})  # fmt: skip
    return checks


def _cell(v: Any, digits: int, scale: float = 1.0, suffix: str = "") -> str:
    return "-" if not isinstance(v, int | float) else f"{v * scale:.{digits}f}{suffix}"


def rows(record: dict[str, Any]) -> list[list[str]]:
    """metric, off, on, on/off, spread over cycles, goal (the header first)."""
    arms = record.get("arms", {})
    ratios = record.get("on_off", {})
    off, on = arms.get("off", {}), arms.get("on", {})
    lines = [["record (pairtui serve)", "off", "on", "on/off", "per cycle", "goal"]]

    def ratio_cells(name: str) -> list[str]:
        r = ratios.get(name, {})
        spread = "-"
        if isinstance(r.get("min"), int | float):
            spread = f"{r['min']:.2f}-{r['max']:.2f}x"
        return [_cell(r.get("value"), 2, suffix="x"), spread, f"<= {TARGETS[name]:g}x"]

    def echo(arm: dict[str, Any], q: str) -> Any:
        return arm.get("echo_ms", {}).get(q)

    lines.append(["server CPU %", _cell(off.get("server_cpu"), 1, 100),
                  _cell(on.get("server_cpu"), 1, 100), *ratio_cells("server_cpu")])  # fmt: skip
    lines.append(["server CPU % less short tmux commands",
                  _cell(off.get("server_tree_cpu"), 1, 100),
                  _cell(on.get("server_tree_cpu"), 1, 100), "", "", ""])  # fmt: skip
    lines.append(["echo p50 ms", _cell(echo(off, "p50"), 2), _cell(echo(on, "p50"), 2),
                  *ratio_cells("echo_p50")])  # fmt: skip
    lines.append(["echo p95 ms", _cell(echo(off, "p95"), 2), _cell(echo(on, "p95"), 2),
                  *ratio_cells("echo_p95")])  # fmt: skip
    lines.append(["echo p99 ms", _cell(echo(off, "p99"), 2), _cell(echo(on, "p99"), 2),
                  "", "", ""])  # fmt: skip
    lines.append(["keys echoed / lost",
                  f"{_cell(echo(off, 'n'), 0)} / {_cell(off.get('keys_lost'), 0)}",
                  f"{_cell(echo(on, 'n'), 0)} / {_cell(on.get('keys_lost'), 0)}", "", "",
                  "0 lost"])  # fmt: skip
    lines.append(["guests connected (of them view)",
                  f"{_cell(off.get('connected'), 0)} ({_cell(off.get('view_guests'), 0)})",
                  f"{_cell(on.get('connected'), 0)} ({_cell(on.get('view_guests'), 0)})", "", "",
                  f"{record.get('viewers', '?')} view + 1"])  # fmt: skip
    lines.append(["tmux server CPU %", _cell(off.get("tmux_server_cpu"), 1, 100),
                  _cell(on.get("tmux_server_cpu"), 1, 100), "", "", ""])  # fmt: skip
    lines.append(["machine busy %", _cell(off.get("machine_busy_cores"), 0, 100),
                  _cell(on.get("machine_busy_cores"), 0, 100), "", "", ""])  # fmt: skip
    return lines


def summary_text(record: dict[str, Any], *, markdown: bool = False) -> str:
    """The record phase's table and its two reference lines."""
    status = record.get("status", "?")
    if status != "measured" and not record.get("arms"):
        return f"record phase: {status}"
    lines = rows(record)
    if markdown:
        out = ["| " + " | ".join(lines[0]) + " |", "|---|---:|---:|---:|---:|---|"]
        out += ["| " + " | ".join(line) + " |" for line in lines[1:]]
    else:
        widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
        out = []
        for n, line in enumerate(lines):
            cells = [line[0].ljust(widths[0])]
            cells += [c.rjust(w) for c, w in zip(line[1:-1], widths[1:-1], strict=True)]
            out.append("  ".join([*cells, line[-1]]).rstrip())
            if n == 0:
                out.append("  ".join("-" * w for w in widths))
    ref = record.get("reference", {})
    ossh = ref.get("openssh_echo_p50_ms")
    viewers = record.get("viewers", "?")
    cycles, arms = record.get("cycles", "?"), ", ".join(record.get("arms", {}))
    out.insert(0, f"record: one share, {viewers} view guests and one pair guest typing, "
                  f"the host printing; {cycles} cycles of {arms}")  # fmt: skip
    if status != "measured":
        out.insert(1, f"  ({status})")
    if markdown:  # a table needs blank lines around it
        out.insert(1 if status == "measured" else 2, "")
        out.append("")
    out.append(f"openssh, same load: echo p50 {_cell(ossh, 2)} ms; pairtui/openssh "
               f"{_cell(ref.get('off_vs_openssh_echo_p50'), 2, suffix='x')} off, "
               f"{_cell(ref.get('on_vs_openssh_echo_p50'), 2, suffix='x')} on")  # fmt: skip
    size = record.get("recording", {})
    out.append(f"recording size: {_cell(size.get('kb_per_min'), 0)} kB per minute "
               f"({size.get('recordings', 0)} casts, {_cell(size.get('bytes'), 0, 1e-3)} kB "
               f"in {_cell(size.get('seconds'), 0)} s; measured windows alone "
               f"{_cell(size.get('window_kb_per_min'), 0)} kB/min)")  # fmt: skip
    return "\n".join(out)
