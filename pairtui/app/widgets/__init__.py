"""The dashboard's widgets."""

from __future__ import annotations

from pairtui.app.widgets.clients import ClientsTable
from pairtui.app.widgets.fields import CoreCheck, Field
from pairtui.app.widgets.guests import GuestRow, GuestsTable
from pairtui.app.widgets.invitations import InvitationsTable
from pairtui.app.widgets.shares import ShareRow, SharesTable
from pairtui.app.widgets.status import JoinBar, StatusBar

__all__ = [
    "ClientsTable",
    "CoreCheck",
    "Field",
    "GuestRow",
    "GuestsTable",
    "InvitationsTable",
    "JoinBar",
    "ShareRow",
    "SharesTable",
    "StatusBar",
]
