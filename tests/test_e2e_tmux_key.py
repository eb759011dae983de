"""Sharing from inside tmux: the key binding, messages, the status segment."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pexpect
import pyte
import pytest
from support import (
    SshGuest,
    TmuxHost,
    add_guest,
    holds_for,
    pairtui,
    pairtui_json,
    type_in_host,
    wait_until,
)

from pairtui import control
from pairtui.events import SHARE_STOPPED, ClientInfo, ClientJoined, ClientLeft, Event
from pairtui.shares import Share
from pairtui.tmux import Tmux
from pairtui.tmux_notify import TmuxNotifier
from pairtui.tmux_plugin import BEGIN, MARK

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]


class HostTerminal:
    """The host's own tmux client in a PTY, its screen rendered with pyte."""

    def __init__(self, host: TmuxHost, cols: int = 120, rows: int = 40) -> None:
        self.child = pexpect.spawn(
            "tmux", ["-S", str(host.socket), "attach-session", "-t", "host"],
            dimensions=(rows, cols), env=dict(os.environ),
        )  # fmt: skip
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()  # every byte tmux wrote to the host's terminal

    def text(self) -> str:
        while True:
            try:
                data = self.child.read_nonblocking(65536, timeout=0.05)
            except (pexpect.TIMEOUT, pexpect.EOF):
                break
            self.raw.extend(data)
            self.stream.feed(data)
        return "\n".join(self.screen.display)

    def press(self, keys: str) -> None:
        self.child.send(keys)


@pytest.fixture
def host_term(tmux_host: TmuxHost) -> Iterator[HostTerminal]:
    term = HostTerminal(tmux_host)
    wait_until(lambda: any(c["session"] == "host" for c in tmux_host.clients()), what="host")
    yield term
    term.child.close(force=True)


@pytest.fixture
def config_port(isolated_env: Path) -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    cfg = Path(os.environ["PAIRTUI_CONFIG_DIR"])
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "config.toml").write_text(f"[server]\nport = {port}\n")
    return port


@pytest.fixture
def background_server() -> Iterator[None]:
    """Stop the server the key binding starts, by the PID it reports."""
    yield
    reply = control.request("status")
    if reply is not None:
        pid = int(reply["status"]["pid"])
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        wait_until(lambda: not _alive(pid), timeout=15, what="background server to stop")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.split(") ", 1)[1][0] != "Z"


def test_install_is_idempotent_and_uninstall_removes_it(tmux_host: TmuxHost) -> None:
    conf = Path.home() / ".tmux.conf"
    conf.write_text("set -g mouse on\n")
    for _ in range(3):
        res = pairtui("tmux", "install", "--tmux-socket", str(tmux_host.socket))
        assert res.returncode == 0, res.stderr
    bound = [r for r in tmux_host.run("list-keys", "-T", "prefix").splitlines() if MARK in r]
    assert len(bound) == 1 and bound[0].split()[3] == "P"
    text = conf.read_text()
    assert text.startswith("set -g mouse on\n")
    assert text.count(BEGIN) == 1
    # Sourcing the block again (tmux reloads) changes nothing: no second status segment.
    assert tmux_host.run("source-file", str(conf)) == ""
    status_right = tmux_host.run("show-options", "-gv", "status-right")
    assert status_right.count("@pairtui_status") == 2  # #{?@pairtui_status, ... #{@pairtui_status}}
    # Another key moves the binding.
    res = pairtui("tmux", "install", "--tmux-socket", str(tmux_host.socket), "--key", "F")
    assert res.returncode == 0, res.stderr
    bound = [r.split()[3] for r in tmux_host.run("list-keys", "-T", "prefix").splitlines()
             if MARK in r]  # fmt: skip
    assert bound == ["F"]
    assert conf.read_text().count(BEGIN) == 1 and "bind-key F " in conf.read_text()

    res = pairtui("tmux", "uninstall", "--tmux-socket", str(tmux_host.socket))
    assert res.returncode == 0, res.stderr
    assert not [r for r in tmux_host.run("list-keys", "-T", "prefix").splitlines() if MARK in r]
    assert conf.read_text() == "set -g mouse on\n"
    assert "@pairtui_status" not in tmux_host.run("show-options", "-gv", "status-right")


