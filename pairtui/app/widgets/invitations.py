"""Invitations, from ``invitations.json``: what each lets in, how many uses it has left,
and how long it stays open (the token itself is nowhere: only its hash is kept)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual.content import Content
from textual.message import Message

from pairtui.app import fmt
from pairtui.app.widgets.table import RecordTable
from pairtui.printable import printable

if TYPE_CHECKING:
    from pairtui.invitations import Invitation


STATE_STYLES = {"open": "text-success", "expired": "text-error"}  # the rest are muted


class InvitationsTable(RecordTable["Invitation"]):
    """Every invitation, oldest first, as ``pairtui invite list`` has them."""

    COLUMNS = [
        ("id", "Invitation"),
        ("mode", "Mode"),
        ("share", "Share"),
        ("left", "Uses left"),
        ("state", "State"),
        ("expires", "Expires"),
        ("name", "Guest name"),
    ]

    @dataclass
    class InvitationHighlighted(Message):
        """The cursor moved to another invitation (``None``: there are none)."""

        table: InvitationsTable
        invitation: Invitation | None

        @property
        def control(self) -> InvitationsTable:
            return self.table

    def key_of(self, record: Invitation) -> str:
        return record.id

    def cells(self, record: Invitation) -> dict[str, Text]:
        state = fmt.invitation_state(record, self.now)
        muted = self.colour("text-muted")
        # Only an open invitation counts down; a closed one's expiry no longer matters.
        expires = fmt.expiry(record.expires_at(), self.now) if state == "open" else "—"
        return {
            "id": Text(record.id, style="bold"),
            "mode": self.mode_cell(record.mode),
            "share": Text(printable(record.share or "any")),
            "left": Text(fmt.left(record), justify="right"),
            "state": Text(state, style=self.colour(STATE_STYLES.get(state, "text-muted"))),
            "expires": Text(expires, style="" if state == "open" else muted),
            "name": Text(printable(record.name)) if record.name else Text("guest-…", style=muted),
        }

    def highlighted_message(self, record: Invitation | None) -> Message:
        return self.InvitationHighlighted(self, record)


def invitation_about(invitation: Invitation, now: float) -> Content:
    """One line: the id, what it lets in, uses left, state and the countdown."""
    state = fmt.invitation_state(invitation, now)
    return Content.from_markup(
        "[b]$id[/b] · $mode · share: $share · $left · [b]$state[/b]$expires",
        id=invitation.id,
        mode=invitation.mode + (", you admit each" if invitation.admit == "ask" else ""),
        share=printable(invitation.share or "any"),
        left=f"{fmt.left(invitation)} use{'s' if invitation.uses != 1 else ''} left",
        state=state,
        expires=f" · expires {fmt.expiry(invitation.expires_at(), now)}" if state == "open" else "",
    )


def invitation_detail(invitation: Invitation, now: float) -> Content:
    """What the selected invitation does, and why its ssh string is not shown here."""
    state = fmt.invitation_state(invitation, now)
    named = (
        Content.from_markup("[b]$name[/b]", name=printable(invitation.name))
        if invitation.name
        else Content("guest- and the start of their key's fingerprint")
    )
    lines = [
        invitation_about(invitation, now),
        Content.from_markup("[$text-muted]a key it lets in becomes the guest[/] ").append(named),
        Content.from_markup("[$text-muted]made[/] $created", created=invitation.created or "?"),
    ]
    if state == "open":
        lines.append(
            Content.from_markup(
                "[$text-muted]Its ssh string was shown once, when it was made; if it is lost, "
                "withdraw it ([b]d[/b]) and make another ([b]a[/b]).[/]"
            )
        )
    elif state == "withdrawn":
        lines.append(
            Content.from_markup(
                "[$text-muted]Nobody gets in with it any more; guests it let in stay guests.[/]"
            )
        )
    return Content("\n").join(lines)
