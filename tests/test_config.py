"""The config file: defaults, clear errors naming the key, and saving the theme."""

from __future__ import annotations

import os
import re
import stat
import tomllib
from pathlib import Path
from typing import NamedTuple

import pytest

from pairtui import config, paths
from pairtui.errors import PairtuiError
from pairtui.limits import Limits, Startups


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_file_gives_the_defaults(tmp_path: Path) -> None:
    cfg = config.load(tmp_path / "nope.toml")
    assert (cfg.listen, cfg.port, cfg.default_mode, cfg.theme) == (
        "127.0.0.1",
        2222,
        "view",
        "pairtui-dark",
    )
    assert cfg.keymap == {}
    assert cfg.cursor_blink is True
    assert cfg.confirm_pair is True


def test_default_path_is_in_the_config_dir() -> None:
    assert paths.config_file() == Path(os.environ["PAIRTUI_CONFIG_DIR"]) / "config.toml"
    assert config.load().port == 2222


def test_the_documented_example_is_valid_and_says_the_defaults(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path / "c.toml", config.EXAMPLE))
    assert cfg == config.Config()
    documented = tomllib.loads(config.EXAMPLE)
    assert set(documented) == {"server", "limits", "recording", "forges", "ui", "keymap"}


def test_recording_caps_are_read_and_bad_ones_name_their_key(tmp_path: Path) -> None:
    from pairtui.limits import RecordingLimits

    text = "[recording]\nmax_size_mb = 5\nmax_hours = 2\n"
    assert config.load(write(tmp_path / "c.toml", text)).recording == RecordingLimits(
        5 * 1024 * 1024, 2 * 3600
    )
    with pytest.raises(PairtuiError, match=r"recording\.max_size_mb must be 1-1000000, not 0"):
        config.load(write(tmp_path / "z.toml", "[recording]\nmax_size_mb = 0\n"))
    with pytest.raises(PairtuiError, match=r"recording\.max_hours must be a"):
        config.load(write(tmp_path / "s.toml", '[recording]\nmax_hours = "1d"\n'))


def test_limits_are_read_and_bad_ones_name_their_key(tmp_path: Path) -> None:
    text = """[limits]
max_startups = "5:50:20"
login_grace_time = 10
max_auth_tries = 3
max_sessions = 2
"""
    cfg = config.load(write(tmp_path / "c.toml", text))
    assert cfg.limits == Limits(Startups(5, 50, 20), 10, 3, 2)
    assert config.load(write(tmp_path / "n.toml", "[limits]\nmax_startups = 7\n")).limits == (
        Limits(max_startups=Startups(7, 100, 7))
    )
    for bad, needle in [
        ('max_startups = "10:30"', "limits.max_startups must be N or START:RATE:FULL"),
        ('max_startups = "50:30:10"', "START <= FULL"),
        ("max_auth_tries = 0", "limits.max_auth_tries must be 1-100000"),
        ('max_sessions = "2"', "limits.max_sessions must be a whole number"),
        ("max_tries = 3", "unknown key limits.max_tries"),
    ]:
        with pytest.raises(PairtuiError, match=re.escape(needle)):
            config.load(write(tmp_path / "b.toml", f"[limits]\n{bad}\n"))


def test_every_key_is_read(tmp_path: Path) -> None:
    cfg = config.load(
        write(
            tmp_path / "c.toml",
            """
            [server]
            listen = "0.0.0.0"
            port = 0
            default_mode = "pair"
            tmux_socket = "work"
            [forges]
            github = "http://127.0.0.1:8080/"
            [ui]
            theme = "pairtui-light"
            cursor_blink = false
            confirm_pair = false
            [keymap]
            client-kick = "K"
            guest-add = "a,insert"
            """,
        )
    )
    assert (cfg.listen, cfg.port, cfg.default_mode, cfg.tmux_socket) == (
        "0.0.0.0",
        0,
        "pair",
        "work",
    )
    assert cfg.forges["github"] == "http://127.0.0.1:8080"
    assert cfg.forges["gitlab"] == "https://gitlab.com"
    assert (cfg.theme, cfg.cursor_blink, cfg.confirm_pair) == ("pairtui-light", False, False)
    assert cfg.keymap == {"client-kick": "K", "guest-add": "a,insert"}


class BadCase(NamedTuple):
    test_id: str
    text: str
    message: str


