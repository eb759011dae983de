"""Join and leave messages and the status option, on real tmux servers (isolated sockets).

What a message looks like on the host's screen (escaping, a share the host stopped) is
tested end to end in test_e2e_tmux_key.py; here, which clients and which server hear what.
tmux's own message log (``show-messages``) says exactly what was shown on which client.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple, TypeVar

import pexpect
import pytest
from support import TmuxHost, start_tmux, wait_until

from pairtui.events import (
    AccessRefused,
    ClientChanged,
    ClientInfo,
    ClientJoined,
    ClientLeft,
    DoorChanged,
    DoorState,
    Event,
    RecordingChanged,
    RecordingInfo,
)
from pairtui.shares import Share
from pairtui.tmux import Tmux
from pairtui.tmux_notify import TmuxNotifier, message, status_text

T = TypeVar("T")


class Attached:
    """A real tmux client in a PTY, attached to one session."""

    def __init__(self, host: TmuxHost, session: str) -> None:
        before = {c["tty"] for c in host.clients()}
        self.child = pexpect.spawn(
            "tmux", ["-S", str(host.socket), "attach-session", "-t", f"={session}"],
            dimensions=(24, 80), env=dict(os.environ),
        )  # fmt: skip
        self.tty = wait_until(
            lambda: next((c["tty"] for c in host.clients() if c["tty"] not in before), None),
            what=f"a client on {session}",
        )
        self.host = host

    def messages(self) -> list[str]:
        """Every message tmux showed this client, oldest first."""
        self.drain()
        mark = f" {self.tty} message: "
        log = self.host.run("show-messages").splitlines()
        return [line.split(mark, 1)[1] for line in reversed(log) if mark in line]

    def drain(self) -> None:
        while True:
            try:
                self.child.read_nonblocking(65536, timeout=0)
            except (pexpect.TIMEOUT, pexpect.EOF):
                return

    def close(self) -> None:
        self.child.close(force=True)


@pytest.fixture
def attach(tmux_host: TmuxHost) -> Iterator[Callable[..., Attached]]:
    made: list[Attached] = []

    def start(session: str = "host", host: TmuxHost = tmux_host) -> Attached:
        made.append(Attached(host, session))
        return made[-1]

    yield start
    for a in made:
        a.close()


@pytest.fixture
def second_tmux(isolated_env: Path) -> Iterator[TmuxHost]:
    host = start_tmux(Path(os.environ["TMUX_TMPDIR"]))
    yield host
    host.kill()


async def eventually(check: Callable[[], T | None], timeout: float = 10, what: str = "") -> T:
    """Poll without blocking the event loop the notifier's worker runs on."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or check}: last={last!r}")


def status_of(host: TmuxHost) -> str:
    return host.run("display-message", "-p", "#{@pairtui_status}").rstrip("\n")


def share_on(host: TmuxHost, name: str = "main") -> Share:
    return Share(name, "session", "host", None, str(host.socket), "2026-01-01T00:00:00Z")


def guest(
    cid: str, name: str, share: str = "main", peer: str = "127.0.0.1:5000", via: str = ""
) -> ClientInfo:
    return ClientInfo(cid, name, "SHA256:x", peer, share, "pair", via=via)


class Room:
    """The engine's side as the notifier sees it: shares and the connected clients."""

    def __init__(self, shares: list[Share]) -> None:
        self.shares = shares
        self.clients: list[ClientInfo] = []
        self.recorded: list[str] = []
        self.notifier = TmuxNotifier(lambda: list(self.shares), lambda: list(self.clients),
                                     list, lambda: list(self.recorded))  # fmt: skip

    def send(self, *events: Event) -> None:
        """Update the client list as the engine does, then publish each event."""
        for event in events:
            if isinstance(event, ClientJoined):
                self.clients.append(event.client)
            elif isinstance(event, ClientLeft):
                self.clients = [c for c in self.clients if c.id != event.client.id]
            elif isinstance(event, ClientChanged):
                self.clients = [
                    event.client if c.id == event.client.id else c for c in self.clients
                ]
            self.notifier(event)


# --- the status text -------------------------------------------------------------------------


class Status(NamedTuple):
    test_id: str
    shares: list[str]
    live: list[str]
    text: str


STATUS = [
    Status("nothing-shared", [], [], ""),
    Status("shared-nobody-in", [], ["main", "demo"], "shared: demo main"),
    Status("one", ["main"], ["main"], "1 guest: main(1)"),
    Status("two-in-one", ["main", "main"], ["main"], "2 guests: main(2)"),
    Status("shares-sorted", ["web", "api", "web"], ["api", "web"], "3 guests: api(1) web(2)"),
    Status(
        "and-one-nobody-is-in", ["main"], ["main", "old"], "1 guest: main(1) · also shared: old"
    ),
]


