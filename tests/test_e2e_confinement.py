"""A guest stays in its share whatever the host opens in a shared pane.

tmux modes belong to a pane, so a chooser the host opens in a shared pane is driven by
the keys of every pair guest who sees it; prompts and overlays belong to one client.
Here the host opens each of them in a pane that a window share and a whole-session
share both show, and two pair guests (the real OpenSSH client) press what would act.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pexpect
import pyte
import pytest
from support import (
    Server,
    SshGuest,
    TmuxHost,
    add_guest,
    holds_for,
    key_table,
    start_server,
    type_in_host,
    wait_until,
)

from pairtui.shares import ShareStore
from pairtui.tmux import Tmux

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]

SECRET = "SECRET-SESSION-42"  # printed in the host's private session
OTHER = "OTHER-WINDOW-42"  # in a window of the shared session, not of the shared window
BUFFER = "BUFFER-SECRET-42"  # a paste buffer of the host's
BUFFER_NAME = "hostbuf"  # its name (a chooser's menu is titled with it)
MENU = "Scroll Right"  # an item of every chooser's menu (tmux's right click)
PRIVATE = "privy"  # the private session's name

UP, DOWN, RIGHT, LEFT = "\x1b[A", "\x1b[B", "\x1b[C", "\x1b[D"


class HostTerminal:
    """The host's own terminal: a real tmux client in a PTY, rendered with pyte.

    It runs under ``sh`` so that a client killed with its parent (choose-client ``x``)
    takes the shell down, not the test process.
    """

    def __init__(self, host: TmuxHost, session: str, size: tuple[int, int] = (120, 40)) -> None:
        cols, rows = size
        self.child = pexpect.spawn(
            "sh", ["-c", f"tmux -S '{host.socket}' attach-session -t '={session}'; :"],
            dimensions=(rows, cols), env=dict(os.environ),
        )  # fmt: skip
        self.child.delaybeforesend = None
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)

    def pump(self, reads: int = 64) -> None:
        """Read what arrived (bounded: the pane may never stop printing)."""
        for _ in range(reads):
            try:
                data = self.child.read_nonblocking(65536, timeout=0.02)
            except (pexpect.TIMEOUT, pexpect.EOF, OSError):
                return
            self.stream.feed(data)

    def text(self) -> str:
        self.pump()
        return "\n".join(self.screen.display)

    def close(self) -> None:
        self.child.close(force=True)


@dataclass
class Scene:
    """The host (its terminal attached to ``host``) and one pair guest per share."""

    host: TmuxHost
    terminal: HostTerminal
    host_tty: str
    pane: str
    window_guest: SshGuest
    session_guest: SshGuest
    sessions_before: list[str]
    windows_before: list[str]
    options_before: list[str]
    canary: Path

    def guests(self) -> list[tuple[SshGuest, str, list[str]]]:
        """Each guest, its share, and what it must never see."""
        return [
            (self.window_guest, "win", [SECRET, PRIVATE, BUFFER, BUFFER_NAME, OTHER, MENU]),
            (self.session_guest, "sess", [SECRET, PRIVATE, BUFFER, BUFFER_NAME, MENU]),
        ]


def _sessions(host: TmuxHost) -> list[str]:
    return sorted(host.run("list-sessions", "-F", "#{session_id} #{session_name}").splitlines())


def _windows(host: TmuxHost) -> list[str]:
    """Which window is in which session (names follow the pane's mode: left out)."""
    fmt = "#{session_name} #{window_id} #{window_index}"
    return sorted(host.run("list-windows", "-a", "-F", fmt).splitlines())


def _options(host: TmuxHost) -> list[str]:
    """The host's server, session and window options (not user options: pairtui's own
    status line lives in one)."""
    rows: list[str] = []
    for args in (["show", "-s"], ["show", "-g"], ["show", "-gw"]):
        rows += [r for r in host.run(*args).splitlines() if not r.startswith("@")]
    return rows


def _tty_in(host: TmuxHost, prefix: str) -> str:
    found = [c["tty"] for c in host.clients() if c["session"].startswith(prefix)]
    assert len(found) == 1, host.clients()
    return found[0]


@pytest.fixture
def scene(
    tmux_host: TmuxHost, keys: Callable[[str], Path], guests: Connect, tmp_path: Path
) -> Iterator[Scene]:
    host = tmux_host
    host.run("new-session", "-d", "-s", PRIVATE, "-x", "80", "-y", "24")
    type_in_host(host, "echo SECRET-SESSION-$((40+2))", target=PRIVATE)
    host.run("new-window", "-d", "-t", "host:1", "-n", "otherwin")
    type_in_host(host, "echo OTHER-WINDOW-$((40+2))", target="host:1")
    host.run("set-buffer", "-b", BUFFER_NAME, BUFFER)
    type_in_host(host, "echo SHARED-$((2+2))", target="host:0")
    pane = host.run("display-message", "-p", "-t", "host:0", "#{pane_id}").strip()
    store, tmux = ShareStore(), Tmux(host.socket)
    store.create(tmux, pane=pane, name="win")
    store.create(tmux, session="host", name="sess")
    add_guest("alice", keys("alice"), "--mode", "pair", "--share", "win")
    add_guest("bob", keys("bob"), "--mode", "pair", "--share", "sess")
    terminal = HostTerminal(host, "host")
    srv: Server = start_server()
    try:
        host_tty = wait_until(
            lambda: next((c["tty"] for c in host.clients() if c["session"] == "host"), None),
            what="the host's terminal",
        )
        window_guest = guests(srv.port, keys("alice"), command="win", size=(100, 30))
        session_guest = guests(srv.port, keys("bob"), command="sess", size=(100, 30))
        for g in (window_guest, session_guest):
            g.child.delaybeforesend = None  # pexpect sleeps 50 ms before each send otherwise
            g.wait_for("SHARED-4")
        yield Scene(
            host, terminal, host_tty, pane, window_guest, session_guest,
            _sessions(host), _windows(host), _options(host), tmp_path / "canary",
        )  # fmt: skip
    finally:
        srv.stop()
        terminal.close()


def _drain(guest: SshGuest, reads: int = 64) -> str:
    """What the guest's terminal received so far (a bounded read: a flood never ends)."""
    for _ in range(reads):
        try:
            data = guest.child.read_nonblocking(65536, timeout=0)
        except (pexpect.TIMEOUT, pexpect.EOF, OSError):
            break
        guest.raw += data
        guest.stream.feed(data)
    return guest.raw.decode("utf-8", "replace")


def _confined(scene: Scene, options: bool = False, screens: bool = True) -> bool:
    """Raise with a reason unless every guest is in its share and the host is unharmed."""
    host = scene.host
    where = {c["tty"]: c["session"] for c in host.clients()}
    if not where:  # no client at all: say whether the tmux server itself is gone
        alive = Path(f"/proc/{host.pid}").exists()
        raise AssertionError(f"no tmux client is attached; the tmux server (pid {host.pid}) "
                             f"{'is still running' if alive else 'has exited'}")  # fmt: skip
    assert scene.host_tty in where, f"the host's terminal was detached: {where}"
    in_shares = sorted(s for s in where.values() if s.startswith("pairtui-"))
    assert in_shares == ["pairtui-sess-pair", "pairtui-win-pair"], f"a guest left: {where}"
    assert _sessions(host) == scene.sessions_before, "a session was created, renamed or killed"
    windows = _windows(host)
    assert windows == scene.windows_before, f"a window was created, moved or killed: {windows}"
    assert not scene.canary.exists(), "a guest ran a tmux command"
    for guest, name, secrets in scene.guests() if screens else []:
        seen = _drain(guest)
        for secret in secrets:
            assert secret not in seen, f"the {name} guest was shown {secret!r}"
    if options:
        assert _options(host) == scene.options_before, "an option of the host's changed"
    return True


def _settle(host: TmuxHost, guest: SshGuest, tty: str) -> None:
    """Prove tmux has handled everything a guest sent: its prefix shows in its key table.

    C-g first cancels a prompt the guest may have opened on its own client (copy mode's
    goto-line, say); otherwise it reaches the pane as a bell.
    """
    guest.send("\x07\x02")
    wait_until(lambda: key_table(host, tty) == "pairtui-pair-prefix", what="the guest's prefix")
    guest.send("\x07")  # unbound after the prefix: back to the root table
    wait_until(lambda: key_table(host, tty) == "pairtui-pair", what="the guest back in its root")


class ModeCase(NamedTuple):
    test_id: str
    open: list[str]  # {pane} and {client} are filled in
    closed: bool  # pairtui closes it at once


MODES = [
    ModeCase("choose-tree", ["choose-tree", "-t", "{pane}"], True),
    ModeCase("choose-client", ["choose-client", "-t", "{pane}"], True),
    ModeCase("choose-buffer", ["choose-buffer", "-t", "{pane}"], True),
    ModeCase("customize-mode", ["customize-mode", "-t", "{pane}"], True),
    ModeCase("copy-mode", ["copy-mode", "-t", "{pane}"], False),
    ModeCase("clock-mode", ["clock-mode", "-t", "{pane}"], False),
    ModeCase("display-panes", ["display-panes", "-b", "-t", "{client}", "-d", "0"], False),
    ModeCase("command-prompt", ["command-prompt", "-b", "-t", "{client}"], False),
]


def _steps(canary: Path) -> list[list[str]]:
    """What a pair guest presses, one step at a time."""
    return [
        [DOWN, "\r"],
        ["x", "y"],
        ["y"],
        [":", f"run-shell 'touch {canary}'", "\r"],
        ["d"],
        ["D"],
        [UP, DOWN, LEFT, RIGHT],
        [str(i) for i in range(10)],
    ]


@pytest.mark.parametrize("case", MODES, ids=[c.test_id for c in MODES])
def test_pair_guests_keys_in_a_mode_the_host_opened_stay_in_the_share(
    case: ModeCase, scene: Scene
) -> None:
    host = scene.host
    argv = [a.format(pane=scene.pane, client=scene.host_tty) for a in case.open]
    for step in _steps(scene.canary):
        for guest, _, _ in scene.guests():
            host.run(*argv, check=False)  # (re)open it: it may have closed
            for keys in step:
                guest.send(keys)
        holds_for(lambda: _confined(scene), 0.1, interval=0.05)
    if case.closed:
        assert host.run("display-message", "-p", "-t", scene.pane, "#{pane_in_mode}").strip() == "0"
    # Let tmux finish with everything the guests sent, then look once more.
    host.run("copy-mode", "-q", "-t", scene.pane)
    scene.terminal.child.send("\x1b")  # a prompt or overlay on the host's own terminal
    for guest, name, _ in scene.guests():
        _settle(host, guest, _tty_in(host, f"pairtui-{name}-"))
    assert _confined(scene, options=True)


@pytest.mark.parametrize(
    ("key", "command"),
    [("s", "choose-tree"), ("D", "choose-client"), ("=", "choose-buffer"), ("C", "customize-mode")],
)
def test_the_host_is_told_in_one_line_why_its_chooser_closed(
    key: str, command: str, scene: Scene
) -> None:
    scene.terminal.child.send("\x02" + key)  # the host's own default binding
    wait_until(
        lambda: f"pairtui: {command} closed: guests can see this pane" in scene.terminal.text(),
        what="the host told why",
    )
    assert scene.host.run("display-message", "-p", "-t", scene.pane, "#{pane_mode}").strip() == ""
    assert _confined(scene)
    for guest, _, _ in scene.guests():
        assert "guests can see this pane" not in guest.output


class RaceCase(NamedTuple):
    test_id: str
    host_keys: str  # pressed on the host's terminal: its own default binding
    guest_keys: str  # pressed by the window guest


RACES = [
    RaceCase("choose-client-d", "\x02D", "d"),  # detach the selected client
    RaceCase("choose-buffer-enter", "\x02=", "\r"),  # paste the host's buffer
    RaceCase("choose-tree-enter", "\x02s", "\r"),  # switch to the selected session
    # The mouse, in both of the encodings tmux reads (SGR and X10). A click in
    # choose-tree's preview chooses at once (the guest's client was switched to the
    # clicked window, the host's session with it, and the race now and then ended the
    # host's tmux server); a right click opens a chooser's menu on the clicking client,
    # titled with the clicked session's, buffer's or client's name.
    RaceCase("choose-tree-click", "\x02s", "\x1b[<0;20;22M\x1b[<0;20;22m"),
    RaceCase("choose-tree-click-x10", "\x02s", "\x1b[M 46\x1b[M#46"),
    RaceCase("choose-tree-right-click", "\x02s", "\x1b[<2;10;1M\x1b[<2;10;1m"),
    RaceCase("choose-buffer-right-click", "\x02=", "\x1b[<2;10;1M\x1b[<2;10;1m"),
    RaceCase("choose-client-right-click", "\x02D", "\x1b[<2;10;1M\x1b[<2;10;1m"),
]


@pytest.mark.parametrize("case", RACES, ids=[c.test_id for c in RACES])
def test_guest_keys_read_in_the_same_pass_as_the_hosts_never_reach_the_chooser(
    case: RaceCase, scene: Scene
) -> None:
    """tmux handles the keys it reads in one pass client by client, the host's terminal
    (the older client) first: guest keys read with the host's prefix key reach the
    chooser before any hook can close it. Stopping the tmux server while both are sent
    makes it read them in one pass, as a guest flooding keys would now and then."""
    os.kill(scene.host.pid, signal.SIGSTOP)
    try:
        scene.terminal.child.send(case.host_keys)
        scene.window_guest.send(case.guest_keys)
        time.sleep(0.3)  # through ssh and pairtui serve into the guest's terminal
    finally:
        os.kill(scene.host.pid, signal.SIGCONT)
    holds_for(lambda: _confined(scene), 0.3)
    _settle(scene.host, scene.window_guest, _tty_in(scene.host, "pairtui-win-"))
    assert _confined(scene)


def test_a_guest_client_moved_out_of_its_share_is_put_back_unseen(scene: Scene) -> None:
    """Whatever moves it (here the host, by hand, into a session nobody else is in)."""
    host = scene.host
    tty = _tty_in(host, "pairtui-win-")
    host.run("switch-client", "-c", tty, "-t", f"={PRIVATE}")
    holds_for(lambda: _confined(scene), 0.5)
    scene.window_guest.send("echo BACK-$((3+4))\r")
    wait_until(lambda: "BACK-7" in host.capture(scene.pane), what="the guest types in its share")


def test_a_chooser_open_before_sharing_is_closed_by_the_share(tmux_host: TmuxHost) -> None:
    tmux_host.run("choose-tree", "-t", "host:0")
    tmux_host.run("new-window", "-d", "-t", "host:1")
    tmux_host.run("clock-mode", "-t", "host:1")
    ShareStore().create(Tmux(tmux_host.socket), session="host", name="late")
    modes = tmux_host.run("list-panes", "-s", "-t", "host", "-F", "#{pane_mode}").split()
    assert modes == ["clock-mode"]  # the chooser is closed; the clock shows nothing private


def test_guard_hooks_are_installed_once_beside_the_hosts_own_and_removed_with_the_last_share(
    tmux_host: TmuxHost,
) -> None:
    tmux = Tmux(tmux_host.socket)
    tmux_host.run("set-hook", "-g", "client-session-changed", "display-message host-hook")
    tmux_host.run("set-hook", "-gw", "pane-mode-changed", "display-message host-mode-hook")
    stores = ShareStore()
    stores.create(tmux, session="host", name="one")
    stores.create(tmux, session="host", name="one")  # again: replaced, not stacked
    stores.create(tmux, session="host", name="two")

    def hooks() -> list[str]:
        rows = tmux_host.run("show-hooks", "-g").splitlines()
        rows += tmux_host.run("show-hooks", "-gw").splitlines()
        return [r for r in rows if r.startswith(("client-session-changed[", "pane-mode-changed["))]

    installed = hooks()
    assert [r.split(" ", 1)[0] for r in installed] == [
        "client-session-changed[0]", "client-session-changed[4242]",
        "client-session-changed[4243]", "pane-mode-changed[0]", "pane-mode-changed[4242]",
    ]  # fmt: skip
    stores.remove("one")
    assert hooks() == installed
    stores.remove("two")
    assert hooks() == [
        "client-session-changed[0] display-message host-hook",
        "pane-mode-changed[0] display-message host-mode-hook",
    ]
