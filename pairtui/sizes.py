"""File sizes for people, one format for the CLI and the dashboard: ``812B``, ``4.0K``,
``12M``, as ``ls -h`` says them."""

from __future__ import annotations


def size(n: int) -> str:
    value = float(n)
    for unit in ("B", "K", "M", "G"):
        if value < 1024 or unit == "G":
            if unit == "B":
                return f"{int(value)}B"
            return f"{value:.1f}{unit}" if value < 10 else f"{value:.0f}{unit}"
        value /= 1024
    raise AssertionError("unreachable")
