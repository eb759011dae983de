"""A private tmux server per target, and the pane layouts the phases need.

Each target gets its own server (``tmux -S SOCK -f /dev/null``) with one session,
``pair``, whose single window is fixed at 80x23 (plus the status line: an 80x24
guest terminal) with ``window-size manual``, so that every target draws the same
screen whatever ``ignore-size`` flags its clients attach with.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from benchmarks.procs import Reaper

SESSION = "pair"
COLS, ROWS = 80, 23  # the window; guests' terminals are one row taller (status line)
PRINTER_ROWS = 11


class TmuxHost:
    def __init__(self, socket: Path, env: Mapping[str, str], reaper: Reaper) -> None:
        self.socket = socket
        self.env = dict(env)
        self.reaper = reaper
        self.pid = 0
        self.main_pane = ""

    def run(self, *args: str, check: bool = True) -> str:
        res = subprocess.run(
            ["tmux", "-S", str(self.socket), *args],
            capture_output=True, text=True, timeout=15, check=False, env=self.env,
        )  # fmt: skip
        if check and res.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {res.stderr.strip()}")
        return res.stdout

    def start(self) -> None:
        self.run(
            "-f", "/dev/null", "new-session", "-d", "-s", SESSION, "-n", "main",
            "-x", str(COLS), "-y", str(ROWS), "exec cat",
            # Per window: a global `window-size manual` makes tmux 3.3a crash when pairtui
            # creates its grouped share sessions (`new-session -t`).
            ";", "set-option", "-w", "-t", f"={SESSION}:0", "window-size", "manual",
            ";", "set-option", "-g", "status-interval", "0",
            ";", "set-option", "-g", "status-right", "",
            ";", "set-option", "-g", "history-limit", "2000",
            ";", "set-option", "-g", "remain-on-exit", "off",
        )  # fmt: skip
        self.pid = int(self.run("display-message", "-p", "#{pid}").strip())
        self.reaper.adopt(self.pid)
        self.main_pane = self.run("display-message", "-p", "-t", f"={SESSION}:0.0", "#{pane_id}")
        self.main_pane = self.main_pane.strip()

    def single(self, command: str) -> None:
        """One pane running ``command`` (a ``/bin/sh -c`` string)."""
        self.run(
            "kill-pane", "-a", "-t", self.main_pane,
            ";", "respawn-pane", "-k", "-t", self.main_pane, command,
        )  # fmt: skip

    def load(self, printer: str, command: str) -> None:
        """A printing pane on top, the active ``command`` pane below it (full width)."""
        self.single(command)
        self.run("split-window", "-v", "-b", "-d", "-l", str(PRINTER_ROWS),
                 "-t", self.main_pane, printer)  # fmt: skip

    def capture(self) -> list[str]:
        """What the main pane shows now, one string per row."""
        out = self.run("capture-pane", "-p", "-t", self.main_pane)
        return [line.rstrip() for line in out.split("\n")[:ROWS]]

    def client_count(self) -> int:
        return len([r for r in self.run("list-clients", check=False).splitlines() if r])

    def wait_clients(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.client_count() == count:
                return True
            time.sleep(0.05)
        return False

    def kill(self) -> None:
        self.run("kill-server", check=False)


def echo_pane(marker: str) -> str:
    """A pane that shows ``marker`` and then echoes every byte typed into it."""
    return f"stty raw -echo; printf '%s\\r\\n' {shlex.quote(marker)}; exec cat"


def shell_pane(marker: str) -> str:
    """A pane with an interactive ``sh`` (cooked mode) after ``marker``."""
    return f"printf '%s\\n' {shlex.quote(marker)}; export PS1='$ '; exec /bin/sh"


def printer_pane(python: str, script: Path, interval: float) -> str:
    return f"exec {shlex.quote(python)} -S -u {shlex.quote(str(script))} {interval}"
