"""Invitations on the dashboard's Guests tab (``i``): made with one key and shown once,
withdrawn after a yes, their uses and countdown kept current.

The data is fixed (tests/app_fakes.py); the invitations file is the test's own, so what
the dashboard does is read back from it, as ``pairtui invite list`` would.
"""

from __future__ import annotations

import inspect
import time

import pytest
from app_fakes import NOW, Scenario, busy_scenario, make_app, with_invitations
from test_app_small_terminal import screen_text, until
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static

from pairtui.app import PairtuiApp
from pairtui.app.dialogs import ConfirmDialog, InvitationMadeDialog, InviteDialog
from pairtui.app.panes import GuestsPane
from pairtui.app.widgets import InvitationsTable
from pairtui.config import Config
from pairtui.host import Host
from pairtui.invitations import USER_PREFIX, Invitation, InvitationStore

SMALL = (80, 24)


def stored() -> dict[str, Invitation]:
    return {i.id: i for i in Host().invitations()}


def cell(app: PairtuiApp, ident: str, column: str) -> str:
    return app.main.query_one(InvitationsTable).get_cell(ident, column).plain


async def invitations_view(pilot: Pilot[None]) -> InvitationsTable:
    app = pilot.app
    assert isinstance(app, PairtuiApp)
    await until(lambda: app.main.services is not None and app.server.up, "the dashboard")
    await pilot.press("2", "i")
    table = app.main.query_one(InvitationsTable)
    await until(lambda: app.main.query_one(GuestsPane).invitations_shown, "the invitations")
    await until(lambda: app.main.focused is table, "the invitations to have the focus")
    return table


async def opened(pilot: Pilot[None], kind: type[object]) -> None:
    await until(lambda: isinstance(pilot.app.screen, kind), kind.__name__)
    await pilot.pause()


def ticking_app(scenario: Scenario) -> tuple[PairtuiApp, list[float]]:
    now = [NOW]
    app = PairtuiApp(scenario.services, config=Config(cursor_blink=False), clock=lambda: now[0])
    return app, now


async def test_enter_alone_makes_a_view_invitation_for_one_key_and_an_hour() -> None:
    scenario = busy_scenario()
    app = make_app(scenario)
    async with app.run_test(size=SMALL) as pilot:
        table = await invitations_view(pilot)
        assert table.row_count == 0
        await pilot.press("a")
        await opened(pilot, InviteDialog)
        await pilot.press("enter")
        await opened(pilot, InvitationMadeDialog)
        [made] = stored().values()
        assert (made.mode, made.share, made.uses, made.used, made.name, made.revoked) == (
            "view", "", 1, 0, "", False,
        )  # fmt: skip
        assert made.expires == "2027-01-15T09:00:00Z"  # the dashboard's clock, plus an hour
        text = "\n".join(screen_text(app))
        assert f"Invitation {made.id}: send one line, shown only this once" in text
        line = next(s for s in text.split() if s.startswith(USER_PREFIX))
        token = line.removeprefix(USER_PREFIX).partition("@")[0]
        assert InvitationStore().find(token) == made  # the line shown is the one stored
        assert "ssh -p 2222 inv-" in text and "SHA256:o7HffH8AAbnKCZX54J" in text

        await pilot.press("c")  # copy: the clipboard and the tmux buffer, as copy ssh does
        wanted = f"ssh -p 2222 {USER_PREFIX}{token}@localhost"
        await until(lambda: app.clipboard == wanted, "the clipboard")
        await until(lambda: scenario.host.buffer == [wanted], "the tmux buffer")
        assert isinstance(app.screen, InvitationMadeDialog)  # copying does not close it

        await pilot.press("escape")
        await until(lambda: app.screen is app.main, "the dialog to close")
        assert table.selected == made
        assert cell(app, made.id, "state") == "open"
        assert cell(app, made.id, "expires") == "in 1h 00m"
        assert token not in "\n".join(screen_text(app))  # shown once: gone with the dialog


async def test_every_field_of_the_invite_dialog_reaches_the_invitation() -> None:
    app = make_app(busy_scenario())
    async with app.run_test(size=SMALL) as pilot:
        await invitations_view(pilot)
        await pilot.press("a")
        await opened(pilot, InviteDialog)
        dialog = app.screen
        for selector, value in [("#uses", "0"), ("#share", "work"), ("#name", "erin")]:
            field = dialog.query_one(selector, Input)
            field.value = value
        dialog.query_one("#expires", Input).value = "30m"
        dialog.query_one("#mode", Select).value = "pair"
        dialog.query_one("#admit", Select).value = "ask"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is dialog and stored() == {}  # 0 uses is refused, nothing made
        assert "1 or more" in "\n".join(screen_text(app))
        dialog.query_one("#uses", Input).value = "3"
        await pilot.press("ctrl+s")
        await opened(pilot, InvitationMadeDialog)
        [made] = stored().values()
        assert (made.mode, made.share, made.uses, made.name, made.expires, made.admit) == (
            "pair", "work", 3, "erin", "2027-01-15T08:30:00Z", "ask",
        )  # fmt: skip
        text = "\n".join(screen_text(app))
        assert "ssh -t -p 2222 inv-" in text  # it opens share work
        assert "pair, you admit each" in text  # its guests knock


