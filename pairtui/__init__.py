"""pairtui: share tmux with guests over SSH, with a live view of who is in."""

from __future__ import annotations

__version__ = "0.1.0"
