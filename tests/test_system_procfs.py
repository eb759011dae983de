"""The /proc readers, on this test's own process and children it starts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import wait_until

from pairtui.system import procfs
from pairtui.system.clients import origin

NO_SUCH_PID = 2**22 + 1  # above the kernel's highest pid_max
Spawn = Callable[..., "subprocess.Popen[bytes]"]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start a child; whatever is still running at the end is killed and reaped."""
    children: list[subprocess.Popen[bytes]] = []

    def start(
        argv: list[str | bytes], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        child = subprocess.Popen(argv, env=env)
        children.append(child)
        return child

    yield start
    for child in children:
        child.kill()
        child.wait(10)


def test_parent_of_this_process() -> None:
    assert procfs.parent(os.getpid()) == os.getppid()
    assert procfs.parent(NO_SUCH_PID) is None


def test_the_parent_of_a_process_whose_name_has_parens_and_spaces(
    spawn: Spawn, tmp_path: Path
) -> None:
    odd = tmp_path / "a) b (c d"  # /proc/PID/stat shows it as "(a) b (c d)"
    odd.symlink_to(shutil.which("sleep") or "/bin/sleep")
    child = spawn([str(odd), "30"])
    wait_until(lambda: "(a) b (c d)" in stat_of(child.pid), what="the exec")
    assert procfs.parent(child.pid) == os.getpid()


def stat_of(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text()


def test_cmdline_of_this_process() -> None:
    assert procfs.cmdline(os.getpid()) == sys.orig_argv
    assert procfs.cmdline(NO_SUCH_PID) == []


def test_cmdline_keeps_empty_arguments_and_replaces_undecodable_bytes(spawn: Spawn) -> None:
    child = spawn(["sh", "-c", "sleep 30; :", "", b"caf\xe9"])
    want = ["sh", "-c", "sleep 30; :", "", "caf\ufffd"]
    wait_until(lambda: procfs.cmdline(child.pid) == want, what="the exec")


def test_environ_var_reads_what_a_child_started_with(spawn: Spawn) -> None:
    env = {"PATH": os.environ["PATH"], "SSH_CONNECTION": "203.0.113.5 50000 10.0.0.1 22"}
    child = spawn(["sleep", "30"], env=env)
    # Right after the exec the kernel may not show the new environment yet.
    found = wait_until(lambda: procfs.environ_var(child.pid, "SSH_CONNECTION"), what="env")
    assert found == env["SSH_CONNECTION"]
    assert procfs.environ_var(child.pid, "SSH") is None  # a whole name, not a prefix
    assert procfs.environ_var(NO_SUCH_PID, "PATH") is None


def test_user_processes_lists_this_one_and_its_children(spawn: Spawn) -> None:
    child = spawn(["sleep", "30"])
    mine = procfs.user_processes(os.getuid())
    assert {os.getpid(), child.pid} <= set(mine)
    assert procfs.user_processes(54321) == []  # a uid nothing here runs as


def test_origin_reads_the_forced_commands_parent(spawn: Spawn) -> None:
    """What sshd leaves for a system guest: ``sh -c '<attach>; : pairtui-guest=NAME'``
    with ``SSH_CONNECTION`` set, and the attach as its child."""
    env = {"PATH": os.environ["PATH"], "SSH_CONNECTION": "203.0.113.5 50000 10.0.0.1 22"}
    shell = spawn(["sh", "-c", "sleep 30; : pairtui-guest=alice.b-2"], env=env)

    def attach() -> int | None:
        kids = [p for p in procfs.user_processes(os.getuid()) if procfs.parent(p) == shell.pid]
        return kids[0] if kids else None

    pid = wait_until(attach, what="the shell's child")
    assert origin(pid) == ("alice.b-2", "203.0.113.5:50000")
    assert origin(shell.pid)[0] == ""  # this test's process has no marker
    assert origin(NO_SUCH_PID) == ("", "")
