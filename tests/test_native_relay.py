"""The native relay (pairtui/_relay.c) against a Python model of what it may do.

The relay reads packets a guest wrote, so each test here hands it bytes over a real
socket pair and a real PTY and checks, after it stopped, everything it did: what reached
the pane, what it sent, the state it hands back and the bytes it left for asyncssh. The
model is the Python fast path's rule (pairtui/ssh_fastpath.py): a well-framed IGNORE or
a pair guest's CHANNEL_DATA within the window is consumed; the first packet that is
anything else (another type, a bad tag, padding under 4 bytes, a length that is not
whole blocks or over the maximum, data over the window or the packet size, another
channel) and everything after it is left exactly as it came.

``scripts/bootstrap --test`` builds the module; these tests fail, not skip, without it.
"""

from __future__ import annotations

import asyncio
import os
import random
import select
import shutil
import socket
import subprocess
import sys
import sysconfig
import threading
import time
import tty
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from support import (
    Server,
    SshGuest,
    TmuxHost,
    add_guest,
    pairtui,
    pairtui_json,
    relay_threads,
    type_in_host,
    wait_until,
)

from pairtui import native_relay
from pairtui._relay import Relay  # built by scripts/bootstrap --test: an error if not
from pairtui.authorized_keys import parse_public_keys
from pairtui.engine import Engine
from pairtui.guest_ssh import GuestSession
from pairtui.registry import Mode, Registry

if TYPE_CHECKING:
    from pairtui._relay import State

Reason = native_relay.Reason

MSG_IGNORE, MSG_WINDOW_ADJUST, MSG_DATA, MSG_EOF = 2, 93, 94, 96
OUR, PEER = 7, 3  # the relay's channel number, the guest's
MAX_PKT = 35000 + 64


def _next(iv: bytes) -> bytes:
    return iv[:4] + ((int.from_bytes(iv[4:], "big") + 1) % 2**64).to_bytes(8, "big")


@dataclass
class Guest:
    """The guest's side: seals what it sends, opens what it gets."""

    send: AESGCM
    send_iv: bytes
    recv: AESGCM
    recv_iv: bytes
    rng: random.Random

    def seal(self, payload: bytes, pad: int | None = None, length_delta: int = 0) -> bytes:
        if pad is None:
            pad = 4 + (-(1 + len(payload) + 4) % 16)
        body = bytes([pad]) + payload + self.rng.randbytes(pad)
        header = (len(body) + length_delta).to_bytes(4, "big")
        sealed = self.send.encrypt(self.send_iv, body, header)
        self.send_iv = _next(self.send_iv)
        return header + sealed

    def open_all(self, data: bytes) -> list[bytes]:
        """Every packet in ``data`` (the relay's output): framing checked, payloads out."""
        out = []
        while data:
            length = int.from_bytes(data[:4], "big")
            assert length % 16 == 0, "a packet of whole blocks"
            body = self.recv.decrypt(self.recv_iv, data[4 : 4 + length + 16], data[:4])
            self.recv_iv = _next(self.recv_iv)
            pad = body[0]
            assert 4 <= pad <= 4 + 15 + 16 and pad + 2 <= len(body)
            out.append(body[1 : len(body) - pad])
            data = data[4 + length + 16 :]
        return out


