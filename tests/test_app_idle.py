"""An idle dashboard draws nothing: the clock ticks every second, the screen only when
what it shows changes (the uptime and durations are minute-grained)."""

from __future__ import annotations

import time
from pathlib import Path

from app_fakes import NOW, busy_scenario
from textual.content import Content

from pairtui.app import PairtuiApp
from pairtui.app.widgets import StatusBar
from pairtui.config import Config


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
