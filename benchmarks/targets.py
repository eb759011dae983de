"""The three things guests connect to, each with its own tmux server.

- ``direct``: ``tmux attach`` on a local PTY, no SSH at all (the floor).
- ``openssh``: a private ``/usr/sbin/sshd`` whose ``authorized_keys`` forces
  ``tmux attach`` (the reference every host already has).
- ``pairtui``: ``pairtui serve`` with the same key registered as a ``pair`` guest.

Everything lives under one short temporary directory with ``HOME``, ``XDG_*``,
``TMUX_TMPDIR`` and pairtui's directories pointing into it, and ``SHELL=/bin/sh``.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from benchmarks.procs import Reaper
from benchmarks.tmuxhost import SESSION, TmuxHost

REPO = Path(__file__).resolve().parent.parent
SSHD = "/usr/sbin/sshd"


class SetupError(RuntimeError):
    """A target could not be started; the message says why in one line."""


class Lab:
    """The temporary world every process of one run lives in."""

    cipher: ClassVar[str | None] = None  # `ssh -c`, for every SSH target alike

    def __init__(self, reaper: Reaper) -> None:
        self.reaper = reaper
        # Short: Unix socket paths (tmux, pairtui's control socket) are limited to 107 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="ptb-", dir="/tmp"))
        self.python = sys.executable
        home = self.root / "home"
        home.mkdir()
        for d in ("run", "tmux"):
            (self.root / d).mkdir(mode=0o700)
        path = os.environ.get("PATH", "/usr/bin:/bin")
        self.env: dict[str, str] = {
            "PATH": path if "/usr/sbin" in path else f"{path}:/usr/sbin",
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(self.root / "xdg-config"),
            "XDG_STATE_HOME": str(self.root / "xdg-state"),
            "XDG_DATA_HOME": str(self.root / "xdg-data"),
            "XDG_CACHE_HOME": str(self.root / "xdg-cache"),
            "XDG_RUNTIME_DIR": str(self.root / "run"),
            "TMUX_TMPDIR": str(self.root / "tmux"),
            "SHELL": "/bin/sh",
            "ENV": "",
            "LANG": "C.UTF-8",
            "TERM": "xterm-256color",
        }
        self.key = self.root / "guest_ed25519"
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench@pairtui",
              "-f", str(self.key)], self.env)  # fmt: skip
        self.pubkey = self.key.with_suffix(".pub")

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def ssh_argv(self, port: int, user: str, *extra: str) -> list[str]:
        """The guest: the real OpenSSH client, same options for every SSH target."""
        return [
            "ssh", "-F", "/dev/null", "-p", str(port), "-i", str(self.key),
            "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "IdentityAgent=none",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "-o", "KexAlgorithms=curve25519-sha256", "-o", "ConnectTimeout=15",
            "-o", "ControlMaster=no", "-o", "ControlPath=none",
            *(["-c", self.cipher] if self.cipher else []), *extra, f"{user}@127.0.0.1",
        ]  # fmt: skip


class Target(ABC):
    name: ClassVar[str]

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.dir = lab.root / self.name
        self.dir.mkdir()
        self.env = dict(lab.env)
        self.tmux = TmuxHost(self.dir / "tmux.sock", self.env, lab.reaper)

    def start(self) -> None:
        self.tmux.start()

    @abstractmethod
    def guest_argv(self) -> list[str]:
        """How a guest connects (run on a fresh 80x24 PTY)."""

    def server_roots(self, guest_pids: Sequence[int]) -> list[int]:
        """Roots of the process trees charged to this target's server.

        Not the tmux server: it does the same work for every target and is reported
        on its own.
        """
        return []

    def guest_side(self, guest_pids: Sequence[int]) -> list[int]:
        """Processes that are the guest's own (the ``ssh`` clients)."""
        return list(guest_pids)

    def describe(self) -> dict[str, object]:
        return {}


class Direct(Target):
    name = "direct"

    def guest_argv(self) -> list[str]:
        return ["tmux", "-u", "-S", str(self.tmux.socket), "attach-session", "-t", f"={SESSION}"]

    def server_roots(self, guest_pids: Sequence[int]) -> list[int]:
        # No server: the tmux clients themselves stand where the SSH server would be.
        return list(guest_pids)

    def guest_side(self, guest_pids: Sequence[int]) -> list[int]:
        return []


