"""A knock at the door on the dashboard: one dialog at a time, answered through the
engine's contract, closed when the knock ends elsewhere (issue 17)."""

from __future__ import annotations

from app_fakes import Scenario, busy_scenario, fingerprint_of, knock_info, make_app
from test_app_small_terminal import screen_text, until
from textual.pilot import Pilot
from textual.widgets import Input

from pairtui.app import PairtuiApp
from pairtui.app.dialogs import KnockDialog
from pairtui.registry import Mode

SMALL = (80, 24)


async def ready(pilot: Pilot[None]) -> PairtuiApp:
    app = pilot.app
    assert isinstance(app, PairtuiApp)
    await until(lambda: app.main.services is not None and app.server.up, "the dashboard")
    return app


async def asked(app: PairtuiApp, ident: str) -> KnockDialog:
    def showing() -> bool:
        return isinstance(app.screen, KnockDialog) and app.screen.knock.id == ident

    await until(showing, f"the dialog for {ident}")
    assert isinstance(app.screen, KnockDialog)
    return app.screen


def toasts(app: PairtuiApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_a_knock_opens_a_dialog_with_its_code_address_key_and_invitation() -> None:
    scenario = busy_scenario()
    app = make_app(scenario)
    async with app.run_test(size=SMALL) as pilot:
        await ready(pilot)
        assert not isinstance(app.screen, KnockDialog)
        scenario.engine.knock(knock_info(3, invitation="inv-3f9a", via="vps"))
        await asked(app, "k3")
        await pilot.pause()
        text = "\n".join(screen_text(app))
        for shown in ("333-333", "198.51.100.3:50313 via vps", fingerprint_of("dave"),
                      "inv-3f9a", "Admit as view", "Admit as pair", "Deny"):  # fmt: skip
            assert shown in text, shown


async def test_admit_as_pair_remembering_the_key_calls_the_engine() -> None:
    scenario = busy_scenario()
    app = make_app(scenario)
    async with app.run_test(size=SMALL) as pilot:
        await ready(pilot)
        scenario.engine.knock(knock_info(1))
        dialog = await asked(app, "k1")
        await pilot.press("r")
        await until(lambda: not dialog.query_one("#expires", Input).disabled, "expiry enabled")
        dialog.query_one("#expires", Input).focus()
        await pilot.press(*"7d", "tab", *"dave", "enter")
        await pilot.press("p")
        await until(lambda: scenario.engine.answers, "the answer")
        assert scenario.engine.answers == [("admit", "k1", Mode.PAIR, True, "7d", "dave")]
        await until(lambda: not isinstance(app.screen, KnockDialog), "the dialog to close")
        await until(lambda: any("admitted as pair" in t for t in toasts(app)), "the toast")


async def test_admit_once_by_default_ignores_the_expiry() -> None:
    scenario = busy_scenario()
    app = make_app(scenario)
    async with app.run_test(size=SMALL) as pilot:
        await ready(pilot)
        scenario.engine.knock(knock_info(1))
        await asked(app, "k1")
        await pilot.press("v")
        await until(lambda: scenario.engine.answers, "the answer")
        assert scenario.engine.answers == [("admit", "k1", Mode.VIEW, False, None, "")]


async def test_deny() -> None:
    scenario = busy_scenario()
    app = make_app(scenario)
    async with app.run_test(size=SMALL) as pilot:
        await ready(pilot)
        scenario.engine.knock(knock_info(1))
        await asked(app, "k1")
        await pilot.press("d")
        await until(lambda: scenario.engine.answers, "the answer")
        assert scenario.engine.answers == [("deny", "k1")]
        await until(lambda: not isinstance(app.screen, KnockDialog), "the dialog to close")


async def test_a_second_knock_is_counted_then_asked_after_the_first() -> None:
    scenario = busy_scenario()
    app = make_app(scenario)
    async with app.run_test(size=SMALL) as pilot:
        await ready(pilot)
        scenario.engine.knock(knock_info(1))
        await asked(app, "k1")
        scenario.engine.knock(knock_info(2))
        await until(lambda: "1 more waiting at the door" in toasts(app), "the count")
        assert isinstance(app.screen, KnockDialog) and app.screen.knock.id == "k1"
        assert len([s for s in app.screen_stack if isinstance(s, KnockDialog)]) == 1
        await pilot.press("d")
        await asked(app, "k2")


async def test_a_knock_that_ends_elsewhere_closes_its_dialog() -> None:
    scenario = busy_scenario()
    app = make_app(scenario)
    async with app.run_test(size=SMALL) as pilot:
        await ready(pilot)
        scenario.engine.knock(knock_info(1))
        await asked(app, "k1")
        scenario.engine.knock(knock_info(1), "gone")
        await until(lambda: not isinstance(app.screen, KnockDialog), "the dialog to close")
        await until(lambda: any("stopped waiting" in t for t in toasts(app)), "the toast")
        assert scenario.engine.answers == []


async def test_a_knock_waiting_before_the_dashboard_started_is_asked() -> None:
    scenario: Scenario = busy_scenario()
    scenario.engine.knock(knock_info(4))  # nobody subscribed yet
    app = make_app(scenario)
    async with app.run_test(size=SMALL) as pilot:
        await ready(pilot)
        await asked(app, "k4")


async def test_escape_leaves_the_guest_waiting() -> None:
    scenario = busy_scenario()
    app = make_app(scenario)
    async with app.run_test(size=SMALL) as pilot:
        await ready(pilot)
        scenario.engine.knock(knock_info(1))
        await asked(app, "k1")
        await pilot.press("escape")
        await until(lambda: not isinstance(app.screen, KnockDialog), "the dialog to close")
        assert scenario.engine.answers == []
        assert "k1" in scenario.engine.waiting


async def test_a_bad_expiry_admits_no_one_until_remember_is_unchecked() -> None:
    scenario = busy_scenario()
    app = make_app(scenario)
    async with app.run_test(size=SMALL) as pilot:
        await ready(pilot)
        scenario.engine.knock(knock_info(1))
        dialog = await asked(app, "k1")
        await pilot.press("r")
        await until(lambda: not dialog.query_one("#expires", Input).disabled, "expiry enabled")
        dialog.query_one("#expires", Input).focus()
        await pilot.press(*"soon")
        await pilot.click("#admit-pair")
        await pilot.pause()
        assert app.screen is dialog and scenario.engine.answers == []
        await pilot.click("#remember")
        await until(lambda: dialog.query_one("#expires", Input).disabled, "expiry disabled")
        await pilot.click("#admit-pair")
        await until(lambda: scenario.engine.answers, "the answer")
        assert scenario.engine.answers == [("admit", "k1", Mode.PAIR, False, None, "")]