async def test_withdraw_asks_first_then_the_invitation_is_withdrawn() -> None:
    app = make_app(with_invitations(busy_scenario()))
    async with app.run_test(size=SMALL) as pilot:
        table = await invitations_view(pilot)
        assert table.selected is not None and table.selected.id == "a1b2c3"
        await pilot.press("d")
        await opened(pilot, ConfirmDialog)
        await pilot.press("n")
        await until(lambda: app.screen is app.main, "the confirmation to close")
        assert not stored()["a1b2c3"].revoked

        await pilot.press("d")
        await opened(pilot, ConfirmDialog)
        assert "Withdraw invitation a1b2c3?" in "\n".join(screen_text(app))
        await pilot.press("y")
        await until(lambda: stored()["a1b2c3"].revoked, "the invitation to be withdrawn")
        await until(lambda: cell(app, "a1b2c3", "state") == "withdrawn", "the row to say so")
        assert cell(app, "a1b2c3", "expires") == "—"
        assert [i for i, s in stored().items() if s.revoked] == ["a1b2c3", "7e7e7e"]
        footer = screen_text(app)[-1]
        assert "d Withdraw" in footer  # there, but dimmed: nothing left to withdraw
        assert app.main.query_one(GuestsPane).check_action("invitation_revoke", ()) is None


async def test_the_countdown_ticks_and_an_invitation_expires_on_the_dashboards_clock() -> None:
    app, now = ticking_app(with_invitations(busy_scenario()))
    async with app.run_test(size=SMALL) as pilot:
        await invitations_view(pilot)
        detail = app.main.query_one("#guests-detail", Static)
        assert cell(app, "a1b2c3", "expires") == "in 59m 00s"
        await until(lambda: "expires in 59m 00s" in str(detail.content), "the detail")
        now[0] += 1
        app.main._tick()
        await until(lambda: cell(app, "a1b2c3", "expires") == "in 58m 59s", "the row to tick")
        await until(lambda: "expires in 58m 59s" in str(detail.content), "the detail to tick")
        now[0] += 3539
        app.main._tick()
        await until(lambda: cell(app, "a1b2c3", "state") == "expired", "it to expire")
        assert cell(app, "a1b2c3", "expires") == "—"


async def test_a_use_counted_by_the_server_shows_within_a_tick() -> None:
    app, _ = ticking_app(with_invitations(busy_scenario()))
    async with app.run_test(size=SMALL) as pilot:
        await invitations_view(pilot)
        assert (cell(app, "d4e5f6", "left"), cell(app, "d4e5f6", "state")) == ("2 of 3", "open")
        InvitationStore().use("d4e5f6")  # as the server does when a colleague logs in
        InvitationStore().use("d4e5f6")
        deadline = time.monotonic() + 10
        while cell(app, "d4e5f6", "state") != "used":
            assert time.monotonic() < deadline, "the row did not follow the file"
            app.main._tick()
            await pilot.pause(0.05)
        assert cell(app, "d4e5f6", "left") == "0 of 3"


@pytest.mark.parametrize(
    ("keys", "shown", "hidden"),
    [
        (("2",), ["a Add", "i Invites"], ["a Invite ", "Withdraw", "i Guests"]),
        (("2", "i"), ["a Invite", "d Withdraw", "i Guests"], ["a Add", "Remove", "Copy line"]),
    ],
    ids=["guests", "invitations"],
)
async def test_each_view_of_the_guests_tab_shows_its_own_keys(
    keys: tuple[str, ...], shown: list[str], hidden: list[str]
) -> None:
    app = make_app(with_invitations(busy_scenario()))
    async with app.run_test(size=SMALL) as pilot:
        await until(lambda: app.main.services is not None and app.server.up, "the dashboard")
        await pilot.press(*keys)
        await pilot.pause(0.2)
        footer = screen_text(app)[-1]
        assert all(k in footer for k in shown), footer
        assert not any(k in footer for k in hidden), footer
        assert "? Help" in footer and "q Quit" in footer, footer


async def test_the_palette_makes_an_invitation_from_any_tab() -> None:
    app = make_app(busy_scenario())
    async with app.run_test(size=SMALL) as pilot:
        await until(lambda: app.main.services is not None and app.server.up, "the dashboard")
        commands = {c.title: c for c in app.main.commands()}
        result = commands["Guests: Invite"].run()
        if inspect.isawaitable(result):
            await result
        await opened(pilot, InviteDialog)
        assert app.main.active_tab == "guests"
        assert app.main.query_one(GuestsPane).invitations_shown