class OpenSSH(Target):
    name = "openssh"

    def __init__(self, lab: Lab) -> None:
        super().__init__(lab)
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.dir / "sshd.log"

    def start(self) -> None:
        super().start()
        if not Path(SSHD).exists():
            raise SetupError(
                f"{SSHD} is missing: apt-get update -qq && apt-get install -y openssh-server"
            )
        Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
        hostkey = self.dir / "ssh_host_ed25519_key"
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(hostkey)], self.env)
        home = self.dir / "home"  # no rc files here
        home.mkdir()
        tmux = shutil.which("tmux") or "tmux"
        attach = f"exec {tmux} -u -S {self.tmux.socket} attach-session -t ={SESSION}"
        keys = self.dir / "authorized_keys"
        keys.write_text(f'restrict,pty,command="{attach}" {self.lab.pubkey.read_text().strip()}\n')
        for attempt in range(3):
            self.port = free_port()
            config = self.dir / "sshd_config"
            config.write_text(_sshd_config(self.port, hostkey, keys, home, self.dir))
            with self.log.open("ab") as log:
                self.proc = self.lab.reaper.spawn(
                    [SSHD, "-D", "-e", "-f", str(config)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self.env,
                    start_new_session=True,
                )  # fmt: skip
            if wait_port(self.port, self.proc, 10):
                return
            self.proc.kill()
            self.proc.wait(5)
            if attempt == 2:
                raise SetupError(f"sshd did not start: {self.log.read_text()[-500:]}")

    def guest_argv(self) -> list[str]:
        return self.lab.ssh_argv(self.port, getpass.getuser(), "-tt")

    def add_viewer_key(self, pubkey: Path) -> None:
        """Let ``pubkey``'s guests in read-only, attached to the host's session itself:
        the classic recipe for a class (``tmux attach -r``, no share sessions), next to
        the harness's read-write key. sshd reads the file at each login: no restart."""
        tmux = shutil.which("tmux") or "tmux"
        attach = f"exec {tmux} -u -S {self.tmux.socket} attach-session -r -t ={SESSION}"
        line = f'restrict,pty,command="{attach}" {pubkey.read_text().strip()}\n'
        keys = self.dir / "authorized_keys"
        if line not in keys.read_text():
            with keys.open("a") as f:
                f.write(line)

    def server_roots(self, guest_pids: Sequence[int]) -> list[int]:
        return [self.proc.pid] if self.proc else []

    def describe(self) -> dict[str, object]:
        out = subprocess.run([SSHD, "-V"], capture_output=True, text=True, check=False)
        return {"version": (out.stderr or out.stdout).strip(), "port": self.port}


class Pairtui(Target):
    name = "pairtui"

    rev: ClassVar[str | None] = None  # a git revision to measure instead of the working tree
    src_dir: ClassVar[Path | None] = None  # or another checkout (e.g. an experiment)
    loop: ClassVar[str] = "asyncio"  # or "uvloop", through benchmarks/serve_with.py
    python: ClassVar[str | None] = None  # another interpreter for pairtui (the venv's packages)

    def __init__(self, lab: Lab) -> None:
        super().__init__(lab)
        self.env["PAIRTUI_CONFIG_DIR"] = str(self.dir / "config")
        self.env["PAIRTUI_STATE_DIR"] = str(self.dir / "state")
        # The control socket lives in $XDG_RUNTIME_DIR/pairtui: one runtime dir per pairtui
        # world, or the dashboard phase's `pairtui dashboard` would find this target's
        # `pairtui serve` and attach to it instead of serving.
        runtime = self.dir / "run"
        runtime.mkdir(mode=0o700)
        self.env["XDG_RUNTIME_DIR"] = str(runtime)
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.dir / "serve.log"
        self.src = self.src_dir or REPO
        self.commit = ""
        if self.rev is not None:
            self.src = self._export(self.rev)
        if not (self.src / "pairtui" / "__main__.py").exists():
            raise SetupError(f"no pairtui package in {self.src}")
        # `python -m pairtui` from src: the snapshot, not the venv's editable install.
        path = [str(self.src), str(REPO)]
        self.interpreter = self.lab.python
        if self.python is not None:
            # Another interpreter (same minor version) runs pairtui on this venv's packages.
            self.interpreter = self.python
            path.append(sysconfig.get_path("purelib"))
        self.env["PYTHONPATH"] = os.pathsep.join(path)

    def _export(self, rev: str) -> Path:
        """A read-only snapshot of ``pairtui/`` at ``rev`` (others may be editing the tree)."""
        self.commit = _run(["git", "-C", str(REPO), "rev-parse", "--verify", f"{rev}^{{commit}}"],
                           self.env).strip()  # fmt: skip
        dest = self.dir / "src"
        dest.mkdir()
        archive = subprocess.run(["git", "-C", str(REPO), "archive", self.commit, "pairtui"],
                                 capture_output=True, check=False, timeout=60)  # fmt: skip
        if archive.returncode != 0:
            raise SetupError(f"git archive {rev}: {archive.stderr.decode(errors='replace')}")
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True,
                       timeout=60)  # fmt: skip
        return dest

    def cli(self, *args: str) -> str:
        return _run([self.interpreter, "-m", "pairtui", *args], self.env, cwd=self.src)

    def start(self) -> None:
        super().start()
        self.cli("guest", "add", "bench", "--key", str(self.lab.pubkey), "--mode", "pair")
        self._serve()
        # Shared once the server runs: a `pairtui share` that finds none may start one of
        # its own in the background, which the harness would neither measure nor end.
        self.cli("share", "--tmux-socket", str(self.tmux.socket), "--session", SESSION,
                 "--name", SESSION)  # fmt: skip

    def _serve(self) -> None:
        with self.log.open("wb") as log:
            serve = ["serve", "--listen", "127.0.0.1", "--port", "0"]
            if self.loop == "asyncio":
                argv = [self.interpreter, "-m", "pairtui", *serve]
            else:
                argv = [self.interpreter, "-m", "benchmarks.serve_with", self.loop, *serve]
            self.proc = self.lab.reaper.spawn(
                argv,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                cwd=self.src, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.proc.poll() is None:
            if m := re.search(r"serving on \S+:(\d+)", self.log.read_text(errors="replace")):
                self.port = int(m[1])
                return
            time.sleep(0.05)
        raise SetupError(f"pairtui serve did not start: {self.log.read_text()[-800:]}")

    def guest_argv(self) -> list[str]:
        return self.lab.ssh_argv(self.port, "guest", "-tt")

    def server_roots(self, guest_pids: Sequence[int]) -> list[int]:
        return [self.proc.pid] if self.proc else []

    def describe(self) -> dict[str, object]:
        import asyncssh

        if self.commit:
            source = f"{self.commit[:10]} ({self.rev})"
        elif self.src != REPO:
            source = str(self.src)
        else:
            head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short=10", "HEAD"],
                                  capture_output=True, text=True, check=False)  # fmt: skip
            dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "pairtui"],
                                   capture_output=True, text=True, check=False)  # fmt: skip
            changed = " + uncommitted changes" if dirty.stdout.strip() else ""
            source = f"working tree at {head.stdout.strip()}{changed}"
        return {
            "source": source,
            "asyncssh": asyncssh.__version__,
            "event_loop": self.loop,
            "python": _version_of(self.interpreter),
            "port": self.port,
            "pid": self.proc.pid if self.proc else None,
        }


