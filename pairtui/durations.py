"""How long something has lasted, as people read it: for the CLI's tables, with no
Textual to load. The dashboard uses it too."""

from __future__ import annotations


def duration(seconds: float) -> str:
    """``42s``, ``4m 05s``, ``2h 03m``, ``3d 04h``: two units at most, never negative."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600:02d}h"
