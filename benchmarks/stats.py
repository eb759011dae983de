"""Small numeric helpers (no numpy on purpose: the harness stays light)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile, ``q`` in 0..100; None for no values."""
    if not values:
        return None
    data = sorted(values)
    pos = (len(data) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def summary_ms(seconds: Sequence[float]) -> dict[str, float | int | None]:
    """n, p50, p90, p99, max and mean of durations given in seconds, in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "p50": _r(percentile(ms, 50)),
        "p90": _r(percentile(ms, 90)),
        "p99": _r(percentile(ms, 99)),
        "max": _r(max(ms)) if ms else None,
        "mean": _r(sum(ms) / len(ms)) if ms else None,
    }


def ratio(value: float | None, reference: float | None) -> float | None:
    if value is None or reference is None or reference <= 0:
        return None
    return round(value / reference, 2)


def _r(x: float | None, digits: int = 2) -> float | None:
    return None if x is None else round(x, digits)
