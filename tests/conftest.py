"""Every test runs with HOME, XDG_* and pairtui's dirs in temporary paths."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support import (
    Server,
    SshGuest,
    TmuxHost,
    keygen,
    share,
    share_host_session,
    start_server,
    start_tmux,
    type_in_host,
)

if TYPE_CHECKING:
    from pairtui.engine import Engine


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point everything pairtui or tmux might touch at throwaway directories.

    Sockets live under a short /tmp path: Unix socket paths are limited to 107 bytes.
    """
    short = Path(tempfile.mkdtemp(prefix="pt-", dir="/tmp"))
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "XDG_STATE_HOME": str(tmp_path / "xdg-state"),
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
        "XDG_RUNTIME_DIR": str(short / "run"),
        "PAIRTUI_CONFIG_DIR": str(tmp_path / "config"),
        "PAIRTUI_STATE_DIR": str(short / "state"),
        "TMUX_TMPDIR": str(short / "tmux"),
        "SHELL": "/bin/sh",
        "ENV": "",
        "LANG": "C.UTF-8",
        "TERM": "xterm-256color",
        "no_proxy": "*",
        "NO_PROXY": "*",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("TMUX", "TMUX_PANE", "SSH_AUTH_SOCK", "SSH_ORIGINAL_COMMAND", "http_proxy",
                 "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "DISPLAY"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    for d in ("run", "tmux"):
        (short / d).mkdir(mode=0o700)
    yield tmp_path
    _stop_background_server()
    shutil.rmtree(short, ignore_errors=True)


def _stop_background_server() -> None:
    """A server a test started in the background (``pairtui share``, the tmux key) and
    did not stop, found on this test's own control socket: ended, not left running."""
    from pairtui import control, paths

    if not paths.control_socket().exists():
        return
    try:
        reply = control.request("status")
    except Exception:  # noqa: BLE001 - whatever answers (or not), the test is over
        return
    pid = int(reply["status"]["pid"]) if reply else 0
    if pid <= 0:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.05)
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def tmux_host(isolated_env: Path) -> Iterator[TmuxHost]:
    import os

    host = start_tmux(Path(os.environ["TMUX_TMPDIR"]))
    yield host
    host.kill()


@pytest.fixture
def server() -> Iterator[Server]:
    srv = start_server()
    yield srv
    srv.stop()


@pytest.fixture
def keys(tmp_path: Path) -> Callable[[str], Path]:
    """``keys("alice")`` makes a key pair and returns the private key path."""
    made: dict[str, Path] = {}

    def make(name: str) -> Path:
        if name not in made:
            made[name] = keygen(tmp_path, name)
        return made[name]

    return make


@pytest.fixture
def guests() -> Iterator[Callable[..., SshGuest]]:
    """Start OpenSSH guests; every one still running at the end is closed."""
    started: list[SshGuest] = []

    def connect(*args: object, **kwargs: object) -> SshGuest:
        g = SshGuest(*args, **kwargs)  # type: ignore[arg-type]
        started.append(g)
        return g

    yield connect
    for g in started:
        g.close()


@pytest.fixture
def shared(tmux_host: TmuxHost) -> Iterator[tuple[TmuxHost, Server]]:
    """A host session printing MARK-21, shared as "main", and a running `pairtui serve`."""
    type_in_host(tmux_host, "echo MARK-$((20+1))")
    share(tmux_host, "--session", "host", "--name", "main")
    srv = start_server()
    yield tmux_host, srv
    srv.stop()


@pytest.fixture
async def engine(tmux_host: TmuxHost) -> AsyncIterator[Engine]:
    """The real engine in this process, on a free port, with the host's session shared as main."""
    from pairtui.engine import Engine

    share_host_session(tmux_host)
    eng = Engine("127.0.0.1", 0)
    await eng.start()
    yield eng
    await eng.stop()
