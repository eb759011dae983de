"""System guests: real Unix users, a real sshd, the real OpenSSH client, a real tmux.

Runs as root (as CI does). Each test gets a Unix user with a fresh name that is removed
afterwards even when the test fails, and its own ``sshd -D`` on a free loopback port
with its own host key and ``StrictModes yes``, so the ownership and modes pairtui gives
the guest's files are judged by sshd itself.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import pwd
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import SshGuest, TmuxHost, holds_for, pairtui, pairtui_json, wait_until

from pairtui import cli
from pairtui.app.themes import bundled_dir
from pairtui.authorized_keys import GuestKey, parse_public_keys
from pairtui.registry import Guest, Mode, Registry
from pairtui.shares import Share
from pairtui.system.keys_file import render
from pairtui.system.state import load_state, state_file
from pairtui.system.sync import sync, sync_if_set_up

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]
SSHD = Path("/usr/sbin/sshd")


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _processes_of(uid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and entry.stat().st_uid == uid:
                pids.append(int(entry.name))
    return pids


@pytest.fixture
def unix_user() -> Iterator[str]:
    """A name for the guest user; whatever exists under it afterwards is removed."""
    assert os.geteuid() == 0, "system guest tests run as root (as CI does)"
    name = f"pt-{secrets.token_hex(4)}"
    assert not _user_exists(name)
    yield name
    if state_file().exists():
        pairtui("system", "teardown")
    if _user_exists(name):
        uid = pwd.getpwnam(name).pw_uid
        with contextlib.suppress(AssertionError):
            wait_until(lambda: not _processes_of(uid), timeout=10, what="guest processes gone")
        subprocess.run(["userdel", name], check=False, timeout=30)
    shutil.rmtree(f"/home/{name}", ignore_errors=True)
    assert not _user_exists(name), f"user {name} is left behind"


@dataclass
class Sshd:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def start_sshd(work: Path, config_body: str) -> Sshd:
    """``sshd -D -e`` on a free loopback port with its own host key."""
    work.mkdir(exist_ok=True)
    host_key = work / "host_key"
    if not host_key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)],
                       check=True, timeout=30)  # fmt: skip
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # its privilege separation dir
    for _ in range(3):
        port = _free_port()
        config = work / "sshd_config"
        config.write_text(
            textwrap.dedent(f"""\
                ListenAddress 127.0.0.1
                Port {port}
                HostKey {host_key}
                PidFile none
                UsePAM no
                StrictModes yes
                PermitRootLogin no
                PasswordAuthentication no
                KbdInteractiveAuthentication no
                LogLevel VERBOSE
                """)
            + config_body
        )
        log = work / "sshd.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)],
                                    stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
        if _started(proc, port):
            return Sshd(proc, port, log)
    raise AssertionError("sshd did not start:\n" + log.read_text(errors="replace"))


def _started(proc: subprocess.Popen[bytes], port: int) -> bool:
    wait_until(lambda: proc.poll() is not None or _listening(port), 10, what="sshd listening")
    return proc.poll() is None


def stop_sshd(sshd: Sshd) -> None:
    if sshd.proc.poll() is None:
        sshd.proc.terminate()
        try:
            sshd.proc.wait(10)
        except subprocess.TimeoutExpired:
            sshd.proc.kill()
            sshd.proc.wait(5)


@pytest.fixture
def sshd(tmp_path: Path, unix_user: str) -> Iterator[Sshd]:
    server = start_sshd(
        tmp_path / "sshd",
        f"AuthorizedKeysFile .ssh/authorized_keys\nAllowUsers {unix_user}\n",
    )
    yield server
    stop_sshd(server)


# --- helpers ------------------------------------------------------------------------


def add_guest(name: str, key: Path, *extra: str) -> None:
    res = pairtui("guest", "add", name, "--key", f"{key}.pub", *extra)
    assert res.returncode == 0, res.stderr


def share(host: TmuxHost, *extra: str) -> None:
    res = pairtui("share", "--tmux-socket", str(host.socket), "--json", "--no-server", *extra)
    assert res.returncode == 0, res.stderr


def setup(user: str) -> dict[str, object]:
    res = pairtui("system", "setup", "--user", user, "--json")
    assert res.returncode == 0, res.stderr
    data: dict[str, object] = json.loads(res.stdout)
    return data


def type_in_host(host: TmuxHost, text: str, target: str = "host") -> None:
    host.run("send-keys", "-t", target, "-l", text)
    host.run("send-keys", "-t", target, "Enter")


def clients_of(host: TmuxHost, user: str) -> list[dict[str, str]]:
    fmt = "#{client_tty}\t#{session_name}\t#{client_readonly}\t#{client_user}\t#{client_key_table}"
    rows = host.run("list-clients", "-F", fmt, check=False).splitlines()
    keys = ("tty", "session", "readonly", "user", "table")
    found = [dict(zip(keys, r.split("\t"), strict=True)) for r in rows if r]
    return [c for c in found if c["user"] == user]


def one_client(host: TmuxHost, user: str, session: str | None = None) -> dict[str, str]:
    found = [c for c in clients_of(host, user) if session is None or c["session"] == session]
    assert len(found) == 1, found
    return found[0]


def settle_input(host: TmuxHost, guest: SshGuest, tty: str, mode: str = "view") -> None:
    """Prove tmux has handled every byte the guest sent (the prefix-table trick).

    The guest presses its prefix: once tmux shows that client in the prefix table, all
    earlier bytes were dispatched in order. Escape leaves the table again.
    """
    table = f"pairtui-{mode}"

    def current() -> str:
        rows = host.run("list-clients", "-F", "#{client_tty} #{client_key_table}").splitlines()
        return dict(r.split(" ", 1) for r in rows)[tty]

    guest.send("\x02")
    wait_until(lambda: current() == f"{table}-prefix", what=f"{table}-prefix active")
    guest.send("\x1b")
    wait_until(lambda: current() == table, what="back from the prefix table")


def server_access(host: TmuxHost) -> str:
    return host.run("server-access", "-l")


def key_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line and line[0] != "#"]


def pub(key: Path) -> str:
    return " ".join(Path(f"{key}.pub").read_text().split()[:2])


# --- setup, the file, the user ---------------------------------------------------------


def test_setup_creates_a_locked_down_user_and_a_keys_file_sshd_can_read(
    tmux_host: TmuxHost, unix_user: str, keys: Callable[[str], Path]
) -> None:
    add_guest("alice", keys("alice"), "--mode", "view")
    add_guest("bob", keys("bob"), "--mode", "pair", "--expires", "2h")
    share(tmux_host)
    info = setup(unix_user)
    assert info["created_user"] is True

    pw = pwd.getpwnam(unix_user)
    assert pw.pw_shell == "/bin/sh"
    shadow = dict(line.split(":", 2)[:2] for line in Path("/etc/shadow").read_text().splitlines())
    assert shadow[unix_user] == "*"  # no password can ever match
    groups = subprocess.run(["id", "-Gn", unix_user], capture_output=True, text=True, check=True)
    assert groups.stdout.split() == [unix_user]  # its own group only: no sudo, no adm

    home = Path(pw.pw_dir)
    ak = home / ".ssh" / "authorized_keys"
    for path, uid, gid, mode in [(home, 0, 0, 0o755), (ak.parent, 0, 0, 0o755),
                                 (ak, 0, pw.pw_gid, 0o640)]:  # fmt: skip
        st = path.stat()
        assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (uid, gid, mode), path

    lines = key_lines(ak)
    assert len(lines) == 2
    alice = next(line for line in lines if pub(keys("alice")) in line)
    bob = next(line for line in lines if pub(keys("bob")) in line)
    sock = str(tmux_host.socket)
    assert alice.startswith('restrict,pty,command="')
    assert f"-S {sock} attach-session -t =pairtui-host-view -f read-only,ignore-size" in alice
    assert bob.startswith('restrict,pty,expiry-time="')
    assert "attach-session -t =pairtui-host-pair -f ignore-size" in bob
    assert "read-only" not in bob
    # ssh-keygen parses authorized_keys as sshd does: options, key, comment.
    listed = subprocess.run(["ssh-keygen", "-l", "-f", str(ak)], capture_output=True,
                            text=True, check=True).stdout  # fmt: skip
    assert len(listed.splitlines()) == 2

    status = pairtui_json("system", "status")
    assert status["user"] == unix_user and status["in_sync"] is True and status["keys"] == 2
    assert status["tmux_sockets"] == [
        {"socket": sock, "live": True, "server_access": "read-write", "acl": True}
    ]
    assert f"{unix_user} (W)" in server_access(tmux_host)  # bob pairs


def test_authorized_keys_command_prints_the_line_for_a_registered_key_only(
    tmux_host: TmuxHost, unix_user: str, keys: Callable[[str], Path]
) -> None:
    add_guest("alice", keys("alice"), "--mode", "view")
    share(tmux_host)
    setup(unix_user)
    ktype, kdata = pub(keys("alice")).split()
    out = pairtui("authorized-keys-command", unix_user, ktype, kdata)
    assert out.returncode == 0, out.stderr
    ak = Path(pwd.getpwnam(unix_user).pw_dir) / ".ssh" / "authorized_keys"
    assert out.stdout.splitlines() == key_lines(ak)

    other_type, other_data = pub(keys("mallory")).split()
    assert pairtui("authorized-keys-command", unix_user, other_type, other_data).stdout == ""
    assert pairtui("authorized-keys-command", "root", ktype, kdata).stdout == ""
    assert pairtui("authorized-keys-command", unix_user, ktype, "AAAAnotakey").stdout == ""


def test_render_confines_every_guest_to_its_share_and_mode() -> None:
    key = parse_public_keys(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMpRjh/v0pOxIunV+eXJNQ6ZQYk0Y1nq6l3m5ZlQyQxh c\n"
    )
    shares = [Share("demo", "session", "host", None, "/tmp/my sock", "2026-01-01T00:00:00Z")]
    soon = datetime.now(UTC) + timedelta(hours=2)
    guests = [
        Guest("viewer", Mode.VIEW, None, None, list(key)),
        Guest("pairer", Mode.PAIR, "demo", soon, [GuestKey(key[0].key, "laptop")]),
        Guest("elsewhere", Mode.PAIR, "other", None, [GuestKey(key[0].key)]),
        Guest("gone", Mode.PAIR, None, datetime.now(UTC) - timedelta(hours=1), list(key)),
    ]
    lines = key_lines_of(render(guests, shares))
    assert len(lines) == 3  # the expired guest has no line at all
    viewer, pairer, elsewhere = lines
    assert viewer.startswith('restrict,pty,command="')
    assert "-S '/tmp/my sock' attach-session -t =pairtui-demo-view -f read-only,ignore-size;" in (
        viewer
    )
    assert viewer.endswith("pairtui:viewer c")
    stamp = soon.strftime("%Y%m%d%H%M%S")
    assert pairer.startswith(f'restrict,pty,expiry-time="{stamp}Z",command="')
    assert "attach-session -t =pairtui-demo-pair -f ignore-size;" in pairer
    assert pairer.endswith("pairtui:pairer laptop")
    assert "tmux" not in elsewhere and "not running" in elsewhere  # only a message


def key_lines_of(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_setup_without_root_says_so_with_the_exact_sudo_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], unix_user: str
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert cli.main(["system", "setup", "--user", unix_user]) == 1
    err = capsys.readouterr().err
    assert err.startswith("pairtui: `pairtui system setup` must run as root")
    config_dir = os.environ["PAIRTUI_CONFIG_DIR"]
    assert (
        f"    sudo env PAIRTUI_CONFIG_DIR={config_dir} "
        f"PAIRTUI_STATE_DIR={os.environ['PAIRTUI_STATE_DIR']} "
        f"{sys.executable} -m pairtui system setup --user {unix_user}\n"
    ) in err
    assert "Traceback" not in err
    assert not _user_exists(unix_user)
    assert cli.main(["system", "teardown"]) == 1
    assert "sudo env" in capsys.readouterr().err


def test_too_old_tmux_is_refused_before_anything_changes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], unix_user: str
) -> None:
    import pairtui.tmux

    monkeypatch.setattr(pairtui.tmux, "tmux_version", lambda: ((3, 2), "3.2a"))
    assert cli.main(["system", "setup", "--user", unix_user]) == 1
    err = capsys.readouterr().err
    assert "tmux 3.2a is too old for system guests: they need tmux 3.3 or newer" in err
    assert not _user_exists(unix_user)
    assert not state_file().exists()


def test_sync_is_a_no_op_that_reads_nothing_when_not_set_up(
    monkeypatch: pytest.MonkeyPatch, tmux_host: TmuxHost, keys: Callable[[str], Path]
) -> None:
    add_guest("alice", keys("alice"))
    share(tmux_host)  # its notify_engine ran sync_if_set_up already
    assert not state_file().exists()

    def boom(*args: object) -> None:
        raise AssertionError("sync read the registry although nothing is set up")

    monkeypatch.setattr(Registry, "guests", boom)
    assert sync_if_set_up() is None
    assert server_access(tmux_host) == ""
    assert "system.posix_acl_access" not in os.listxattr(tmux_host.socket)


# --- logging in through sshd ---------------------------------------------------------


def test_view_guest_logs_in_lands_in_the_share_and_cannot_type(
    tmux_host: TmuxHost, unix_user: str, sshd: Sshd, keys: Callable[[str], Path],
    guests: Connect,
) -> None:  # fmt: skip
    type_in_host(tmux_host, "echo HOST-$((40+2))")
    add_guest("alice", keys("alice"), "--mode", "view")
    share(tmux_host)
    setup(unix_user)
    # Read-write from the start, whatever the guests' modes: never flipped, so no view
    # client is ever freed by it; read-only comes with each view client's attach.
    assert f"{unix_user} (W)" in server_access(tmux_host)

    g = guests(sshd.port, keys("alice"), user=unix_user)
    g.wait_for("HOST-42")
    client = one_client(tmux_host, unix_user)
    assert client["session"] == "pairtui-host-view"
    assert client["readonly"] == "1"
    g.send("echo VIEW-$((6*7))\r")
    settle_input(tmux_host, g, one_client(tmux_host, unix_user)["tty"])
    pane = tmux_host.capture()
    assert "VIEW-42" not in pane and "echo VIEW" not in pane


def test_view_guests_stay_read_only_beside_a_pair_guest(
    tmux_host: TmuxHost, unix_user: str, sshd: Sshd, keys: Callable[[str], Path],
    guests: Connect,
) -> None:  # fmt: skip
    """One Unix user, both modes: inviting a pair guest changes no connected client.

    The user's tmux access is read-write before any guest pairs; view clients, those
    connected before the pair guest was invited and those after, are read-only by
    their forced command's attach flags alone.
    """
    type_in_host(tmux_host, "echo READY")
    add_guest("alice", keys("alice"), "--mode", "view")
    share(tmux_host)
    setup(unix_user)
    early = guests(sshd.port, keys("alice"), user=unix_user)
    early.wait_for("READY")
    early_tty = one_client(tmux_host, unix_user)["tty"]
    assert one_client(tmux_host, unix_user)["readonly"] == "1"

    add_guest("bob", keys("bob"), "--mode", "pair")
    assert f"{unix_user} (W)" in server_access(tmux_host)
    assert one_client(tmux_host, unix_user, "pairtui-host-view")["readonly"] == "1"
    add_guest("carol", keys("carol"), "--mode", "view")
    late = guests(sshd.port, keys("carol"), user=unix_user)
    late.wait_for("READY")
    views = [c for c in clients_of(tmux_host, unix_user) if c["session"] == "pairtui-host-view"]
    assert [c["readonly"] for c in views] == ["1", "1"]

    pairer = guests(sshd.port, keys("bob"), user=unix_user)
    pairer.wait_for("READY")
    assert one_client(tmux_host, unix_user, "pairtui-host-pair")["readonly"] == "0"
    pairer.send("echo PAIR-$((6*7))\r")
    wait_until(lambda: "PAIR-42" in tmux_host.capture(), what="pair input in the host pane")
    late_tty = next(c["tty"] for c in views if c["tty"] != early_tty)
    for viewer, tty in ((early, early_tty), (late, late_tty)):
        viewer.send("echo VIEW-$((6*7))\r")
        settle_input(tmux_host, viewer, tty)
    assert "VIEW-42" not in tmux_host.capture()


@contextlib.contextmanager
def looping(step: Callable[[], object]) -> Iterator[Callable[[], int]]:
    """``step`` back to back on a thread while the block runs; yields how many ran.

    An error on the thread ends the loop and is raised when the block ends.
    """
    stop = threading.Event()
    count = 0

    def run() -> None:
        nonlocal count
        while not stop.is_set():
            step()
            count += 1

    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(run)
        try:
            yield lambda: count
        finally:
            stop.set()
            future.result(timeout=30)


def sync_now() -> None:
    state = load_state()
    assert state is not None
    sync(state)


def test_view_clients_are_never_writable_while_syncs_run(
    tmux_host: TmuxHost, unix_user: str, sshd: Sshd, keys: Callable[[str], Path],
    guests: Connect,
) -> None:  # fmt: skip
    """Issue 13.2: no sync ever widens a view client, not even between two tmux calls.

    A pair guest is invited and connected, so the guest user needs write access; syncs
    run back to back while view guests attach over and over, typing from the first
    moment. Every view client tmux lists must be read-only each time it is looked at,
    and nothing they type may reach the host's pane.
    """
    type_in_host(tmux_host, "echo READY")
    add_guest("alice", keys("alice"), "--mode", "view")
    add_guest("bob", keys("bob"), "--mode", "pair")
    share(tmux_host)
    setup(unix_user)
    pairer = guests(sshd.port, keys("bob"), user=unix_user)
    pairer.wait_for("READY")
    pane = tmux_host.capture()  # any byte from a viewer that lands changes it
    writable: list[dict[str, str]] = []

    def look() -> None:
        writable.extend(c for c in clients_of(tmux_host, unix_user)
                        if c["session"].endswith("-view") and c["readonly"] != "1")  # fmt: skip

    attaches = 0
    deadline = time.monotonic() + 20
    with looping(sync_now) as syncs, looping(look) as looks:
        while time.monotonic() < deadline and tmux_host.capture() == pane:
            viewer = guests(sshd.port, keys("alice"), user=unix_user)
            typing_until = time.monotonic() + 0.8
            while time.monotonic() < typing_until and viewer.child.isalive():
                viewer.send("echo VIEW$((6*7))LEAK\r")
                viewer.pump(0.005)
            attaches += "READY" in viewer.text()
            viewer.close()
        assert tmux_host.capture() == pane, f"after {syncs()} syncs:\n{tmux_host.capture()}"
        assert not writable, f"after {syncs()} syncs, {attaches} attaches: {writable}"
        assert syncs() >= 20 and attaches >= 10 and looks() >= 100, (syncs(), attaches, looks())
    assert f"{unix_user} (W)" in server_access(tmux_host)
    assert one_client(tmux_host, unix_user)["session"] == "pairtui-host-pair"  # bob stayed


def test_an_older_read_only_grant_is_replaced_without_freeing_its_clients(
    tmux_host: TmuxHost, unix_user: str, sshd: Sshd, keys: Callable[[str], Path],
    guests: Connect,
) -> None:  # fmt: skip
    """An older pairtui left view-only setups read-only, ``(R)``, with viewers attached.

    ``server-access -w`` would free every one of them: instead they are ended with the
    old entry and come back read-only by their forced command.
    """
    type_in_host(tmux_host, "echo READY")
    add_guest("alice", keys("alice"), "--mode", "view")
    share(tmux_host)
    setup(unix_user)
    tmux_host.run("server-access", "-r", unix_user)  # as an older pairtui left it
    early = guests(sshd.port, keys("alice"), user=unix_user)
    early.wait_for("READY")
    pane = tmux_host.capture()
    writable: list[dict[str, str]] = []

    def look() -> None:
        writable.extend(c for c in clients_of(tmux_host, unix_user) if c["readonly"] != "1")

    with looping(look) as looks:
        add_guest("bob", keys("bob"), "--mode", "pair")  # its sync makes the switch
        early.wait_exit()
        assert f"{unix_user} (W)" in server_access(tmux_host)
        viewer = guests(sshd.port, keys("alice"), user=unix_user)
        viewer.wait_for("READY")
        viewer.send("echo VIEW-$((6*7))\r")
        settle_input(tmux_host, viewer, one_client(tmux_host, unix_user)["tty"])
        assert not writable and looks() > 0, writable
    assert tmux_host.capture() == pane
    pairer = guests(sshd.port, keys("bob"), user=unix_user)
    pairer.wait_for("READY")
    assert one_client(tmux_host, unix_user, "pairtui-host-pair")["readonly"] == "0"
    sync_now()  # read-write already: nothing user-wide, nobody ended
    assert [c["readonly"] for c in clients_of(tmux_host, unix_user)
            if c["session"] == "pairtui-host-view"] == ["1"]  # fmt: skip
    assert viewer.child.isalive() and pairer.child.isalive()


@pytest.mark.parametrize(
    "command",
    ["tmux -S {sock} switch-client -r", "bash", "cat /etc/shadow", "other$(touch {ran})",
     "host;touch {ran}", "`touch {ran}`"],
    ids=["switch-client-r", "bash", "cat-shadow", "expansion", "list", "backquotes"],
)  # fmt: skip
def test_a_requested_command_never_runs_and_is_refused_in_one_line(
    command: str, tmux_host: TmuxHost, unix_user: str, sshd: Sshd,
    keys: Callable[[str], Path], guests: Connect,
) -> None:  # fmt: skip
    type_in_host(tmux_host, "echo HOST-$((40+2))")
    add_guest("alice", keys("alice"), "--mode", "view")
    # A second share, so the forced command also holds the choice of share by name.
    tmux_host.run("new-session", "-d", "-s", "other")
    share(tmux_host, "--session", "other")
    share(tmux_host, "--session", "host")
    setup(unix_user)
    uid = pwd.getpwnam(unix_user).pw_uid
    ran = Path(tempfile.gettempdir()) / f"pairtui-ran-{secrets.token_hex(8)}"
    g = guests(sshd.port, keys("alice"), user=unix_user,
               command=command.format(sock=tmux_host.socket, ran=ran))  # fmt: skip
    g.wait_for("pairtui: no such share for you; you may join: other, host")
    names = set()
    for pid in _processes_of(uid):
        with contextlib.suppress(OSError):
            names.add(Path(f"/proc/{pid}/comm").read_text().strip())
    assert names <= {"sshd", "sh"}, names
    g.wait_exit()
    assert not ran.exists()
    assert clients_of(tmux_host, unix_user) == []
    assert "root:" not in g.output
    # Named, the share is joined, confined as ever.
    g = guests(sshd.port, keys("alice"), user=unix_user, command="host")
    g.wait_for("HOST-42")
    assert one_client(tmux_host, unix_user)["session"] == "pairtui-host-view"
    holds_for(lambda: one_client(tmux_host, unix_user)["readonly"] == "1", 1.0)
    g.send("echo VIEW-$((6*7))\r")
    settle_input(tmux_host, g, one_client(tmux_host, unix_user)["tty"])
    assert "VIEW-42" not in tmux_host.capture()


def test_a_share_is_picked_by_name_as_with_the_embedded_server(
    tmux_host: TmuxHost, unix_user: str, sshd: Sshd, keys: Callable[[str], Path],
    guests: Connect,
) -> None:  # fmt: skip
    type_in_host(tmux_host, "echo HOST-$((40+2))")
    tmux_host.run("new-session", "-d", "-s", "other", "-x", "80", "-y", "24")
    type_in_host(tmux_host, "echo OTHER-$((40+2))", target="other")
    add_guest("alice", keys("alice"), "--mode", "view")
    add_guest("bob", keys("bob"), "--mode", "view", "--share", "host")
    share(tmux_host, "--session", "host")
    share(tmux_host, "--session", "other")  # the most recent: everyone's default
    setup(unix_user)

    by_name = guests(sshd.port, keys("alice"), user=unix_user, command="host")
    by_name.wait_for("HOST-42")
    assert one_client(tmux_host, unix_user)["session"] == "pairtui-host-view"
    by_name.close()
    wait_until(lambda: not clients_of(tmux_host, unix_user), what="alice gone")
    # Not a share's name (and never run): one line with the names alice may use.
    wrong = guests(sshd.port, keys("alice"), user=unix_user, command="host; bash")
    wrong.wait_for("pairtui: no such share for you; you may join: host, other")
    wrong.wait_exit()
    assert clients_of(tmux_host, unix_user) == []
    # No name, two shares: alice chooses, by number or by name.
    chooser = guests(sshd.port, keys("alice"), user=unix_user)
    chooser.wait_for("join which (number or name)?")
    assert "1) host" in chooser.output and "2) other" in chooser.output
    chooser.send("2\r")
    chooser.wait_for("OTHER-42")
    assert one_client(tmux_host, unix_user)["session"] == "pairtui-other-view"
    chooser.close()
    wait_until(lambda: not clients_of(tmux_host, unix_user), what="alice gone")

    # bob is invited to "host" only: asking for "other" is refused in one line that
    # does not tell him "other" exists.
    refused = guests(sshd.port, keys("bob"), user=unix_user, command="other")
    refused.wait_for("pairtui: no such share for you; you may join: host")
    refused.wait_exit()
    assert clients_of(tmux_host, unix_user) == []
    own = guests(sshd.port, keys("bob"), user=unix_user)
    own.wait_for("HOST-42")
    assert one_client(tmux_host, unix_user)["session"] == "pairtui-host-view"


def test_without_a_terminal_nothing_runs(
    tmux_host: TmuxHost, unix_user: str, sshd: Sshd, keys: Callable[[str], Path],
    tmp_path: Path,
) -> None:  # fmt: skip
    add_guest("alice", keys("alice"), "--mode", "pair")
    share(tmux_host)
    setup(unix_user)
    marker = tmp_path / "ran"
    for command in [
        "",  # no share named: its one share, which needs a terminal
        "cat /etc/shadow",
        f"tmux -S {tmux_host.socket} send-keys -t host 'echo PWNED-$((1+1))' Enter",
        f"touch {marker}",
    ]:
        res = subprocess.run(
            ["ssh", "-F", "/dev/null", "-T", "-p", str(sshd.port), "-i", str(keys("alice")),
             "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "IdentityAgent=none",
             "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-o", "LogLevel=ERROR", f"{unix_user}@127.0.0.1", command],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert "root:" not in res.stdout
        said = res.stderr + res.stdout
        assert ("not a terminal" if not command else "no such share for you") in said, res
    assert not marker.exists()
    assert "PWNED-2" not in tmux_host.capture()


def test_an_unregistered_key_is_refused_by_sshd(
    tmux_host: TmuxHost, unix_user: str, sshd: Sshd, keys: Callable[[str], Path],
    guests: Connect,
) -> None:  # fmt: skip
    add_guest("alice", keys("alice"))
    share(tmux_host)
    setup(unix_user)
    g = guests(sshd.port, keys("mallory"), user=unix_user)
    assert g.wait_exit() == 255
    assert "Permission denied (publickey)" in g.output
    assert clients_of(tmux_host, unix_user) == []


def test_removing_a_guest_removes_its_line_and_ends_its_session(
    tmux_host: TmuxHost, unix_user: str, sshd: Sshd, keys: Callable[[str], Path],
    guests: Connect,
) -> None:  # fmt: skip
    type_in_host(tmux_host, "echo READY")
    add_guest("alice", keys("alice"))
    add_guest("bob", keys("bob"))
    share(tmux_host)
    setup(unix_user)
    ak = Path(pwd.getpwnam(unix_user).pw_dir) / ".ssh" / "authorized_keys"
    assert any(pub(keys("alice")) in line for line in key_lines(ak))
    g = guests(sshd.port, keys("alice"), user=unix_user)
    g.wait_for("READY")

    res = pairtui("guest", "remove", "alice")
    assert res.returncode == 0, res.stderr
    lines = key_lines(ak)
    assert not any(pub(keys("alice")) in line for line in lines)
    assert any(pub(keys("bob")) in line for line in lines)
    g.wait_exit()
    assert clients_of(tmux_host, unix_user) == []
    again = guests(sshd.port, keys("alice"), user=unix_user)
    assert again.wait_exit() == 255


def test_a_mode_change_moves_a_connected_system_guest(
    tmux_host: TmuxHost, unix_user: str, sshd: Sshd, keys: Callable[[str], Path],
    guests: Connect,
) -> None:  # fmt: skip
    type_in_host(tmux_host, "echo READY")
    add_guest("alice", keys("alice"), "--mode", "view")
    share(tmux_host)
    setup(unix_user)
    g = guests(sshd.port, keys("alice"), user=unix_user)
    g.wait_for("READY")
    tty = one_client(tmux_host, unix_user)["tty"]

    assert pairtui("guest", "set", "alice", "--mode", "pair").returncode == 0
    client = one_client(tmux_host, unix_user)
    assert (client["tty"], client["session"], client["readonly"]) == (
        tty, "pairtui-host-pair", "0"
    )  # fmt: skip
    g.send("echo PAIR-$((6*7))\r")
    wait_until(lambda: "PAIR-42" in tmux_host.capture(), what="pair input in the host pane")

    assert pairtui("guest", "set", "alice", "--mode", "view").returncode == 0
    client = one_client(tmux_host, unix_user)
    assert (client["session"], client["readonly"]) == ("pairtui-host-view", "1")
    assert f"{unix_user} (W)" in server_access(tmux_host)  # the client moved, not the user
    g.send("echo VIEW-$((6*7))\r")
    settle_input(tmux_host, g, tty)
    assert "VIEW-42" not in tmux_host.capture()


def test_clients_lists_a_system_guest_and_kick_disconnects_it(
    tmux_host: TmuxHost, unix_user: str, sshd: Sshd, keys: Callable[[str], Path],
    guests: Connect,
) -> None:  # fmt: skip
    type_in_host(tmux_host, "echo READY")
    add_guest("alice", keys("alice"), "--mode", "view")
    share(tmux_host)
    setup(unix_user)
    g = guests(sshd.port, keys("alice"), user=unix_user, size=(90, 30))
    g.wait_for("READY")
    tty = one_client(tmux_host, unix_user)["tty"]
    rows = pairtui_json("clients")
    assert len(rows) == 1
    row = rows[0]
    fields = ("guest", "user", "via", "mode", "share", "tmux_client", "size")
    assert {k: row[k] for k in fields} == {
        "guest": "alice", "user": unix_user, "via": "sshd", "mode": "view", "share": "host",
        "tmux_client": tty, "size": "90x30",
    }  # fmt: skip
    assert row["peer"].startswith("127.0.0.1:")
    text = pairtui("clients").stdout
    assert re.search(rf"alice\s+view\s+host\s+sshd as {unix_user} on {re.escape(tty)}", text), text

    mode = pairtui("mode", "alice", "pair")
    assert mode.returncode == 1
    assert "through sshd, where the mode follows the registry: pairtui guest set alice" in (
        mode.stderr
    )

    res = pairtui("kick", "alice")
    assert res.returncode == 0, res.stderr
    assert "disconnected alice" in res.stdout
    g.wait_exit()
    assert clients_of(tmux_host, unix_user) == []
    missing = pairtui("kick", "alice")
    assert missing.returncode == 1 and "no pairtui server is running" in missing.stderr


def test_sshd_can_ask_pairtui_through_authorized_keys_command(
    tmux_host: TmuxHost, unix_user: str, keys: Callable[[str], Path], guests: Connect,
    tmp_path: Path,
) -> None:  # fmt: skip
    """The printed wrapper and Match block, as given, let a registered key in."""
    type_in_host(tmux_host, "echo HOST-$((40+2))")
    add_guest("alice", keys("alice"), "--mode", "view")
    share(tmux_host)
    setup(unix_user)
    Path(pwd.getpwnam(unix_user).pw_dir, ".ssh", "authorized_keys").unlink()  # not used here
    # sshd wants the command and every directory above it root-owned and not writable by
    # others, which rules out /tmp.
    wrapper_dir = Path(f"/run/{unix_user}-akc")
    wrapper_dir.mkdir(mode=0o755)
    try:
        out = pairtui_json("system", "sshd-config", "--command-user", "root",
                           "--wrapper", str(wrapper_dir / "pairtui-authorized-keys"))  # fmt: skip
        wrapper = Path(out["wrapper_path"])
        wrapper.write_text(out["wrapper"])
        wrapper.chmod(0o755)
        server = start_sshd(tmp_path / "sshd-akc", out["sshd_config"])
        try:
            g = guests(server.port, keys("alice"), user=unix_user)
            g.wait_for("HOST-42")
            assert one_client(tmux_host, unix_user)["readonly"] == "1"
            refused = guests(server.port, keys("mallory"), user=unix_user)
            assert refused.wait_exit() == 255
            g.close()
        finally:
            stop_sshd(server)
    finally:
        shutil.rmtree(wrapper_dir)


@dataclass
class Host:
    """A host who is not root: its own Unix user, tmux server and pairtui files."""

    user: str
    uid: int
    base: Path
    socket: Path
    env: dict[str, str]

    def run(self, *argv: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        env = [f"{k}={v}" for k, v in self.env.items()]
        return subprocess.run(["runuser", "-u", self.user, "--", "env", "-i", *env, *argv],
                              input=input, capture_output=True, text=True, timeout=60,
                              check=False)  # fmt: skip

    def pairtui(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(self.env["PT_PYTHON"], "-m", "pairtui", *args)

    def tmux(self, *args: str) -> str:
        res = self.run("tmux", "-S", str(self.socket), *args)
        assert res.returncode == 0, res.stderr
        return res.stdout

    def as_root(self, printed: str) -> subprocess.CompletedProcess[str]:
        """Run the ``sudo …`` line pairtui printed, as root (sudo itself may be absent)."""
        line = next(ln for ln in printed.splitlines() if ln.startswith("    sudo "))
        argv = shlex.split(line)[1:]
        env = {**os.environ, "PYTHONPATH": self.env["PYTHONPATH"]}
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env,
                              check=False)  # fmt: skip


def _runtime_distributions() -> list[importlib.metadata.Distribution]:
    """What ``pip install pairtui`` brings, pairtui's own (editable) files aside."""
    found: dict[str, importlib.metadata.Distribution] = {}
    todo = list(importlib.metadata.requires("pairtui") or [])
    while todo:
        requirement = todo.pop()
        if "extra ==" in requirement:  # the test tools
            continue
        name = re.split(r"[^A-Za-z0-9._-]", requirement, maxsplit=1)[0]
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in found:
            continue
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:  # for another platform or Python
            continue
        found[key] = dist
        todo += dist.requires or []
    return list(found.values())


