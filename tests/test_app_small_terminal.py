"""The dashboard on an 80x24 terminal, read as a person reads it: every tab's footer
keeps Help and Quit, every dialog its title and buttons, the Clients table all its
columns; and the small conventions: the detail's durations tick every second, themes
are found by name in the palette, granting pair asks first, the header counts the live
shares.

The data is fixed (tests/app_fakes.py); the screen is read as text, as it is drawn.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from app_fakes import (
    NOW,
    Scenario,
    busy_scenario,
    empty_scenario,
    fingerprint_of,
    make_app,
    with_invitations,
    with_tunnels,
)
from rich.console import Console
from test_app_snapshots import after, settle
from textual.command import Command, CommandList, CommandPalette
from textual.screen import Screen
from textual.widgets import Button, Static

from pairtui.app import PairtuiApp
from pairtui.app.dialogs import (
    AddGuestDialog,
    ConfirmDialog,
    EditGuestDialog,
    InvitationMadeDialog,
    InviteDialog,
    PromptDialog,
    ShareDialog,
    TunnelDialog,
)
from pairtui.app.panes import DashboardPane
from pairtui.app.screens import HelpScreen, MainScreen
from pairtui.config import Config

SMALL = (80, 24)


def screen_text(app: PairtuiApp) -> list[str]:
    """What the terminal shows, line by line (a dialog and the screen under it)."""
    console = Console(
        width=app.size.width,
        height=app.size.height,
        file=io.StringIO(),
        force_terminal=True,
        record=True,
        color_system=None,
        legacy_windows=False,
        safe_box=False,
    )
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text().splitlines()


async def until(check: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + 10
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("keys", ["1", "2", "2i", "3"])  # 2i: the Guests tab's invitations
async def test_every_tab_footer_shows_help_and_quit_at_80x24(keys: str) -> None:
    app = make_app(busy_scenario())
    async with app.run_test(size=SMALL) as pilot:
        await after(*keys)(pilot)
        footer = screen_text(app)[-1]
        assert "? Help" in footer and "q Quit" in footer, footer
        assert "^p Commands" in footer, footer
        pane = app.main.query_one(f"#{app.main.active_tab}", DashboardPane)
        for binding in pane.key_bindings():
            if pane.check_action(binding.action, ()) is False:
                continue  # the other view's key
            assert f" {binding.description} " in footer or not binding.show, footer


class DialogCase(NamedTuple):
    test_id: str
    keys: tuple[str, ...]
    shows: type[Screen[Any]]
    texts: tuple[str, ...]  # the title and every button, whole
    typed: tuple[tuple[str, str], ...] = ()
    scenario: Callable[[], Scenario] = busy_scenario


DIALOGS = [
    DialogCase("kick", ("down", "k"), ConfirmDialog, ("Kick bob?", "Cancel (n)", "Kick (y)")),
    DialogCase("pair", ("down", "m"), ConfirmDialog, ("Let bob type?", "Cancel (n)", "Pair (y)")),
    DialogCase(
        "quit", ("q",), ConfirmDialog, ("Quit and disconnect everyone?", "Cancel (n)", "Quit (y)")
    ),
    DialogCase(
        "add-guest-with-errors",
        ("2", "a"),
        AddGuestDialog,
        ("Add a guest", "Cancel", "Add guest"),
        (("#name", "alice"), ("#key", "ssh-ed25519 AAAAnot-a-key"), ("#expires", "soon")),
    ),
    DialogCase("edit-guest", ("2", "down", "e"), EditGuestDialog, ("Edit bob", "Cancel", "Save")),
    DialogCase(
        "remove-guest", ("2", "d"), ConfirmDialog, ("Remove alice?", "Cancel (n)", "Remove (y)")
    ),
    DialogCase(
        "invite",
        ("2", "i", "a"),
        InviteDialog,
        ("Invite with a line, not a key", "Cancel", "Invite"),
    ),
    DialogCase(
        "invitation-made",
        ("2", "i", "a", "enter"),
        InvitationMadeDialog,
        ("send one line, shown only this once", "ssh -p 2222 inv-", "Done (esc)", "Copy (c)"),
    ),
    DialogCase(
        "withdraw-invitation",
        ("2", "i", "d"),
        ConfirmDialog,
        ("Withdraw invitation a1b2c3?", "Cancel (n)", "Withdraw (y)"),
        scenario=lambda: with_invitations(busy_scenario()),
    ),
    DialogCase(
        "share",
        ("3", "down", "down", "s"),
        ShareDialog,
        ("Share a tmux session or window", "Cancel", " Share "),
    ),
    DialogCase("rename-share", ("3", "r"), PromptDialog, ("Rename api", "Cancel", "Rename")),
    DialogCase("unshare", ("3", "u"), ConfirmDialog, ("Unshare api?", "Cancel (n)", "Unshare (y)")),
    DialogCase(
        "tunnels",
        ("3", "t"),
        TunnelDialog,
        ("Tunnels: Enter brings one up or down", "office", "vps", "Escape closes"),
        scenario=lambda: with_tunnels(busy_scenario()),
    ),
]


@pytest.mark.parametrize("case", DIALOGS, ids=[c.test_id for c in DIALOGS])
async def test_every_dialog_shows_its_title_and_buttons_whole_at_80x24(case: DialogCase) -> None:
    app = make_app(case.scenario())
    async with app.run_test(size=SMALL) as pilot:
        await after(*case.keys, text=case.typed, shows=case.shows)(pilot)
        text = "\n".join(screen_text(app))
        for wanted in case.texts:
            assert wanted in text, f"{wanted!r} is not on the screen:\n{text}"
        screen = app.screen
        dialog = screen.query_one("#dialog")
        assert screen.region.contains_region(dialog.region)
        for widget in [*screen.query(".dialog-title"), *screen.query(Button)]:
            assert dialog.region.contains_region(widget.region), widget


async def test_help_wraps_what_each_key_does_instead_of_cutting_it() -> None:
    app = make_app(busy_scenario())
    async with app.run_test(size=SMALL) as pilot:
        await after("question_mark", shows=HelpScreen)(pilot)
        text = " ".join(line.strip() for line in screen_text(app))
        assert "…" not in text
        assert "Quit (asks first while guests are connected to this dashboard)" in text


@pytest.mark.parametrize(("size", "whole_key"), [(SMALL, False), ((120, 36), True)])
async def test_the_clients_table_fits_80_columns_and_its_key_column_uses_the_room(
    size: tuple[int, int], whole_key: bool
) -> None:
    app = make_app(busy_scenario())
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        table = app.main.clients_table
        assert table.virtual_size.width <= table.scrollable_content_region.width, size
        lines = screen_text(app)
        header = next(line for line in lines if "Guest" in line and "From" in line)
        assert header.split() == [
            "│",
            *["Guest", "From", "Key", "Share", "Mode", "Joined", "Idle", "Size"],
            "│",
        ]
        alice = fingerprint_of("alice")
        shown = next(line for line in lines if "alice" in line)
        assert (alice in shown) is whole_key, shown
        assert alice.removeprefix("SHA256:")[:8] in shown  # always some of it


async def test_the_header_counts_live_shares_connected_clients_and_guests_at_80x24(
    tmp_path: Path,
) -> None:
    scenario = busy_scenario(tmp_path / "busy")
    scenario.host.gone = {"api"}  # a share whose tmux session is gone is not live
    app = make_app(scenario)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        assert "1 share live · 3 connected · 4 guests" in screen_text(app)[0]
    app = make_app(empty_scenario(tmp_path / "empty"))
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        lines = screen_text(app)
        assert "nothing shared · 0 connected · 0 guests" in lines[0]
        # The join line says what to do, even though an empty host state is no change.
        assert "nothing is shared yet: press 3, then s" in lines[2]
        assert "Host key" in lines[3]


async def test_durations_in_the_detail_tick_every_second() -> None:
    now = [NOW]
    scenario = busy_scenario()
    app = PairtuiApp(scenario.services, config=Config(cursor_blink=False), clock=lambda: now[0])
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("down")  # bob: connected 12m 13s, idle 3m 05s
        detail = app.main.query_one("#clients-detail", Static)
        await until(lambda: "idle 3m 05s" in str(detail.content), "bob's detail")
        assert "connected 12m 13s" in str(detail.content)
        now[0] += 1
        app.main._tick()
        await until(lambda: "idle 3m 06s" in str(detail.content), "the detail to tick")
        assert "connected 12m 14s" in str(detail.content)


async def test_a_theme_is_found_by_its_name_in_the_command_palette() -> None:
    app = make_app(busy_scenario())
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await until(lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.press(*"high-contrast")

        def offered() -> list[str]:
            options = app.screen.query_one(CommandList).options
            return [o.hit.text or "" for o in options if isinstance(o, Command)]

        await until(lambda: "Theme: pairtui-high-contrast" in offered(), "the theme hit")
        assert offered()[0] == "Theme: pairtui-high-contrast"
        await pilot.press("enter")
        await until(lambda: app.theme == "pairtui-high-contrast", "the theme to switch")


@pytest.mark.parametrize("confirm", [True, False])
async def test_granting_pair_asks_first_unless_configured_not_to(confirm: bool) -> None:
    scenario = busy_scenario()
    app = make_app(scenario, confirm_pair=confirm)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("down", "m")  # bob watches; m lets him type
        bob = scenario.registry.get
        if confirm:
            await until(lambda: isinstance(app.screen, ConfirmDialog), "the question")
            await pilot.press("n")
            await until(lambda: isinstance(app.screen, MainScreen), "the dashboard")
            await pilot.pause(0.2)
            assert bob("bob").mode.value == "view"
            assert scenario.engine.clients["c2"].mode == "view"
            await pilot.press("m")
            await until(lambda: isinstance(app.screen, ConfirmDialog), "the question")
            await pilot.press("y")
        await until(lambda: scenario.engine.clients["c2"].mode == "pair", "bob to pair")
        assert bob("bob").mode.value == "pair"
        await pilot.pause(0.2)
        await pilot.press("m")  # back to watching: never asks
        await until(lambda: scenario.engine.clients["c2"].mode == "view", "bob to view")
        assert isinstance(app.screen, MainScreen)