@dataclass
class Model:
    """What the relay may consume, packet by packet (the Python fast path's rule)."""

    input: bool
    recv_window: int
    init_recv_window: int
    recv_pktsize: int
    delivered: bytearray = field(default_factory=bytearray)
    adjusts: list[int] = field(default_factory=list)
    consumed: int = 0  # packets
    stopped: bool = False
    # After each packet consumed: bytes delivered and window adjusts sent until then.
    marks: list[tuple[int, int]] = field(default_factory=list)

    def feed(self, kind: str, payload: bytes, ok_framing: bool) -> None:
        if self.stopped:
            return
        if not ok_framing or not payload:
            self.stopped = True
            return
        if payload[0] == MSG_IGNORE:
            n = int.from_bytes(payload[1:5], "big")
            if len(payload) != 5 + n:
                self.stopped = True
                return
            self.consumed += 1
            self.marks.append((len(self.delivered), len(self.adjusts)))
            return
        if payload[0] != MSG_DATA or not self.input or len(payload) < 9:
            self.stopped = True
            return
        chan, n = int.from_bytes(payload[1:5], "big"), int.from_bytes(payload[5:9], "big")
        if (
            chan != OUR
            or n != len(payload) - 9
            or n == 0
            or n > self.recv_window
            or n > self.recv_pktsize
        ):
            self.stopped = True
            return
        self.consumed += 1
        self.recv_window -= n
        self.delivered += payload[9:]
        if self.recv_window < self.init_recv_window // 2:
            self.adjusts.append(self.init_recv_window - self.recv_window)
            self.recv_window = self.init_recv_window
        self.marks.append((len(self.delivered), len(self.adjusts)))


@dataclass
class Rig:
    relay: Relay
    server: socket.socket  # the relay's socket (a duplicate is what it reads)
    client: socket.socket  # the guest's
    master: int
    slave: int  # the pane's side, raw
    guest: Guest
    recv_iv: bytes
    send_iv: bytes
    reader: PaneReader | None = None

    def start(self, model: Model, **over: object) -> None:
        args: dict[str, object] = {
            "recv_iv": self.recv_iv, "send_iv": self.send_iv, "recv_seq": 5, "send_seq": 9,
            "our_channel": OUR, "peer_channel": PEER, "recv_window": model.recv_window,
            "init_recv_window": model.init_recv_window, "recv_pktsize": model.recv_pktsize,
            "send_window": 1 << 20, "send_pktsize": 32768, "rekey_sent": 0,
            "rekey_limit": 1 << 30, "rekey_time": 0.0, "enchdrlen": 1, "input": model.input,
        }  # fmt: skip
        args.update(over)
        self.relay.start(**args)  # type: ignore[arg-type]

    def settle(self) -> State:
        """Stop once the relay took all it was given (or stopped by itself)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.relay.notefd], [], [], 0.05)
            if ready or not _readable(self.server):
                break
        time.sleep(0.05)
        state = self.relay.stop()
        assert state is not None
        return state

    def pane(self) -> bytes:
        """What reached the pane's side of the PTY (read as it comes, as tmux would)."""
        assert self.reader is not None
        return self.reader.settled()

    def sent(self) -> bytes:
        return _drain(self.client.fileno())


def _readable(sock: socket.socket) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


def _drain(fd: int) -> bytes:
    got = b""
    while select.select([fd], [], [], 0.05)[0]:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        got += chunk
    return got


class PaneReader(threading.Thread):
    """Reads the pane's side of the PTY as it fills, as tmux's client would."""

    def __init__(self, fd: int) -> None:
        super().__init__(daemon=True)
        self.fd, self.got, self.done = fd, bytearray(), threading.Event()
        self.last = time.monotonic()

    def run(self) -> None:
        while not self.done.is_set():
            if select.select([self.fd], [], [], 0.02)[0]:
                try:
                    self.got += os.read(self.fd, 65536)
                except OSError:
                    return
                self.last = time.monotonic()

    def settled(self) -> bytes:
        deadline = time.monotonic() + 5
        while time.monotonic() - self.last < 0.1 and time.monotonic() < deadline:
            time.sleep(0.02)
        return bytes(self.got)


def _rig(reading: bool) -> Iterator[Rig]:
    assert native_relay.available(), "scripts/build-native did not build pairtui._relay"
    rng = random.Random(1)
    k_in, k_out = os.urandom(16), os.urandom(32)
    iv_in, iv_out = os.urandom(12), os.urandom(12)
    server, client = socket.socketpair()
    server.setblocking(False)
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    relay = Relay(server.fileno(), master, k_in, k_out, MAX_PKT)
    guest = Guest(AESGCM(k_in), iv_in, AESGCM(k_out), iv_out, rng)
    reader = PaneReader(slave) if reading else None
    if reader is not None:
        reader.start()
    yield Rig(relay, server, client, master, slave, guest, iv_in, iv_out, reader)
    relay.stop()
    if reader is not None:
        reader.done.set()
        reader.join()
    for s in (server, client):
        s.close()
    for fd in (master, slave):
        os.close(fd)