def _make_readable(top: Path) -> None:
    for path in [top, *top.rglob("*")]:
        extra = 0o755 if path.is_dir() else 0o644
        path.chmod(path.stat().st_mode | extra)


@pytest.fixture(scope="session")
def readable_pairtui() -> Iterator[Path]:
    """pairtui and everything it imports, copied where any user may read them.

    The checkout and its venv may live where other users cannot go (a clone under
    /root, which is 0700): the host who is not root runs this copy, not the checkout.
    """
    top = Path(tempfile.mkdtemp(prefix="pt-py-", dir="/tmp"))
    try:
        package = Path(cli.__file__).resolve().parent.parent
        shutil.copytree(package, top / "pairtui", ignore=shutil.ignore_patterns("__pycache__"))
        themes = bundled_dir(package)
        if themes is not None and not (top / "pairtui" / "themes").exists():
            shutil.copytree(themes, top / "pairtui" / "themes")  # where a wheel has them
        for dist in _runtime_distributions():
            for file in dist.files or []:
                if ".." in file.parts:  # scripts in bin/: not imported
                    continue
                source = Path(str(dist.locate_file(file)))
                if source.is_file():
                    (top / file).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source, top / file)
        _make_readable(top)
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _python_for(user: str, readable: Path) -> dict[str, str]:
    """An interpreter the host user may run, with the readable copy of pairtui on its path.

    The venv's own interpreter may sit where the user may not go (a pyenv under /root):
    then the system's, of the same version (the copied packages are built for it).
    """
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    env = {"PYTHONPATH": str(readable), "PYTHONNOUSERSITE": "1"}
    tried = []
    for python in (os.path.realpath(sys.executable), f"/usr/bin/python{version}"):
        probe = ["runuser", "-u", user, "--", "env", *[f"{k}={v}" for k, v in env.items()],
                 python, "-c", "import pairtui.cli"]  # fmt: skip
        res = subprocess.run(probe, capture_output=True, text=True, timeout=60, check=False)
        if res.returncode == 0:
            return {"PT_PYTHON": python, **env}
        tried.append(f"{python}: {res.stderr.strip()}")
    raise AssertionError("no Python the host user can run pairtui with:\n" + "\n".join(tried))


