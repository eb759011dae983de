"""Attack: the dashboard's knock dialog takes the key the host was pressing for itself.

The dashboard is driven by single keys (``p`` plays a recording, ``4`` the Recordings
tab…). A knock pushes a modal ``KnockDialog`` at once, on top of whatever the host is
doing, and its bindings are single keys too: ``v`` admit as view, ``p`` admit as pair,
``d`` deny (and Enter on the focused "Admit as view"). A host pressing ``p`` for the
player a moment after a stranger knocked admits that stranger as a pair guest,
without having read the dialog. As with the tmux menu (test_attack_knock_menu.py), a
dialog that appears unasked must not act on keys pressed as it appears.

The real dashboard on the fake engine the app tests use (app_fakes): what it sends
the engine is what is checked.
"""

from __future__ import annotations

from app_fakes import busy_scenario, knock_info, make_app
from test_app_small_terminal import until
from textual.pilot import Pilot

from pairtui.app import PairtuiApp
from pairtui.app.dialogs import KnockDialog

SMALL = (80, 24)


async def ready(pilot: Pilot[None]) -> PairtuiApp:
    app = pilot.app
    assert isinstance(app, PairtuiApp)
    await until(lambda: app.main.services is not None and app.server.up, "the dashboard")
    return app


async def test_a_key_pressed_as_the_knock_dialog_appears_admits_no_one() -> None:
    scenario = busy_scenario()
    app = make_app(scenario)
    async with app.run_test(size=SMALL) as pilot:
        await ready(pilot)
        scenario.engine.knock(knock_info(1))
        await until(lambda: isinstance(app.screen, KnockDialog), "the knock's dialog")
        await pilot.press("p")  # meant for the dashboard; the dialog had just appeared
        await pilot.pause(0.5)
        admitted = [a for a in scenario.engine.answers if a[0] == "admit"]
        assert admitted == [], f"one key pressed as it appeared admitted: {admitted}"
