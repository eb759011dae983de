"""The tmux key that shares the current pane, and its block in the tmux config file.

Installing through the CLI (idempotent, moving the key, uninstall) and the TPM entry point
are tested end to end in test_e2e_tmux_key.py; here, what the key really runs, what the
status segment shows, and how the config file is edited.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pexpect
import pytest
from support import TmuxHost, wait_until

from pairtui.errors import PairtuiError
from pairtui.fileutil import file_stamp
from pairtui.tmux import Tmux
from pairtui.tmux_plugin import (
    BEGIN,
    END,
    MARK,
    STATUS_SEGMENT,
    conf_lines,
    default_conf,
    install,
    uninstall,
)


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def bound(host: TmuxHost) -> list[str]:
    """The prefix-table keys that run pairtui's toggle."""
    rows = host.run("list-keys", "-T", "prefix").splitlines()
    return [r.split()[3] for r in rows if MARK in r]


def shown_status_right(host: TmuxHost) -> str:
    """status-right as tmux draws it (its formats expanded)."""
    return host.run("display-message", "-p", "-t", "host", "#{E:status-right}").rstrip("\n")


@pytest.fixture
def host_client(tmux_host: TmuxHost) -> Iterator[pexpect.spawn]:
    """The host's own tmux client in a PTY, to press keys in."""
    child = pexpect.spawn(
        "tmux", ["-S", str(tmux_host.socket), "attach-session", "-t", "host"],
        dimensions=(24, 80), env=dict(os.environ),
    )  # fmt: skip
    wait_until(lambda: tmux_host.clients(), what="the host's client")
    yield child
    child.close(force=True)


# --- what the key runs --------------------------------------------------------------------------


RECORDER = """#!/bin/sh
printf '%s\\n' "$0" "$@" > "{out}"
"""


@pytest.mark.parametrize(
    "directory",
    [
        "plain",
        "with space",
        "dollar $HOME",
        "quotes 'single' \"double\"",
        "back\\slash;semi",
        "C# project",
        "tmux formats ## #S",
    ],
)
def test_the_key_runs_this_pairtui_on_the_pressed_pane_whatever_its_path(
    tmux_host: TmuxHost,
    host_client: pexpect.spawn,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    directory: str,
) -> None:
    """A venv may live anywhere: the interpreter's path must reach the shell unchanged, and
    tmux must fill in the pane, socket and client the key was pressed on."""
    out = tmp_path / "argv"
    python = tmp_path / directory / "python"
    python.parent.mkdir()
    python.write_text(RECORDER.format(out=out))
    python.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(python))
    result = install(Tmux(tmux_host.socket), "P", None)
    assert result.live and bound(tmux_host) == ["P"]

    host_client.send("\x02P")
    argv = wait_until(lambda: out.exists() and out.read_text().splitlines(), what="the key ran")
    pane = tmux_host.run("display-message", "-p", "-t", "host", "#{pane_id}").strip()
    [tty] = [c["tty"] for c in tmux_host.clients()]
    assert argv == [
        str(python), "-m", "pairtui", "share", "--toggle",
        "--pane", pane, "--tmux-socket", str(tmux_host.socket), "--client", tty,
    ]  # fmt: skip


# --- the status segment ------------------------------------------------------------------------


def test_the_status_segment_shows_the_guests_only_while_there_are_some(
    tmux_host: TmuxHost,
) -> None:
    tmux_host.run("set-option", "-g", "status-right", "MINE")
    install(Tmux(tmux_host.socket), "P", None)
    assert shown_status_right(tmux_host) == "MINE"
    tmux_host.run("set-option", "-g", "@pairtui_status", "2 guests: main(2)")
    assert shown_status_right(tmux_host) == "MINE #[reverse] 2 guests: main(2) #[noreverse]"
    tmux_host.run("set-option", "-g", "@pairtui_status", "")
    assert shown_status_right(tmux_host) == "MINE"


