"""What a key and a screenful cost tmux itself, counted in instructions under callgrind.

``.venv/bin/python -m benchmarks.tmux_cost`` (needs valgrind, Debian's package) runs a
tmux server under ``valgrind --tool=callgrind`` on a socket of its own, attaches real
tmux clients in PTYs and drives them: a client typing keys into ``cat`` (each key waits
for its echo), or K read-only clients while the pane prints screenfuls. Each case runs
twice, with a few events and with more; the difference in the server's instructions,
divided by the extra events, is what one event costs, without the server's start and
exit. Instructions, unlike seconds, do not depend on what else the machine is doing, so
variants compare exactly (issue 19: "profile tmux too"). It measures tmux alone: no SSH,
no ``pairtui serve``; shares are made with pairtui's own tmux calls
(:meth:`pairtui.tmux.Tmux.create_share`), so guests' sessions are exactly a share's.

Cases:

- ``key:host``: the host's own client (tmux's default status line, keys unbound);
- ``key:pair``: a pair guest's client on a share's pair session (its key table, the key
  guard, its status line);
- ``key:pair-fixed``: the same with the status line replaced by fixed text, what the
  guard costs without the status line tmux redraws after every bound key;
- ``screen:classic`` and ``screen:share``: K clients attached read-only to the host's
  session (the classic ``tmux attach -r`` recipe) or as view guests of a share.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from benchmarks.procs import Reaper
from benchmarks.reactor import Guest, Reactor, close_all
from pairtui.tmux import Tmux

COLS, ROWS = 80, 24
_TOTAL = re.compile(rb"^summary:\s+(\d+)", re.MULTILINE)


class CountedServer:
    """A tmux server under callgrind and its clients, in the harness's reaper and reactor
    (every process ended by pid, whatever ends the run)."""

    def __init__(self, workdir: Path, name: str, reaper: Reaper, reactor: Reactor) -> None:
        self.socket = workdir / f"{name}.sock"
        self.out = workdir / f"{name}.callgrind"
        self.fifo = workdir / f"{name}.fifo"
        self.reaper, self.reactor = reaper, reactor
        os.mkfifo(self.fifo)
        self.server = reaper.spawn(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={self.out}",
             "tmux", "-D", "-S", str(self.socket), "-f", "/dev/null"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.clients: list[Guest] = []
        deadline = time.monotonic() + 60
        # Every command runs with -N (never start a server): one started before the
        # counted server listens would be a server of its own, uncounted.
        new = ["new-session", "-d", "-s", "h", "-x", str(COLS), "-y", str(ROWS), f"cat {self.fifo}"]
        while self.run(*new, check=False) != 0:
            if time.monotonic() > deadline:
                raise RuntimeError("tmux under valgrind did not start within 60 s")
            time.sleep(0.2)

    def run(self, *args: str, check: bool = True) -> int:
        res = subprocess.run(
            ["tmux", "-N", "-S", str(self.socket), *args],
            capture_output=True,
            timeout=30,
            check=False,
        )
        if check and res.returncode != 0:
            raise RuntimeError(f"tmux {args[0]}: {res.stderr.decode(errors='replace').strip()}")
        return res.returncode

    def attach(self, argv: list[str]) -> Guest:
        env = {**os.environ, "TERM": "xterm-256color"}
        client = Guest(self.reactor, self.reaper, argv, env, size=(COLS, ROWS))
        self.clients.append(client)
        return client

    def finish(self) -> int:
        """End the clients and the server; the server's instruction count."""
        close_all(self.clients)
        self.run("kill-server", check=False)
        self.server.wait(120)  # callgrind writes its file as the server exits
        self.reaper.forget(self.server)
        found = _TOTAL.search(self.out.read_bytes())
        if found is None:
            raise RuntimeError(f"no instruction total in {self.out}")
        return int(found.group(1))


@contextlib.contextmanager
def _counted(workdir: Path, name: str) -> Iterator[CountedServer]:
    reaper, reactor = Reaper(), Reactor()
    try:
        yield CountedServer(workdir, name, reaper, reactor)
    finally:
        reactor.close()
        reaper.close()


def _share(srv: CountedServer) -> tuple[Tmux, str, str]:
    tm = Tmux(srv.socket)
    names = tm.create_share("cost", window="h:0", host="host")
    return tm, names.view, names.pair


def key_case(variant: str, keys: int, workdir: Path) -> int:
    with _counted(workdir, f"key-{variant}-{keys}") as srv:
        if variant == "host":
            argv = ["tmux", "-S", str(srv.socket), "attach-session", "-t", "=h"]
        else:
            tm, _, pair = _share(srv)
            if variant == "pair-fixed":
                srv.run("set-option", "-t", f"={pair}:", "status-format[0]", "[pairtui] fixed")
            argv = tm.attach_argv(pair, readonly=False)
        client = srv.attach(argv)
        srv.reactor.sleep(3)
        for _ in range(keys):
            client.type_key(b"x", lambda _latency: None)
            if not srv.reactor.run(lambda: client.pending is None, 20):
                raise RuntimeError("a key was not echoed within 20 s")
        return srv.finish()


def screen_case(variant: str, k: int, screens: int, workdir: Path) -> int:
    with _counted(workdir, f"screen-{variant}-{k}-{screens}") as srv:
        if variant == "classic":
            argv = ["tmux", "-S", str(srv.socket), "attach-session", "-r", "-t", "=h"]
        else:
            tm, view, _ = _share(srv)
            argv = tm.attach_argv(view, readonly=True)
        clients = [srv.attach(argv) for _ in range(k)]
        srv.reactor.sleep(3)
        with srv.fifo.open("w") as pane:
            for n in range(screens):
                for client in clients:
                    client.watch(f"END{n:04d}")
                rows = (
                    f"{n:02d}" + ("abcdefghij" * 8)[n % 7 : n % 7 + 76] for _ in range(ROWS - 2)
                )
                pane.write("\x1b[H\x1b[2J" + "\n".join(rows) + f" END{n:04d}")
                pane.flush()
                if not srv.reactor.run(lambda: all(c.marker_at is not None for c in clients), 20):
                    raise RuntimeError(f"screenful {n} did not reach every client within 20 s")
        return srv.finish()


def per_event(run: Callable[[int], int], few: int, many: int) -> float:
    return (run(many) - run(few)) / (many - few)


def _keys(variant: str, work: Path) -> Callable[[int], int]:
    return lambda n: key_case(variant, n, work)


def _screens(variant: str, k: int, work: Path) -> Callable[[int], int]:
    return lambda n: screen_case(variant, k, n, work)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.tmux_cost", description=__doc__)
    p.add_argument("--keys", type=int, default=1000, help="keys in the longer key run (1000)")
    p.add_argument("--k", type=int, nargs="*", default=[10, 100], help="clients for screens")
    p.add_argument("--screens", type=int, default=12, help="screenfuls in the longer run")
    args = p.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("tmux_cost: valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="pairtui-tmux-cost-") as tmp:
        work = Path(tmp)
        print(f"{'case':<28} {'instructions per event':>24}")
        for variant in ("host", "pair", "pair-fixed"):
            cost = per_event(_keys(variant, work), 100, args.keys)
            print(f"{'key:' + variant:<28} {cost:>24,.0f}", flush=True)
        for k in args.k:
            for variant in ("classic", "share"):
                few, many = max(2, args.screens // 4), args.screens
                cost = per_event(_screens(variant, k, work), few, many)
                print(f"{f'screen:{variant} K={k}':<28} {cost:>24,.0f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
