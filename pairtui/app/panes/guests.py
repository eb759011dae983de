"""The Guests tab: who is invited, with which keys; adding, editing, removing them. Its
second view (``i``) lists invitations: lines that let a colleague in with any key."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.reactive import var
from textual.widget import Widget
from textual.widgets import Static

from pairtui.app import fmt
from pairtui.app.dialogs import (
    AddGuestDialog,
    ConfirmDialog,
    EditGuestDialog,
    GuestDraft,
    GuestEdit,
    InvitationMadeDialog,
    InviteDialog,
    InviteDraft,
)
from pairtui.app.panes.base import DashboardPane
from pairtui.app.widgets import GuestRow, GuestsTable, InvitationsTable
from pairtui.app.widgets.guests import guest_detail
from pairtui.app.widgets.invitations import invitation_detail
from pairtui.errors import PairtuiError
from pairtui.printable import printable

if TYPE_CHECKING:
    from pairtui.host import KeyLines
    from pairtui.invitations import Invitation
    from pairtui.registry import Guest

GUEST_ACTIONS = frozenset(
    {"guest_add", "guest_edit", "guest_mode", "guest_remove", "guest_copy", "show_invitations"}
)
INVITATION_ACTIONS = frozenset({"invitation_add", "invitation_revoke", "show_guests"})
"""Each view's keys: the other view's are hidden, so one key (a, d) can do the same
thing to whatever the view lists."""


class GuestsPane(DashboardPane):
    """The registry's guests, with how many of each are connected; or the invitations."""

    TAB = "guests"
    TITLE = "Guests"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "guest_add", "Add", id="guest-add",
                tooltip="Invite a guest: paste a key, give a .pub file or github:USER"),
        Binding("e", "guest_edit", "Edit", id="guest-edit",
                tooltip="Change the selected guest's mode, expiry or share"),
        Binding("m", "guest_mode", "Mode", id="guest-mode", show=False,  # e edits it too
                tooltip="Switch the selected guest between view and pair"),
        Binding("d,delete", "guest_remove", "Remove", id="guest-remove",
                tooltip="Remove the selected guest and its keys (asks first)"),
        Binding("c", "guest_copy", "Copy line", id="guest-copy",
                tooltip="Copy the selected guest's authorized_keys line (its forced attach)"),
        Binding("i", "show_invitations", "Invites", id="invitations-show",
                tooltip="Show the invitations: lines that let a colleague in with any key"),
        Binding("a", "invitation_add", "Invite", id="invitation-add",
                tooltip="Make an invitation and show its ssh string, this once"),
        Binding("d,delete", "invitation_revoke", "Withdraw", id="invitation-revoke",
                tooltip="Withdraw the selected invitation (asks first); its guests stay"),
        Binding("i", "show_guests", "Guests", id="invitations-hide",
                tooltip="Show the guests again"),
    ]  # fmt: skip

    invitations_shown: var[bool] = var(False)
    """Which view the tab shows: the guests or the invitations."""

    _lines: tuple[GuestRow, KeyLines] | None = None
    """The selected guest's key lines, read when it is highlighted."""

    def make_table(self) -> GuestsTable:
        return GuestsTable(id="guests-table")

    def make_tables(self) -> list[Widget]:
        return [self.make_table(), InvitationsTable(id="invitations-table")]

    @property
    def table(self) -> GuestsTable:
        return self.query_one(GuestsTable)

    @property
    def invitations_table(self) -> InvitationsTable:
        return self.query_one(InvitationsTable)

    @property
    def showing_table(self) -> Widget:
        return self.invitations_table if self.invitations_shown else self.table

    @property
    def empty(self) -> bool:
        """Whether the view showing has no rows (the tab then says how to add one)."""
        return not (self.invitations_table if self.invitations_shown else self.table).row_count

    def show(self, guests: Iterable[Guest], online: Mapping[str, int]) -> int:
        """A row per guest, with its connected clients; how many rows."""
        rows = [GuestRow(g, online.get(g.name, 0)) for g in guests]
        self.table.replace_all(rows)
        return len(rows)

    def show_invitations(self, invitations: Iterable[Invitation]) -> None:
        self.invitations_table.replace_all(invitations)

    def watch_invitations_shown(self, shown: bool) -> None:
        self.set_class(shown, "-invitations")
        if self.is_mounted:
            self.query_one(".empty", Static).update(self.empty_text())
            self.set_class(self.empty, "-empty")
            self.showing_table.focus()
            self.show_detail()
            self.dashboard.bindings_maybe_changed()

    def empty_text(self) -> Content:
        if self.invitations_shown:
            return Content.from_markup(
                "[b]No invitations.[/b]\n\nPress [b]a[/b] to make one: an ssh line that "
                "lets a colleague in with whatever key they have, shown to you once. "
                "[b]i[/b] shows the guests again."
            )
        return Content.from_markup(
            "[b]No guests yet.[/b]\n\nPress [b]a[/b] to invite one: paste their public key, "
            "give the path of a .pub file, or github:USER. Or press [b]i[/b] for invitations: "
            "a line to send instead of collecting their key."
        )

    def ready(self, action: str) -> bool:
        if self.dashboard.services is None:
            return False
        if action in ("guest_edit", "guest_mode", "guest_remove", "guest_copy"):
            return self.table.selected is not None
        if action == "invitation_revoke":
            invitation = self.invitations_table.selected
            return invitation is not None and not invitation.revoked
        return True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in (INVITATION_ACTIONS if not self.invitations_shown else GUEST_ACTIONS):
            return False  # the other view's key: hidden, and its key may act here
        return super().check_action(action, parameters)

    def reveal(self, action: str) -> None:
        if action in GUEST_ACTIONS | INVITATION_ACTIONS:
            self.invitations_shown = action in INVITATION_ACTIONS - {"show_guests"}

    def detail(self) -> Content:
        if self.invitations_shown:
            invitation = self.invitations_table.selected
            return invitation_detail(invitation, self.now) if invitation else Content()
        row = self.table.selected
        if row is None:
            return Content()
        if self._lines is None or self._lines[0] != row:
            from pairtui.host import KeyLines, key_lines
            from pairtui.registry import authorized_line

            try:
                lines = key_lines(row.guest, self.dashboard.host.shares)  # a stat
            except PairtuiError:  # no tmux to name in a system guest's line
                lines = KeyLines(tuple(authorized_line(row.guest, k) for k in row.guest.keys))
            self._lines = (row, lines)  # the clock redraws this every second: no stat then
        return guest_detail(row, self.now, self._lines[1])

    @on(GuestsTable.GuestHighlighted)
    def _guest_detail(self) -> None:
        self._lines = None  # a highlight is also how a changed guest or share set shows
        self.show_detail()
        self.dashboard.bindings_maybe_changed()

    @on(GuestsTable.GuestChosen)
    async def _guest_chosen(self) -> None:
        await self.run_action("guest_edit")

    @on(InvitationsTable.InvitationHighlighted)
    def _invitation_detail(self) -> None:
        self.show_detail()
        self.dashboard.bindings_maybe_changed()

    def action_show_invitations(self) -> None:
        self.invitations_shown = True

    def action_show_guests(self) -> None:
        self.invitations_shown = False

    @work(group="actions")
    async def action_guest_add(self) -> None:
        dashboard = self.dashboard
        services = dashboard.services
        if services is None:
            return
        draft: GuestDraft | None = await self.app.push_screen_wait(
            AddGuestDialog(
                dashboard.guests,
                shares=[s.name for s in dashboard.host.shares],
                default_mode=dashboard.default_mode,
                forges=services.forges,
            )
        )
        if draft is None:
            return
        try:
            guest = await services.add_guest(
                draft.name, draft.keys, draft.mode, draft.expires, draft.share
            )
        except PairtuiError as exc:
            self.fail(exc, "Guest not added")
            return
        self.notify(f"{guest.name} can join now ({guest.mode.value})", title="Guest added")
        dashboard.reload_guests()

    @work(group="actions")
    async def action_guest_edit(self) -> None:
        dashboard = self.dashboard
        row = self.table.selected
        if row is None or dashboard.services is None:
            return
        edit: GuestEdit | None = await self.app.push_screen_wait(
            EditGuestDialog(row.guest, shares=[s.name for s in dashboard.host.shares], now=self.now)
        )
        if edit is None:
            return
        try:
            await dashboard.services.update_guest(edit.name, edit.mode, edit.share, edit.expires)
        except PairtuiError as exc:
            self.fail(exc, "Guest not changed")
            return
        dashboard.reload_guests()

    @work(group="actions")
    async def action_guest_mode(self) -> None:
        row = self.table.selected
        if row is not None and self.dashboard.services is not None:
            await self.set_mode(row.guest.name, row.guest.mode.value)

    @work(group="actions")
    async def action_guest_remove(self) -> None:
        dashboard = self.dashboard
        row = self.table.selected
        if row is None or dashboard.services is None:
            return
        guest = row.guest
        body = Content.from_markup(
            "Remove [b]$name[/b] and $keys?$online\n\nThey will not be able to join again.",
            name=printable(guest.name),
            keys=fmt.plural(len(guest.keys), "key"),
            online=f"\n{fmt.plural(row.online, 'connected client')} will be disconnected."
            if row.online
            else "",
        )
        if not await self.app.push_screen_wait(
            ConfirmDialog(f"Remove {guest.name}?", body, "Remove")
        ):
            return
        try:
            await dashboard.services.remove_guest(guest.name)
        except PairtuiError as exc:
            self.fail(exc, "Guest not removed")
            return
        self.notify(f"{guest.name} removed", title="Guest removed")
        dashboard.reload_guests()

    @work(group="actions")
    async def action_guest_copy(self) -> None:
        row = self.table.selected
        if row is None:
            return
        guest = row.guest
        shares = self.dashboard.host.shares
        from pairtui.host import key_lines

        try:
            lines = await asyncio.to_thread(key_lines, guest, shares)
        except PairtuiError as exc:  # e.g. no tmux to name in a system guest's line
            self.fail(exc, "Not copied")
            return
        what = "" if lines.system_user is None else "system guest's and pairtui join "
        self.dashboard.copy(lines.text(), f"{what}authorized_keys line of {guest.name}")

    # --- invitations -------------------------------------------------------------------

    @work(group="actions")
    async def action_invitation_add(self) -> None:
        dashboard = self.dashboard
        services = dashboard.services
        if services is None:
            return
        draft: InviteDraft | None = await self.app.push_screen_wait(
            InviteDialog(shares=[s.name for s in dashboard.host.shares], now=self.now)
        )
        if draft is None:
            return
        try:
            invitation, token = await services.invite(
                draft.mode, draft.share, draft.expires, draft.uses, draft.name, draft.admit
            )
        except PairtuiError as exc:
            self.fail(exc, "No invitation made")
            return
        dashboard.invitations = (*dashboard.invitations, invitation)
        self.invitations_table.select_key(invitation.id)
        dashboard.reload_guests()
        await self.app.push_screen_wait(
            InvitationMadeDialog(
                invitation,
                services.invitation_strings(invitation, token),
                fingerprint=dashboard.server.fingerprint,
                now=self.now,
                copy=dashboard.copy,
                server_up=dashboard.server.up,
            )
        )

    @work(group="actions")
    async def action_invitation_revoke(self) -> None:
        dashboard = self.dashboard
        invitation = self.invitations_table.selected
        if invitation is None or dashboard.services is None:
            return
        body = Content.from_markup(
            "Nobody will get in with invitation [b]$id[/b] ($mode, share: $share, "
            "$left left) any more.\n\nGuests it already let in stay guests.",
            id=invitation.id,
            mode=invitation.mode,
            share=printable(invitation.share or "any"),
            left=fmt.left(invitation),
        )
        if not await self.app.push_screen_wait(
            ConfirmDialog(f"Withdraw invitation {invitation.id}?", body, "Withdraw")
        ):
            return
        try:
            await dashboard.services.revoke_invitation(invitation.id)
        except PairtuiError as exc:
            self.fail(exc, "Not withdrawn")
            return
        self.notify(f"invitation {invitation.id} withdrawn", title="Withdrawn")
        dashboard.reload_guests()
