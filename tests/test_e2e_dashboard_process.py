"""`pairtui` as a user starts it: the real process in a terminal, not the app in-process."""

from __future__ import annotations

import os
import re
import sys

import pexpect
import pyte
import pytest
from support import TmuxHost, wait_until

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
