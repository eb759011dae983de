"""The record of what setup did: it reads back as written, and a broken one says so."""

from __future__ import annotations

import os
import stat

import pytest

from pairtui.errors import PairtuiError
from pairtui.system.state import SystemState, load_state, save_state, state_file, state_lock


def test_the_record_reads_back_as_written() -> None:
    assert load_state() is None
    state = SystemState("guest", 54321, 54321, "/home/guest", True, True, False, os.getuid(),
                        ["/tmp/tmux-1000/default", "/tmp/tmux-1000"], ["/tmp/tmux-1000/default"],
                        "ab" * 32)  # fmt: skip
    save_state(state)
    assert load_state() == state
    assert stat.S_IMODE(state_file().stat().st_mode) == 0o600
    assert state.authorized_keys.as_posix() == "/home/guest/.ssh/authorized_keys"


@pytest.mark.parametrize("text", ["{", "[]", '{"user": "guest"}'], ids=["json", "list", "fields"])
def test_a_broken_record_is_an_error_that_names_the_file(text: str) -> None:
    state_file().parent.mkdir(parents=True, exist_ok=True)
    state_file().write_text(text)
    with pytest.raises(PairtuiError, match="is not a valid system-guest record"):
        load_state()


def test_the_lock_file_is_made_once_and_kept() -> None:
    state_file().parent.mkdir(parents=True, exist_ok=True)
    lock = state_file().with_name("system.json.lock")
    with state_lock(os.getuid()):
        assert lock.exists()
    with state_lock(os.getuid()):
        pass
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600