@pytest.fixture
def rig() -> Iterator[Rig]:
    yield from _rig(reading=True)


@pytest.fixture
def stuck_rig() -> Iterator[Rig]:
    """The pane never reads: the PTY fills."""
    yield from _rig(reading=False)


def _data(n: int, chan: int = OUR, data: bytes | None = None) -> bytes:
    body = (
        data if data is not None else bytes(random.Random(n).randrange(32, 127) for _ in range(n))
    )
    return b"%c%b%b%b" % (MSG_DATA, chan.to_bytes(4, "big"), len(body).to_bytes(4, "big"), body)


def _ignore(n: int) -> bytes:
    return b"%c%b%b" % (MSG_IGNORE, n.to_bytes(4, "big"), b"i" * n)


def _unconsumed(rig: Rig, state: State) -> bytes:
    """What the relay left: the bytes it hands back, then any it never read."""
    return state["leftover"] + _drain(rig.server.fileno())


def test_keys_reach_the_pane_and_the_state_is_what_asyncssh_would_keep(rig: Rig) -> None:
    model = Model(input=True, recv_window=64, init_recv_window=64, recv_pktsize=32)
    rig.start(model)
    packets = [_data(5), _ignore(3), _data(20), _data(10)]  # 35 of 64: one adjust
    for p in packets:
        model.feed("", p, True)
    rig.client.sendall(b"".join(rig.guest.seal(p) for p in packets))
    state = rig.settle()
    assert rig.pane() == bytes(model.delivered)
    assert state["recv_seq"] == 5 + 4 and state["leftover"] == b""
    assert state["recv_window"] == model.recv_window
    # The IV it hands back is the next one the guest uses.
    assert state["recv_iv"] == rig.guest.send_iv
    [adjust] = rig.guest.open_all(rig.sent())
    assert adjust == b"%c%b%b" % (MSG_WINDOW_ADJUST, PEER.to_bytes(4, "big"),
                                  model.adjusts[0].to_bytes(4, "big"))  # fmt: skip
    assert state["send_seq"] == 9 + 1 and state["send_iv"] == rig.guest.recv_iv
    assert Reason(state["reason"]) is Reason.STOP


def test_output_becomes_packets_within_the_window_then_it_stops(rig: Rig) -> None:
    model = Model(input=True, recv_window=64, init_recv_window=64, recv_pktsize=32)
    rig.start(model, send_window=3000, send_pktsize=1024)
    os.write(rig.slave, b"x" * 5000)
    state = rig.settle()
    payloads = rig.guest.open_all(rig.sent())
    data = b"".join(p[9:] for p in payloads)
    assert data == b"x" * 3000 and all(len(p) - 9 <= 1024 for p in payloads)
    assert all(p[:5] == bytes([MSG_DATA]) + PEER.to_bytes(4, "big") for p in payloads)
    assert state["send_window"] == 0 and Reason(state["reason"]) is Reason.WINDOW
    assert state["send_seq"] == 9 + len(payloads)
    assert state["rekey_sent"] == sum(_packet_length(len(p)) for p in payloads)


def _packet_length(payload: int) -> int:
    """asyncssh's count for rekeying: padding length byte, payload, 4-19 bytes of padding."""
    pad = -(1 + payload) % 16
    return 1 + payload + (pad + 16 if pad < 4 else pad)


def test_a_view_guests_keys_are_left_to_python(rig: Rig) -> None:
    model = Model(input=False, recv_window=64, init_recv_window=64, recv_pktsize=32)
    rig.start(model)
    sealed = rig.guest.seal(_data(4))
    rig.client.sendall(sealed)
    state = rig.settle()
    assert rig.pane() == b""
    assert _unconsumed(rig, state) == sealed and state["recv_seq"] == 5
    assert Reason(state["reason"]) is Reason.PACKET