def test_the_key_shares_the_current_pane_and_a_second_press_stops_it(
    tmux_host: TmuxHost,
    host_term: HostTerminal,
    config_port: int,
    background_server: None,
    keys: Callable[[str], Path],
    guests: Connect,
) -> None:
    tmux_host.run("new-window", "-d", "-t", "host:1")
    type_in_host(tmux_host, "echo OTHER-WINDOW-$((9+9))", target="host:1")
    type_in_host(tmux_host, "echo THIS-PANE-$((4+4))", target="host:0")
    res = pairtui("tmux", "install", "--tmux-socket", str(tmux_host.socket))
    assert res.returncode == 0, res.stderr
    add_guest("alice", keys("alice"), "--mode", "view")

    host_term.press("\x02P")
    shares = wait_until(lambda: pairtui_json("share", "list"), timeout=20, what="share made")
    [share] = shares
    pane = tmux_host.run("display-message", "-p", "-t", "host:0", "#{window_id}").strip()
    assert share["kind"] == "window" and share["target"] == pane
    assert share["name"] == "host-0"
    # The ssh string went into a tmux buffer (and the clipboard where tmux may).
    buffer = tmux_host.run("show-buffer", "-b", "pairtui")
    assert buffer == f"ssh -p {config_port} guest@localhost"
    wait_until(lambda: "started a pairtui server" in host_term.text(), what="message shown")

    g = guests(config_port, keys("alice"))
    g.wait_for("THIS-PANE-8")
    wait_until(lambda: "alice joined (view) from 127.0.0.1" in host_term.text(),
               what="join message on the host's screen")  # fmt: skip
    wait_until(lambda: tmux_host.run("display-message", "-p", "#{@pairtui_status}").strip()
               == "1 guest: host-0(1)", what="status option")  # fmt: skip
    wait_until(lambda: "1 guest: host-0(1)" in host_term.text(), what="status segment shown")
    assert pairtui("status", "--tmux").stdout.strip() == "1 guest: host-0(1)"
    assert "OTHER-WINDOW" not in g.output

    host_term.press("\x02P")
    g.wait_exit(timeout=15)
    assert pairtui_json("share", "list") == []
    wait_until(lambda: "stopped sharing host-0" in host_term.text(), what="stop message")
    wait_until(lambda: tmux_host.run("display-message", "-p", "#{@pairtui_status}").strip() == "",
               what="status cleared")  # fmt: skip
    # No "alice left" line replaces it: the host stopped the share and was told so once.
    holds_for(lambda: "stopped sharing host-0" in host_term.text(), 1.5)


def test_install_refuses_a_taken_key_until_forced_and_uninstall_puts_it_back(
    tmux_host: TmuxHost,
) -> None:
    conf = Path.home() / ".tmux.conf"
    sock = str(tmux_host.socket)
    tmux_host.run("bind-key", "P", "display-message", "mine")
    mine = tmux_host.run("list-keys", "-T", "prefix", "P")
    res = pairtui("tmux", "install", "--tmux-socket", sock)
    assert res.returncode == 1
    assert res.stderr == (
        "pairtui: prefix + P is already bound (bind-key -T prefix P display-message mine): "
        "choose another key with --key, or replace it with --force (uninstall puts it back)\n"
    )
    assert tmux_host.run("list-keys", "-T", "prefix", "P") == mine and not conf.exists()

    res = pairtui("tmux", "install", "--tmux-socket", sock, "--force")
    assert res.returncode == 0, res.stderr
    assert ("It replaced `bind-key -T prefix P display-message mine`; "
            "`pairtui tmux uninstall` puts it back.") in res.stdout  # fmt: skip
    assert MARK in tmux_host.run("list-keys", "-T", "prefix", "P")

    res = pairtui("tmux", "uninstall", "--tmux-socket", sock)
    assert res.returncode == 0, res.stderr
    assert res.stdout == (
        f"removed the pairtui key binding and {conf}, which install had made\n"
        "put back `bind-key -T prefix P display-message mine`\n"
    )
    assert tmux_host.run("list-keys", "-T", "prefix", "P") == mine
    assert not conf.exists()