@pytest.mark.parametrize("case", STATUS, ids=[c.test_id for c in STATUS])
def test_status_text_counts_guests_per_share_and_names_the_rest(case: Status) -> None:
    assert status_text(case.shares, case.live) == case.text


def test_status_text_marks_the_shares_being_recorded() -> None:
    assert status_text(["main"], ["main"], ["main"]) == "1 guest: main(1) · REC main"
    assert status_text([], ["main", "old"], ["old"]) == "shared: main old · REC old"


def test_a_batch_of_events_is_one_line_that_counts_what_it_does_not_name() -> None:
    assert message([]) == ""
    assert message(["a joined"]) == "pairtui: a joined"
    assert message(["a joined", "b left"]) == "pairtui: a joined · b left"
    many = [f"g{i} joined" for i in range(200)]
    assert message(many) == "pairtui: g0 joined · g1 joined · and 198 more"


async def test_a_burst_of_joins_is_a_few_tmux_calls_and_ends_with_the_right_status(
    tmux_host: TmuxHost, attach: Callable[..., Attached], monkeypatch: pytest.MonkeyPatch
) -> None:
    """200 joins at once: the status is sent in batches, not once per join (sending
    each took the host's status seconds behind the class)."""
    calls: list[str | None] = []
    tell = Tmux.tell_host

    def counted(self: Tmux, text: str, status: str | None = None) -> None:
        calls.append(status)
        tell(self, text, status)

    monkeypatch.setattr(Tmux, "tell_host", counted)
    host = attach("host")
    room = Room([share_on(tmux_host)])
    for i in range(200):
        room.send(ClientJoined(guest(f"c{i}", f"g{i}")))
        if i % 20 == 0:
            await asyncio.sleep(0.05)  # they come over a second, as a class does
    await eventually(lambda: status_of(tmux_host) == "200 guests: main(200)", what="200")
    assert len(calls) <= 10, calls
    assert calls[-1] == "200 guests: main(200)"
    assert any("and " in m and " more" in m for m in host.messages())
    await room.notifier.close()


# --- against real tmux servers ---------------------------------------------------------------


async def test_a_join_is_told_to_the_hosts_clients_and_never_to_a_guests(
    tmux_host: TmuxHost, attach: Callable[..., Attached]
) -> None:
    names = Tmux(tmux_host.socket).create_share("main", session="host", host="me")
    host_a, host_b = attach("host"), attach("host")
    guest_client = attach(names.pair)
    room = Room([share_on(tmux_host)])
    bob = guest("c1", "bob", peer="[2001:db8::7]:50312", via="vps")
    room.send(ClientJoined(bob))
    line = "pairtui: bob joined (pair) from 2001:db8::7 via vps"
    await eventually(lambda: host_a.messages() == [line], what=f"{line!r} on the first")
    await eventually(lambda: host_b.messages() == [line], what=f"{line!r} on the second")
    assert status_of(tmux_host) == "1 guest: main(1)"
    assert guest_client.messages() == []
    await room.notifier.close()


async def test_a_change_updates_the_status_and_shows_no_message(
    tmux_host: TmuxHost, attach: Callable[..., Attached]
) -> None:
    """A mode switch or a renamed share: the status follows, the host is not interrupted."""
    host = attach("host")
    room = Room([share_on(tmux_host)])
    alice = guest("c1", "alice")
    room.send(ClientJoined(alice))
    await eventually(lambda: status_of(tmux_host) == "1 guest: main(1)", what="status")
    shown = await eventually(host.messages, what="the join message")

    room.shares = [share_on(tmux_host, "demo")]  # renamed: the old name is nowhere now
    room.send(ClientChanged(guest("c1", "alice", share="demo")))
    await eventually(lambda: status_of(tmux_host) == "1 guest: demo(1)", what="renamed status")
    room.send(ClientLeft(guest("c1", "alice", share="demo"), "guest left"))
    # Nobody is in, the share still is: the segment keeps it in sight.
    await eventually(lambda: status_of(tmux_host) == "shared: demo", what="the share alone")
    assert host.messages() == [*shown, "pairtui: alice left (guest left)"]
    await room.notifier.close()