BAD = [
    BadCase("not-toml", "[server\nport=1", "not valid TOML"),
    BadCase("unknown-table", "[sever]\nport = 1", "unknown key 'sever'"),
    BadCase("unknown-key", "[ui]\ntheme = 'x'\ncolour = 'red'", "unknown key ui.colour"),
    BadCase("table-is-value", "ui = 3", "ui must be a table"),
    BadCase("port-type", "[server]\nport = '2222'", "server.port must be a whole number"),
    BadCase("port-bool", "[server]\nport = true", "server.port must be a whole number"),
    BadCase("port-range", "[server]\nport = 70000", "server.port must be 0-65535"),
    BadCase("mode", "[server]\ndefault_mode = 'edit'", "server.default_mode must be 'view' or"),
    BadCase("listen-type", "[server]\nlisten = 1", "server.listen must be a string"),
    BadCase("forge-url", "[forges]\ngithub = 'github.com'", "forges.github must be an http(s) URL"),
    BadCase("theme-type", "[ui]\ntheme = 1", "ui.theme must be a string"),
    BadCase("theme-empty", "[ui]\ntheme = ' '", "ui.theme must name a theme"),
    BadCase("blink-type", "[ui]\ncursor_blink = 'no'", "ui.cursor_blink must be a boolean"),
    BadCase("confirm-type", "[ui]\nconfirm_pair = 1", "ui.confirm_pair must be a boolean"),
    BadCase("keymap-type", "[keymap]\nclient-kick = 1", "keymap.client-kick must be a string"),
    BadCase("keymap-empty", "[keymap]\nclient-kick = 'k,'", "keymap.client-kick must list keys"),
]


@pytest.mark.parametrize("case", BAD, ids=[c.test_id for c in BAD])
def test_bad_values_name_the_file_and_the_key(tmp_path: Path, case: BadCase) -> None:
    path = write(tmp_path / "config.toml", case.text)
    with pytest.raises(PairtuiError) as err:
        config.load(path)
    assert str(err.value).startswith(f"{path}: ")
    assert case.message in str(err.value)


def test_save_theme_creates_the_file_private(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    config.save_theme("pairtui-light", path)
    assert config.load(path).theme == "pairtui-light"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_save_theme_keeps_comments_other_keys_and_the_file_mode(tmp_path: Path) -> None:
    original = (
        "# my settings\n[server]\nport = 2300  # not the default\n\n"
        '[ui]\n# the look\ntheme = "pairtui-dark"\ncursor_blink = false\n\n'
        '[keymap]\nclient-kick = "K"\n'
    )
    path = write(tmp_path / "config.toml", original)
    path.chmod(0o640)
    config.save_theme("pairtui-high-contrast", path)
    text = path.read_text()
    assert text == original.replace('theme = "pairtui-dark"', 'theme = "pairtui-high-contrast"')
    cfg = config.load(path)
    assert (cfg.port, cfg.theme, cfg.cursor_blink, cfg.keymap) == (
        2300,
        "pairtui-high-contrast",
        False,
        {"client-kick": "K"},
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_save_theme_adds_the_key_to_an_existing_ui_table(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "[ui]\ncursor_blink = false\n\n[server]\nport = 1\n")
    config.save_theme('odd "name"', path)
    cfg = config.load(path)
    assert (cfg.theme, cfg.cursor_blink, cfg.port) == ('odd "name"', False, 1)
    assert path.read_text().index("theme") < path.read_text().index("[server]")


def test_save_theme_appends_a_ui_table(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "[server]\nport = 1")
    config.save_theme("pairtui-light", path)
    assert path.read_text() == '[server]\nport = 1\n\n[ui]\ntheme = "pairtui-light"\n'


def test_save_theme_refuses_a_file_it_cannot_edit_safely(tmp_path: Path) -> None:
    original = 'ui = { theme = "pairtui-dark" }\n'
    path = write(tmp_path / "config.toml", original)
    with pytest.raises(PairtuiError, match=r"cannot update ui.theme automatically"):
        config.save_theme("pairtui-light", path)
    assert path.read_text() == original


def test_save_theme_leaves_no_temporary_files(tmp_path: Path) -> None:
    directory = tmp_path / "cfg"
    directory.mkdir()
    path = directory / "config.toml"
    for name in ("a", "b", "c"):
        config.save_theme(name, path)
    assert sorted(p.name for p in directory.iterdir()) == ["config.toml", "config.toml.lock"]
    assert config.load(path).theme == "c"
