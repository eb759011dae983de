"""The dashboard: a Textual front end over the pairtui core (which never imports Textual)."""

from __future__ import annotations

from pairtui.app.app import PairtuiApp, run

__all__ = ["PairtuiApp", "run"]
