"""The soak phase: a bounded churn of everything a host and its guests do, then a leak check.

For ``--soak-seconds`` (120 s; 10 with ``--quick``) real OpenSSH guests join (one to three
at once) and leave (``~.``, SIGTERM, or SIGKILL of the ``ssh`` client, some of them in
the middle of their handshake), while the host, as a user would, flips modes
(``pairtui guest set --mode``, ``pairtui mode``), edits the registry by hand (in place,
truncate then write, like an editor: modes, removals, re-adds, comments) and through
``pairtui guest add/remove``, and kicks guests and single clients (``pairtui kick``).
Every step is checked against a model of who should be in and in which mode: a pair
guest's key must echo, a view guest's must never reach the pane, a removed guest must
be refused, a kicked or removed one must be gone within a deadline, and nobody else
may be dropped.

Before (after a warm-up, with no guest) and after (once the last guest left and the
server settled) the phase reads ``pairtui serve``'s open descriptors, RSS and children,
the host's tmux clients and sessions, the clients the server lists and the audit log
(:mod:`benchmarks.soak_figures`). The server gets a world of its own, like the dashboard
phase: its own tmux server, registry and state, so no other phase is disturbed. pairtui
alone: OpenSSH has no registry to edit or modes to flip, and its listening sshd forks a
process per connection, so there is nothing comparable to accumulate.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import signal
import subprocess
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import procs, soak_figures
from benchmarks.phases import GUEST_SIZE, Bench, Keys
from benchmarks.reactor import Guest, Reactor, visible
from benchmarks.targets import Lab, Pairtui, _run
from benchmarks.tmuxhost import echo_pane

MARKER = "READY-soak"
NAMES = ("s0", "s1", "s2", "s3")
SETTLE_EDIT = 2.5 + 1.0  # registry.SETTLE, then the server's once-a-second look
ENDS_WITHIN = 6.0  # a kicked or removed guest's ssh has exited by then
STEADY = 5.0  # seconds without change after which what is left stays
PANE_KEYS = 300  # keys echoed before the pane is started afresh (the marker stays on screen)


class SoakHost(Pairtui):
    """``pairtui serve`` with guests ``s0``…``s3`` (pair and view) on a tmux of its own."""

    name = "soak"

    def __init__(self, lab: Lab) -> None:
        super().__init__(lab)
        self.keys: dict[str, Path] = {}
        self.registry = Path(self.env["PAIRTUI_CONFIG_DIR"]) / "authorized_keys"
        self.audit = Path(self.env["PAIRTUI_STATE_DIR"]) / "audit.jsonl"

    def start(self) -> None:
        super().start()  # its tmux, the `bench` guest (never churned), the share, serve
        for i, name in enumerate(NAMES):
            key = self.dir / f"{name}_ed25519"
            _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)],
                 self.env)  # fmt: skip
            self.keys[name] = key
            self.cli("guest", "add", name, "--key", str(key.with_suffix(".pub")),
                     "--mode", "pair" if i % 2 == 0 else "view")  # fmt: skip
        self.tmux.single(echo_pane(MARKER))

    def guest_of(self, name: str) -> list[str]:
        argv = self.lab.ssh_argv(self.port, "guest", "-tt")
        argv[argv.index("-i") + 1] = str(self.keys[name])
        return argv

    def pairtui_argv(self) -> list[str]:
        return [self.interpreter, "-m", "pairtui"]


@dataclass
class GuestState:
    """What the registry says of one churned guest, as the soak last wrote it."""

    name: str
    mode: str
    present: bool = True
    busy_until: float = 0.0  # a change the server applies later is still on its way
    by_hand: bool = False  # that change is an edit in place: any later one postpones it
    lines: list[str] = field(default_factory=list)  # its registry lines, after a hand removal


@dataclass(eq=False)
class Client:
    """One connected ``ssh`` and what the model expects of it."""

    guest: str
    g: Guest
    mode: str
    registry_mode: str  # the mode the registry gave it last (a live switch keeps to it)
    ending: str = ""  # why it should end now (a leave, a kick, a removal)
    end_by: float = 0.0


class Churn:
    """The guests, the model and the operations; one operation at a time, each checked."""

    def __init__(self, bench: Bench, host: SoakHost, max_clients: int) -> None:
        self.bench, self.host, self.reactor = bench, host, bench.reactor
        self.rng = random.Random(bench.opts.seed)
        self.max_clients = max_clients
        self.guests = {n: GuestState(n, "pair" if i % 2 == 0 else "view")
                       for i, n in enumerate(NAMES)}  # fmt: skip
        self.clients: list[Client] = []
        self.ops: Counter[str] = Counter()  # operations done, by name
        self.kinds: Counter[str] = Counter()  # what they did: clients joined, how they left...
        self.errors: Counter[str] = Counter()
        self.examples: list[dict[str, Any]] = []
        self.steps: deque[str] = deque(maxlen=30)  # the last steps, told with each error
        self.keys = Keys()
        self.echoed = 0
        self.started = time.monotonic()

    # --- bookkeeping ----------------------------------------------------------------

    def step(self, text: str) -> None:
        self.steps.append(f"{time.monotonic() - self.started:.1f}s {text}")

    def error(self, kind: str, detail: str, **evidence: object) -> None:
        self.errors[kind] += 1
        if len(self.examples) < 20:
            self.examples.append({"at_s": round(time.monotonic() - self.started, 1),
                                  "kind": kind, "detail": detail[-300:],
                                  "steps_before": list(self.steps), **evidence})  # fmt: skip
        self.bench.log(f"  soak: {kind}: {detail[-200:]}")

    def server_view(self, c: Client) -> dict[str, Any]:
        """The modes the server gives ``c``'s guest's clients, against the model's."""
        rc, out = self.cli("clients")
        listed = json.loads(out) if rc == 0 else []
        mine = local_ports(c.g.pid)
        ids = {x["id"] for x in listed if port_of(x["peer"]) in mine}
        try:
            audit = self.host.audit.read_text().splitlines()
        except OSError:
            audit = []
        return {
            "server": [{"id": x["id"], "mode": x["mode"], "this": x["id"] in ids,
                        "tmux_client": x.get("tmux_client")}
                       for x in listed if x.get("guest") == c.guest],
            "tmux": self.host.tmux.run("list-clients", "-F", "#{client_tty} #{client_session} "
                                       "readonly=#{client_readonly} pid=#{client_pid}",
                                       check=False).splitlines(),
            "audit": [line for line in audit if f'"guest":"{c.guest}"' in line][-16:],
            "model": [{"mode": o.mode, "registry_mode": o.registry_mode, "this": o is c}
                      for o in self.live(c.guest)],
            "registry_mode": self.guests[c.guest].mode,
        }  # fmt: skip

    def check(self) -> None:
        """Clients that ended: expected, or dropped; expected ends that did not come."""
        now = time.monotonic()
        for c in list(self.clients):
            if c.g.closed or c.g.proc.poll() is not None:
                if not c.ending:
                    self.error("dropped", f"{c.guest} ({c.mode}) ended unasked: {tail(c.g)}")
                self._forget(c)
            elif c.ending and now > c.end_by:
                self.error("not disconnected", f"{c.guest}: {c.ending}, still connected")
                c.g.proc.kill()
                self._forget(c)

    def _forget(self, c: Client) -> None:
        c.g.close(2)
        self.clients.remove(c)

    def live(self, name: str | None = None) -> list[Client]:
        return [c for c in self.clients if not c.ending and (name is None or c.guest == name)]

    def free(self, *, present: bool) -> list[GuestState]:
        now = time.monotonic()
        for s in self.guests.values():
            s.by_hand = s.by_hand and s.busy_until > now
        return [s for s in self.guests.values() if s.present == present and s.busy_until <= now]

    def end(self, clients: list[Client], why: str, within: float = ENDS_WITHIN) -> None:
        for c in clients:
            if not c.ending:
                c.ending, c.end_by = why, time.monotonic() + within

    def cli(self, *args: str) -> tuple[int, str]:
        """``pairtui ARGS --json`` as the host would run it; the guests are read meanwhile."""
        argv = [*self.host.pairtui_argv(), *args, "--json"]
        proc = self.bench.reaper.spawn(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, env=self.host.env,
                                       cwd=self.host.src)  # fmt: skip
        wait_for(self.reactor, lambda: proc.poll() is not None, 30)
        if proc.poll() is None:
            proc.kill()
        out, _ = proc.communicate(timeout=5)
        self.bench.reaper.forget(proc)
        self.kinds["pairtui commands"] += 1
        text = out.decode(errors="replace")
        if proc.returncode != 0:
            self.error("cli failed", f"pairtui {' '.join(args)}: {text.strip()}")
        return proc.returncode, text

    # --- the loop ---------------------------------------------------------------------

    def run(self, seconds: float, on_sample: Callable[[], None], every: float) -> float:
        ops: list[tuple[int, Callable[[], bool]]] = [
            (5, self.join), (1, self.abort_join), (1, self.refused_join), (3, self.leave),
            (4, self.probe), (2, self.set_mode), (1, self.live_mode), (3, self.hand_edit),
            (1, self.remove), (1, self.add), (1, self.kick_guest), (1, self.kick_client),
        ]  # fmt: skip
        began = time.monotonic()
        end, next_sample = began + seconds, began + every
        while time.monotonic() < end:
            self.check()
            if time.monotonic() >= next_sample:
                on_sample()
                next_sample += every
            weights = [w * (3 if fn == self.join and len(self.clients) < 3 else 1)
                       for w, fn in ops]  # fmt: skip
            op = self.rng.choices([fn for _, fn in ops], weights)[0]
            if op():
                self.ops[op.__name__] += 1
            self.reactor.sleep(self.rng.uniform(0.05, 0.3))
        return time.monotonic() - began

    def finish(self) -> None:
        """Let pending ends come, then every guest leaves (half of them killed)."""
        deadline = max((c.end_by for c in self.clients if c.ending), default=0.0)
        while any(c.ending for c in self.clients) and time.monotonic() < deadline + 1:
            self.reactor.sleep(0.1)
            self.check()
        for i, c in enumerate(self.live()):
            self.end([c], "teardown", 10)
            if i % 2:
                c.g.proc.kill()
            else:
                c.g.hang_up()
        while self.clients:
            self.reactor.sleep(0.1)
            self.check()

    # --- guests ---------------------------------------------------------------------

    def join(self) -> bool:
        room = self.max_clients - len(self.clients)
        cands = self.free(present=True)
        if room <= 0 or not cands:
            return False
        s = self.rng.choice(cands)
        fresh = [self._spawn(s.name) for _ in range(self.rng.randint(1, min(3, room)))]
        self.step(f"join {s.name} x{len(fresh)} ({s.mode})")
        for g in fresh:
            g.watch(MARKER)
        self.reactor.run(lambda: all(g.marker_at or g.closed for g in fresh), 20)
        for g in fresh:
            if g.marker_at is None:
                self.error("join failed", f"{s.name} ({s.mode}): {tail(g)}")
                g.close(2)
            else:
                self.clients.append(Client(s.name, g, s.mode, s.mode))
                self.kinds["clients joined"] += 1
        return True

    def abort_join(self) -> bool:
        """An ``ssh`` killed within its first 150 ms: mid-handshake, mid-login or mid-attach."""
        cands = self.free(present=True)
        if not cands:
            return False
        name = self.rng.choice(cands).name
        g = self._spawn(name)
        self.step(f"abort_join {name}")
        self.reactor.sleep(self.rng.uniform(0.0, 0.15))
        g.proc.kill()
        g.close(2)
        return True

    def refused_join(self) -> bool:
        cands = self.free(present=False)
        if not cands:
            return False
        s = self.rng.choice(cands)
        g = self._spawn(s.name)
        self.step(f"refused_join {s.name}")
        g.watch(MARKER)
        self.reactor.run(lambda: g.marker_at is not None or g.closed, 15)
        if g.marker_at is not None:
            self.error("removed guest got in", s.name)
        elif not g.closed:
            self.error("refusal took over 15 s", f"{s.name}: {tail(g)}")
        g.close(2)
        return True

    def leave(self) -> bool:
        cands = self.live()
        if not cands:
            return False
        c = self.rng.choice(cands)
        how = self.rng.choice(("escape", "term", "kill"))
        self.step(f"leave {c.guest} ({c.mode}) {how}")
        self.end([c], f"leave ({how})")
        if how == "escape":
            c.g.write(b"\r~.")  # ssh's own escape: a clean disconnect from the client
        elif how == "term":
            c.g.hang_up()
        else:
            c.g.proc.kill()
        self.kinds[f"leave: {how}"] += 1
        return True

    def probe(self) -> bool:
        """A key from a guest: a pair guest's must echo, a view guest's must not arrive."""
        now = time.monotonic()
        cands = [c for c in self.live() if self.guests[c.guest].busy_until <= now]
        if not cands:
            return False
        c = self.rng.choice(cands)
        key = self.keys.next()
        self.step(f"probe {c.guest} ({c.mode})")
        if c.mode == "pair":
            echoed: list[float] = []
            c.g.type_key(key, echoed.append)
            self.reactor.run(lambda: bool(echoed) or c.g.closed, self.bench.opts.key_timeout)
            if not echoed and not c.g.closed:
                c.g.forget_key()
                self.error("pair key not echoed", f"{c.guest}: {tail(c.g)}", **self.server_view(c))
            self.echoed += 1
            if self.echoed % PANE_KEYS == 0:
                self.host.tmux.single(echo_pane(MARKER))  # keep the marker on screen
        else:
            c.g.write(key)
            self.reactor.sleep(0.3)
            if key.decode() in "".join(self.host.tmux.capture()):
                self.error("view key reached the pane", c.guest, **self.server_view(c))
        self.kinds[f"probe: {c.mode}"] += 1
        return True

    def _spawn(self, name: str) -> Guest:
        # Recorded: a failure's message shows what the guest's terminal said.
        return Guest(self.reactor, self.bench.reaper, self.host.guest_of(name), self.host.env,
                     size=GUEST_SIZE, record=True)  # fmt: skip

    # --- the host -------------------------------------------------------------------

    def set_mode(self) -> bool:
        cands = self.free(present=True)
        if not cands:
            return False
        s = self.rng.choice(cands)
        mode = "view" if s.mode == "pair" else "pair"
        self.step(f"guest set {s.name} --mode {mode}")
        if self.cli("guest", "set", s.name, "--mode", mode)[0] == 0:
            self._registry_mode(s, mode, settle=1.0)
        return True

    def live_mode(self) -> bool:
        cands = [s for s in self.free(present=True) if self.live(s.name)]
        if not cands:
            return False
        s = self.rng.choice(cands)
        mode = self.rng.choice(("view", "pair"))
        self.step(f"mode {s.name} {mode}")
        if self.cli("mode", s.name, mode)[0] == 0:
            for c in self.live(s.name):
                c.mode = mode
            s.busy_until = time.monotonic() + 1.0
        return True

    def _registry_mode(self, s: GuestState, mode: str, settle: float) -> None:
        """The registry now gives ``s`` ``mode``: its clients that had another follow."""
        s.mode = mode
        s.busy_until = time.monotonic() + settle
        for c in self.live(s.name):
            if c.registry_mode != mode:
                c.mode = c.registry_mode = mode

    def remove(self) -> bool:
        cands = self.free(present=True)
        if len(cands) < 2:  # someone stays invited
            return False
        s = self.rng.choice(cands)
        self.step(f"guest remove {s.name}")
        if self.cli("guest", "remove", s.name)[0] == 0:
            s.present, s.lines = False, []
            s.busy_until = time.monotonic() + 0.5
            self.end(self.live(s.name), "removed (pairtui guest remove)")
        return True

    def add(self) -> bool:
        cands = self.free(present=False)
        if not cands:
            return False
        s = self.rng.choice(cands)
        mode = self.rng.choice(("view", "pair"))
        key = str(self.host.keys[s.name].with_suffix(".pub"))
        self.step(f"guest add {s.name} --mode {mode}")
        if self.cli("guest", "add", s.name, "--key", key, "--mode", mode)[0] == 0:
            s.present, s.mode = True, mode
            s.busy_until = time.monotonic() + 0.5
        return True

    def kick_guest(self) -> bool:
        cands = [s for s in self.free(present=True) if self.live(s.name)]
        if not cands:
            return False
        s = self.rng.choice(cands)
        victims = self.live(s.name)
        self.step(f"kick {s.name}")
        if self.cli("kick", s.name)[0] == 0:
            self.end(victims, "kicked (pairtui kick GUEST)")
        return True

    def kick_client(self) -> bool:
        """One client by its id (found by its ssh's port): the guest's others stay."""
        cands = self.live()
        if not cands:
            return False
        c = self.rng.choice(cands)
        ports = local_ports(c.g.pid)
        rc, out = self.cli("clients")
        if rc != 0:
            return True
        listed = json.loads(out)
        ids = [x["id"] for x in listed if port_of(x.get("peer", "")) in ports]
        if len(ids) != 1:
            self.error("client not listed", f"{c.guest} ports {sorted(ports)}: {ids}")
            return True
        self.step(f"kick {ids[0]} ({c.guest})")
        if self.cli("kick", ids[0])[0] == 0:
            self.end([c], "kicked (pairtui kick CLIENT_ID)")
        return True

    def hand_edit(self) -> bool:
        """The registry edited in place like an editor does: truncated, then written (in two
        pieces, up to 0.2 s apart, so the server may read a torn file)."""
        text = self.host.registry.read_text()
        kind = self.rng.choice(("mode", "remove", "add", "comment"))
        present, absent = self.free(present=True), self.free(present=False)
        absent = [s for s in absent if s.lines]
        if kind == "mode" and present:
            s = self.rng.choice(present)
            mode = "view" if s.mode == "pair" else "pair"
            new = re.sub(rf'^(# pairtui-guest \{{"name":"{s.name}","mode":")(pair|view)"',
                         rf'\g<1>{mode}"', text, count=1, flags=re.MULTILINE)  # fmt: skip
            if new == text:
                self.error("hand edit", f"no meta line for {s.name}")
                return False
            self.step(f"hand edit: {s.name} {mode}")
            s.by_hand = True
            self._write_in_place(new)
            self._registry_mode(s, mode, settle=SETTLE_EDIT + 2)
        elif kind == "remove" and len(present) >= 2:
            s = self.rng.choice(present)
            keep: list[str] = []
            mine: list[str] = []
            tagged = re.compile(rf'"name":"{s.name}"|\spairtui:{s.name}(\s|$)')
            for line in text.splitlines(keepends=True):
                (mine if tagged.search(line) else keep).append(line)
            self.step(f"hand edit: remove {s.name}")
            s.by_hand = True
            self._write_in_place("".join(keep))
            s.present, s.lines = False, mine
            s.busy_until = time.monotonic() + SETTLE_EDIT + ENDS_WITHIN
            self.end(self.live(s.name), "removed by hand", SETTLE_EDIT + ENDS_WITHIN)
        elif kind == "add" and absent:
            s = self.rng.choice(absent)
            self.step(f"hand edit: add {s.name}")
            s.by_hand = True
            self._write_in_place(text + "".join(s.lines))
            meta = re.search(r'"mode":"(pair|view)"', s.lines[0])
            s.present, s.mode, s.lines = True, meta[1] if meta else s.mode, []
            s.busy_until = time.monotonic() + 2.5
        elif kind == "comment":
            note = re.compile(r"^# soak note \d+\n", re.MULTILINE)
            new = note.sub("", text) if note.search(text) else f"{text}# soak note {len(text)}\n"
            self.step("hand edit: comment")
            self._write_in_place(new)
        else:
            return False
        self.kinds[f"hand edit: {kind}"] += 1
        return True

    def _write_in_place(self, text: str) -> None:
        data = text.encode()
        cut = self.rng.randint(0, len(data))
        with self.host.registry.open("r+b") as f:
            f.truncate(0)
            f.write(data[:cut])
            f.flush()
            self.reactor.sleep(self.rng.uniform(0.0, 0.2))
            f.write(data[cut:])
        # The server takes access away after an edit in place only once the whole file
        # has settled: this edit postpones every such change still on its way.
        now = time.monotonic()
        for s in self.guests.values():
            if s.by_hand:
                s.busy_until = max(s.busy_until, now + SETTLE_EDIT + ENDS_WITHIN)
        for c in self.clients:
            if c.ending == "removed by hand":
                c.end_by = max(c.end_by, now + SETTLE_EDIT + ENDS_WITHIN)


