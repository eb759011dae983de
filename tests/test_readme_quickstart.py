"""The README's quick start, run verbatim (issue 16): its code blocks are read from
README.md and run as written, in a new shell inside a real tmux, with only what
``./scripts/start`` leaves behind (the checkout's venv and the ``pairtui`` launcher in
``~/.local/bin``), and a real OpenSSH guest as alice.

Only the port differs from a real first run: 2222 may be taken on a test machine, so
the config names a free one.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
from pathlib import Path

import pytest
from support import SshGuest, TmuxHost, start_tmux, type_in_host, wait_until

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent


def quick_start_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)


class NewShell:
    """Runs a script in a new window of the host's tmux, as a shell a host opens there:
    nothing inherited but HOME, a plain PATH with ``~/.local/bin``, and tmux's own."""

    def __init__(self, host: TmuxHost, home: Path, work: Path) -> None:
        self.host, self.home, self.work = host, home, work
        self.env = {"HOME": str(home), "PATH": f"{home}/.local/bin:/usr/bin:/bin",
                    "LANG": "C.UTF-8", "TERM": "xterm-256color"}  # fmt: skip

    def run(self, name: str, script: str, timeout: float = 60) -> tuple[int, str]:
        (self.work / f"{name}.sh").write_text(script)
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
        line = (f'cd {shlex.quote(str(self.work))} && env -i {env} TMUX="$TMUX" '
                f'TMUX_PANE="$TMUX_PANE" bash -e {name}.sh > {name}.out 2>&1; '
                f"echo $? > {name}.rc")  # fmt: skip
        self.host.run("new-window", "-d", "-t", "main:", line)
        rc_file = self.work / f"{name}.rc"
        wait_until(lambda: rc_file.exists() and rc_file.read_text().strip(), timeout=timeout,
                   what=f"{name} to finish")  # fmt: skip
        return int(rc_file.read_text()), (self.work / f"{name}.out").read_text()

    def pairtui(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["pairtui", *args], env=self.env, capture_output=True, text=True, timeout=30,
            check=False,
        )  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_quick_start_works_verbatim_in_a_new_shell_inside_tmux(tmp_path: Path) -> None:
    first, connected = quick_start_blocks()
    home = tmp_path / "fresh-home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    # What ./scripts/start leaves besides the venv this test runs from.
    done = subprocess.run(
        [str(ROOT / "scripts" / "install-launcher")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin", "SHELL": "/bin/bash"},
    )
    assert done.returncode == 0, done.stderr  # fmt: skip
    port = free_port()
    config = home / ".config" / "pairtui" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f"[server]\nport = {port}\n")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "alice@laptop",
                    "-f", str(work / "alice")], check=True, timeout=30)  # fmt: skip

    host = start_tmux(Path(os.environ["TMUX_TMPDIR"]), session="main")
    shell = NewShell(host, home, work)
    try:
        type_in_host(host, "echo READY-$((40+2))", target="main")
        rc, out = shell.run("first", first)
        assert rc == 0, out
        assert f"ssh -p {port} guest@localhost" in out, out
        assert "started a pairtui server in the background" in out, out

        alice = SshGuest(port, work / "alice")
        try:
            alice.wait_for("READY-42", timeout=20)
            rc, out = shell.run("connected", connected)
            assert rc == 0, out
            assert re.search(r"alice\s+view\s+main", out), out  # the clients table
            assert alice.wait_exit(timeout=15) != 0  # kicked
            assert "disconnected by the host" in alice.output
        finally:
            alice.close()
        assert shell.pairtui("share", "list", "--json").stdout.strip() == "[]"
    finally:
        stopped = shell.pairtui("stop")
        host.kill()
    assert stopped.returncode == 0, stopped.stderr
