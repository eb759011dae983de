"""What the dashboard looks like, screen by screen and dialog by dialog, on an 80x24
terminal (everything must fit) and a 120x36 one.

The data is fixed (tests/app_fakes.py): a frozen clock, a fake engine and tmux, and
a real registry file with known keys, so every picture is the same on every machine.
Review changed SVGs in tests/__snapshots__/ like code before ``--snapshot-update``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from app_fakes import (
    NOW,
    SNAPSHOT_SIZES,
    FakeEngine,
    Scenario,
    busy_scenario,
    empty_scenario,
    fixed_invitations,
    knock_info,
    make_app,
    recording_info,
    window_share,
    with_invitations,
    with_tunnels,
)
from test_app_recordings import sample_recordings, utc_zone
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input

from pairtui.app import PairtuiApp
from pairtui.app.dialogs import (
    AddGuestDialog,
    ConfirmDialog,
    DoorDialog,
    EditGuestDialog,
    InvitationMadeDialog,
    InviteDialog,
    KnockDialog,
    PromptDialog,
    RecordDialog,
    ShareDialog,
    TunnelDialog,
)
from pairtui.app.screens import HelpScreen, RecordingPlayerScreen
from pairtui.events import DoorState

Compare = Callable[..., bool]
LOADING = {"engine", "guests", "host"}  # worker groups that load what the screen shows


@pytest.fixture(params=list(SNAPSHOT_SIZES.values()), ids=list(SNAPSHOT_SIZES))
def size(request: pytest.FixtureRequest) -> tuple[int, int]:
    """Every picture is taken at each size (its name ends in ``[80x24]``, ``[120x36]``)."""
    value: tuple[int, int] = request.param
    return value


@pytest.fixture(autouse=True)
def fixed_interpreter(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """authorized_keys lines name the interpreter; pin it so pictures do not depend on the venv."""
    monkeypatch.setattr(sys, "executable", "/usr/bin/python3")
    yield


async def settle(pilot: Pilot[None]) -> None:
    """Until the data is loaded and four frames in a row, 0.1 s apart, look the same.

    Loading ends with relabelled tabs, whose underline Textual moves after a refresh;
    validation restyles an input a moment after its last key.
    """
    app = pilot.app
    assert isinstance(app, PairtuiApp)
    deadline = time.monotonic() + 10
    previous = ""
    same = 0
    while time.monotonic() < deadline:
        await pilot.pause(0.1)
        loading = [w for w in app.workers if w.group in LOADING and w.is_running]
        if app.server.phase == "starting" or loading:
            same = 0
            continue
        frame = app.export_screenshot()
        same = same + 1 if frame == previous else 0
        if same >= 3:
            return
        previous = frame
    raise AssertionError("the dashboard did not settle")


def after(
    *keys: str, text: Iterable[tuple[str, str]] = (), shows: type[Screen[Any]] | None = None
) -> Callable[[Pilot[None]], Awaitable[None]]:
    """Settle, press keys, wait for the screen they open, then type into inputs by id."""

    async def run(pilot: Pilot[None]) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        if shows is not None:
            deadline = time.monotonic() + 10
            while not isinstance(pilot.app.screen, shows):
                assert time.monotonic() < deadline, f"{shows.__name__} did not open"
                await pilot.pause(0.02)
        for selector, value in text:
            field = pilot.app.screen.query_one(selector, Input)
            field.value = ""
            field.focus()
            await pilot.press(*value)
        await settle(pilot)

    return run


def snap(
    compare: Compare,
    size: tuple[int, int],
    app: PairtuiApp,
    *keys: str,
    text: Iterable[tuple[str, str]] = (),
    shows: type[Screen[Any]] | None = None,
) -> bool:
    return compare(app, terminal_size=size, run_before=after(*keys, text=text, shows=shows))


def test_empty_state(snap_compare: Compare, size: tuple[int, int]) -> None:
    assert snap(snap_compare, size, make_app(empty_scenario()))


def test_empty_guests_tab(snap_compare: Compare, size: tuple[int, int]) -> None:
    assert snap(snap_compare, size, make_app(empty_scenario()), "2")


def test_several_clients(snap_compare: Compare, size: tuple[int, int]) -> None:
    assert snap(snap_compare, size, make_app(busy_scenario()))


def test_several_guests(snap_compare: Compare, size: tuple[int, int]) -> None:
    assert snap(snap_compare, size, make_app(busy_scenario()), "2", "down")


def test_invitations(snap_compare: Compare, size: tuple[int, int]) -> None:
    """One invitation in each state; the second (named, two uses left) is selected."""
    app = make_app(with_invitations(busy_scenario()))
    assert snap(snap_compare, size, app, "2", "i", "down")


def test_no_invitations(snap_compare: Compare, size: tuple[int, int]) -> None:
    assert snap(snap_compare, size, make_app(busy_scenario()), "2", "i")


def test_invite_dialog(snap_compare: Compare, size: tuple[int, int]) -> None:
    app = make_app(with_invitations(busy_scenario()))
    assert snap(snap_compare, size, app, "2", "i", "a", shows=InviteDialog)


def test_invitation_made_shows_its_line_once(
    snap_compare: Compare, size: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    fixed_invitations(monkeypatch)
    keys = ("2", "i", "a", "enter")  # Enter alone: view, one use, an hour
    assert snap(snap_compare, size, make_app(busy_scenario()), *keys, shows=InvitationMadeDialog)


def test_withdraw_invitation_confirmation(snap_compare: Compare, size: tuple[int, int]) -> None:
    app = make_app(with_invitations(busy_scenario()))
    assert snap(snap_compare, size, app, "2", "i", "d", shows=ConfirmDialog)


def test_empty_shares_tab(snap_compare: Compare, size: tuple[int, int]) -> None:
    assert snap(snap_compare, size, make_app(empty_scenario()), "3")


def test_shares(snap_compare: Compare, size: tuple[int, int]) -> None:
    scenario = busy_scenario()
    htop = scenario.host.windows[-1]  # a window of "scratch", which is not shared whole
    scenario.host.shares.append(window_share("top", htop))
    assert snap(snap_compare, size, make_app(scenario), "3", "down")


def test_shares_with_one_recorded(snap_compare: Compare, size: tuple[int, int]) -> None:
    """work is recorded, keys too, for 12 minutes: REC in its row, the status line and
    its detail (selected)."""
    scenario = busy_scenario()
    scenario.engine.recording["work"] = recording_info("work", keys=True)
    assert snap(snap_compare, size, make_app(scenario), "3", "down")


def test_record_dialog(snap_compare: Compare, size: tuple[int, int]) -> None:
    app = make_app(busy_scenario())
    assert snap(snap_compare, size, app, "3", "down", "R", shows=RecordDialog)


def test_kick_confirmation(snap_compare: Compare, size: tuple[int, int]) -> None:
    assert snap(snap_compare, size, make_app(busy_scenario()), "down", "k", shows=ConfirmDialog)


def test_pair_confirmation(snap_compare: Compare, size: tuple[int, int]) -> None:
    assert snap(snap_compare, size, make_app(busy_scenario()), "down", "m", shows=ConfirmDialog)


def test_add_guest_dialog_with_a_validation_error(
    snap_compare: Compare, size: tuple[int, int]
) -> None:
    text = [("#name", "alice"), ("#key", "ssh-ed25519 AAAAnot-a-key"), ("#expires", "soon")]
    assert snap(
        snap_compare, size, make_app(busy_scenario()), "2", "a", text=text, shows=AddGuestDialog
    )


def test_edit_guest_dialog(snap_compare: Compare, size: tuple[int, int]) -> None:
    assert snap(
        snap_compare, size, make_app(busy_scenario()), "2", "down", "e", shows=EditGuestDialog
    )


def test_knock_dialog(snap_compare: Compare, size: tuple[int, int]) -> None:
    scenario = busy_scenario()
    scenario.engine.knock(knock_info(3, invitation="inv-3f9a", via="vps"))  # waits already
    assert snap(snap_compare, size, make_app(scenario), shows=KnockDialog)


def waiting_at_the_door(scenario: Scenario) -> Scenario:
    """Two knocks, one through a relay with an invitation, and the door open for 9 more
    minutes: both put off with Escape (``escape, escape``) they are listed."""
    scenario.engine.knock(knock_info(3, invitation="a1b2c3", via="vps"))
    scenario.engine.knock(knock_info(4))
    scenario.engine.door = DoorState(NOW + 540, "")
    return scenario


def put_off(*keys: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    """Escape for each knock's dialog, then ``keys``, without the toasts that counted the
    second knock (they would hide the detail)."""

    async def run(pilot: Pilot[None]) -> None:
        await after("escape", "escape", *keys)(pilot)
        pilot.app.clear_notifications()
        await settle(pilot)

    return run


def test_clients_with_knocks_waiting(snap_compare: Compare, size: tuple[int, int]) -> None:
    """Tab moves to the knocks: the detail is the selected knock's."""
    app = make_app(waiting_at_the_door(busy_scenario()))
    assert snap_compare(app, terminal_size=size, run_before=put_off("tab"))


