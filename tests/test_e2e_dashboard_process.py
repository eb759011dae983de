"""`pairtui` as a user starts it: the real process in a terminal, not the app in-process."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pexpect
import pyte
import pytest
from support import TmuxHost, keygen, pairtui, wait_until

pytestmark = pytest.mark.e2e


def test_pairtui_with_no_command_opens_the_dashboard_serves_and_quits(
    tmux_host: TmuxHost,
) -> None:
    screen = pyte.Screen(120, 40)
    stream = pyte.ByteStream(screen)
    child = pexpect.spawn(
        sys.executable, ["-m", "pairtui", "--port", "0", "--tmux-socket", str(tmux_host.socket)],
        dimensions=(40, 120), env={**os.environ, "TERM": "xterm-256color"},
    )  # fmt: skip

    def text() -> str:
        while True:
            try:
                stream.feed(child.read_nonblocking(65536, timeout=0.05))
            except (pexpect.TIMEOUT, pexpect.EOF):
                break
        return "\n".join(screen.display)

    try:
        serving = wait_until(
            lambda: re.search(r"serving on 127\.0\.0\.1:(\d+)", text()), timeout=30,
            what="the dashboard to serve",
        )  # fmt: skip
        assert int(serving[1]) > 0
        assert "Traceback" not in text() and "Error" not in text()
        child.send("q")  # no guests: quits without asking
        child.expect(pexpect.EOF, timeout=15)
        child.close()
        assert child.exitstatus == 0
    finally:
        if child.isalive():
            child.terminate(force=True)


def test_a_hostile_key_comment_never_reaches_the_hosts_terminal(
    tmux_host: TmuxHost, tmp_path: Path
) -> None:
    """What the dashboard writes to the terminal: the comment's escapes, never its bytes."""
    pub = keygen(tmp_path, "mallory").with_suffix(".pub")
    kind, blob = pub.read_text().split()[:2]
    pub.write_text(f"{kind} {blob} m\x1b]52;c;aGFja2Vk\x07\x1b]0;pwned\x07\x1b[2J\u202eevil\n")
    assert pairtui("guest", "add", "mallory", "--key", str(pub)).returncode == 0
    screen = pyte.Screen(120, 40)
    stream = pyte.ByteStream(screen)
    raw = bytearray()
    child = pexpect.spawn(
        sys.executable, ["-m", "pairtui", "--port", "0", "--tmux-socket", str(tmux_host.socket)],
        dimensions=(40, 120), env={**os.environ, "TERM": "xterm-256color"},
    )  # fmt: skip

    def text() -> str:
        while True:
            try:
                data = child.read_nonblocking(65536, timeout=0.05)
            except (pexpect.TIMEOUT, pexpect.EOF):
                break
            raw.extend(data)
            stream.feed(data)
        return "\n".join(screen.display)

    try:
        wait_until(lambda: "serving on" in text(), timeout=30, what="the dashboard to serve")
        child.send("2")  # the Guests tab: mallory's row and, under it, her key's comment

        def comment_shown() -> str | None:
            shown = text()
            return shown if "\\x1b]52;c;aGFja2Vk\\x07" in shown else None

        shown = wait_until(comment_shown, timeout=15, what="the escaped comment")
        assert "\\x1b]0;pwned\\x07\\x1b[2J\\u202eevil" in shown
        for sequence in (b"\x1b]52;c;aGFja2Vk", b"\x1b]0;pwned", b"\x07\x1b[2J", "\u202e".encode()):
            assert sequence not in raw, sequence
        child.send("q")
        child.expect(pexpect.EOF, timeout=15)
    finally:
        if child.isalive():
            child.terminate(force=True)