def wait_for(reactor: Reactor, cond: Callable[[], bool], timeout: float) -> bool:
    """Like ``reactor.run`` for a condition no read or timer wakes it for (a process
    exiting): looked at every 20 ms, the guests read meanwhile."""
    deadline = time.monotonic() + timeout
    while not cond():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        reactor.run(cond, min(left, 0.02))
    return True


def tail(g: Guest) -> str:
    """The end of what a guest's terminal showed, for an error message."""
    return visible(b"".join(d for _, d in g.chunks[-8:])).decode(errors="replace")[-200:] or (
        f"(no output; exit {g.proc.poll()})"
    )


def local_ports(pid: int) -> set[int]:
    """The local TCP ports of ``pid``'s sockets (``/proc/PID/fd`` → ``/proc/net/tcp``)."""
    inodes = {t[8:-1] for t in procs.fd_targets(pid) if t.startswith("socket:[")}
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) > 9 and fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def port_of(peer: str) -> int | None:
    _, _, port = peer.rpartition(":")
    return int(port) if port.isdigit() else None


def soak_phase(bench: Bench, lab: Lab) -> dict[str, Any]:
    opts = bench.opts
    host = SoakHost(lab)
    out: dict[str, Any] = {"source": host.describe()["source"],
                           "seconds": opts.soak_seconds}  # fmt: skip
    try:
        host.start()
        assert host.proc is not None
        pid = host.proc.pid
        churn = Churn(bench, host, opts.soak_clients)
        bench.log("  soak: warming up (one of each operation) ...")
        for op in (churn.join, churn.probe, churn.live_mode, churn.set_mode, churn.kick_guest,
                   churn.join, churn.kick_client, churn.join, churn.leave):  # fmt: skip
            op()
        churn.finish()
        settle(bench, host, pid, None, opts.soak_settle)
        out["before"] = figures(host, pid)
        churn.ops.clear()
        churn.kinds.clear()
        samples: list[dict[str, Any]] = []

        def sample() -> None:
            q = soak_figures.quick(pid, host.tmux)
            rss = procs.status_fields(pid).get("VmRSS")
            samples.append({"at_s": round(time.monotonic() - began, 1), **q,
                            "rss_kib": rss, "connected": len(churn.clients)})  # fmt: skip

        began = time.monotonic()
        bench.log(f"  soak: churning for {opts.soak_seconds:g} s ...")
        out["ran_s"] = round(churn.run(opts.soak_seconds, sample, max(opts.soak_seconds / 12, 1)),
                             1)  # fmt: skip
        churn.finish()
        left = time.monotonic()
        settle(bench, host, pid, out["before"], opts.soak_settle)
        out["settled_after_s"] = round(time.monotonic() - left, 1)
        out["after"] = figures(host, pid)
        out["samples"] = samples
        ops = dict(sorted(churn.ops.items()))
        out["ops"] = ops
        out["done"] = dict(sorted(churn.kinds.items()))
        out["errors"] = dict(churn.errors)
        out["error_examples"] = churn.examples
        out["growth"] = soak_figures.growth(out["before"], out["after"], sum(ops.values()))
        out["server_log"] = server_log(host.log)
        out["leaks"] = soak_figures.leaks(out["before"], out["after"])
        out["problems"] = soak_figures.verdict(out["before"], out["after"], dict(churn.errors))
        out["status"] = "measured"
    finally:
        if host.proc is not None and host.proc.poll() is None:
            host.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                host.proc.wait(15)
        host.tmux.kill()
    return out


