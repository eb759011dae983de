"""`pairtui` as a user starts it, in an 80x24 terminal: the real process on a real tmux
server, a real OpenSSH guest, the screen read as the terminal draws it."""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pexpect
import pyte
import pytest
from support import SshGuest, TmuxHost, pairtui, share_host_session, wait_until
from test_control import invite

from pairtui.app.dialogs import KnockDialog
from pairtui.registry import Mode, Registry

pytestmark = pytest.mark.e2e

COLS, ROWS = 80, 24


class SmallDashboard:
    """`pairtui` with no command in an 80x24 terminal."""

    def __init__(self, tmux_socket: Path) -> None:
        self.screen = pyte.Screen(COLS, ROWS)
        self.stream = pyte.ByteStream(self.screen)
        self.child = pexpect.spawn(
            sys.executable, ["-m", "pairtui", "--port", "0", "--tmux-socket", str(tmux_socket)],
            dimensions=(ROWS, COLS), env={**os.environ, "TERM": "xterm-256color"},
        )  # fmt: skip

    def lines(self) -> list[str]:
        while True:
            try:
                data = self.child.read_nonblocking(65536, timeout=0.05)
            except (pexpect.TIMEOUT, pexpect.EOF):
                break
            self.stream.feed(data)
        return list(self.screen.display)

    def shows(self, *texts: str, what: str) -> list[str]:
        """Wait until every text is on the screen, whole; the screen then."""

        def seen() -> list[str] | None:
            lines = self.lines()
            return lines if all(t in "\n".join(lines) for t in texts) else None

        try:
            return wait_until(seen, timeout=20, what=what)
        except AssertionError as exc:  # say what the terminal showed instead
            raise AssertionError(f"{exc}\n" + "\n".join(self.screen.display)) from None


@pytest.fixture
def dashboard(tmux_host: TmuxHost) -> Iterator[SmallDashboard]:
    d = SmallDashboard(tmux_host.socket)
    yield d
    if d.child.isalive():
        d.child.terminate(force=True)


def test_the_dashboard_works_in_80x24_with_a_guest_in(
    dashboard: SmallDashboard,
    tmux_host: TmuxHost,
    keys: Callable[[str], Path],
    guests: Callable[..., SshGuest],
) -> None:
    share_host_session(tmux_host)
    invite("bob", keys("bob"), Mode.VIEW)
    top = dashboard.shows("1 share live", what="the dashboard to serve")[0]
    port = re.search(r"pairtui · 127\.0\.0\.1:(\d+) · up", top)
    assert port, top
    guest = guests(int(port[1]), keys("bob"))

    lines = dashboard.shows("1 share live · 1 connected · 1 guest", "bob", what="bob's row")
    assert "? Help" in lines[-1] and "q Quit" in lines[-1], lines[-1]
    assert "Joined" in "\n".join(lines) and "Size" in "\n".join(lines)  # every column

    dashboard.child.send("m")  # bob watches; letting him type asks first
    dashboard.shows("Let bob type?", "Cancel (n)", "Pair (y)", what="the question")
    dashboard.child.send("y")
    wait_until(
        lambda: (
            [c["readonly"] for c in tmux_host.clients() if c["session"].startswith("pairtui-")]
            == ["0"]
        ),
        timeout=10,
        what="bob's tmux client to take keys",
    )
    assert Registry().get("bob").mode is Mode.PAIR

    dashboard.child.send("2")
    dashboard.child.send("a")
    lines = dashboard.shows("Add a guest", "Cancel", "Add guest", what="the add-guest dialog")
    dashboard.child.send("\x1b")
    dashboard.shows("a Add", "? Help", "q Quit", what="the Guests tab")

    dashboard.child.send("q")  # bob is connected: asks first
    dashboard.shows("Quit (y)", what="the quit question")
    dashboard.child.send("y")
    dashboard.child.expect(pexpect.EOF, timeout=15)
    dashboard.child.close()
    assert dashboard.child.exitstatus == 0
    wait_until(lambda: not guest.child.isalive(), timeout=10, what="bob's ssh to end")


def test_a_knock_is_answered_in_the_dashboard_s_dialog(
    dashboard: SmallDashboard,
    tmux_host: TmuxHost,
    keys: Callable[[str], Path],
    guests: Callable[..., SshGuest],
) -> None:
    """Issue 17: the real dashboard process asks, and admits the guest as pair."""
    share_host_session(tmux_host)
    top = dashboard.shows("1 share live", what="the dashboard to serve")[0]
    port = re.search(r"pairtui · 127\.0\.0\.1:(\d+) · up", top)
    assert port, top
    res = pairtui("door", "open", "--for", "5m")
    assert res.returncode == 0 and "the door is open" in res.stdout, res
    guest = guests(int(port[1]), keys("carol"))
    guest.wait_for("Read this code to the host:")
    code = guest.text().split("Read this code to the host: ", 1)[1].split()[0]
    dashboard.shows(f"Someone knocks: {code}", "Admit as pair (p)", "Deny (d)",
                    what="the knock dialog")  # fmt: skip
    # The dialog takes no answer in its first second (it opens over the host's typing).
    time.sleep(KnockDialog.KEY_GRACE + 0.3)
    dashboard.child.send("p")
    wait_until(
        lambda: (
            [c["readonly"] for c in tmux_host.clients() if c["session"].startswith("pairtui-")]
            == ["0"]
        ),
        timeout=10,
        what="the same connection in the share, taking keys",
    )
    dashboard.shows("1 connected", what="the guest's row")
    [guest_row] = Registry().guests().values()
    assert guest_row.mode is Mode.PAIR