@pytest.fixture
def host(unix_user: str, readable_pairtui: Path) -> Iterator[Host]:
    name = f"pt-h{secrets.token_hex(4)}"
    useradd = ["useradd", "--no-create-home", "--home-dir", "/nonexistent", "--user-group"]
    subprocess.run([*useradd, "--shell", "/bin/sh", name], check=True, timeout=30)
    pw = pwd.getpwnam(name)
    base = Path(tempfile.mkdtemp(prefix="pt-host-", dir="/tmp"))
    for sub in ("", "home", "config", "state", "tmux"):
        (base / sub).mkdir(mode=0o700, exist_ok=True)
        os.chown(base / sub, pw.pw_uid, pw.pw_gid)
    # `share` starts a server: on a free port, not on 2222, which the machine's own
    # pairtui (or another test run) may hold.
    (base / "config" / "config.toml").write_text("[server]\nport = 0\n")
    os.chown(base / "config" / "config.toml", pw.pw_uid, pw.pw_gid)
    env = {
        "HOME": str(base / "home"), "PATH": "/usr/local/bin:/usr/bin:/bin",
        "PAIRTUI_CONFIG_DIR": str(base / "config"), "PAIRTUI_STATE_DIR": str(base / "state"),
        "TMUX_TMPDIR": str(base / "tmux"), "LANG": "C.UTF-8", "TERM": "xterm-256color",
        "SHELL": "/bin/sh", **_python_for(name, readable_pairtui),
    }  # fmt: skip
    h = Host(name, pw.pw_uid, base, base / "tmux" / "sock", env)
    tmux_pid = 0
    try:
        h.tmux("-f", "/dev/null", "new-session", "-d", "-s", "host", "-x", "120", "-y", "40")
        tmux_pid = int(h.tmux("display-message", "-p", "#{pid}"))
        yield h
    finally:
        if (base / "state" / "system.json").exists():
            res = h.pairtui("system", "teardown")
            h.as_root(res.stderr)
        h.pairtui("stop")  # the server `share` started in the background, if any
        if tmux_pid:
            h.run("tmux", "-S", str(h.socket), "kill-server")
            with contextlib.suppress(ProcessLookupError):
                os.kill(tmux_pid, 9)
        with contextlib.suppress(AssertionError):
            wait_until(lambda: not _processes_of(pw.pw_uid), timeout=10, what="host gone")
        subprocess.run(["userdel", name], check=False, timeout=30)
        shutil.rmtree(base, ignore_errors=True)
        assert not _user_exists(name)