def test_a_pane_that_does_not_read_stops_it_with_the_rest_of_the_keys_handed_back(
    stuck_rig: Rig,
) -> None:
    """The PTY takes a few KiB; what it does not take of a packet is handed back (the
    PTY bridge keeps it within its limit), and the packets after it stay unread."""
    rig = stuck_rig
    model = Model(input=True, recv_window=1 << 20, init_recv_window=1 << 20, recv_pktsize=32768)
    rig.start(model)
    packets = [_data(3000, data=bytes([65 + i]) * 3000) for i in range(8)]
    stream = [rig.guest.seal(p) for p in packets]
    rig.client.sendall(b"".join(stream))
    state = rig.settle()
    assert Reason(state["reason"]) is Reason.PTY_FULL
    took = state["recv_seq"] - 5
    assert 0 < took < len(packets)
    written = _drain(rig.slave)
    assert written + state["pty_input"] == b"".join(p[9:] for p in packets[:took])
    assert _unconsumed(rig, state) == b"".join(stream[took:])
    assert state["recv_window"] == (1 << 20) - 3000 * took


def test_a_rekey_due_stops_it_before_it_sends_or_reads(rig: Rig) -> None:
    model = Model(input=True, recv_window=64, init_recv_window=64, recv_pktsize=32)
    rig.start(model, rekey_sent=100, rekey_limit=100)
    os.write(rig.slave, b"out")
    state = rig.settle()
    assert rig.sent() == b"" and Reason(state["reason"]) is Reason.REKEY


# --- the fuzz: random streams of good and bad packets, split at random ------------------


def _case(rng: random.Random, guest: Guest, model: Model) -> tuple[bytes, str]:
    """One packet, sealed, and what it is; the model is told."""
    kind = rng.choice(
        ["data"] * 6 + ["ignore", "other-type", "other-channel", "zero", "over-window",
         "over-pktsize", "short-pad", "bad-tag", "odd-length", "huge-length", "lying-n",
         "ignore-junk", "eof", "tiny"]
    )  # fmt: skip
    n = rng.randrange(1, 40 if model.recv_pktsize < 64 else model.recv_pktsize + 1)
    payload, ok, pad = _data(n), True, None
    if kind == "ignore":
        payload = _ignore(rng.randrange(0, 30))
    elif kind == "other-type":
        payload = bytes([rng.choice([1, 20, 80, 93, 95, 97, 98, 99, 200])]) + _data(n)[1:]
    elif kind == "other-channel":
        payload = _data(n, chan=rng.choice([0, OUR + 1, 2**32 - 1]))
    elif kind == "zero":
        payload = _data(0, data=b"")
    elif kind == "over-window":
        payload = _data(model.recv_window + 1)
    elif kind == "over-pktsize":
        payload = _data(model.recv_pktsize + rng.randrange(1, 5))
    elif kind == "short-pad":  # whole blocks, but 0-3 bytes of padding
        pad = rng.randrange(0, 4)
        payload = _data((-(10 + pad)) % 16 or 16)
        ok = False
    elif kind == "lying-n":
        body = _data(n)
        payload = body[:5] + (n + rng.choice([-1, 1, 1000])).to_bytes(4, "big") + body[9:]
    elif kind == "ignore-junk":
        payload = _ignore(3) + b"junk"
    elif kind == "eof":
        payload = bytes([MSG_EOF]) + OUR.to_bytes(4, "big")
    elif kind == "tiny":
        payload = b""
    iv = guest.send_iv
    sealed = guest.seal(payload, pad=pad)
    if kind == "bad-tag":
        i = rng.randrange(4, len(sealed))
        sealed = sealed[:i] + bytes([sealed[i] ^ (1 << rng.randrange(8))]) + sealed[i + 1 :]
        ok = False
    elif kind == "odd-length":  # sealed as the guest may (it has the keys): not whole blocks
        pad = 4 + (-(1 + len(payload) + 4) % 16) + rng.randrange(1, 16)
        guest.send_iv = iv  # sealed again instead
        sealed = guest.seal(payload, pad=pad)
        ok = False
    elif kind == "huge-length":
        sealed = (MAX_PKT + 16 * rng.randrange(1, 1000)).to_bytes(4, "big") + sealed[4:]
        ok = False
    model.feed(kind, payload, ok)
    return sealed, kind


