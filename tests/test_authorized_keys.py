"""The one authorized_keys line format: what line_for writes is what sshd (and pairtui's
own reader) reads back, for the registry's and the system guests' forced commands."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pairtui.authorized_keys import KEY_TAG, GuestKey, line_for, option_expiry, parse_entry
from pairtui.authorized_keys import parse_public_keys as parse_keys

WHEN = datetime(2026, 12, 31, 23, 59, 58, tzinfo=UTC)


def _key(keys: Callable[[str], Path], name: str) -> GuestKey:
    [key] = parse_keys(keys(name).with_name(f"{name}.pub").read_text())
    return key


@pytest.mark.parametrize(
    "command",
    ["/usr/bin/python3 -m pairtui join alice",
     'case "$SSH_ORIGINAL_COMMAND" in demo) tmux attach -t =pairtui-demo-view;; esac'],
)  # fmt: skip
def test_a_line_reads_back_as_its_key_options_and_command(
    keys: Callable[[str], Path], command: str
) -> None:
    key = _key(keys, "alice")
    line = line_for("alice", WHEN, key, command)
    parsed = parse_entry(line)
    assert parsed is not None
    back, options = parsed
    assert back.blob == key.blob and back.comment.startswith(f"{KEY_TAG}alice")
    assert options.startswith("restrict,pty,")
    assert option_expiry(options) == WHEN
    # sshd's dequoting: \" is the one escape
    quoted = options.split('command="', 1)[1][:-1]
    assert quoted.replace('\\"', '"') == command


def test_without_an_expiry_there_is_no_expiry_option(keys: Callable[[str], Path]) -> None:
    line = line_for("bob", None, _key(keys, "bob"), "true")
    assert "expiry-time" not in line and line.startswith('restrict,pty,command="true" ')


def test_ssh_keygen_reads_the_line_as_a_key(keys: Callable[[str], Path], tmp_path: Path) -> None:
    """OpenSSH's own tools take the file (ssh-keygen -l reads authorized_keys lines)."""
    key = _key(keys, "carol")
    path = tmp_path / "authorized_keys"
    path.write_text(line_for("carol", WHEN, key, 'echo "hi"') + "\n")
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(path)],
                         capture_output=True, text=True, check=True, timeout=10).stdout  # fmt: skip
    assert key.fingerprint in out and f"{KEY_TAG}carol" in out
