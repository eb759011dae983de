"""Attack: a pair guest grows a ``--input`` recording past its size cap.

A recording ends by itself at its size cap (``[recording] max_size_mb``), the cast and
the keys sidecar counted together (``CastWriter.size``). But ``Recorder`` looks at the
size only when tmux *draws* something (``_output``); keys typed (``Recorder.input``)
are written to the cast (``i`` events) and the sidecar without a look. A pair guest
whose keys draw nothing (``stty -echo; cat >/dev/null``) then writes as much as it can
type into the host's state dir, until the age cap (12 h by default) or a full disk.

Real OpenSSH, real tmux, real `pairtui serve` with a 1 MiB cap.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

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
)

from pairtui import paths
from pairtui.recording import cast

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]
MiB = 1024 * 1024


@pytest.fixture
def capped(tmux_host: TmuxHost) -> Iterator[Server]:
    cfg = Path(os.environ["PAIRTUI_CONFIG_DIR"])
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "config.toml").write_text("[recording]\nmax_size_mb = 1\n")
    type_in_host(tmux_host, "echo MARK-$((20+1))")
    share(tmux_host, "--session", "host", "--name", "main")
    srv = start_server()
    yield srv
    srv.stop()


def test_keys_that_draw_nothing_still_end_the_recording_at_its_size_cap(
    capped: Server, keys: Callable[[str], Path], guests: Connect
) -> None:
    add_guest("mallory", keys("mallory"), "--mode", "pair")
    g = guests(capped.port, keys("mallory"))
    g.wait_for("MARK-21")
    g.send("stty -echo; cat >/dev/null\r")
    time.sleep(1)
    res = pairtui("record", "main", "--input")
    assert res.returncode == 0, res.stderr
    [path] = sorted(paths.recordings_dir().glob("main-*.cast"))
    line = b"x" * 1023 + b"\r"
    deadline = time.monotonic() + 60
    sent = 0
    while sent < 3 * MiB and time.monotonic() < deadline:
        g.send(line * 64)
        sent += 64 * len(line)
        g.pump(0)
    time.sleep(2)  # flushed within a second
    stored = path.stat().st_size + cast.keys_path(path).stat().st_size
    still = pairtui_json("record")
    assert sent >= 3 * MiB
    assert still == [], f"still recording after {sent} bytes typed: {stored} bytes stored"
    assert stored < 2 * MiB, f"{stored} bytes stored under a 1 MiB cap"