async def test_recordings_and_a_door_that_closed_by_itself_are_told_to_the_host(
    tmux_host: TmuxHost, attach: Callable[..., Attached]
) -> None:
    host = attach("host")
    room = Room([share_on(tmux_host)])
    room.recorded = ["main"]
    rec = RecordingInfo("main", "/r/main-20261206T101500Z.cast", 0, False, "recording")
    room.send(RecordingChanged(rec))
    await eventually(lambda: status_of(tmux_host) == "shared: main · REC main", what="REC")
    room.recorded = []
    room.send(RecordingChanged(replace(rec, state="stopped", reason="disk full")))
    await eventually(lambda: status_of(tmux_host) == "shared: main", what="REC gone")
    room.send(DoorChanged(DoorState(), timed_out=True))
    room.send(DoorChanged(DoorState()))  # closed by the host: it knows
    await eventually(lambda: len(host.messages()) == 3, what="three messages")
    assert host.messages() == [
        "pairtui: recording main (what guests see) into main-20261206T101500Z.cast",
        "pairtui: recording of main stopped: disk full",
        "pairtui: the door closed by itself: no more knocks (pairtui door open)",
    ]
    await room.notifier.close()


async def test_a_guest_of_a_share_the_notifier_cannot_find_is_not_announced(
    tmux_host: TmuxHost, attach: Callable[..., Attached]
) -> None:
    host = attach("host")
    room = Room([share_on(tmux_host)])
    stray = guest("c9", "mallory", share="gone")
    room.send(ClientJoined(stray), ClientChanged(stray), ClientLeft(stray, "guest left"))
    room.send(AccessRefused("203.0.113.1:4000", "SHA256:zzz", "unknown key"))
    # Then one that is announced: everything before it was handled in order.
    room.send(ClientJoined(guest("c1", "alice")))
    await eventually(lambda: status_of(tmux_host) == "1 guest: main(1)", what="alice's status")
    await eventually(host.messages, what="alice's message")
    assert host.messages() == ["pairtui: alice joined (pair) from 127.0.0.1"]
    await room.notifier.close()


async def test_each_tmux_server_counts_only_the_guests_of_its_own_shares(
    tmux_host: TmuxHost, second_tmux: TmuxHost, attach: Callable[..., Attached]
) -> None:
    here, there = attach("host", tmux_host), attach("host", second_tmux)
    room = Room([share_on(tmux_host, "main"), share_on(second_tmux, "other")])
    room.send(
        ClientJoined(guest("c1", "alice", share="main")),
        ClientJoined(guest("c2", "bob", share="other")),
        ClientJoined(guest("c3", "carol", share="other")),
    )
    await eventually(lambda: status_of(second_tmux) == "2 guests: other(2)", what="there")
    await eventually(lambda: status_of(tmux_host) == "1 guest: main(1)", what="here")
    await eventually(there.messages, what="the message there")
    assert here.messages() == ["pairtui: alice joined (pair) from 127.0.0.1"]
    # Joins that come together are told together: one message, one tmux call.
    assert there.messages() == [
        "pairtui: bob joined (pair) from 127.0.0.1 · carol joined (pair) from 127.0.0.1"
    ]
    await room.notifier.close()
    # Closing clears the status on every server it told something.
    assert (status_of(tmux_host), status_of(second_tmux)) == ("", "")


async def test_a_tmux_server_that_went_away_does_not_silence_the_others(
    tmux_host: TmuxHost, second_tmux: TmuxHost, attach: Callable[..., Attached]
) -> None:
    here = attach("host", tmux_host)
    room = Room([share_on(tmux_host, "main"), share_on(second_tmux, "other")])
    room.send(ClientJoined(guest("c2", "bob", share="other")))
    await eventually(lambda: status_of(second_tmux) == "1 guest: other(1)", what="bob counted")
    second_tmux.kill()
    room.send(
        ClientJoined(guest("c3", "carol", share="other")),  # to the dead server
        ClientJoined(guest("c1", "alice", share="main")),
    )
    await eventually(here.messages, what="alice's message after the failure")
    assert here.messages() == ["pairtui: alice joined (pair) from 127.0.0.1"]
    assert status_of(tmux_host) == "1 guest: main(1)"
    await asyncio.wait_for(room.notifier.close(), 15)  # and shutting down does not hang


async def test_a_burst_of_events_reaches_tmux_in_order(
    tmux_host: TmuxHost, attach: Callable[..., Attached]
) -> None:
    host = attach("host")
    tmux_host.run("set-option", "-g", "message-limit", "1000")
    room = Room([share_on(tmux_host)])
    people = [guest(f"c{i}", f"g{i}") for i in range(12)]
    room.send(*(ClientJoined(p) for p in people))
    room.send(*(ClientLeft(p, "guest left") for p in people[:5]))
    # Sent in one go, they are one batch: one line, in order, counting what it leaves out.
    first = "pairtui: g0 joined (pair) from 127.0.0.1 · g1 joined (pair) from 127.0.0.1"
    expected = [f"{first} · and 15 more"]
    await eventually(host.messages, what="the message")
    assert host.messages() == expected
    assert status_of(tmux_host) == "7 guests: main(7)"
    await room.notifier.close()
    assert status_of(tmux_host) == ""
