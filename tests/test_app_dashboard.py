"""The dashboard's controls: keys, the palette, the keymap, help, copying, guests, shares."""

from __future__ import annotations

import dataclasses
import json
import os
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest
from app_fakes import KEYS, FakeEngine, Scenario, busy_host, busy_scenario, client, make_app
from support import SshGuest, TmuxHost, share_host_session
from test_app_live import SIZE, dashboard, notified, started, until_screen
from test_control import eventually, invite
from textual.binding import Binding
from textual.command import CommandPalette
from textual.content import Content
from textual.pilot import Pilot
from textual.screen import ModalScreen
from textual.widgets import Input, Select, Static

from pairtui import config
from pairtui.app import PairtuiApp
from pairtui.app import dialogs as dialogs_mod
from pairtui.app.commands import DashboardCommands
from pairtui.app.dialogs import (
    AddGuestDialog,
    ConfirmDialog,
    EditGuestDialog,
    InvitationMadeDialog,
    InviteDialog,
    PromptDialog,
    ShareDialog,
)
from pairtui.app.panes import ClientsPane, GuestsPane, SharesPane
from pairtui.app.screens import HelpScreen, MainScreen
from pairtui.app.widgets import InvitationsTable, JoinBar, SharesTable
from pairtui.authorized_keys import parse_public_keys
from pairtui.events import AccessRefused
from pairtui.registry import Mode, Registry, authorized_line
from pairtui.shares import ShareStore
from pairtui.system import state_file
from pairtui.system.keys_file import forced_command, key_line
from pairtui.system.state import SystemState
from pairtui.tunnels import Tunnel, TunnelStore

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]


def test_every_binding_has_an_id_a_tooltip_and_a_unique_id() -> None:
    app = dashboard()
    seen: dict[str, str] = {}
    for where, binding in app.all_bindings():
        assert binding.tooltip, binding
        assert binding.id not in seen, f"{binding.id} in {where} and {seen.get(binding.id or '')}"
        seen[binding.id or ""] = where
    for source in (PairtuiApp, MainScreen, ClientsPane, GuestsPane, SharesPane):
        for b in source.BINDINGS:
            assert isinstance(b, Binding) and b.id, b
    assert {b.id for b in MainScreen.key_bindings()} >= {
        b.id for pane in (ClientsPane, GuestsPane, SharesPane) for b in pane.key_bindings()
    }


async def test_every_key_action_is_a_palette_command(
    tmux_host: TmuxHost, keys: Callable[[str], Path], guests: Connect
) -> None:
    share_host_session(tmux_host)
    invite("alice", keys("alice"))
    app = dashboard(tmux_host.socket)
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        guests(app.server.port, keys("alice"))
        await eventually(lambda: app.main.clients_table.row_count == 1)
        await eventually(lambda: app.main.guests_table.row_count == 1)
        provider = DashboardCommands(app.main)
        titles = {hit.text for hit in [h async for h in provider.discover()]}
        expected = {
            f"{pane.TITLE}: {b.description}"
            for pane in (ClientsPane, GuestsPane, SharesPane)
            for b in pane.key_bindings()
            # every tmux session is already shared; there is no invitation to withdraw;
            # nobody waits at the door
            if b.action not in ("share_add", "invitation_revoke", "answer_knock")
        }
        expected |= {"Go to: Clients", "Go to: Guests", "Go to: Shares", "Copy ssh", "Refresh"}
        expected |= {"Help", "Quit", "Theme"}
        assert expected <= titles, expected - titles

        # Running one from the palette switches to its tab and does it.
        await pilot.press("ctrl+p")
        await until_screen(app, CommandPalette)
        await pilot.press(*"Guests: Edit")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until_screen(app, EditGuestDialog)
        assert app.main.active_tab == "guests"


async def test_the_keymap_from_the_config_remaps_keys_and_reports_unknown_ids(
    tmux_host: TmuxHost, keys: Callable[[str], Path], guests: Connect
) -> None:
    share_host_session(tmux_host)
    invite("alice", keys("alice"))
    cfg = config.Config(cursor_blink=False, keymap={"client-kick": "x", "no-such-id": "z"})
    app = dashboard(tmux_host.socket, cfg=cfg)
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        await notified(app, "'no-such-id'")
        guests(app.server.port, keys("alice"))
        await eventually(lambda: app.main.clients_table.row_count == 1)
        await pilot.press("k")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, ConfirmDialog)  # k is no longer kick
        await pilot.press("x")
        await until_screen(app, ConfirmDialog)
        await pilot.press("escape")
        await pilot.press("question_mark")
        await until_screen(app, HelpScreen)
        kick = next(b for _, b in app.all_bindings() if b.id == "client-kick")
        assert app.keys_for(kick) == "x"
        await pilot.press("escape")
        await until_screen(app, MainScreen)


