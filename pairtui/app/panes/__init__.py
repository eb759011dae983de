"""The dashboard's tabs, one pane per module, each with its own keys and actions."""

from __future__ import annotations

from pairtui.app.panes.base import Dashboard, DashboardPane
from pairtui.app.panes.clients import ClientsPane
from pairtui.app.panes.guests import GuestsPane
from pairtui.app.panes.shares import SharesPane

__all__ = ["ClientsPane", "Dashboard", "DashboardPane", "GuestsPane", "SharesPane"]
