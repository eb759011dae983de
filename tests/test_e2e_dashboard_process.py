"""`pairtui` as a user starts it: the real process in a terminal, not the app in-process."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pexpect
import pyte
import pytest
from support import TmuxHost, keygen, pairtui, wait_until

pytestmark = pytest.mark.e2e


class Dashboard:
    """`pairtui` with no command, in a 120x40 terminal: its screen and every byte it wrote."""

    def __init__(self, tmux_socket: Path) -> None:
        self.screen = pyte.Screen(120, 40)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()
        self.child = pexpect.spawn(
            sys.executable, ["-m", "pairtui", "--port", "0", "--tmux-socket", str(tmux_socket)],
            dimensions=(40, 120), env={**os.environ, "TERM": "xterm-256color"},
        )  # fmt: skip

    def text(self) -> str:
        while True:
            try:
                data = self.child.read_nonblocking(65536, timeout=0.05)
            except (pexpect.TIMEOUT, pexpect.EOF):
                break
            self.raw.extend(data)
            self.stream.feed(data)
        return "\n".join(self.screen.display)


@pytest.fixture
def dashboards(tmux_host: TmuxHost) -> Iterator[Callable[[], Dashboard]]:
    """Start dashboards on the test's tmux server; each still running is ended."""
    started: list[Dashboard] = []

    def start() -> Dashboard:
        started.append(Dashboard(tmux_host.socket))
        return started[-1]

    yield start
    for d in started:
        if d.child.isalive():
            d.child.terminate(force=True)


def test_pairtui_with_no_command_opens_the_dashboard_serves_and_quits(
    dashboards: Callable[[], Dashboard],
) -> None:
    dashboard = dashboards()
    serving = wait_until(
        lambda: re.search(r"serving on 127\.0\.0\.1:(\d+)", dashboard.text()), timeout=30,
        what="the dashboard to serve",
    )  # fmt: skip
    assert int(serving[1]) > 0
    assert "Traceback" not in dashboard.text() and "Error" not in dashboard.text()
    dashboard.child.send("q")  # no guests: quits without asking
    dashboard.child.expect(pexpect.EOF, timeout=15)
    dashboard.child.close()
    assert dashboard.child.exitstatus == 0


def test_a_hostile_key_comment_never_reaches_the_hosts_terminal(
    dashboards: Callable[[], Dashboard], tmp_path: Path
) -> None:
    """What the dashboard writes to the terminal: the comment's escapes, never its bytes."""
    pub = keygen(tmp_path, "mallory").with_suffix(".pub")
    kind, blob = pub.read_text().split()[:2]
    pub.write_text(f"{kind} {blob} m\x1b]52;c;aGFja2Vk\x07\x1b]0;pwned\x07\x1b[2J\u202eevil\n")
    assert pairtui("guest", "add", "mallory", "--key", str(pub)).returncode == 0
    dashboard = dashboards()
    wait_until(lambda: "serving on" in dashboard.text(), timeout=30, what="serving")
    dashboard.child.send("2")  # the Guests tab: mallory's row and, under it, her comment

    def comment_shown() -> str | None:
        shown = dashboard.text()
        return shown if "\\x1b]52;c;aGFja2Vk\\x07" in shown else None

    shown = wait_until(comment_shown, timeout=15, what="the escaped comment")
    assert "\\x1b]0;pwned\\x07\\x1b[2J\\u202eevil" in shown
    for sequence in (b"\x1b]52;c;aGFja2Vk", b"\x1b]0;pwned", b"\x07\x1b[2J", "\u202e".encode()):
        assert sequence not in dashboard.raw, sequence
    dashboard.child.send("q")
    dashboard.child.expect(pexpect.EOF, timeout=15)
