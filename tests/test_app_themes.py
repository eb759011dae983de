"""Theme files: bundled ones load, broken ones are reported and skipped, users override."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from test_app_live import dashboard, notified
from textual.theme import BUILTIN_THEMES

from pairtui import config
from pairtui.app import themes

REPO = Path(__file__).resolve().parent.parent
BUNDLED = {"pairtui-dark", "pairtui-light", "pairtui-high-contrast"}


def test_the_bundled_themes_are_found_in_the_checkout_and_all_load() -> None:
    directory = themes.bundled_dir()
    assert directory == REPO / "themes"
    loaded = themes.load_themes(directory, None)
    assert loaded.problems == []
    assert set(loaded.themes) == BUNDLED
    assert loaded.themes["pairtui-light"].dark is False
    for theme in loaded.themes.values():
        assert {"pairtui-view", "pairtui-pair", "pairtui-ssh"} <= set(theme.variables)


def test_the_bundled_themes_are_found_inside_an_installed_package(tmp_path: Path) -> None:
    package = tmp_path / "site" / "pairtui"
    (package / "themes").mkdir(parents=True)
    (package / "themes" / "x.toml").write_text('primary = "#123456"\n')
    assert themes.bundled_dir(package) == package / "themes"
    assert themes.bundled_dir(tmp_path / "elsewhere" / "pairtui") is None


def test_the_wheel_ships_the_themes_where_the_loader_looks(tmp_path: Path) -> None:
    from hatchling.builders.wheel import WheelBuilder

    wheel = Path(next(iter(WheelBuilder(str(REPO)).build(directory=str(tmp_path / "dist")))))
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        assert {f"pairtui/themes/{n}.toml" for n in ("dark", "light", "high-contrast")} <= names
        zf.extractall(tmp_path / "site")
    code = "from pairtui.app import themes; print(themes.bundled_dir())"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    assert out == str(tmp_path / "site" / "pairtui" / "themes")


BROKEN = {
    "not-toml.toml": "primary = \n",
    "no-primary.toml": 'name = "x"\n',
    "bad-colour.toml": 'primary = "blurple"\n',
    "bad-type.toml": 'primary = "#ffffff"\ndark = "yes"\n',
    "unknown-key.toml": 'primary = "#ffffff"\nprimery = "#000000"\n',
    "bad-variable.toml": 'primary = "#ffffff"\n[variables]\npairtui-pair = "loud"\n',
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_file_is_reported_with_the_reason_and_skipped(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text(BROKEN[name])
    (tmp_path / "fine.toml").write_text('primary = "#336699"\n')
    loaded = themes.load_themes(None, tmp_path)
    assert set(loaded.themes) == {"fine"}  # the name defaults to the file's stem
    assert [p.path.name for p in loaded.problems] == [name]
    assert loaded.problems[0].reason


def test_a_user_theme_replaces_a_bundled_one_by_name(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text('name = "pairtui-dark"\nprimary = "#ff0000"\n')
    loaded = themes.load_themes(themes.bundled_dir(), tmp_path)
    assert loaded.themes["pairtui-dark"].primary == "#ff0000"
    assert loaded.sources["pairtui-dark"] == tmp_path / "mine.toml"
    assert set(loaded.themes) == BUNDLED


async def test_the_app_registers_themes_reports_broken_ones_and_keeps_running(
    tmp_path: Path,
) -> None:
    user = tmp_path / "themes"
    user.mkdir()
    (user / "broken.toml").write_text('primary = "blurple"\n')
    (user / "override.toml").write_text(
        'name = "pairtui-light"\nprimary = "#ff0000"\ndark = false\n'
    )
    before = dict(BUILTIN_THEMES)
    app = dashboard(cfg=config.Config(theme="pairtui-light"), user_themes=user)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert set(app.available_themes) >= BUNDLED
        assert app.theme == "pairtui-light"
        assert app.current_theme.primary == "#ff0000"
        await notified(app, "'blurple' is not a colour")
        assert app.get_css_variables()["pairtui-pair"]  # defaults fill what a theme leaves out
    assert before == BUILTIN_THEMES
    assert not (set(BUILTIN_THEMES) & BUNDLED)


async def test_an_unknown_configured_theme_falls_back_with_a_notification() -> None:
    app = dashboard(cfg=config.Config(theme="no-such-theme"))
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.theme == config.DEFAULT_THEME
        await notified(app, "no theme 'no-such-theme'")


async def test_a_chosen_theme_is_saved_in_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[server]\nport = 2300\n")
    app = dashboard(config_path=path)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert not path.read_text().count("theme")  # starting up writes nothing
        app.theme = "pairtui-high-contrast"
        await pilot.pause()
    cfg = config.load(path)
    assert (cfg.theme, cfg.port) == ("pairtui-high-contrast", 2300)


async def test_the_palette_switches_themes_live(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    app = dashboard(config_path=path)
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        for key in "Theme":
            await pilot.press(key)
        await pilot.pause(0.3)
        await pilot.press("enter")  # the app's Theme command opens the theme list
        await pilot.pause(0.3)
        for key in "high-contrast":
            await pilot.press(key)
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.theme == "pairtui-high-contrast"
    assert config.load(path).theme == "pairtui-high-contrast"