async def test_copy_puts_the_ssh_string_on_the_clipboard_and_in_tmux(
    tmux_host: TmuxHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMUX", f"{tmux_host.socket},1,0")  # as if run inside the host's tmux
    share_host_session(tmux_host)
    app = dashboard(tmux_host.socket)
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        await eventually(lambda: app.main.host.shares, what="the share")
        await pilot.press("c")
        expected = f"ssh -p {app.server.port} guest@localhost"
        await eventually(lambda: app.clipboard == expected, what="the clipboard")
        buffer = await eventually(lambda: tmux_host.run("show-buffer", check=False))
        assert buffer == expected
        join = app.main.query_one(JoinBar).render()
        assert isinstance(join, Content) and join.plain.count(expected) == 1  # shown in full


async def test_a_colleague_joins_with_the_line_an_invitation_showed_once(
    tmux_host: TmuxHost,
    keys: Callable[[str], Path],
    guests: Connect,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Made with a, Enter; copied with c (clipboard and tmux buffer); the colleague's
    OpenSSH logs in with it and any key, and the dashboard shows the guest and the use."""
    monkeypatch.setenv("TMUX", f"{tmux_host.socket},1,0")  # as if run inside the host's tmux
    share_host_session(tmux_host)
    app = dashboard(tmux_host.socket)
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        await pilot.press("2", "i")
        await eventually(lambda: app.main.query_one(GuestsPane).invitations_shown)
        await pilot.press("a")
        await until_screen(app, InviteDialog)
        await pilot.press("enter")
        await until_screen(app, InvitationMadeDialog)
        await pilot.press("c")
        line = await eventually(lambda: app.clipboard, what="the clipboard")
        assert line.startswith(f"ssh -p {app.server.port} inv-"), line
        buffer = await eventually(lambda: tmux_host.run("show-buffer", check=False))
        assert buffer == line
        await pilot.press("escape")
        await until_screen(app, MainScreen)
        table = app.main.query_one(InvitationsTable)
        [ident] = table.records

        guests(app.server.port, keys("bob"), user=line.split()[-1].split("@")[0])
        await eventually(lambda: app.main.clients_table.row_count == 1, what="bob to join")
        await eventually(lambda: app.main.guests, what="the new guest")
        [name] = app.main.guests
        assert name.startswith("guest-")
        used = await eventually(
            lambda: table.get_cell(ident, "state").plain == "used", what="the use to show"
        )
        assert used
        assert table.get_cell(ident, "left").plain == "0 of 1"


async def open_share_dialog(app: PairtuiApp, pilot: Pilot[None], rows: int) -> SharesTable:
    """On the Shares tab once it lists ``rows`` rows, press ``s``; returns the table."""
    await started(app)
    await pilot.press("3")
    table = app.main.shares_table
    await eventually(lambda: table.row_count == rows, what=f"{rows} rows of shares")
    await pilot.pause()
    await pilot.press("s")
    await until_screen(app, ShareDialog)
    return table


async def test_shares_can_be_created_renamed_and_removed(tmux_host: TmuxHost) -> None:
    tmux_host.run("new-session", "-d", "-s", "scratch")
    app = dashboard(tmux_host.socket)
    async with app.run_test(size=SIZE) as pilot:
        table = await open_share_dialog(app, pilot, rows=2)
        await pilot.press("enter")
        await eventually(lambda: [s.name for s in ShareStore().load()], what="a share")
        await eventually(lambda: any(r.share for r in table.records.values()), what="its row")

        table.select_key(f"share:{ShareStore().load()[0].name}")
        await pilot.press("r")
        await until_screen(app, PromptDialog)
        app.screen.query_one(Input).value = "pairing"
        await pilot.press("enter")
        await eventually(lambda: [s.name for s in ShareStore().load()] == ["pairing"])
        await eventually(lambda: "share:pairing" in table.records, what="the renamed row")

        table.select_key("share:pairing")
        await pilot.press("u")
        await until_screen(app, ConfirmDialog)
        await pilot.press("y")
        await eventually(lambda: ShareStore().load() == [], what="unshared")
        assert not tmux_host.run("has-session", "-t", "=pairtui-pairing-view", check=False)


async def test_one_window_can_be_shared_and_the_rest_stays_on_offer(tmux_host: TmuxHost) -> None:
    tmux_host.run("new-window", "-d", "-t", "host:1", "-n", "logs")
    window, pane = tmux_host.run(
        "display-message", "-p", "-t", "host:1", "#{window_id} #{pane_id}"
    ).split()
    app = dashboard(tmux_host.socket)
    async with app.run_test(size=SIZE) as pilot:
        table = await open_share_dialog(app, pilot, rows=1)
        app.screen.query_one("#what", Select).value = pane
        await eventually(lambda: app.screen.query_one("#name", Input).value == "host-1")
        app.screen.query_one("#name", Input).focus()
        await pilot.press("enter")
        await eventually(lambda: ShareStore().load(), what="a share")
        (share,) = ShareStore().load()
        assert (share.name, share.kind, share.target, share.pane) == (
            "host-1",
            "window",
            window,
            pane,
        )
        guest_windows = tmux_host.run(
            "list-windows", "-t", "=pairtui-host-1-view", "-F", "#{window_id}"
        )
        assert guest_windows.split() == [window]
        await eventually(lambda: "share:host-1" in table.records, what="its row")
        assert table.records["share:host-1"].what == "window host:1 (logs)"
        await notified(app, "window host:1 (logs) is shared as host-1")
        # Still on offer: the whole session, and its window 0, not window 1 again.
        (offer,) = app.main.host.shareable()
        assert (offer.session, offer.whole) == ("host", True)
        assert [w.index for w in offer.windows] == [0]


async def test_a_guest_can_be_edited_and_removed(
    tmux_host: TmuxHost, keys: Callable[[str], Path], guests: Connect
) -> None:
    share_host_session(tmux_host)
    invite("alice", keys("alice"), Mode.VIEW)
    app = dashboard(tmux_host.socket)
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        g = guests(app.server.port, keys("alice"))
        await eventually(lambda: app.main.clients_table.row_count == 1)
        await pilot.press("2")
        await eventually(lambda: app.main.guests_table.row_count == 1)
        await pilot.pause()
        await pilot.press("e")
        await until_screen(app, EditGuestDialog)
        app.screen.query_one("#expires", Input).value = "2h"
        app.screen.query_one("#share", Input).value = "main"
        app.screen.query_one("#share", Input).focus()
        await pilot.press("enter")
        await eventually(lambda: Registry().get("alice").share == "main", what="saved")
        assert Registry().get("alice").expires is not None

        await pilot.press("d")
        await until_screen(app, ConfirmDialog)
        await pilot.press("y")
        await eventually(lambda: "alice" not in Registry().guests(), what="removed")
        await eventually(lambda: not g.child.isalive(), what="her session to end")
        await eventually(lambda: app.main.guests_table.row_count == 0)


async def test_a_shares_relay_strings_show_with_their_tunnels_state(tmux_host: TmuxHost) -> None:
    share_host_session(tmux_host)
    TunnelStore().add(Tunnel("office", "relay", "relay.example", remote_port=2022, enabled=False))
    app = dashboard(tmux_host.socket)
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        await pilot.press("3")
        detail = app.main.query_one("#shares-detail", Static)
        expected = "ssh -J relay@relay.example -p 2022 guest@localhost"
        await eventually(lambda: expected in str(detail.content), what="the relay string")
        assert "through office: disabled" in str(detail.content)
        join = app.main.query_one(JoinBar).render()
        assert isinstance(join, Content) and expected not in join.plain  # not up: not offered


HOSTILE = "\x1b]52;c;aGFja2Vk\x07\x1b]0;pwned\x07\u202e[@click=app.quit]q[/][bold red]x"
HOSTILE_SHOWN = "\\x1b]52;c;aGFja2Vk\\x07\\x1b]0;pwned\\x07\\u202e[@click=app.quit]q[/][bold red]x"


def no_controls(text: str) -> bool:
    """Nothing a terminal would act on or that reorders text (newlines lay out lines)."""
    return not any(unicodedata.category(ch) in {"Cc", "Cf"} for ch in text.replace("\n", ""))


def plain(widget: Static) -> str:
    content = widget.content
    return content.plain if isinstance(content, Content) else str(content)


async def test_what_guests_control_shows_escaped_never_raw_nor_as_markup(tmp_path: Path) -> None:
    """A key comment, a relay-reported origin, a refusal reason: in the tables, the detail
    panes, a confirmation and a notification, each shows as visible escapes and literal
    brackets, and no control character reaches what the dashboard draws."""
    kind, blob = KEYS["bob"].split()[:2]
    registry = Registry(tmp_path / "authorized_keys")
    registry.add("mallory", parse_public_keys(f"{kind} {blob} m{HOSTILE}"))
    origin = f"203.0.113.9{HOSTILE}:22"  # what a relay reports is the relay's word
    engine = FakeEngine([client("c1", "bob", origin, "work", "view", 60, 5, via="vps")])
    app = make_app(Scenario(engine, busy_host(), registry))
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        table = app.main.clients_table
        await eventually(lambda: table.row_count == 1, what="the client's row")
        assert HOSTILE_SHOWN in table.get_row("c1")[1].plain
        detail = app.main.query_one("#clients-detail", Static)
        await eventually(lambda: HOSTILE_SHOWN in plain(detail), what="the client's detail")
        assert no_controls(plain(detail)) and no_controls(app.export_screenshot())

        await pilot.press("k")
        await until_screen(app, ConfirmDialog)
        body = app.screen.query_one(".dialog-body", Static)
        assert HOSTILE_SHOWN in plain(body) and no_controls(plain(body))
        await pilot.press("n")
        await until_screen(app, MainScreen)

        engine.emit(AccessRefused(origin, "SHA256:x", f"unknown key {HOSTILE}", via="vps"))
        await notified(app, "203.0.113.9")
        (note,) = [n for n in app._notifications if "203.0.113.9" in n.message]
        assert not note.markup and no_controls(note.message)
        assert note.message.count(HOSTILE_SHOWN) == 2

        await pilot.press("2")
        guest = app.main.query_one("#guests-detail", Static)
        await eventually(lambda: "mallory" in plain(guest), what="mallory's detail")
        assert f"m{HOSTILE_SHOWN}" in plain(guest) and no_controls(plain(guest))
        assert no_controls(app.export_screenshot())
        assert app.is_running  # [@click=app.quit] is text, not a link


# --- what the dialogs say and offer (issue 14) -------------------------------------------


async def test_renaming_a_share_says_its_guests_stay_connected(tmp_path: Path) -> None:
    """A rename keeps the share's guests in (the store renames in place); the prompt
    must not warn that they will be disconnected."""
    app = make_app(busy_scenario(tmp_path / "authorized_keys"))
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        await pilot.press("3")
        table = app.main.shares_table
        await eventually(lambda: "share:work" in table.records, what="the work share")
        table.select_key("share:work")
        await pilot.pause()
        await pilot.press("r")
        await until_screen(app, PromptDialog)
        field = app.screen.query_one(Input)
        field.value = "pairing"
        message = app.screen.query_one(".field-message", Static)
        await eventually(lambda: "connected" in plain(message), what="the rename's hint")
        assert "disconnected" not in plain(message)
        assert plain(message) == "its 2 connected clients stay connected, under the new name"


async def test_the_keymap_can_remap_the_tunnel_dialogs_keys(tmp_path: Path) -> None:
    cfg = config.Config(cursor_blink=False, keymap={"tunnel-cancel": "x"})
    app = make_app(busy_scenario(tmp_path / "authorized_keys"))
    app.config = cfg
    async with app.run_test(size=SIZE):
        await started(app)
        assert "tunnel-cancel" in {b.id for _, b in app.all_bindings()}
        assert not [n for n in app._notifications if "keymap" in n.message]


def test_every_dialog_with_keys_is_one_the_keymap_knows() -> None:
    """A dialog left out of ``SCREENS_WITH_KEYS`` has keys that no keymap can reach."""
    listed = {cls for _, cls in PairtuiApp.SCREENS_WITH_KEYS}
    dialogs = [getattr(dialogs_mod, name) for name in dialogs_mod.__all__]
    screens = [d for d in dialogs if isinstance(d, type) and issubclass(d, ModalScreen)]
    assert len(screens) >= 6
    assert [s.__name__ for s in screens if s not in listed] == []


async def test_the_add_guest_dialog_reads_keys_as_the_cli_does(tmp_path: Path) -> None:
    """Every forge of the config is offered, and a forge user name is checked whole (a
    name the CLI refuses is not accepted here, to fail only when Add fetches)."""
    scenario = busy_scenario(tmp_path / "authorized_keys")
    scenario.forges["codeberg"] = "https://codeberg.org"
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        await pilot.press("2")
        await pilot.pause()
        await pilot.press("a")
        await until_screen(app, AddGuestDialog)
        key = app.screen.query_one("#key", Input)
        message = app.screen.query(".field-message").nodes[1]
        assert isinstance(message, Static)
        assert "github:USER / gitlab:USER / codeberg:USER" in plain(message)
        key.value = "codeberg:carol"
        await eventually(lambda: "fetched" in plain(message), what="the forge's hint")
        assert plain(message) == "the keys of carol on codeberg are fetched when you add"
        key.value = "github:alice/../x"
        await eventually(lambda: "invalid" in plain(message), what="the error")
        assert plain(message) == "invalid github user name 'alice/../x'"


def set_up_system_guests(user: str = "guest") -> None:
    """The record ``pairtui system setup`` leaves (no Unix user is made: only the copy
    reads it here, and nothing is shared, so no tmux client list is asked for)."""
    record = SystemState(user, 1234, 1234, f"/home/{user}", True, True, True, os.getuid())
    state_file().write_text(json.dumps(dataclasses.asdict(record)))


async def copied_key_lines(app: PairtuiApp, pilot: Pilot[None]) -> list[str]:
    """Copy the selected guest's key line on the Guests tab; the clipboard's lines."""
    await started(app)
    await pilot.press("2")
    await eventually(lambda: app.main.guests_table.selected is not None, what="a guest")
    await pilot.press("c")
    await eventually(lambda: app.clipboard, what="the clipboard")
    return app.clipboard.splitlines()


async def test_copy_key_line_copies_the_pairtui_join_line_without_system_guests(
    tmp_path: Path,
) -> None:
    scenario = busy_scenario(tmp_path / "authorized_keys")
    app = make_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        lines = await copied_key_lines(app, pilot)
        detail = plain(app.main.query_one("#guests-detail", Static))
    alice = scenario.registry.get("alice")
    assert lines == [authorized_line(alice, alice.keys[0])]
    assert lines[0] in detail


async def test_copy_key_line_copies_the_system_guests_line_when_they_are_set_up(
    tmp_path: Path,
) -> None:
    """sshd runs the literal tmux attach for a system guest, not ``pairtui join`` (the
    guest user cannot read the registry): that line comes first, each one labelled."""
    set_up_system_guests("visitor")
    scenario = busy_scenario(tmp_path / "authorized_keys")
    app = make_app(scenario)
    alice = scenario.registry.get("alice")
    (key,) = alice.keys
    system_line = key_line(alice, key, forced_command(alice, scenario.host.shares))
    async with app.run_test(size=SIZE) as pilot:
        lines = await copied_key_lines(app, pilot)

        # The detail follows the highlight a message later than the table's selection.
        def shown() -> str | None:
            text = plain(app.main.query_one("#guests-detail", Static))
            return text if system_line in text else None

        detail = await eventually(shown, what="the detail's key line")
    assert "pairtui join" not in detail  # the line sshd runs
    assert lines[1] == system_line
    assert lines[3] == authorized_line(alice, key)
    assert lines[0].startswith("# ") and "visitor" in lines[0]
    assert lines[2].startswith("# ") and "pairtui join" in lines[2]
    assert [ln for ln in lines if not ln.startswith("#")] == [system_line, lines[3]]


@pytest.mark.parametrize("tab", ["1", "2", "3"])
async def test_the_tab_key_never_takes_the_focus_out_of_the_showing_pane(
    tmp_path: Path, tab: str
) -> None:
    """Each tab's keys belong to its pane: the Tab key must not move the focus to the
    tab strip, where none of them would work (switch tabs with 1, 2, 3 or the mouse)."""
    app = make_app(busy_scenario(tmp_path / "authorized_keys"))
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        await pilot.press(tab)
        pane = {"1": ClientsPane, "2": GuestsPane, "3": SharesPane}[tab]
        for _ in range(4):
            await pilot.press("tab")
            await pilot.pause()
            focused = app.focused
            assert focused is not None and app.main.query_one(pane) in focused.ancestors