@pytest.mark.parametrize("seed", range(40))
def test_fuzz_it_consumes_exactly_what_the_model_does_and_leaves_the_rest(
    rig: Rig, seed: int
) -> None:
    rng = random.Random(seed)
    big = seed % 4 == 0  # packets up to the maximum packet size, few of them
    if big:
        model = Model(input=True, recv_window=rng.randrange(1, 1 << 17), init_recv_window=1 << 17,
                      recv_pktsize=32768)  # fmt: skip
    else:
        model = Model(input=rng.random() < 0.9, recv_window=rng.randrange(40, 400),
                      init_recv_window=400, recv_pktsize=rng.randrange(20, 64))  # fmt: skip
    rig.start(model)
    stream, kinds, ends = b"", [], []  # ends: where each packet ends in the stream
    for _ in range(rng.randrange(1, 12 if big else 30)):
        sealed, kind = _case(rng, rig.guest, model)
        stream += sealed
        kinds.append(kind)
        ends.append(len(stream))
    pos = 0
    while pos < len(stream):  # split anywhere, as TCP may
        step = rng.randrange(1, 40000 if big else 200)
        rig.client.sendall(stream[pos : pos + step])
        pos += step
        if rng.random() < 0.3:
            time.sleep(0.002)
    state = rig.settle()
    took = state["recv_seq"] - 5
    reason = Reason(state["reason"])
    if reason is Reason.PTY_FULL:  # the pane took less than a packet: the rest handed back
        assert 0 < took <= model.consumed, kinds
    else:
        assert took == model.consumed, (kinds, reason)
    delivered, adjusted = model.marks[took - 1] if took else (0, 0)
    pane = rig.pane() + state["pty_input"]
    assert (len(pane), pane) == (delivered, bytes(model.delivered[:delivered])), (kinds, reason)
    assert _unconsumed(rig, state) == stream[ends[took - 1] if took else 0 :], kinds
    sent = rig.guest.open_all(rig.sent())
    assert [int.from_bytes(p[5:9], "big") for p in sent] == model.adjusts[:adjusted], kinds
    if model.stopped and took == model.consumed and reason is not Reason.PTY_FULL:
        assert reason is Reason.PACKET, kinds


# --- the same fuzz with AddressSanitizer and UBSan in the relay -------------------------

ROOT = Path(__file__).resolve().parent.parent


def test_the_fuzz_passes_under_address_and_undefined_behaviour_sanitizers(
    tmp_path: Path,
) -> None:
    """A read or write out of bounds, a use after free or undefined behaviour in the C
    aborts the run (seen: an overflow added on purpose ended it with status 1)."""
    cc = shutil.which("cc")
    assert cc is not None, "scripts/bootstrap --test installs gcc"
    package = tmp_path / "pairtui"
    package.mkdir()
    for entry in (ROOT / "pairtui").iterdir():  # the package as it is, but its relay
        if not entry.name.startswith("_relay.") or entry.suffix in {".c", ".pyi"}:
            (package / entry.name).symlink_to(entry)
    include, suffix = sysconfig.get_paths()["include"], sysconfig.get_config_var("EXT_SUFFIX")
    flags = ["-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined",
             "-fno-sanitize-recover=undefined"]  # fmt: skip
    subprocess.run(
        [cc, *flags, "-fPIC", "-shared", "-pthread", f"-I{include}",
         str(ROOT / "pairtui" / "_relay.c"), "-lcrypto", "-o", str(package / f"_relay{suffix}")],
        check=True, timeout=120,
    )  # fmt: skip
    runtimes = [
        subprocess.run([cc, f"-print-file-name={lib}"], capture_output=True, text=True,
                       check=True).stdout.strip()
        for lib in ("libasan.so", "libubsan.so")
    ]  # fmt: skip
    env = dict(
        os.environ, PYTHONPATH=str(tmp_path), LD_PRELOAD=":".join(runtimes),
        ASAN_OPTIONS="detect_leaks=0", UBSAN_OPTIONS="print_stacktrace=1",
    )  # fmt: skip
    script = (
        "import sys, pytest\n"
        "rc = pytest.main([sys.argv[1], '-q', '-s', '-p', 'no:cacheprovider',\n"
        "                  '-k', 'fuzz and not sanitizers'])\n"
        "import pairtui._relay as r\n"
        "print('relay from', r.__file__)\n"
        "sys.exit(rc)\n"
    )  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", script, __file__], check=False, cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    assert f"relay from {package / '_relay'}" in out and " passed" in out, out[-4000:]