def test_installing_again_adds_no_second_segment(tmux_host: TmuxHost) -> None:
    tmux_host.run("set-option", "-g", "status-right", "MINE")
    for _ in range(3):
        install(Tmux(tmux_host.socket), "P", None)
    assert tmux_host.run("show-options", "-gv", "status-right") == f"MINE{STATUS_SEGMENT}\n"


def test_uninstall_gives_back_the_hosts_status_line_and_frees_whatever_key_was_used(
    tmux_host: TmuxHost,
) -> None:
    tmux_host.run("set-option", "-g", "status-right", "MINE #{session_name}")
    tmux = Tmux(tmux_host.socket)
    install(tmux, "F5", None)
    assert bound(tmux_host) == ["F5"]
    result = uninstall(tmux, None)
    assert (result.key, result.live, result.changed) == ("F5", True, False)
    assert bound(tmux_host) == []
    assert tmux_host.run("show-options", "-gv", "status-right") == "MINE #{session_name}\n"


def test_another_key_of_the_hosts_own_is_left_alone(tmux_host: TmuxHost) -> None:
    tmux_host.run("bind-key", "-T", "prefix", "Q", "display-message", "mine")
    tmux = Tmux(tmux_host.socket)
    install(tmux, "P", None)
    install(tmux, "K", None)  # moves pairtui's key; Q was never pairtui's
    uninstall(tmux, None)
    [row] = [row for key, row in tmux.prefix_bindings() if key == "Q"]
    assert "display-message mine" in row
    assert bound(tmux_host) == []


def test_without_a_running_tmux_only_the_file_is_written(tmp_path: Path) -> None:
    conf = tmp_path / "tmux.conf"
    gone = Tmux(tmp_path / "no-server-here")
    for tmux in (None, gone):
        result = install(tmux, "P", conf)
        assert result.live is False
        assert BEGIN in conf.read_text()
        assert uninstall(tmux, conf).live is False
    assert conf.read_text() == ""


@pytest.mark.parametrize("key", ["", " ", "a b", "P\n"])
def test_a_key_with_blanks_or_none_at_all_is_refused_and_nothing_changes(
    tmux_host: TmuxHost, tmp_path: Path, key: str
) -> None:
    conf = tmp_path / "tmux.conf"
    with pytest.raises(PairtuiError, match="invalid tmux key"):
        install(Tmux(tmux_host.socket), key, conf)
    assert not conf.exists()
    assert bound(tmux_host) == []


# --- the config file ------------------------------------------------------------------------------


def test_the_block_is_appended_after_the_users_lines_and_sourcing_it_binds_the_key(
    tmux_host: TmuxHost, tmp_path: Path
) -> None:
    conf = tmp_path / "tmux.conf"
    conf.write_text("set -g mouse on\nbind r source-file ~/.tmux.conf\n")
    result = install(None, "M-p", conf)
    assert result.changed and result.config == conf
    assert conf.read_text() == (
        "set -g mouse on\nbind r source-file ~/.tmux.conf\n\n"
        + "\n".join([BEGIN, *conf_lines("M-p"), END])
        + "\n"
    )
    tmux_host.run("source-file", str(conf))
    assert bound(tmux_host) == ["M-p"]


def test_an_old_block_is_replaced_where_the_users_lines_stay(tmp_path: Path) -> None:
    """Lines the user added after the block stay; the block moves to the end, once."""
    conf = tmp_path / "tmux.conf"
    conf.write_text("first\n")
    install(None, "P", conf)
    with conf.open("a") as f:
        f.write("after\n")
    install(None, "K", conf)
    text = conf.read_text()
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    before, block = text.split(BEGIN)
    assert [line for line in before.splitlines() if line] == ["first", "after"]
    assert "bind-key K " in block and "bind-key P " not in text
    assert block.endswith(END + "\n")
    uninstall(None, conf)
    assert [line for line in conf.read_text().splitlines() if line] == ["first", "after"]


