"""The dashboard redraws what changed, no more: an idle screen draws nothing (the clock
ticks every second; the uptime and durations it shows are minute-grained), and a guest
joining does not rebuild the footer unless a key became usable or unusable."""

from __future__ import annotations

import time
from pathlib import Path

from app_fakes import NOW, busy_scenario, client, empty_scenario
from textual.content import Content

from pairtui.app import PairtuiApp
from pairtui.app.panes import ClientsPane
from pairtui.app.widgets import StatusBar
from pairtui.config import Config
from pairtui.events import ClientJoined, ClientLeft


async def test_the_status_line_repaints_when_the_uptime_changes_not_every_tick(
    tmp_path: Path,
) -> None:
    now = [NOW]
    scenario = busy_scenario(tmp_path / "authorized_keys")
    app = PairtuiApp(scenario.services, config=Config(cursor_blink=False), clock=lambda: now[0])
    async with app.run_test(size=(120, 40)) as pilot:
        status = app.main.query_one(StatusBar)
        deadline = time.monotonic() + 10
        while status.state.phase != "serving":
            assert time.monotonic() < deadline, status.state
            await pilot.pause(0.05)
        renders: list[str] = []
        render = status.render

        def counted() -> Content:
            out = render()
            assert isinstance(out, Content)
            renders.append(out.plain)
            return out

        status.render = counted  # type: ignore[method-assign]
        await pilot.pause(0.2)
        renders.clear()
        started = status.state.started  # the fake engine has been up 1h 02m 03s
        for second in range(1, 6):  # five ticks inside the same minute
            now[0] = started + 3723 + 10 + second
            app.main._tick()
            await pilot.pause(0.05)
        assert renders == []
        now[0] = started + 3723 + 120
        app.main._tick()
        await pilot.pause(0.2)
        assert renders and all("up 1h 04m" in text for text in renders)


async def test_joins_rebuild_the_footer_only_when_a_key_becomes_usable(tmp_path: Path) -> None:
    scenario = empty_scenario(tmp_path / "authorized_keys")
    app = PairtuiApp(scenario.services, config=Config(cursor_blink=False), clock=lambda: NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        deadline = time.monotonic() + 10
        while not app.server.up:
            assert time.monotonic() < deadline, app.server
            await pilot.pause(0.05)
        await pilot.pause(0.2)
        rebuilds: list[int] = []
        refresh = app.main.refresh_bindings

        def counted() -> None:
            rebuilds.append(1)
            refresh()

        app.main.refresh_bindings = counted  # type: ignore[method-assign]
        names = ["alice", "bob", "carol", "dave", "alice"]
        joined = [client(f"c{i}", name, f"127.0.0.1:{5000 + i}", "main", "view", 0, 0)
                  for i, name in enumerate(names, 1)]  # fmt: skip
        for c in joined:
            scenario.engine.clients[c.id] = c
            scenario.engine.emit(ClientJoined(c))
        await pilot.pause(0.3)
        assert app.main.clients_table.row_count == 5
        assert len(rebuilds) == 1  # kick and view/pair now have someone to act on
        clients = app.main.query_one(ClientsPane)
        assert clients.check_action("kick", ()) is True
        for c in joined:
            del scenario.engine.clients[c.id]
            scenario.engine.emit(ClientLeft(c, "guest left"))
        await pilot.pause(0.3)
        assert app.main.clients_table.row_count == 0
        assert len(rebuilds) >= 2  # nobody to kick again (Textual also redraws on focus moves)
        assert clients.check_action("kick", ()) is None