# --- end to end: the real OpenSSH guest, the engine, a real tmux ------------------------


async def _pair_guest(
    engine: Engine, keys: Callable[[str], Path], guests: Callable[..., SshGuest]
) -> tuple[SshGuest, GuestSession]:
    """alice, a pair guest, on the share (the real ssh in a PTY), and her session."""
    pub = keys("alice").with_name("alice.pub").read_text()
    Registry().add("alice", parse_public_keys(pub), mode=Mode.PAIR)
    g = guests(engine.port, keys("alice"))
    await asyncio.to_thread(g.wait_for, "pair · main")
    [session] = engine._sessions.values()
    return g, session


@pytest.mark.parametrize("change", ["demote", "remove"])
async def test_keys_typed_after_a_demotion_or_removal_never_reach_the_pane(
    engine: Engine, keys: Callable[[str], Path], guests: Callable[..., SshGuest],
    tmux_host: TmuxHost, change: str,
) -> None:  # fmt: skip
    """A pair guest types without a pause, its keys going through the relay's thread;
    the host demotes or removes it. No key it types after the change reaches the pane,
    and the thread is stopped as the guest's input is cut, not once tmux or the goodbye
    has caught up (seen failing when switch_mode did not take the terminal back).
    """
    assert native_relay.available()
    g, session = await _pair_guest(engine, keys, guests)
    relay = session.relay
    assert relay is not None
    await asyncio.to_thread(lambda: wait_until(lambda: relay.active, what="the relay running"))
    stop = threading.Event()
    sent: list[tuple[float, str]] = []

    def type_on() -> None:
        i = 0
        while not stop.is_set():
            token = f"k{i}."
            sent.append((time.monotonic(), token))
            try:
                os.write(g.child.child_fd, token.encode())  # (pexpect's send waits 50 ms)
            except OSError:  # its ssh ended (removed)
                return
            i += 1
            time.sleep(0.002)

    typer = asyncio.ensure_future(asyncio.to_thread(type_on))
    try:
        await asyncio.sleep(0.5)
        assert relay.packets_in or relay.active, "the keys went through the relay"
        started = time.monotonic()
        if change == "demote":
            moved = session.switch_mode(Mode.VIEW)  # as the engine does: keys cut, then moved
            # The thread gave the connection back before the call returned: tmux making
            # the client read-only later is not what stops its keys.
            assert not relay.running
            await moved
        else:
            Registry().remove("alice")
            await engine.reconcile()
        cut = time.monotonic()
        await asyncio.sleep(0.3)
    finally:
        stop.set()
        await typer
    await asyncio.sleep(0.5)  # whatever was on its way has landed
    pane = tmux_host.run("capture-pane", "-p", "-J", "-S", "-", "-t", "host")
    before = [t for when, t in sent if when < started - 0.1]
    late = [t for when, t in sent if when > cut]
    assert relay.packets_in > 0 and before and late
    assert any(t in pane for t in before), "keys reached the pane before the change"
    assert not [t for t in late if t in pane], f"keys typed after the {change} reached the pane"


