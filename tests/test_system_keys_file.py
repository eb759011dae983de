"""The guest user's authorized_keys: its lines, forced commands, and the file itself."""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from pairtui.authorized_keys import GuestKey, parse_public_keys
from pairtui.registry import Guest, Mode
from pairtui.shares import Share
from pairtui.system import keys_file
from pairtui.system.keys_file import FILE_HEADER, MARKER
from pairtui.system.state import SystemState
from pairtui.tmux import tmux_binary

KEY = parse_public_keys(
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMpRjh/v0pOxIunV+eXJNQ6ZQYk0Y1nq6l3m5ZlQyQxh c\n"
)[0]
ONE = Share("main", "session", "work", None, "/tmp/tmux-1000/default", "2026-01-01T00:00:00Z")
TWO = Share("it's", "session", "play", None, "/tmp/tmux-1000/default", "2026-01-02T00:00:00Z")


def attach(session: str, readonly: bool) -> str:
    flags = "read-only,ignore-size" if readonly else "ignore-size"
    return shlex.join([tmux_binary(), "-u", "-S", "/tmp/tmux-1000/default", "attach-session",
                       "-t", f"={session}", "-f", flags])  # fmt: skip


def run_forced(command: str, asked: str = "", typed: str = "") -> str:
    """Run a forced command as sshd would (``sh -c``), tmux swapped for ``echo``."""
    res = subprocess.run(
        ["sh", "-c", command.replace(tmux_binary(), "echo tmux")],
        input=typed, capture_output=True, text=True, timeout=10, check=False,
        env={"PATH": os.environ["PATH"], "SSH_ORIGINAL_COMMAND": asked},
    )  # fmt: skip
    assert res.returncode == 0 and res.stderr == "", res
    return res.stdout


def test_with_one_share_the_command_is_the_attach_and_the_marker() -> None:
    viewer = Guest("alice", Mode.VIEW, None, None, [KEY])
    command = keys_file.forced_command(viewer, [ONE])
    assert command.endswith(f"; : {MARKER}alice")
    assert f"'') {attach('pairtui-main-view', readonly=True)};;" in command
    pairer = Guest("bob", Mode.PAIR, None, None, [KEY])
    assert f"'') {attach('pairtui-main-pair', readonly=False)};;" in (
        keys_file.forced_command(pairer, [ONE])
    )
    assert "attach-session -t =pairtui-main-view" in run_forced(command)
    assert "attach-session -t =pairtui-main-view" in run_forced(command, "main")


def test_a_name_that_is_not_a_share_the_guest_may_join_gets_the_names_it_may() -> None:
    guest = Guest("alice", Mode.VIEW, None, None, [KEY])
    command = keys_file.forced_command(guest, [ONE, TWO])
    said = run_forced(command, "vim; rm -rf ~ $(id)")
    assert said == "pairtui: no such share for you; you may join: main, it's\n"
    invited = Guest("bob", Mode.VIEW, "main", None, [KEY])
    said = run_forced(keys_file.forced_command(invited, [ONE, TWO]), "it's")
    assert said == "pairtui: no such share for you; you may join: main\n"  # not a word of it's


def test_with_several_shares_and_none_named_the_guest_picks_by_number_or_name() -> None:
    guest = Guest("alice", Mode.VIEW, None, None, [KEY])
    command = keys_file.forced_command(guest, [ONE, TWO])
    asked = run_forced(command, "", "2\n")
    assert asked.startswith("pairtui: 2 shares you may join:\n  1) main\n  2) it's\n")
    assert "join which (number or name)? " in asked
    assert asked.rstrip().endswith("attach-session -t =pairtui-it's-view -f read-only,ignore-size")
    assert "=pairtui-main-view" in run_forced(command, "", "main\n")
    assert run_forced(command, "", "$(id)\n").endswith("pairtui: nothing joined\n")
    assert run_forced(command, "", "").endswith("pairtui: nothing joined\n")  # Ctrl-D
    # By name after ssh, as with the embedded server.
    assert run_forced(command, "it's").startswith("tmux ")


def test_a_guest_without_a_running_share_gets_a_message_not_tmux() -> None:
    guest = Guest("alice", Mode.PAIR, "elsewhere", None, [KEY])
    command = keys_file.forced_command(guest, [ONE])
    assert command.startswith("echo 'pairtui: the share you were invited to is not running")
    assert "tmux" not in command and command.endswith(f"; : {MARKER}alice")


def test_key_line_quotes_the_command_and_states_the_expiry_in_utc() -> None:
    expires = datetime(2026, 12, 1, 11, 0, tzinfo=timezone(timedelta(hours=1)))
    guest = Guest("alice", Mode.VIEW, None, expires, [KEY])
    line = keys_file.key_line(guest, GuestKey(KEY.key, "laptop"), 'echo "hi"')
    assert line == (
        'restrict,pty,expiry-time="20261201100000Z",command="echo \\"hi\\"" '
        f"{KEY.openssh} pairtui:alice laptop"
    )
    plain = keys_file.key_line(Guest("bob", keys=[KEY]), GuestKey(KEY.key), "true")
    assert plain == f'restrict,pty,command="true" {KEY.openssh} pairtui:bob'


def test_render_has_a_line_per_key_of_each_unexpired_guest() -> None:
    past = datetime.now(UTC) - timedelta(minutes=1)
    guests = [
        Guest("alice", Mode.VIEW, None, None, [KEY, GuestKey(KEY.key, "second")]),
        Guest("gone", Mode.VIEW, None, past, [KEY]),
        Guest("keyless", Mode.PAIR),
        Guest("bob", Mode.PAIR, None, None, [KEY]),
    ]
    text = keys_file.render(guests, [ONE])
    assert text.startswith(FILE_HEADER)
    assert keys_file.written_by_pairtui(text)
    assert [line for line in text.splitlines() if line.startswith("# guest")] == [
        "# guest alice: view",
        "# guest bob: pair",
    ]
    assert keys_file.key_count(text) == 3
    assert keys_file.render([], [ONE]) == FILE_HEADER
    assert keys_file.key_count(FILE_HEADER) == 0


def test_only_a_file_with_pairtuis_header_is_pairtuis() -> None:
    assert keys_file.written_by_pairtui(FILE_HEADER)
    assert not keys_file.written_by_pairtui(f"{KEY.openssh} someone\n")
    assert not keys_file.written_by_pairtui("\n" + FILE_HEADER)


def test_the_digest_follows_the_text() -> None:
    a, b = keys_file.render([], [ONE]), keys_file.render([Guest("x", keys=[KEY])], [ONE])
    assert keys_file.digest(a) == keys_file.digest(a) != keys_file.digest(b)
    assert len(keys_file.digest("\udcff")) == 64  # undecodable bytes read back still hash


@pytest.mark.skipif(os.geteuid() != 0, reason="the file is root's: writing it needs root")
def test_the_file_is_roots_and_readable_by_the_guests_group(tmp_path: Path) -> None:
    (tmp_path / ".ssh").mkdir()
    state = SystemState("guest", 54321, 54321, str(tmp_path), True, False, False, 1000)
    assert keys_file.read_keys_file(state) is None
    text = keys_file.render([Guest("alice", keys=[KEY])], [ONE]) + "# caf\udce9\n"
    keys_file.write_keys_file(state, text)
    st = state.authorized_keys.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, 54321, 0o640)
    assert state.authorized_keys.read_bytes().endswith(b"# caf\xe9\n")
    assert keys_file.read_keys_file(state) == text