def test_knocks_waiting_with_nobody_connected(snap_compare: Compare, size: tuple[int, int]) -> None:
    app = make_app(waiting_at_the_door(empty_scenario()))
    assert snap_compare(app, terminal_size=size, run_before=put_off())


def test_door_dialog(snap_compare: Compare, size: tuple[int, int]) -> None:
    assert snap(snap_compare, size, make_app(busy_scenario()), "o", shows=DoorDialog)


def test_remove_guest_confirmation(snap_compare: Compare, size: tuple[int, int]) -> None:
    assert snap(snap_compare, size, make_app(busy_scenario()), "2", "d", shows=ConfirmDialog)


def test_share_dialog(snap_compare: Compare, size: tuple[int, int]) -> None:
    assert snap(
        snap_compare, size, make_app(busy_scenario()), "3", "down", "down", "s", shows=ShareDialog
    )


def test_share_dialog_offers_each_window_of_a_session_shared_whole(
    snap_compare: Compare, size: tuple[int, int]
) -> None:
    keys = ("3", "down", "s", "shift+tab", "enter")
    assert snap(snap_compare, size, make_app(busy_scenario()), *keys, shows=ShareDialog)


def test_rename_share_prompt_with_an_error(snap_compare: Compare, size: tuple[int, int]) -> None:
    text = [("#prompt-input", "work")]
    assert snap(
        snap_compare, size, make_app(busy_scenario()), "3", "r", text=text, shows=PromptDialog
    )