async def test_a_relay_that_cannot_start_leaves_the_guest_on_the_python_path(
    engine: Engine, keys: Callable[[str], Path], guests: Callable[..., SshGuest],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Out of descriptors (or threads) for the relay: one log line, and the guest is
    served as before, never left with its socket and PTY unread."""

    def out_of_descriptors(*args: object) -> Relay:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(native_relay, "Relay", out_of_descriptors)
    g, session = await _pair_guest(engine, keys, guests)
    for ch in "echo SLOW-$((6*7))\r":
        g.send(ch)
    await asyncio.to_thread(g.wait_for, "SLOW-42")
    assert session.relay is not None and not session.relay.active
    assert session.fast is not None and session.fast.fast_in >= 10


async def test_keys_through_the_relay_count_as_the_guests_activity(
    engine: Engine, keys: Callable[[str], Path], guests: Callable[..., SshGuest]
) -> None:
    """`pairtui clients` and the dashboard show how long a guest has been idle; keys the
    thread delivers count within a second or so, without stopping it."""
    g, session = await _pair_guest(engine, keys, guests)
    relay = session.relay
    assert relay is not None
    await asyncio.to_thread(lambda: wait_until(lambda: relay.running, what="the relay running"))
    await asyncio.sleep(1.2)  # idle a while
    stops = dict(relay.stops)
    typed = time.time()
    g.send("x")
    await asyncio.to_thread(g.wait_for, "x")

    def noted() -> bool:
        seen = engine.clients[session.info.id].last_input
        return seen is not None and seen >= typed

    await asyncio.to_thread(lambda: wait_until(noted, 3, what="the key as activity"))
    assert relay.running and relay.stops == stops  # the thread never stopped to say so


# --- guests on threads of their own: the host's controls act on each -------------------


@pytest.mark.e2e
def test_clients_kick_and_mode_act_on_guests_each_served_by_its_own_thread(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Callable[..., SshGuest]
) -> None:
    """Issue 19's "guests spread over workers": here each steady guest terminal is relayed
    by a thread of its own in `pairtui serve`. The host's `pairtui clients`, `mode` and
    `kick` act on one guest at once and leave the others' threads serving."""
    host, srv = shared
    add_guest("alice", keys("alice"), "--mode", "pair")
    add_guest("bob", keys("bob"), "--mode", "pair")
    add_guest("carol", keys("carol"), "--mode", "view")
    g = {name: guests(srv.port, keys(name)) for name in ("alice", "bob", "carol")}
    for guest in g.values():
        guest.wait_for("MARK-21")
    wait_until(lambda: relay_threads(srv.proc.pid) == 3, what="three relay threads")
    rows = {r["guest"]: r["mode"] for r in pairtui_json("clients")}
    assert rows == {"alice": "pair", "bob": "pair", "carol": "view"}

    g["alice"].send("echo A-$((40+2))\r")
    g["bob"].send("echo B-$((50+3))\r")
    wait_until(lambda: "A-42" in host.capture() and "B-53" in host.capture(), what="both typed")
    g["carol"].wait_for("B-53")

    assert pairtui("mode", "bob", "view").returncode == 0
    wait_until(lambda: {r["guest"]: r["mode"] for r in pairtui_json("clients")}["bob"] == "view",
               what="bob a viewer")  # fmt: skip
    g["bob"].send("echo B-$((60+4))\r")
    g["alice"].send("echo A-$((70+5))\r")
    wait_until(lambda: "A-75" in host.capture(), what="alice still typing")
    for viewer in ("bob", "carol"):
        g[viewer].wait_for("A-75")
    assert "B-64" not in host.capture(), "a demoted guest's keys reached the pane"

    assert pairtui("kick", "alice").returncode == 0
    assert g["alice"].wait_exit() != 0
    assert sorted(r["guest"] for r in pairtui_json("clients")) == ["bob", "carol"]
    type_in_host(host, "echo H-$((80+6))")
    for viewer in ("bob", "carol"):
        g[viewer].wait_for("H-86")
    wait_until(lambda: relay_threads(srv.proc.pid) == 2, what="the kicked guest's thread gone")