def test_a_host_who_is_not_root_sets_up_with_the_printed_sudo_command(
    unix_user: str, host: Host, sshd: Sshd, keys: Callable[[str], Path], guests: Connect
) -> None:
    """The common case: your own tmux server, pairtui as you, root only for setup."""
    for name in ("alice", "bob"):
        key = keys(name)
        shutil.copy(f"{key}.pub", host.base / f"{name}.pub")
        os.chown(host.base / f"{name}.pub", host.uid, -1)
    assert host.pairtui("guest", "add", "alice", "--key", str(host.base / "alice.pub"),
                        "--mode", "view").returncode == 0  # fmt: skip
    res = host.pairtui("share", "--tmux-socket", str(host.socket), "--no-server")
    assert res.returncode == 0, res.stderr
    host.tmux("send-keys", "-t", "host", "echo HOST-$((40+2))", "Enter")
    before = _trace(TmuxHost(host.socket, 0), run=host.tmux)

    refused = host.pairtui("system", "setup", "--user", unix_user)
    assert refused.returncode == 1 and "must run as root" in refused.stderr
    done = host.as_root(refused.stderr)
    assert done.returncode == 0, done.stderr
    state = host.base / "state" / "system.json"
    assert state.stat().st_uid == host.uid  # the host's own sync may update it
    assert f"{unix_user} (W)" in host.tmux("server-access", "-l")

    g = guests(sshd.port, keys("alice"), user=unix_user)
    g.wait_for("HOST-42")
    assert host.tmux("list-clients", "-F", "#{client_user} #{client_readonly}").split() == [
        unix_user, "1"
    ]  # fmt: skip

    # As the host: tmux access follows at once, the root-owned file cannot.
    added = host.pairtui("guest", "add", "bob", "--key", str(host.base / "bob.pub"),
                         "--mode", "pair")  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "is out of date and only root may rewrite it" in added.stderr
    assert f"{unix_user} (W)" in host.tmux("server-access", "-l")
    assert host.tmux("list-clients", "-F", "#{client_readonly}").split() == ["1"]
    ak = Path(pwd.getpwnam(unix_user).pw_dir) / ".ssh" / "authorized_keys"
    assert not any(pub(keys("bob")) in line for line in key_lines(ak))
    status = json.loads(host.pairtui("system", "status", "--json").stdout)
    assert status["in_sync"] is False
    synced = host.as_root(added.stderr)
    assert synced.returncode == 0, synced.stderr
    assert any(pub(keys("bob")) in line for line in key_lines(ak))
    assert json.loads(host.pairtui("system", "status", "--json").stdout)["in_sync"] is True

    pairer = guests(sshd.port, keys("bob"), user=unix_user)
    pairer.wait_for("HOST-42")
    pairer.send("echo PAIR-$((6*7))\r")
    wait_until(lambda: "PAIR-42" in host.tmux("capture-pane", "-p", "-t", "host"),
               what="pair input in the host's pane")  # fmt: skip

    teardown = host.pairtui("system", "teardown")
    assert teardown.returncode == 1
    assert host.as_root(teardown.stderr).returncode == 0
    g.wait_exit()
    pairer.wait_exit()
    assert _trace(TmuxHost(host.socket, 0), run=host.tmux) == before
    assert not _user_exists(unix_user)