ROOT = Path(__file__).resolve().parent.parent


def tpm_clone(tmp_path: Path) -> Path:
    """pairtui.tmux as TPM clones it: a checkout with no .venv (none made by bootstrap)."""
    plugin = tmp_path / "tmux-plugins" / "pairtui" / "pairtui.tmux"
    plugin.parent.mkdir(parents=True)
    shutil.copy2(ROOT / "pairtui.tmux", plugin)
    return plugin


def run_tpm(host: TmuxHost, plugin: Path) -> None:
    """Run the entry point as TPM does, from a tmux whose PATH has no pairtui on it."""
    host.run("set-environment", "-g", "PATH", "/usr/bin:/bin")
    host.run("run-shell", str(plugin))


def install_launcher(**env: str) -> None:
    res = subprocess.run(
        [str(ROOT / "scripts" / "install-launcher")], env={**os.environ, **env},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr


def install_where_tools_do(relative: str) -> None:
    """pairtui where pipx or uv keep it: a venv's script (here, a link to this checkout's)."""
    venv_pairtui = Path(os.environ["XDG_DATA_HOME"]) / relative
    venv_pairtui.parent.mkdir(parents=True)
    venv_pairtui.symlink_to(ROOT / ".venv" / "bin" / "pairtui")


def in_login_path_only() -> None:
    """A launcher in a directory only a login shell's PATH has (tmux started before)."""
    tools = Path.home() / "tools" / "bin"
    install_launcher(XDG_BIN_HOME=str(tools))
    (Path.home() / ".profile").write_text('PATH="$HOME/tools/bin:$PATH"\n')


INSTALLS: dict[str, Callable[[], None]] = {
    "launcher-in-local-bin": install_launcher,
    "login-path": in_login_path_only,
    "pipx-venv": lambda: install_where_tools_do("pipx/venvs/pairtui/bin/pairtui"),
    "uv-tool": lambda: install_where_tools_do("uv/tools/pairtui/bin/pairtui"),
}


@pytest.mark.parametrize("install", INSTALLS.values(), ids=INSTALLS.keys())
def test_tpm_entry_point_finds_the_pairtui_the_user_installed(
    tmux_host: TmuxHost, tmp_path: Path, install: Callable[[], None]
) -> None:
    install()
    run_tpm(tmux_host, tpm_clone(tmp_path))
    bound = [r.split()[3] for r in tmux_host.run("list-keys", "-T", "prefix").splitlines()
             if MARK in r]  # fmt: skip
    assert bound == ["P"]


def test_tpm_entry_point_says_in_tmux_when_no_pairtui_is_found(
    tmux_host: TmuxHost, host_term: HostTerminal, tmp_path: Path
) -> None:
    tmux_host.run("set-option", "-g", "display-time", "60000")
    run_tpm(tmux_host, tpm_clone(tmp_path))
    wait_until(lambda: "pairtui: pairtui not found" in host_term.text(), what="the message")
    assert not [r for r in tmux_host.run("list-keys", "-T", "prefix").splitlines() if MARK in r]


def test_tpm_entry_point_says_why_a_taken_key_is_refused_and_force_replaces_it(
    tmux_host: TmuxHost, host_term: HostTerminal, tmp_path: Path
) -> None:
    install_launcher()
    tmux_host.run("set-option", "-g", "display-time", "60000")
    tmux_host.run("bind-key", "P", "display-message", "mine")
    plugin = tpm_clone(tmp_path)
    run_tpm(tmux_host, plugin)
    wait_until(lambda: "prefix + P is already bound" in host_term.text(), what="the refusal")
    assert "display-message mine" in tmux_host.run("list-keys", "-T", "prefix", "P")
    tmux_host.run("set-option", "-g", "@pairtui-force", "on")
    run_tpm(tmux_host, plugin)
    assert MARK in tmux_host.run("list-keys", "-T", "prefix", "P")


def test_tpm_entry_point_binds_the_key(tmux_host: TmuxHost) -> None:
    import sys

    plugin = Path(__file__).resolve().parent.parent / "pairtui.tmux"
    tmux_host.run("set-option", "-g", "@pairtui-command", f"{sys.executable} -m pairtui")
    tmux_host.run("set-option", "-g", "@pairtui-key", "K")
    tmux_host.run("run-shell", str(plugin))
    bound = [r.split()[3] for r in tmux_host.run("list-keys", "-T", "prefix").splitlines()
             if MARK in r]  # fmt: skip
    assert bound == ["K"]
    assert not (Path.home() / ".tmux.conf").exists()  # TPM users keep their own config


def test_host_messages_say_join_and_leave_but_not_the_hosts_own_unshare(
    tmux_host: TmuxHost, host_term: HostTerminal
) -> None:
    tmux_host.run("set-option", "-g", "display-time", "60000")  # messages stay to be read
    share = Share("main", "session", "host", None, str(tmux_host.socket), "now")
    alice = ClientInfo("c1", "alice", "SHA256:x", "127.0.0.1:5000", "main", "view")
    bob = ClientInfo("c2", "bob", "SHA256:y", "127.0.0.1:5001", "main", "pair")
    connected: list[ClientInfo] = []
    notifier = TmuxNotifier(lambda: [share], lambda: list(connected))

    async def feed(*events: Event) -> None:
        for event in events:
            if isinstance(event, ClientJoined):
                connected.append(event.client)
            elif isinstance(event, ClientLeft):
                connected.remove(event.client)
            notifier(event)
        await notifier.close()

    def status() -> str:
        return tmux_host.run("display-message", "-p", "#{@pairtui_status}").strip()

    asyncio.run(feed(ClientJoined(alice)))
    wait_until(lambda: "pairtui: alice joined (view) from 127.0.0.1" in host_term.text(),
               what="join message")  # fmt: skip
    asyncio.run(feed(ClientJoined(bob), ClientLeft(bob, "guest left")))
    # Bob's join and leave came together: told in one message, the leave last.
    wait_until(lambda: "bob left (guest left)" in host_term.text(), what="leave message")
    asyncio.run(feed(ClientLeft(alice, SHARE_STOPPED)))
    # The status segment still follows, but the host's screen keeps what it had.
    assert status() == ""
    holds_for(lambda: "bob left (guest left)" in host_term.text(), 1.0)
    assert "alice left" not in host_term.text()


def test_host_messages_show_what_a_guest_or_relay_controls_escaped(
    tmux_host: TmuxHost, host_term: HostTerminal
) -> None:
    """A relay reports where a guest comes from: its word reaches tmux as visible escapes.

    tmux itself drops ESC and BEL from a message but passes a bidi override through,
    which reorders what the host reads; and ``#`` would be a tmux format.
    """
    tmux_host.run("set-option", "-g", "display-time", "60000")
    share = Share("main", "session", "host", None, str(tmux_host.socket), "now")
    peer = "203.0.113.9\u202e#{host}\x1b]52;c;aGFja2Vk\x07:5000"
    mallory = ClientInfo("c1", "mallory", "SHA256:x", peer, "main", "view", via="vps")
    notifier = TmuxNotifier(lambda: [share], lambda: [mallory])

    async def feed() -> None:
        notifier(ClientJoined(mallory))
        await notifier.close()

    asyncio.run(feed())
    shown = "pairtui: mallory joined (view) from 203.0.113.9\\u202e#{host}\\x1b]52;c;aGFja2Vk\\x07"
    wait_until(lambda: shown in host_term.text(), what=f"{shown!r} on the host's screen")
    assert "\u202e".encode() not in host_term.raw
    # A final ";" would end the tmux command (and be lost) rather than show.
    Tmux(tmux_host.socket).display_message("pairtui: a message that ends in ;")
    wait_until(lambda: "pairtui: a message that ends in ;" in host_term.text(), what="the ;")