def test_unshare_confirmation(snap_compare: Compare, size: tuple[int, int]) -> None:
    assert snap(snap_compare, size, make_app(busy_scenario()), "3", "u", shows=ConfirmDialog)


def test_tunnel_dialog(snap_compare: Compare, size: tuple[int, int]) -> None:
    app = make_app(with_tunnels(busy_scenario()))
    assert snap(snap_compare, size, app, "3", "t", shows=TunnelDialog)


def test_quit_confirmation_while_guests_are_connected(
    snap_compare: Compare, size: tuple[int, int]
) -> None:
    assert snap(snap_compare, size, make_app(busy_scenario()), "q", shows=ConfirmDialog)


def test_help(snap_compare: Compare, size: tuple[int, int]) -> None:
    app = make_app(busy_scenario(), config_path=Path("/home/host/.config/pairtui/config.toml"))
    assert snap(snap_compare, size, app, "question_mark", shows=HelpScreen)


def test_command_palette_finds_a_theme_by_name(
    snap_compare: Compare, size: tuple[int, int]
) -> None:
    keys = ("ctrl+p", *"light")
    assert snap(snap_compare, size, make_app(busy_scenario()), *keys, shows=CommandPalette)


def test_server_error_is_shown_not_raised(snap_compare: Compare, size: tuple[int, int]) -> None:
    scenario = busy_scenario()
    scenario.engine = FakeEngine(
        fail="port 2222 on 127.0.0.1 is already in use (is another pairtui running? "
        "choose one with --port)"
    )
    assert snap(snap_compare, size, make_app(scenario))


def test_attached_to_a_running_server(snap_compare: Compare, size: tuple[int, int]) -> None:
    scenario: Scenario = busy_scenario()
    scenario.attached = True
    assert snap(snap_compare, size, make_app(scenario))


@pytest.mark.parametrize("theme", ["pairtui-dark", "pairtui-light", "pairtui-high-contrast"])
def test_bundled_theme(snap_compare: Compare, theme: str) -> None:
    roomy = SNAPSHOT_SIZES["120x36"]  # colours do not depend on the size
    assert snap(snap_compare, roomy, make_app(busy_scenario(), theme=theme))


# --- recordings ---------------------------------------------------------------------------


def test_recordings(
    snap_compare: Compare, size: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three recordings, newest first; the one with --input (work) selected."""
    sample_recordings(monkeypatch)
    with utc_zone():
        assert snap(snap_compare, size, make_app(busy_scenario()), "4", "down")


def test_recording_player_paused_on_a_marker(
    snap_compare: Compare, size: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """work, paused at its third marker (bob now pair, 0:12): the screen as it was then,
    the marks, and alice's and bob's typing lanes. At 80x24 the 80x24 recording is
    cropped, and says so."""
    sample_recordings(monkeypatch)

    async def run(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press("4", "down", "enter")
        deadline = time.monotonic() + 10
        while not isinstance(pilot.app.screen, RecordingPlayerScreen):
            assert time.monotonic() < deadline, "the player did not open"
            await pilot.pause(0.02)
        await pilot.press("space", "home", *["right_square_bracket"] * 3)
        await settle(pilot)

    with utc_zone():
        assert snap_compare(make_app(busy_scenario()), terminal_size=size, run_before=run)
