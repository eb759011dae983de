"""Recording a share (issue 18): what a view guest saw, who typed what, with consent shown.

Real tmux, a real `pairtui serve`, real OpenSSH guests; the recording's frames are
rendered with pyte and compared with a view guest's own screen.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyte
import pytest
from support import (
    Server,
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
from test_cli_output import background_server
from test_e2e_full_disk import FULL, SmallDisk, small_disk

from pairtui import paths
from pairtui.audit import Audit
from pairtui.recording import cast

pytestmark = pytest.mark.e2e
__all__ = ["background_server", "small_disk"]  # fixtures, shared with other tests

Connect = Callable[..., SshGuest]


def final_frame(path: Path) -> list[str]:
    """The recording's last screen, as a terminal would show it after playing it all."""
    header, events = cast.read(path)
    screen = pyte.Screen(header.width, header.height)
    stream = pyte.Stream(screen)
    for e in events:
        if e.code == "o":
            stream.feed(e.data)
        elif e.code == "r":
            cols, rows = (int(n) for n in e.data.split("x"))
            screen.resize(rows, cols)
    return [line.rstrip() for line in screen.display]


def settled(g: SshGuest) -> list[str]:
    """The guest's screen once it has not changed for half a second."""
    last: list[str] = []

    def same() -> list[str] | None:
        nonlocal last
        g.pump(0.5)
        now = [line.rstrip() for line in g.screen.display]
        if now == last:
            return now
        last = now
        return None

    return wait_until(same, 10, what="the guest's screen to settle")


def host_status(host: TmuxHost) -> str:
    """``#{@pairtui_status}``, the host's status segment."""
    return host.run("display-message", "-p", "#{@pairtui_status}")


def recording_of(share: str) -> Path:
    [path] = sorted(paths.recordings_dir().glob(f"{share}-*.cast"))
    return path


