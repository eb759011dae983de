"""The dashboard's modal dialogs, one per module."""

from __future__ import annotations

from pairtui.app.dialogs.add_guest import AddGuestDialog, GuestDraft
from pairtui.app.dialogs.confirm import ConfirmDialog
from pairtui.app.dialogs.door import DoorDialog, DoorRequest
from pairtui.app.dialogs.edit_guest import EditGuestDialog, GuestEdit
from pairtui.app.dialogs.invitation_made import InvitationMadeDialog
from pairtui.app.dialogs.invite import InviteDialog, InviteDraft
from pairtui.app.dialogs.knock import KnockAnswer, KnockDialog
from pairtui.app.dialogs.prompt import PromptDialog
from pairtui.app.dialogs.record import RecordDialog, RecordRequest
from pairtui.app.dialogs.share import ShareDialog, ShareRequest
from pairtui.app.dialogs.tunnels import TunnelDialog

__all__ = [
    "AddGuestDialog",
    "ConfirmDialog",
    "DoorDialog",
    "DoorRequest",
    "EditGuestDialog",
    "GuestDraft",
    "GuestEdit",
    "InvitationMadeDialog",
    "InviteDialog",
    "InviteDraft",
    "KnockAnswer",
    "KnockDialog",
    "PromptDialog",
    "RecordDialog",
    "RecordRequest",
    "ShareDialog",
    "ShareRequest",
    "TunnelDialog",
]
