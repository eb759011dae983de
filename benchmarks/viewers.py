"""A class watching the host: K read-only guests, and output the host writes itself.

The fan-out and classic phases (issue 19) measure what a teacher with a big class
sees: the guests only watch, the host produces output. Here is what both need:

- a second key whose guests are viewers on every target: on ``pairtui`` a guest
  registered ``--mode view`` (it joins the share); on ``openssh`` a forced
  ``tmux attach -r`` to the host's session itself, the classic recipe (no share
  sessions); on ``direct`` a local ``tmux attach -r``;
- a pane that writes to its terminal whatever the harness puts into a FIFO, so the
  harness knows to the microsecond when the host's output began (no ``send-keys``,
  no tmux command in the measured path);
- K guests connected a few at a time, as the load phase connects them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shlex
import time
from pathlib import Path

from benchmarks.phases import Bench
from benchmarks.reactor import Guest
from benchmarks.targets import Direct, OpenSSH, Pairtui, Target, _run
from benchmarks.tmuxhost import SESSION

VIEWER = "class"  # the viewers' guest name in the pairtui target's registry


def viewer_argv(t: Target) -> list[str]:
    """How a viewer connects to ``t``; the first call registers the viewers' key."""
    if isinstance(t, Direct):
        return ["tmux", "-u", "-S", str(t.tmux.socket), "attach-session", "-r",
                "-t", f"={SESSION}"]  # fmt: skip
    key = t.dir / "class_ed25519"
    if not key.exists():
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", VIEWER, "-f", str(key)],
             t.env)  # fmt: skip
        pub = key.with_suffix(".pub")
        if isinstance(t, Pairtui):
            t.cli("guest", "add", VIEWER, "--key", str(pub), "--mode", "view")
        elif isinstance(t, OpenSSH):
            t.add_viewer_key(pub)
    argv = t.guest_argv()
    argv[argv.index("-i") + 1] = str(key)
    return argv


class HostFifo:
    """A FIFO the host's pane copies to its terminal: ``write`` is the host printing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.exists():
            os.mkfifo(path, 0o600)
        self._fd = -1

    def pane(self, marker: str) -> str:
        """The pane's command: raw (no output processing), the marker, then the FIFO,
        reopened each time a writer closes it."""
        fifo = shlex.quote(str(self.path))
        return (f"stty raw -echo; printf '%s\\r\\n' {shlex.quote(marker)}; "
                f"while :; do cat {fifo}; done")  # fmt: skip

    def open(self, timeout: float = 5.0) -> None:
        """Open for writing once the pane's ``cat`` has it open for reading."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
                os.set_blocking(self._fd, True)
                return
            except OSError as exc:
                if exc.errno != errno.ENXIO or time.monotonic() >= deadline:
                    raise RuntimeError(f"no reader on {self.path} in {timeout:g} s") from exc
                time.sleep(0.005)

    def write(self, data: bytes) -> float:
        """Write ``data`` at once (opening first if needed); returns when it began."""
        if self._fd < 0:
            self.open()
        began = time.perf_counter()
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        return began

    def close(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1


def connect_many(
    bench: Bench, t: Target, argv: list[str], k: int, marker: str, *, record: bool = False
) -> tuple[list[Guest], list[float], int]:
    """K guests running ``argv``, ``connect_parallel`` at a time, until each saw ``marker``.

    Returns every guest started (the caller closes them all), the connect times of those
    that got in, and how many gave up (30 s each).
    """
    reactor = bench.reactor
    guests: list[Guest] = []
    connect_s: list[float] = []
    failed: list[Guest] = []

    def launch() -> None:
        if len(guests) >= k:
            return
        g = Guest(reactor, bench.reaper, argv, t.env, size=(80, 24), record=record)
        guests.append(g)
        g.watch(marker, on_marker)
        reactor.call_at(time.perf_counter() + 30, lambda: give_up(g))

    def on_marker(g: Guest) -> None:
        assert g.marker_at is not None
        connect_s.append(g.marker_at - g.spawned)
        launch()

    def give_up(g: Guest) -> None:
        if g.marker_at is None and g not in failed:
            failed.append(g)
            launch()

    for _ in range(min(bench.opts.connect_parallel, k)):
        launch()
    reactor.run(lambda: len(connect_s) + len(failed) >= k, 30 + k * 0.5)
    return guests, connect_s, len(failed)


def live(guests: list[Guest]) -> list[Guest]:
    return [g for g in guests if g.marker_at is not None and not g.closed]


def all_quiet(bench: Bench, guests: list[Guest], seconds: float, limit: float) -> bool:
    """Wait until no guest has received anything for ``seconds`` (at most ``limit``)."""
    give_up = time.perf_counter() + limit
    while True:
        now = time.perf_counter()
        last = max((g.last_data for g in guests if not g.closed), default=0.0)
        if now - last >= seconds:
            return True
        if now >= give_up:
            return False
        bench.reactor.sleep_until(min(last + seconds, give_up))
