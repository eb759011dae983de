"""A registry that is broken, or half-written by an editor, kicks nobody (issue 15).

A real `pairtui serve`, a real OpenSSH guest in the shared session, and the registry
written the ways a host's editor or a mishap writes it: in place, garbage, empty.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support import (
    Server,
    SshGuest,
    TmuxHost,
    add_guest,
    holds_for,
    pairtui,
    pairtui_json,
    wait_until,
)

from pairtui.registry import SETTLE, Registry

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]
GARBAGE = b"# my notes\nthis is not an authorized_keys line\n"
STAYS_FOR = SETTLE + 2  # past the settling time and another tick of the server's watch


@pytest.fixture
def alice(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> SshGuest:
    """Guest alice, in the shared session."""
    _, srv = shared
    add_guest("alice", keys("alice"))
    g = guests(srv.port, keys("alice"))
    g.wait_for("MARK-21")
    wait_until(lambda: connected() == ["alice"], what="alice in `pairtui clients`")
    return g


def connected() -> list[str]:
    return [str(c["guest"]) for c in pairtui_json("clients")]


def still_in(g: SshGuest) -> Callable[[], bool]:
    def check() -> bool:
        return g.child.isalive() and "withdrawn" not in g.output

    return check


def write_in_place(path: Path, data: bytes) -> None:
    """As an editor that keeps the file's inode writes: truncate, then write."""
    with path.open("r+b") as f:
        f.truncate(0)
        f.write(data)


def without(data: bytes, name: str) -> bytes:
    return b"".join(ln for ln in data.splitlines(True) if name.encode() not in ln)


def test_garbage_kicks_nobody_and_is_an_error_until_a_good_registry_appears(
    alice: SshGuest,
) -> None:
    path = Registry().path
    good = path.read_bytes()
    write_in_place(path, GARBAGE)

    res = pairtui("guest", "list")
    assert res.returncode != 0
    assert f"{path}, line 2: neither a key line nor a comment" in res.stderr
    assert "no guests" not in res.stdout
    res = pairtui("guest", "list", "--json")
    assert res.returncode != 0
    assert json.loads(res.stdout)["file"] == str(path)
    assert json.loads(res.stdout)["line"] == 2
    res = pairtui("guest", "remove", "alice")
    assert res.returncode != 0 and f"{path}, line 2" in res.stderr
    assert path.read_bytes() == GARBAGE  # nothing rewrote it

    holds_for(still_in(alice), STAYS_FOR)
    assert connected() == ["alice"]

    # A good registry without alice, written in place: she is out once it has settled.
    write_in_place(path, without(good, "alice"))
    assert alice.wait_exit(timeout=STAYS_FOR + 5) != 0
    assert "invitation was withdrawn" in alice.output
    assert pairtui("guest", "list").returncode == 0


def test_an_editor_that_truncates_then_writes_kicks_nobody(alice: SshGuest) -> None:
    path = Registry().path
    good = path.read_bytes()
    inode = path.stat().st_ino
    with path.open("r+b") as f:
        f.truncate(0)
    time.sleep(1.5)
    with path.open("r+b") as f:
        f.write(good)
    assert path.stat().st_ino == inode
    holds_for(still_in(alice), STAYS_FOR)
    assert connected() == ["alice"]


def test_a_half_written_registry_kicks_nobody(alice: SshGuest) -> None:
    """Cut in the middle of alice's key line for a while, then finished."""
    path = Registry().path
    good = path.read_bytes()
    with path.open("r+b") as f:
        f.truncate(0)
        f.write(good[: good.index(b"pairtui:alice") - 20])
    time.sleep(1.5)
    write_in_place(path, good)
    holds_for(still_in(alice), STAYS_FOR)
    assert connected() == ["alice"]


def test_guest_remove_still_kicks_at_once(alice: SshGuest) -> None:
    start = time.monotonic()
    res = pairtui("guest", "remove", "alice")
    assert res.returncode == 0, res.stderr
    assert alice.wait_exit(timeout=SETTLE) != 0
    assert time.monotonic() - start < SETTLE
    assert "invitation was withdrawn" in alice.output


def test_serve_refuses_to_start_on_a_broken_registry(tmux_host: TmuxHost) -> None:
    path = Registry().path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"# notes\n# pairtui-guest {not json\n")
    try:
        res = pairtui("serve", "--port", "0", timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("pairtui serve ran on a registry it cannot read")
    assert res.returncode != 0
    assert f"{path}, line 2: a pairtui-guest line that does not parse" in res.stderr


def test_the_server_logs_a_broken_registry_once(
    alice: SshGuest, shared: tuple[TmuxHost, Server]
) -> None:
    _, srv = shared
    path = Registry().path
    write_in_place(path, GARBAGE)
    holds_for(still_in(alice), STAYS_FOR + 1)
    srv.stop()
    said = [line for line in srv.output if f"{path}, line 2" in line]
    assert len(said) == 1, srv.output
