"""A full disk (issue 15, point 3): pairtui's files on a 200 KiB tmpfs that fills up.

Every failed write names its file and leaves it whole; the audit log failing is told
once and never breaks a join, a leave or a kick; once space is freed all works again.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import (
    SshGuest,
    TmuxHost,
    add_guest,
    pairtui,
    pairtui_json,
    share,
    start_server,
    type_in_host,
    wait_until,
)

from pairtui.audit import Audit

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]
FULL = os.strerror(errno.ENOSPC)


@dataclass
class SmallDisk:
    """pairtui's config and state dirs on a tmpfs of their own."""

    mount: Path
    config: Path
    state: Path

    def fill(self) -> None:
        """Take every free block: a write that needs one more fails with ENOSPC.

        The audit log goes first: appending to a file whose last block has room left
        would still succeed, and the log must be one that cannot grow.
        """
        (self.state / "audit.jsonl").unlink(missing_ok=True)
        fd = os.open(self.mount / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for chunk in (b"\0" * 4096, b"\0"):
                with contextlib.suppress(OSError):
                    while True:
                        os.write(fd, chunk)
        finally:
            os.close(fd)

    def free(self) -> None:
        (self.mount / "filler").unlink()


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)


@pytest.fixture
def small_disk(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmallDisk]:
    # Beside the isolated state dir: a short path, for the control socket.
    mount = Path(os.environ["PAIRTUI_STATE_DIR"]).parent / "disk"
    mount.mkdir()
    res = _run("mount", "-t", "tmpfs", "-o", "size=200k,mode=0700", "tmpfs", str(mount))
    if res.returncode != 0:
        pytest.skip(
            "a full disk needs a tmpfs this test mounts, and mounting is impossible here "
            f"(not root, or no CAP_SYS_ADMIN): {res.stderr.strip()}"
        )
    try:
        disk = SmallDisk(mount, mount / "config", mount / "state")
        monkeypatch.setenv("PAIRTUI_CONFIG_DIR", str(disk.config))
        monkeypatch.setenv("PAIRTUI_STATE_DIR", str(disk.state))
        yield disk
    finally:
        if _run("umount", str(mount)).returncode != 0:
            _run("umount", "-l", str(mount))  # something still holds a file open


def _no_temp_files(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_each_command_that_cannot_write_names_the_file_and_changes_nothing(
    small_disk: SmallDisk, tmux_host: TmuxHost, keys: Callable[[str], Path]
) -> None:
    add_guest("alice", keys("alice"))
    share(tmux_host, "--session", "host", "--name", "main")
    registry = small_disk.config / "authorized_keys"
    shares = small_disk.state / "shares.json"
    before = (registry.read_bytes(), shares.read_bytes())
    small_disk.fill()

    tries: dict[Path, list[tuple[str, ...]]] = {
        registry: [
            ("guest", "add", "bob", "--key", f"{keys('bob')}.pub"),
            ("guest", "remove", "alice"),
            ("guest", "set", "alice", "--mode", "pair"),
        ],
        shares: [("unshare", "main")],
    }
    for path, commands in tries.items():
        for argv in commands:
            res = pairtui(*argv)
            assert res.returncode != 0, (argv, res.stdout)
            [line] = res.stderr.splitlines()  # one line, no traceback
            assert str(path) in line and FULL in line, (argv, line)
    assert (registry.read_bytes(), shares.read_bytes()) == before  # whole, unchanged
    assert _no_temp_files(small_disk.config) == _no_temp_files(small_disk.state) == []

    small_disk.free()
    add_guest("bob", keys("bob"))
    assert sorted(g["name"] for g in pairtui_json("guest", "list")) == ["alice", "bob"]


def test_joins_leaves_and_kicks_work_while_the_audit_log_cannot_be_written(
    small_disk: SmallDisk, tmux_host: TmuxHost, keys: Callable[[str], Path], guests: Connect
) -> None:
    type_in_host(tmux_host, "echo MARK-$((20+1))")
    add_guest("alice", keys("alice"), "--mode", "pair")
    add_guest("bob", keys("bob"))
    share(tmux_host, "--session", "host", "--name", "main")
    srv = start_server()
    try:
        small_disk.fill()

        def listed() -> list[str]:
            return sorted(c["guest"] for c in pairtui_json("clients"))

        def attached() -> int:
            return sum(c["session"].startswith("pairtui-") for c in tmux_host.clients())

        alice = guests(srv.port, keys("alice"))
        alice.wait_for("MARK-21")
        bob = guests(srv.port, keys("bob"))
        bob.wait_for("MARK-21")
        wait_until(lambda: listed() == ["alice", "bob"], what="both guests listed")
        alice.send("echo PAIR-$((6*7))\r")  # the join works: a pair guest's keys arrive
        wait_until(lambda: "PAIR-42" in tmux_host.capture(), what="alice's keys in the pane")

        bob.send("\r~.")  # ssh's escape: bob hangs up
        bob.wait_exit()
        wait_until(lambda: listed() == ["alice"], what="bob's leave")
        wait_until(lambda: attached() == 1, what="bob's tmux client gone")

        res = pairtui("kick", "alice")
        assert res.returncode == 0, res.stderr
        assert alice.wait_exit() != 0  # the connection is closed, not left as a ghost
        assert listed() == []
        wait_until(lambda: attached() == 0, what="alice's tmux client gone")
        assert not (small_disk.state / "audit.jsonl").read_bytes()  # nothing half-written

        small_disk.free()
        alice = guests(srv.port, keys("alice"))
        alice.wait_for("MARK-21")
        wait_until(lambda: listed() == ["alice"], what="alice listed again")
        res = pairtui("kick", "alice")
        assert res.returncode == 0, res.stderr
        assert alice.wait_exit() != 0
        events = Audit().read()
        assert [e["event"] for e in events] == ["error", "join", "kick"]
        # Missed: two joins, a leave and a kick.
        assert str(events[0]["reason"]).startswith(f"4 events not recorded ({FULL})")
    finally:
        srv.stop()
    out = "\n".join(srv.output)
    assert "Traceback" not in out and "Task exception" not in out, out
    told = [line for line in srv.output if "cannot write the audit log" in line]
    assert len(told) == 1 and FULL in told[0], out  # once, not once per event
    assert sum("audit log" in line and "is written again" in line for line in srv.output) == 1


def test_an_audit_line_that_does_not_fit_is_taken_back_whole(
    small_disk: SmallDisk, capsys: pytest.CaptureFixture[str]
) -> None:
    small_disk.state.mkdir()
    path = small_disk.state / "audit.jsonl"
    audit = Audit(path)  # tells stderr (the server's log)
    audit.record("join", guest="alice")
    kept = path.read_bytes()
    small_disk.fill()  # takes the log away first
    fd = os.open(small_disk.mount / "filler", os.O_WRONLY)
    os.ftruncate(fd, os.fstat(fd).st_size - 4096)  # one block free
    os.close(fd)
    path.write_bytes(kept)  # in that block, with room for part of a line
    audit.record("leave", guest="alice", reason="x" * 10_000)
    assert path.read_bytes() == kept  # the part that fitted is gone again
    assert [json.loads(line)["event"] for line in kept.splitlines()] == ["join"]
    [told] = capsys.readouterr().err.splitlines()
    assert str(path) in told and FULL in told
