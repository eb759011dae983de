"""The fan-out phase's pure parts: the screenful the host prints, the figures, the verdict.

Kept apart from :mod:`benchmarks.fanout` (which drives real processes) so that they are
unit-tested, and so that ``--show`` prints a saved result without loading the phase.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from benchmarks.stats import percentile, ratio

COLS, ROWS = 79, 23  # one column short of the pane: no line ever waits to wrap
LIMIT = 1.0  # pairtui/openssh, the target for every K
ORDER = ("direct", "openssh", "pairtui")  # the table's order, whatever order they ran in
_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def end_marker(k: int, sample: int) -> str:
    return f"FANOUT-K{k}-{sample}-END"


def screen_rows(k: int, sample: int) -> list[str]:
    """A full screen of text, different for every sample, the marker ending its last row.

    Deterministic: the same for every target, so each draws the same screen.
    """
    rows = []
    for r in range(ROWS - 1):
        head = f"{sample:03d}:{r:02d} "
        body = "".join(_ALPHABET[(sample * 7 + r * 13 + c) % len(_ALPHABET)]
                       for c in range(COLS - len(head)))  # fmt: skip
        rows.append(head + body)
    marker = end_marker(k, sample)
    head = f"{sample:03d}:{ROWS - 1:02d} "
    rows.append(head + "-" * (COLS - len(head) - len(marker)) + marker)
    return rows


def screenful(k: int, sample: int) -> bytes:
    """What the host prints: clear, home, then the rows (the last one without a newline,
    so nothing scrolls)."""
    return b"\x1b[H\x1b[2J" + "\r\n".join(screen_rows(k, sample)).encode()


def _ms(x: float | None) -> float | None:
    return None if x is None else round(x * 1000, 2)


def summarize(
    k: int,
    connected: int,
    connect_s: Sequence[float],
    samples: Sequence[Sequence[float | None]],
) -> dict[str, Any]:
    """One target at one K. ``samples`` holds, per screenful, each guest's time from the
    host's write to its final screen (None: that guest never had it)."""
    last = [max(x for x in s if x is not None) for s in samples if s and None not in s]
    every = [x for s in samples for x in s if x is not None]
    missed = sum(1 for s in samples for x in s if x is None)
    return {
        "k": k,
        "connected": connected,
        "connect_p50_ms": _ms(percentile(connect_s, 50)),
        "samples": len(samples),
        # The figure judged: time until the last guest had the final screen.
        "last_guest_ms": {
            "p50": _ms(percentile(last, 50)),
            "max": _ms(max(last) if last else None),
            "n": len(last),
        },
        "per_guest_ms": {"p50": _ms(percentile(every, 50)), "p99": _ms(percentile(every, 99))},
        "screens_missed": missed,
    }


def ratio_of(fanout: dict[str, Any], k: str, target: str = "pairtui") -> float | None:
    by_target = fanout.get("by_k", {}).get(k, {})
    mine = by_target.get(target, {}).get("last_guest_ms", {}).get("p50")
    ref = by_target.get("openssh", {}).get("last_guest_ms", {}).get("p50")
    return ratio(mine, ref)


def goals(fanout: Any, ks: list[int]) -> list[dict[str, Any]]:
    """Per K the issue asks for: the last guest's final screen, pairtui/openssh <= 1.0x;
    n/a when the phase (or that K) did not run."""
    checks = []
    measured = fanout if isinstance(fanout, dict) else {}
    asked = sorted({*ks, *(int(k) for k in measured.get("by_k", {}))})
    for k in asked:
        r = ratio_of(measured, str(k))
        checks.append({"goal": f"fanout K={k}: last guest's final screen p50 <= {LIMIT:g}x "
                               "openssh", "value": r,
                       "pass": None if r is None else r <= LIMIT})  # fmt: skip
    return checks


def _cell(v: Any, digits: int = 1) -> str:
    return "-" if not isinstance(v, int | float) else f"{v:.{digits}f}"


def summary_text(fanout: dict[str, Any], *, markdown: bool = False) -> str:
    """One row per K and target: connected, last guest p50/max, per guest p50/p99."""
    status = fanout.get("status", "?")
    by_k = fanout.get("by_k", {})
    if not by_k:
        return f"fanout phase: {status}"
    head = ["fanout (screenful to K view guests)", "connected", "last p50 ms", "last max ms",
            "guest p50 ms", "guest p99 ms", "missed", "last/ossh"]  # fmt: skip
    lines = [head]
    for k in sorted(by_k, key=int):
        for name in sorted(by_k[k], key=lambda n: (ORDER.index(n) if n in ORDER else 9, n)):
            f = by_k[k][name]
            r = ratio_of(fanout, k, name)
            lines.append([
                f"K={k} {name}", f"{f.get('connected', 0)}/{k}",
                _cell(f["last_guest_ms"]["p50"]), _cell(f["last_guest_ms"]["max"]),
                _cell(f["per_guest_ms"]["p50"]), _cell(f["per_guest_ms"]["p99"]),
                str(f.get("screens_missed", 0)), "-" if r is None else f"{r:.2f}x",
            ])  # fmt: skip
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
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
    note = f"fanout: {fanout.get('samples', '?')} screenfuls per K and target; {status}"
    return "\n".join([note, *([""] if markdown else []), *out])
