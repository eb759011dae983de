"""The dashboard's screens."""

from __future__ import annotations

from pairtui.app.screens.help import HelpScreen
from pairtui.app.screens.main import MainScreen
from pairtui.app.screens.recording_player import RecordingPlayerScreen

__all__ = ["HelpScreen", "MainScreen", "RecordingPlayerScreen"]