def test_a_recording_holds_what_a_view_guest_saw_and_who_typed(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    host, srv = shared
    add_guest("alice", keys("alice"), "--mode", "pair")
    add_guest("bob", keys("bob"), "--mode", "view")
    add_guest("carol", keys("carol"), "--mode", "pair")
    alice = guests(srv.port, keys("alice"))
    alice.wait_for("MARK-21")
    res = pairtui("record", "main", "--input")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("recording main (what its guests see and what pair guests")
    path = recording_of("main")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    alice.wait_for("the host is recording this share")  # told while in the share

    # A terminal the size of the shared window and its status line, as the recorder's.
    header, _ = cast.read(path)
    bob = guests(srv.port, keys("bob"), size=(header.width, header.height))
    bob.wait_for("MARK-21")
    # Told before the share is on its screen, and its status line says so while it lasts.
    told = bob.raw.find(b"pairtui: the host is recording this share (what you see and")
    assert 0 <= told < bob.raw.find(b"MARK-21")
    # (The message holds the status line for a few seconds first.)
    wait_until(lambda: " REC " in bob.text().splitlines()[-1], timeout=10, what="REC")
    wait_until(lambda: "REC main" in host_status(host), what="REC in the host's status")

    alice.send("echo ALICE-$((6*7))\r")
    bob.wait_for("ALICE-42")
    carol = guests(srv.port, keys("carol"))  # a second pair guest: who typed what
    carol.wait_for("MARK-21")
    carol.send("echo CAROL-$((7*3))\r")
    bob.wait_for("CAROL-21")
    type_in_host(host, "echo HOST-$((100+1))")
    bob.wait_for("HOST-101")
    seen = settled(bob)
    res = pairtui("record", "main", "--stop")
    assert res.returncode == 0, res.stderr

    assert final_frame(path) == seen  # what a view guest saw, frame for frame at the end
    # asciinema's own reader takes it, and plays the same bytes.
    played = subprocess.run([sys.executable, "-m", "asciinema", "cat", str(path)],
                            capture_output=True, stdin=subprocess.DEVNULL, timeout=30,
                            check=False)  # fmt: skip
    assert played.returncode == 0, played.stderr
    _, events = cast.read(path)
    assert played.stdout == "".join(e.data for e in events if e.code == "o").encode()
    _, events = cast.read(path)
    markers = [e.data for e in events if e.code == "m"]
    assert markers[:3] == ["alice joined (pair)", "bob joined (view)", "carol joined (pair)"]
    assert markers[-1] == "recording stopped: the host stopped it"
    typed = [json.loads(x) for x in cast.keys_path(path).read_text().splitlines()]
    by_guest = {g: "".join(d for _, who, d in typed if who == g) for _, g, _ in typed}
    # bob is view: nothing of his reaches a pane, nothing is kept
    assert by_guest == {"alice": "echo ALICE-$((6*7))\r", "carol": "echo CAROL-$((7*3))\r"}
    assert [e.data for e in cast.read(path)[1] if e.code == "i"] == [d for _, _, d in typed]
    audit = {e["event"]: e for e in Audit().read() if str(e["event"]).startswith("recording-")}
    assert audit["recording-ended"]["keys_typed"] == {
        "alice": len("echo ALICE-$((6*7))\r"),
        "carol": len("echo CAROL-$((7*3))\r"),
    }
    wait_until(lambda: " REC " not in bob.text().splitlines()[-1], what="REC to go")
    assert "REC" not in host_status(host)
    assert pairtui_json("record") == []


def test_without_input_keys_are_only_counted(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    _, srv = shared
    add_guest("alice", keys("alice"), "--mode", "pair")
    assert pairtui("record", "main").returncode == 0
    alice = guests(srv.port, keys("alice"))
    alice.wait_for("the host is recording this share (what you see).")
    alice.send("echo SECRET-$((1+1))\r")
    alice.wait_for("SECRET-2")
    assert pairtui("record", "main", "--stop").returncode == 0
    path = recording_of("main")
    assert not cast.keys_path(path).exists()
    _, events = cast.read(path)
    assert [e for e in events if e.code == "i"] == []
    [ended] = [e for e in Audit().read() if e["event"] == "recording-ended"]
    assert ended["keys_typed"] == {"alice": len("echo SECRET-$((1+1))\r")}


def test_a_killed_server_leaves_a_recording_that_plays(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    host, srv = shared
    assert pairtui("record", "main").returncode == 0
    type_in_host(host, "echo BEFORE-$((2*5))")
    time.sleep(1.5)  # the writer's flush interval, and a tick
    os.kill(srv.proc.pid, signal.SIGKILL)
    srv.proc.wait(10)
    cols, rows = (int(n) for n in host.window_size().split("x"))
    header, _ = cast.read(recording_of("main"))
    assert (header.width, header.height) == (cols, rows + 1)  # the window and its status
    assert "BEFORE-10" in final_frame(recording_of("main"))


def test_stopping_the_share_ends_its_recording_with_why(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path]
) -> None:
    assert pairtui("record", "main").returncode == 0
    assert pairtui("unshare", "main").returncode == 0
    path = recording_of("main")
    wait_until(lambda: pairtui_json("record") == [], what="the recording to end")
    _, events = cast.read(path)
    assert [e.data for e in events if e.code == "m"][-1] == "recording stopped: the share ended"


def test_recording_a_share_twice_or_one_that_does_not_exist_is_one_line(
    shared: tuple[TmuxHost, Server],
) -> None:
    assert pairtui("record", "main").returncode == 0
    again = pairtui("record", "main")
    assert again.returncode != 0
    assert again.stderr.startswith("pairtui: share 'main' is already being recorded (into ")
    nothing = pairtui("record", "nope")
    assert nothing.stderr.strip() == "pairtui: no share 'nope' (see `pairtui share list`)"
    assert pairtui("record", "nope", "--stop").returncode != 0


def test_a_full_disk_ends_the_recording_not_the_share(
    small_disk: SmallDisk, tmux_host: TmuxHost, keys: Callable[[str], Path], guests: Connect
) -> None:
    """The recording stops with why (in the server's log and to the host); the file
    written so far plays; the guest stays and sees what the host does next."""
    add_guest("alice", keys("alice"))
    share(tmux_host, "--session", "host", "--name", "main")
    srv = start_server()
    try:
        alice = guests(srv.port, keys("alice"))
        alice.wait_for("[pairtui]")
        assert pairtui("record", "main").returncode == 0
        path = recording_of("main")
        small_disk.fill()
        type_in_host(tmux_host, "seq 1 30000")  # far more than the disk has room for
        wait_until(lambda: pairtui_json("record") == [], timeout=20, what="the recording to end")
        cast.read(path)  # what was written plays: a valid header, events up to the cut
        small_disk.free()
        type_in_host(tmux_host, "echo STILL-$((3*3))")
        alice.wait_for("STILL-9")  # sharing went on
        srv.stop()
        [line] = [x for x in srv.output if "recording of share main stopped" in x]
        assert "cannot write" in line and FULL in line, line
    finally:
        srv.stop()


def test_share_record_shares_and_records_in_one_command(
    tmux_host: TmuxHost, background_server: None
) -> None:
    res = pairtui("share", "--tmux-socket", str(tmux_host.socket), "--session", "host",
                  "--name", "demo", "--record")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "recording demo (what its guests see) into " in res.stdout
    [row] = pairtui_json("record")
    assert (row["share"], row["state"], row["input"]) == ("demo", "recording", False)
    refused = pairtui("share", "--tmux-socket", str(tmux_host.socket), "--session", "host",
                      "--name", "two", "--record", "--no-server")  # fmt: skip
    assert refused.returncode == 0  # a server runs: nothing to refuse
    assert [r["share"] for r in pairtui_json("record")] == ["demo", "two"]


def test_share_record_without_a_server_is_refused_before_anything_is_shared(
    tmux_host: TmuxHost, background_server: None
) -> None:
    res = pairtui("share", "--tmux-socket", str(tmux_host.socket), "--record", "--no-server")
    assert res.returncode != 0
    assert res.stderr.strip() == "pairtui: --record needs a running server: leave out --no-server"
    assert pairtui_json("share", "list") == []


def test_a_recording_follows_the_shared_window_when_it_is_resized(
    shared: tuple[TmuxHost, Server],
) -> None:
    host, _ = shared
    assert pairtui("record", "main").returncode == 0
    path = recording_of("main")
    host.run("resize-window", "-t", "host", "-x", "100", "-y", "30")
    type_in_host(host, "echo WIDER-$((4*4))")

    def resized() -> bool:
        _, events = cast.read(path)  # flushed within a second
        return any(e.code == "r" and e.data == "100x31" for e in events)

    wait_until(resized, timeout=10, what="the resize in the recording")
    type_in_host(host, "echo AFTER-$((5*5))")
    time.sleep(1.5)
    assert pairtui("record", "main", "--stop").returncode == 0
    frame = final_frame(path)
    assert len(frame) == 31 and "AFTER-25" in frame


def test_a_recorded_share_renamed_goes_on_being_recorded_under_its_new_name(
    shared: tuple[TmuxHost, Server],
) -> None:
    host, _ = shared
    assert pairtui("record", "main").returncode == 0
    path = recording_of("main")
    assert pairtui("share", "rename", "main", "demo").returncode == 0
    wait_until(lambda: [r["share"] for r in pairtui_json("record")] == ["demo"],
               what="the recording under its new name")  # fmt: skip
    type_in_host(host, "echo RENAMED-$((7*7))")
    time.sleep(1.5)
    assert pairtui("record", "demo", "--stop").returncode == 0
    assert "RENAMED-49" in final_frame(path)
    _, events = cast.read(path)
    markers = [e.data for e in events if e.code == "m"]
    assert markers[-2:] == ["share main renamed demo", "recording stopped: the host stopped it"]