def _trace(host: TmuxHost, run: Callable[..., str] | None = None) -> dict[str, object]:
    """Everything setup may touch, as it stands."""
    paths = [host.socket, *host.socket.parents]
    return {
        "etc": {
            f: Path(f).read_text()
            for f in ("/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow")
        },
        "modes": {str(p): p.stat().st_mode for p in paths},
        "xattrs": {str(p): sorted(os.listxattr(p)) for p in paths},
        "server_access": run("server-access", "-l") if run else server_access(host),
    }


def test_teardown_leaves_no_trace(
    tmux_host: TmuxHost, unix_user: str, sshd: Sshd, keys: Callable[[str], Path],
    guests: Connect,
) -> None:  # fmt: skip
    type_in_host(tmux_host, "echo READY")
    before = _trace(tmux_host)
    add_guest("alice", keys("alice"), "--mode", "pair")
    share(tmux_host)
    setup(unix_user)
    home = Path(pwd.getpwnam(unix_user).pw_dir)
    during = _trace(tmux_host)
    assert during["xattrs"] != before["xattrs"] and during["server_access"] != ""
    g = guests(sshd.port, keys("alice"), user=unix_user)
    g.wait_for("READY")

    res = pairtui("system", "teardown")  # with the guest still connected
    assert res.returncode == 0, res.stderr
    assert f"removed user {unix_user}" in res.stdout
    g.wait_exit()
    assert _trace(tmux_host) == before
    assert not home.exists()
    assert not _user_exists(unix_user)
    assert not state_file().exists()
    assert pairtui_json("system", "status") == {"set_up": False}
    assert pairtui("system", "teardown").returncode == 1  # nothing left to undo
    again = subprocess.run(["ssh", "-F", "/dev/null", "-p", str(sshd.port), "-i",
                            str(keys("alice")), "-o", "BatchMode=yes",
                            "-o", "StrictHostKeyChecking=no",
                            "-o", "UserKnownHostsFile=/dev/null", f"{unix_user}@127.0.0.1"],
                           capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
    assert again.returncode == 255


async def test_the_dashboard_lists_a_system_guest_and_kicks_it(
    tmux_host: TmuxHost, unix_user: str, sshd: Sshd, keys: Callable[[str], Path],
    guests: Connect,
) -> None:  # fmt: skip
    import asyncio

    from test_app_live import SIZE, dashboard, started
    from test_control import eventually

    type_in_host(tmux_host, "echo READY")
    add_guest("alice", keys("alice"), "--mode", "view")
    share(tmux_host)
    setup(unix_user)
    app = dashboard(tmux_host.socket)
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        g = guests(sshd.port, keys("alice"), user=unix_user, size=(90, 30))
        await asyncio.to_thread(g.wait_for, "READY")
        table = app.main.clients_table
        await eventually(lambda: table.row_count == 1, what="the system guest's row")
        client = table.selected
        assert client is not None and client.id.startswith("sys-")
        assert (client.guest, client.mode, client.share) == ("alice", "view", "host")
        await pilot.press("k")
        await pilot.press("y")
        await asyncio.to_thread(g.wait_exit)
        await eventually(lambda: table.row_count == 0, what="the row to go")
    assert clients_of(tmux_host, unix_user) == []
