"""A knock at the door on the dashboard: one dialog at a time, answered through the
engine's contract, closed when the knock ends elsewhere; one put off with Escape is
listed in the Clients tab and answered from there (issue 17)."""

from __future__ import annotations

from app_fakes import Scenario, busy_scenario, fingerprint_of, knock_info, make_app
from test_app_small_terminal import screen_text, until
from textual.pilot import Pilot
from textual.widgets import Input

from pairtui.app import PairtuiApp
from pairtui.app.dialogs import KnockDialog
from pairtui.app.panes import ClientsPane
from pairtui.registry import Mode

SMALL = (80, 24)


async def ready(pilot: Pilot[None]) -> PairtuiApp:
    app = pilot.app
    assert isinstance(app, PairtuiApp)
    await until(lambda: app.main.services is not None and app.server.up, "the dashboard")
    return app


async def asked(app: PairtuiApp, ident: str) -> KnockDialog:
    def showing() -> bool:
        screen = app.screen
        return isinstance(screen, KnockDialog) and screen.knock.id == ident and screen.ready

    await until(showing, f"the dialog for {ident}, taking answers")
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


# --- a knock put off with Escape is listed in the Clients tab and answered from there ---


def waiting_rows(app: PairtuiApp) -> list[str]:
    return list(app.main.query_one(ClientsPane).knocks_table.records)


async def test_a_knock_put_off_is_listed_and_answered_from_the_list() -> None:
    scenario = busy_scenario()
    app = make_app(scenario)
    async with app.run_test(size=SMALL) as pilot:
        await ready(pilot)
        await until(lambda: "Kick" in screen_text(app)[-1], "the footer")
        assert "waiting" not in screen_text(app)[0] and "Answer" not in screen_text(app)[-1]
        scenario.engine.knock(knock_info(1))
        await asked(app, "k1")
        await pilot.press("escape")
        await until(lambda: not isinstance(app.screen, KnockDialog), "the dialog to close")
        await pilot.pause()
        assert waiting_rows(app) == ["k1"]
        text = screen_text(app)
        assert "1 waiting" in text[0] and "a Answer" in text[-1]
        assert any("Waiting at the door" in line for line in text)
        assert any("111-111" in line and "198.51.100.1" in line for line in text)
        await pilot.press("a")
        await asked(app, "k1")
        await pilot.press("v")
        await until(lambda: scenario.engine.answers, "the answer")
        assert scenario.engine.answers == [("admit", "k1", Mode.VIEW, False, None, "")]
        await until(lambda: not waiting_rows(app), "the row to go")
        await pilot.pause()
        assert "waiting" not in screen_text(app)[0]


async def test_enter_on_a_listed_knock_asks_about_that_one() -> None:
    scenario = busy_scenario()
    app = make_app(scenario)
    async with app.run_test(size=SMALL) as pilot:
        await ready(pilot)
        for n in (1, 2):
            scenario.engine.knock(knock_info(n))
            await asked(app, f"k{n}")
            await pilot.press("escape")
        await until(lambda: waiting_rows(app) == ["k1", "k2"], "both listed")
        await until(lambda: not isinstance(app.screen, KnockDialog), "no dialog")
        await pilot.press("tab", "down")  # from the clients to the knocks, the second one
        await pilot.pause()
        assert app.main.focused is app.main.query_one(ClientsPane).knocks_table
        assert "222-222 from 198.51.100.2:50312" in "\n".join(screen_text(app))  # its detail
        await pilot.press("enter")
        await asked(app, "k2")
        await pilot.press("d")
        await until(lambda: scenario.engine.answers == [("deny", "k2")], "the answer")
        await until(lambda: waiting_rows(app) == ["k1"], "its row to go")
        assert not isinstance(app.screen, KnockDialog)  # k1 was put off: not asked again


async def test_a_listed_knock_that_ends_elsewhere_leaves_the_list() -> None:
    scenario = busy_scenario()
    app = make_app(scenario)
    async with app.run_test(size=SMALL) as pilot:
        await ready(pilot)
        scenario.engine.knock(knock_info(1))
        await asked(app, "k1")
        await pilot.press("escape")
        await until(lambda: waiting_rows(app) == ["k1"], "listed")
        scenario.engine.knock(knock_info(1), "gone")  # gave up, timed out, or answered in tmux
        await until(lambda: not waiting_rows(app), "the row to go")
        await pilot.pause()
        assert "Answer" not in screen_text(app)[-1]
