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
from support import TmuxHost, start_tmux, wait_until

from pairtui.errors import PairtuiError
from pairtui.fileutil import file_stamp
from pairtui.tmux import Tmux
from pairtui.tmux_plugin import (
    BEGIN,
    CREATED,
    END,
    MARK,
    REPLACED_OPTION,
    STATUS_SEGMENT,
    KeyTaken,
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
        assert not conf.exists()  # install made it; nothing else was in it


@pytest.mark.parametrize("key", ["", " ", "a b", "P\n"])
def test_a_key_with_blanks_or_none_at_all_is_refused_and_nothing_changes(
    tmux_host: TmuxHost, tmp_path: Path, key: str
) -> None:
    conf = tmp_path / "tmux.conf"
    with pytest.raises(PairtuiError, match="invalid tmux key"):
        install(Tmux(tmux_host.socket), key, conf)
    assert not conf.exists()
    assert bound(tmux_host) == []


# --- a key the host already uses ---------------------------------------------------------------


def key_row(host: TmuxHost, key: str) -> str:
    """The key's binding as tmux prints it ("" when unbound)."""
    return host.run("list-keys", "-T", "prefix", key, check=False)


class Taken(NamedTuple):
    test_id: str
    key: str  # as tmux spells it
    asked: str  # as the user types it for --key
    bind: str | None  # the host's binding; None: tmux's own default


TAKEN = [
    Taken("plain", "P", "P", "bind-key P display-message mine"),
    Taken(
        "repeat-blocks-formats",
        "P",
        "P",
        """bind-key -r P if-shell -F "#{==:a,b}" { display-message "x 'q' ##" } """
        """{ display-message -d 0 "y;z" }""",
    ),
    Taken(
        "quotes-and-semicolons", "F5", "f5", r'bind-key F5 display-message "hi \"there\" \\; ; end"'
    ),
    Taken("tmux-default", "s", "s", None),
]


def take(host: TmuxHost, case: Taken) -> str:
    if case.bind is not None:
        Tmux(host.socket).source(case.bind + "\n")
    row = key_row(host, case.key)
    assert row and MARK not in row
    return row


@pytest.mark.parametrize("case", TAKEN, ids=[c.test_id for c in TAKEN])
def test_a_key_the_host_uses_is_refused_and_nothing_changes(
    tmux_host: TmuxHost, tmp_path: Path, case: Taken
) -> None:
    take(tmux_host, case)
    tmux_host.run("set-option", "-g", "status-right", "MINE")
    table = tmux_host.run("list-keys", "-T", "prefix")
    conf = tmp_path / "tmux.conf"
    with pytest.raises(KeyTaken, match=rf"prefix \+ {case.asked} is already bound .*--force"):
        install(Tmux(tmux_host.socket), case.asked, conf)
    assert tmux_host.run("list-keys", "-T", "prefix") == table
    assert tmux_host.run("show-options", "-gv", "status-right") == "MINE\n"
    assert not conf.exists()


@pytest.mark.parametrize("case", TAKEN, ids=[c.test_id for c in TAKEN])
def test_force_replaces_the_hosts_binding_and_uninstall_puts_it_back_exactly(
    tmux_host: TmuxHost, tmp_path: Path, case: Taken
) -> None:
    mine = take(tmux_host, case)
    table = tmux_host.run("list-keys", "-T", "prefix")
    tmux = Tmux(tmux_host.socket)
    result = install(tmux, case.asked, tmp_path / "tmux.conf", force=True)
    assert bound(tmux_host) == [case.key]
    assert result.replaced is not None and result.replaced.split() == mine.split()
    # Installing again (tmux reloads, TPM at start) needs no --force: it is pairtui's now.
    install(tmux, case.asked, tmp_path / "tmux.conf")
    assert bound(tmux_host) == [case.key]
    undone = uninstall(tmux, tmp_path / "tmux.conf")
    assert undone.replaced is not None and undone.replaced.split() == mine.split()
    assert key_row(tmux_host, case.key) == mine
    assert tmux_host.run("list-keys", "-T", "prefix") == table
    assert tmux_host.run("show-options", "-gqv", REPLACED_OPTION).strip() == ""


def test_moving_the_key_gives_the_old_one_back(tmux_host: TmuxHost) -> None:
    tmux_host.run("bind-key", "P", "display-message", "mine")
    mine = key_row(tmux_host, "P")
    tmux = Tmux(tmux_host.socket)
    install(tmux, "P", None, force=True)
    assert install(tmux, "K", None).replaced is None
    assert key_row(tmux_host, "P") == mine
    assert bound(tmux_host) == ["K"]
    # Refused on a taken key: pairtui's key stays where it was, the host's binding too.
    tmux_host.run("bind-key", "Q", "display-message", "also mine")
    with pytest.raises(KeyTaken):
        install(tmux, "Q", None)
    assert bound(tmux_host) == ["K"] and "also mine" in key_row(tmux_host, "Q")
    assert uninstall(tmux, None).replaced is None
    assert key_row(tmux_host, "K") == "" and key_row(tmux_host, "P") == mine


def test_a_refusal_keeps_what_the_installed_key_had_replaced(tmux_host: TmuxHost) -> None:
    tmux_host.run("bind-key", "P", "display-message", "mine")
    tmux_host.run("bind-key", "Q", "display-message", "also mine")
    mine = key_row(tmux_host, "P")
    tmux = Tmux(tmux_host.socket)
    install(tmux, "P", None, force=True)
    with pytest.raises(KeyTaken):
        install(tmux, "Q", None)
    assert bound(tmux_host) == ["P"]
    uninstall(tmux, None)
    assert key_row(tmux_host, "P") == mine


def test_the_replaced_binding_is_kept_in_the_config_for_a_new_tmux_server(
    tmux_host: TmuxHost, tmp_path: Path
) -> None:
    """The host's own config binds the key first; pairtui's block, later, binds it over.
    A tmux server started from that config gives the host's binding back on uninstall."""
    conf = tmp_path / "tmux.conf"
    mine = r'bind-key -r P display-message "mine \"quoted\" $HOME ## \\; end"'
    conf.write_text(mine + "\n")
    tmux_host.run("source-file", str(conf))
    before = key_row(tmux_host, "P")
    install(Tmux(tmux_host.socket), "P", conf, force=True)
    assert "@pairtui-replaced" in conf.read_text()

    fresh = start_tmux(Path(os.environ["TMUX_TMPDIR"]), session="fresh")
    try:
        fresh.run("source-file", str(conf))
        assert bound(fresh) == ["P"]
        # Without a server to ask, the block keeps what it had kept.
        install(None, "P", conf)
        assert "@pairtui-replaced" in conf.read_text()
        uninstall(Tmux(fresh.socket), conf)
        assert key_row(fresh, "P") == before
    finally:
        fresh.kill()
    assert conf.read_text() == mine + "\n"


def test_a_binding_the_host_made_over_pairtuis_key_is_not_undone(tmux_host: TmuxHost) -> None:
    tmux_host.run("bind-key", "P", "display-message", "old")
    tmux = Tmux(tmux_host.socket)
    install(tmux, "P", None, force=True)
    tmux_host.run("bind-key", "P", "display-message", "newer")
    newer = key_row(tmux_host, "P")
    assert uninstall(tmux, None).replaced is None
    assert key_row(tmux_host, "P") == newer


def test_uninstall_deletes_the_config_file_install_made_once_nothing_else_is_in_it(
    tmp_path: Path,
) -> None:
    conf = tmp_path / ".tmux.conf"
    install(None, "P", conf)
    assert CREATED in conf.read_text()
    install(None, "K", conf)  # a new block keeps the mark
    assert CREATED in conf.read_text()
    result = uninstall(None, conf)
    assert (result.changed, result.deleted) == (True, True)
    assert not conf.exists()
    # The host wrote in it after install: only the block goes.
    install(None, "P", conf)
    with conf.open("a") as f:
        f.write("set -g mouse on\n")
    assert not uninstall(None, conf).deleted
    assert conf.read_text() == "set -g mouse on\n"


@pytest.mark.parametrize("text", ["", "\n"], ids=["empty", "blank-line"])
def test_uninstall_keeps_a_config_file_the_host_had_even_empty(tmp_path: Path, text: str) -> None:
    conf = tmp_path / ".tmux.conf"
    conf.write_text(text)
    install(None, "P", conf)
    assert CREATED not in conf.read_text()
    assert not uninstall(None, conf).deleted
    assert conf.exists() and conf.read_text() == ""


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
        "replaced": None,
        "deleted": False,
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
