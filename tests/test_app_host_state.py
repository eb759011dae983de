"""What the Shares tab offers, how it names what is shared, and the share dialog's choices
(no tmux: a fake host)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from app_fakes import NOW, busy_host, busy_scenario, window_share
from textual.widgets import Input, Select

from pairtui.app import PairtuiApp
from pairtui.app.dialogs import ShareDialog
from pairtui.config import Config


def test_each_session_and_window_is_offered_until_it_is_shared() -> None:
    host = busy_host()  # "api" and "work" are shared whole; "api" has one window
    api_shell = next(w for w in host.windows if w.session == "api")
    host.shares.append(window_share("shell", api_shell))
    offers = {o.session: (o.whole, [w.index for w in o.windows]) for o in host.state().shareable()}
    assert offers == {"work": (False, [1, 2, 3]), "scratch": (True, [1, 2])}


def test_a_share_is_named_as_tmux_users_name_it() -> None:
    host = busy_host()
    htop = host.windows[-1]
    state = host.state()
    assert state.shows(host.shares[1]) == ("work", "session work")
    assert state.shows(window_share("top", htop)) == ("scratch", "window scratch:2 (htop)")
    gone = dataclasses.replace(htop, id="@99")
    assert state.shows(window_share("top", gone)) == ("", "window @99")


async def test_the_share_dialog_follows_the_session_and_window_picked(tmp_path: Path) -> None:
    scenario = busy_scenario(tmp_path / "authorized_keys")
    app = PairtuiApp(scenario.services, config=Config(cursor_blink=False), clock=lambda: NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        deadline = time.monotonic() + 10
        while len(app.main.shares_table.records) < 3:
            assert time.monotonic() < deadline, "the shares never loaded"
            await pilot.pause(0.05)
        await pilot.press("3", "down", "s")  # on "work", which is shared whole
        while not isinstance(app.screen, ShareDialog):
            assert time.monotonic() < deadline, app.screen
            await pilot.pause(0.05)
        session = app.screen.query_one("#session", Select)
        what = app.screen.query_one("#what", Select)
        name = app.screen.query_one("#name", Input)
        assert (session.value, what.value, name.value) == ("work", "%1", "work-1")

        session.value = "scratch"  # not shared: the whole session comes first
        await pilot.pause()
        assert (what.value, name.value) == ("", "scratch")
        what.value = "%6"
        await pilot.pause()
        assert name.value == "scratch-2"
        name.focus()
        await pilot.press("enter")
        while len(scenario.host.shares) < 3:
            assert time.monotonic() < deadline, "nothing was shared"
            await pilot.pause(0.05)
        made = scenario.host.shares[-1]
        assert (made.name, made.kind, made.target, made.pane) == ("scratch-2", "window", "@6", "%6")
