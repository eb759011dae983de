"""Real parts for tests: an isolated tmux server, `pairtui serve`, and OpenSSH guests in PTYs."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pexpect
import pyte

T = TypeVar("T")


def wait_until(
    check: Callable[[], T | None], timeout: float = 10.0, interval: float = 0.05, what: str = ""
) -> T:
    """Poll ``check`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or check}: last={last!r}")


def holds_for(check: Callable[[], object], seconds: float, interval: float = 0.1) -> None:
    """Assert ``check`` stays truthy for ``seconds`` (for "it does not change back")."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert check(), f"{check} stopped holding"
        time.sleep(interval)


def pairtui(
    *args: str, input: str | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a child process (it inherits the test's isolated environment)."""
    return subprocess.run(
        [sys.executable, "-m", "pairtui", *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def pairtui_json(*args: str) -> Any:
    res = pairtui(*args, "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def keygen(directory: Path, name: str, kind: str = "ed25519") -> Path:
    """A fresh key pair; returns the private key path (the public one is ``.pub`` beside it)."""
    path = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", f"{name}@test", "-f", str(path)],
        check=True,
        timeout=30,
    )
    return path


@dataclass
class TmuxHost:
    """A tmux server on its own socket, standing in for the host's tmux."""

    socket: Path
    pid: int

    def run(self, *args: str, check: bool = True) -> str:
        res = subprocess.run(
            ["tmux", "-S", str(self.socket), *args],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
        if check and res.returncode != 0:
            raise AssertionError(f"tmux {args}: {res.stderr}")
        return res.stdout

    def capture(self, target: str = "host") -> str:
        return self.run("capture-pane", "-p", "-t", target)

    def clients(self) -> list[dict[str, str]]:
        fmt = "#{client_tty}\t#{session_name}\t#{client_readonly}\t#{client_width}x#{client_height}"
        rows = self.run("list-clients", "-F", fmt, check=False).splitlines()
        keys = ("tty", "session", "readonly", "size")
        return [dict(zip(keys, r.split("\t"), strict=True)) for r in rows if r]

    def window_size(self, target: str = "host") -> str:
        return self.run(
            "display-message", "-p", "-t", target, "#{window_width}x#{window_height}"
        ).strip()

    def kill(self) -> None:
        self.run("kill-server", check=False)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)


def start_tmux(base: Path, session: str = "host", size: tuple[int, int] = (120, 40)) -> TmuxHost:
    name = f"pt-{uuid.uuid4().hex[:8]}"
    socket = base / name
    subprocess.run(
        ["tmux", "-S", str(socket), "-f", "/dev/null", "new-session", "-d", "-s", session,
         "-x", str(size[0]), "-y", str(size[1])],
        check=True, timeout=10,
    )  # fmt: skip
    pid = int(
        subprocess.run(
            ["tmux", "-S", str(socket), "display-message", "-p", "#{pid}"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout
    )
    host = TmuxHost(socket, pid)
    # Keep the pane idle and predictable: a plain sh with a fixed prompt.
    host.run("set-option", "-g", "history-limit", "2000")
    return host


@dataclass
class Server:
    """A `pairtui serve` child process on a free loopback port."""

    proc: subprocess.Popen[str]
    port: int
    fingerprint: str
    output: list[str] = field(default_factory=list)

    def stop(self, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout:
            self.output += self.proc.stdout.read().splitlines()
        return self.proc.returncode


def start_server(
    *extra: str,
    timeout: float = 20,
    netns: str | None = None,
    nofile: tuple[int, int] | None = None,
) -> Server:
    """`pairtui serve` on a free port (inside network namespace ``netns`` when given;
    with its (soft, hard) limits of open files set to ``nofile`` when given)."""
    prefix = ["ip", "netns", "exec", netns] if netns else []
    if nofile is not None:
        prefix += ["prlimit", f"--nofile={nofile[0]}:{nofile[1]}", "--"]
    proc = subprocess.Popen(
        [*prefix, sys.executable, "-m", "pairtui", "serve", "--port", "0", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    port = fp = None
    while time.monotonic() < deadline and (port is None or fp is None):
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if m := re.search(r"serving on \S+:(\d+)", line):
            port = int(m[1])
        if m := re.search(r"fingerprint: (SHA256:\S+)", line):
            fp = m[1]
    if port is None or fp is None:
        proc.kill()
        raise AssertionError("pairtui serve did not start:\n" + "\n".join(lines))
    return Server(proc, port, fp, lines)


class SshGuest:
    """The real OpenSSH client in a PTY; its screen is rendered with pyte."""

    def __init__(
        self,
        port: int,
        key: Path,
        *args: str,
        command: str | None = None,
        tty: bool = True,
        size: tuple[int, int] = (80, 24),
        user: str = "guest",
        known_hosts: Path | None = None,
        log_level: str = "ERROR",
    ) -> None:
        self.cols, self.rows = size
        # Test-given options go first: for ssh the first value of an option wins.
        argv = [
            *args, "-F", "/dev/null", "-p", str(port), "-i", str(key),
            "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "IdentityAgent=none",
            "-o", f"StrictHostKeyChecking={'no' if known_hosts is None else 'yes'}",
            "-o", f"UserKnownHostsFile={known_hosts or '/dev/null'}",
            "-o", f"LogLevel={log_level}", "-o", "ConnectTimeout=10",
            *(["-tt"] if tty else ["-T"]), f"{user}@127.0.0.1",
        ]  # fmt: skip
        if command is not None:
            argv.append(command)
        self.argv = argv
        self.child = pexpect.spawn(
            "ssh", argv, dimensions=(self.rows, self.cols), env=dict(os.environ)
        )
        self.screen = pyte.Screen(self.cols, self.rows)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = b""

    def pump(self, timeout: float = 0.05) -> None:
        while not self.child.closed:
            try:
                data = self.child.read_nonblocking(65536, timeout=timeout)
            except (pexpect.TIMEOUT, pexpect.EOF, OSError):
                return
            self.raw += data
            self.stream.feed(data)
            timeout = 0

    def text(self) -> str:
        self.pump()
        return "\n".join(line.rstrip() for line in self.screen.display)

    def wait_for(self, needle: str, timeout: float = 10) -> str:
        def seen() -> str | None:
            self.pump()
            screen = "\n".join(self.screen.display)
            return (
                screen
                if needle in screen or needle in self.raw.decode("utf-8", "replace")
                else None
            )

        return wait_until(seen, timeout, what=f"{needle!r} on the guest screen:\n{self.text()}")

    def send(self, data: str | bytes) -> None:
        self.child.send(data)

    def resize(self, cols: int, rows: int) -> None:
        self.cols, self.rows = cols, rows
        self.screen.resize(rows, cols)
        self.child.setwinsize(rows, cols)

    def wait_exit(self, timeout: float = 10) -> int:
        def done() -> bool:
            self.pump()
            return not self.child.isalive()

        try:
            wait_until(done, timeout, what="ssh to exit")
        except AssertionError as exc:  # what ssh said so far tells a hang from a refusal
            raise AssertionError(f"{exc}; ssh printed: {self.output[-800:]!r}") from None
        # What ssh printed last may still be in the PTY when it is seen gone (a goodbye
        # after tmux's "[terminated]"): read it before closing, or it is lost (a flake
        # CI saw once in four runs).
        self.pump(0.2)
        self.child.close()
        return int(self.child.exitstatus if self.child.exitstatus is not None else -1)

    @property
    def output(self) -> str:
        self.pump()
        return self.raw.decode("utf-8", "replace")

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)
        self.child.close(force=True)


# --- the steps e2e tests share --------------------------------------------------


def add_guest(name: str, key: Path, *extra: str) -> None:
    res = pairtui("guest", "add", name, "--key", f"{key}.pub", *extra)
    assert res.returncode == 0, res.stderr


def share(host: TmuxHost, *extra: str) -> dict[str, object]:
    """Share as the CLI does; the tests start their own server (``start_server``)."""
    res = pairtui("share", "--tmux-socket", str(host.socket), "--json", "--no-server", *extra)
    assert res.returncode == 0, res.stderr
    data: dict[str, object] = json.loads(res.stdout)
    return data


def type_in_host(host: TmuxHost, text: str, target: str = "host") -> None:
    host.run("send-keys", "-t", target, "-l", text)
    host.run("send-keys", "-t", target, "Enter")


def client_of(host: TmuxHost, session_prefix: str = "pairtui-") -> dict[str, str]:
    found = [c for c in host.clients() if c["session"].startswith(session_prefix)]
    assert len(found) == 1, found
    return found[0]


def key_table(host: TmuxHost, tty: str) -> str:
    rows = host.run("list-clients", "-F", "#{client_tty} #{client_key_table}").splitlines()
    return dict(r.split(" ", 1) for r in rows)[tty]


def settle_input(host: TmuxHost, guest: SshGuest, prefix_table: str) -> None:
    """Prove tmux has processed everything the guest sent so far.

    The guest presses its prefix: once tmux shows the client in the prefix table, all
    earlier bytes were handled in order. Escape then leaves the table again.
    """
    tty = client_of(host)["tty"]
    guest.send("\x02")
    wait_until(lambda: key_table(host, tty) == prefix_table, what=f"{prefix_table} active")
    guest.send("\x1b")
    wait_until(lambda: key_table(host, tty) != prefix_table, what="back from prefix table")


def share_host_session(host: TmuxHost, name: str = "main") -> None:
    """Share the host's session in-process (as `pairtui share` would)."""
    from pairtui.shares import ShareStore
    from pairtui.tmux import Tmux

    ShareStore().create(Tmux(host.socket), session="host", name=name)


def relay_threads(pid: int) -> int:
    """``pid``'s running native relay threads (each names itself pairtui-relay): one per
    steady guest terminal, the serving model the host's controls must act on."""
    count = 0
    for comm in Path(f"/proc/{pid}/task").glob("*/comm"):
        with contextlib.suppress(OSError):  # that thread just ended
            count += comm.read_text().strip() == "pairtui-relay"
    return count


# --- the benchmark harness, run for real ---------------------------------------------

CHECKOUT = Path(__file__).resolve().parent.parent


def harness_processes() -> set[str]:
    """Processes the benchmark harness left running (all it starts live in /tmp/ptb-*)."""
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    return {line for line in out.stdout.splitlines() if "/tmp/ptb-" in line}


def run_benchmarks(
    out: Path, *args: str, timeout: float = 300, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """``python -m benchmarks ARGS --out OUT`` from the checkout, as a user runs it: it
    must succeed and leave no ``/tmp/ptb-*`` directory or process behind. Returns what it
    printed and the JSON it wrote."""
    before = set(Path("/tmp").glob("ptb-*"))
    res = subprocess.run(
        [sys.executable, "-m", "benchmarks", *args, "--out", str(out)],
        cwd=CHECKOUT, capture_output=True, text=True, timeout=timeout, check=False, env=env,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert set(Path("/tmp").glob("ptb-*")) == before
    assert not harness_processes()
    results: dict[str, Any] = json.loads(out.read_text())
    return res, results