def figures(host: SoakHost, pid: int) -> dict[str, Any]:
    got = soak_figures.take(pid, host.tmux, host.audit, None)
    got["engine_clients"] = soak_figures.engine_client_count(host.pairtui_argv(), host.env,
                                                             host.src)  # fmt: skip
    return got


def settle(bench: Bench, host: SoakHost, pid: int, before: dict[str, Any] | None,
           limit: float) -> None:  # fmt: skip
    """Wait for the server to let go: at least a registry settle, then until its fds,
    children and the tmux clients are back at ``before``, or have not moved for
    :data:`STEADY` seconds (a leak stays), at most ``limit`` seconds."""
    bench.reactor.sleep(SETTLE_EDIT)
    deadline = time.monotonic() + limit
    last, stable_since = None, time.monotonic()
    while time.monotonic() < deadline:
        now = soak_figures.quick(pid, host.tmux)
        if before is not None and all(now[k] <= before[k] for k in now):
            return
        if now != last:
            last, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since >= (STEADY if before is not None else 2.0):
            return
        bench.reactor.sleep(0.25)


def server_log(path: Path) -> dict[str, Any]:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return {"lines": None, "tracebacks": None}
    tracebacks = sum(1 for line in lines if line.startswith("Traceback"))
    out: dict[str, Any] = {"lines": len(lines), "tracebacks": tracebacks}
    if tracebacks:
        out["tail"] = lines[-40:]
    return out