TARGETS: dict[str, type[Target]] = {t.name: t for t in (Direct, OpenSSH, Pairtui)}


def negotiated(lab: Lab, port: int, user: str) -> dict[str, str]:
    """Key exchange and ciphers the guest's ssh agrees on (one extra connection, ``-v``)."""
    argv = lab.ssh_argv(port, user, "-v", "-T", "-o", "LogLevel=DEBUG1")
    with contextlib.suppress(subprocess.TimeoutExpired):
        res = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             timeout=15, env=lab.env, check=False)  # fmt: skip
        out: dict[str, str] = {}
        for line in res.stderr.splitlines():
            if m := re.search(r"kex: algorithm: (\S+)", line):
                out["kex"] = m[1]
            elif m := re.search(r"kex: server->client cipher: (\S+) MAC: (\S+)", line):
                out["cipher"], out["mac"] = m[1], m[2]
            elif m := re.search(r"remote software version (.+)", line):
                out["server_software"] = m[1].strip()
        return out
    return {}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(1)
            try:
                s.connect(("127.0.0.1", port))
            except OSError:
                time.sleep(0.05)
                continue
            return True
    return False


def _sshd_config(port: int, hostkey: Path, keys: Path, home: Path, run: Path) -> str:
    # SetEnv HOME points bash (root's login shell, which runs the forced command) at an
    # empty directory, and SHLVL=1 stops it sourcing any rc file at all: Debian's bash
    # sources ~/.bashrc for commands run by sshd otherwise, and that is not sshd's cost.
    return f"""\
Port {port}
ListenAddress 127.0.0.1
HostKey {hostkey}
PidFile {run / "sshd.pid"}
AuthorizedKeysFile {keys}
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UseDNS no
PrintMotd no
PrintLastLog no
MaxStartups 1000
MaxSessions 10
LogLevel ERROR
SetEnv HOME={home} SHLVL=1 LANG=C.UTF-8
"""


def _run(argv: Sequence[str], env: dict[str, str], cwd: Path | None = None) -> str:
    res = subprocess.run(list(argv), capture_output=True, text=True, env=env, cwd=cwd,
                         timeout=60, check=False)  # fmt: skip
    if res.returncode != 0:
        cmd = " ".join(shlex.quote(a) for a in argv)
        raise SetupError(f"{cmd} failed: {(res.stderr or res.stdout).strip()[-500:]}")
    return res.stdout


def _version_of(python: str) -> str:
    code = "import sys; print(sys.version.split()[0], sys.executable)"
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False,
                         timeout=30)  # fmt: skip
    return out.stdout.strip() or python