def test_the_same_install_twice_does_not_rewrite_the_file(tmp_path: Path) -> None:
    conf = tmp_path / "tmux.conf"
    assert install(None, "P", conf).changed
    stamp = file_stamp(conf)
    assert not install(None, "P", conf).changed
    assert file_stamp(conf) == stamp


def test_uninstall_makes_no_config_file(tmp_path: Path) -> None:
    conf = tmp_path / "tmux.conf"
    assert not uninstall(None, conf).changed
    assert not conf.exists()


@pytest.mark.parametrize(
    "text", ["set -g mouse on\n\n\n", "set -g mouse on"], ids=["blank-lines", "no-newline"]
)
def test_uninstall_leaves_a_config_file_without_the_block_untouched(
    tmp_path: Path, text: str
) -> None:
    """``pairtui tmux uninstall`` "removes exactly" its block: a file without one is not
    pairtui's to rewrite (nor to say "removed ... its block in" about)."""
    conf = tmp_path / "tmux.conf"
    conf.write_text(text)
    stamp = file_stamp(conf)
    result = uninstall(None, conf)
    assert (conf.read_text(), file_stamp(conf)) == (text, stamp)
    assert not result.changed


@pytest.mark.parametrize("kept", [0o600, 0o640, 0o644])
def test_the_config_files_mode_is_kept(tmp_path: Path, kept: int) -> None:
    conf = tmp_path / "tmux.conf"
    conf.write_text("set -g mouse on\n")
    conf.chmod(kept)
    install(None, "P", conf)
    assert mode(conf) == kept
    uninstall(None, conf)
    assert mode(conf) == kept


def test_a_new_config_file_is_made_readable_like_any_dotfile(tmp_path: Path) -> None:
    conf = tmp_path / "new" / "dir" / "tmux.conf"
    install(None, "P", conf)
    assert mode(conf) == 0o644


def test_a_dotfiles_symlink_stays_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "tmux.conf"
    real.parent.mkdir()
    real.write_text("set -g mouse on\n")
    link = tmp_path / ".tmux.conf"
    link.symlink_to(real)
    result = install(None, "P", link)
    assert link.is_symlink() and link.resolve() == real
    assert result.config == real
    assert BEGIN in real.read_text()
    uninstall(None, link)
    assert link.is_symlink() and real.read_text() == "set -g mouse on\n"


def test_install_result_as_json(tmp_path: Path) -> None:
    conf = tmp_path / "tmux.conf"
    assert install(None, "P", conf).to_json() == {
        "key": "P",
        "lines": conf_lines("P"),
        "live": False,
        "config": str(conf),
        "changed": True,
    }
    assert install(None, "P", None).to_json()["config"] is None


# --- which config file --------------------------------------------------------------------------


class Conf(NamedTuple):
    test_id: str
    home_exists: bool
    xdg_exists: bool
    picked: str  # "home" or "xdg"


CONFS = [
    Conf("neither", False, False, "home"),
    Conf("only-xdg", False, True, "xdg"),
    Conf("only-home", True, False, "home"),
    Conf("both", True, True, "home"),  # tmux reads ~/.tmux.conf first
]


@pytest.mark.parametrize("case", CONFS, ids=[c.test_id for c in CONFS])
def test_the_config_file_is_the_one_tmux_reads(case: Conf) -> None:
    home = Path.home() / ".tmux.conf"
    xdg = Path(os.environ["XDG_CONFIG_HOME"]) / "tmux" / "tmux.conf"
    for path, exists in ((home, case.home_exists), (xdg, case.xdg_exists)):
        if exists:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")
    assert default_conf() == (home if case.picked == "home" else xdg)


def test_without_xdg_config_home_the_xdg_file_is_under_dot_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME")
    xdg = Path.home() / ".config" / "tmux" / "tmux.conf"
    xdg.parent.mkdir(parents=True)
    xdg.write_text("")
    assert default_conf() == xdg
