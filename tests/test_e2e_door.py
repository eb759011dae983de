"""Knock-to-admit (issue 17, second part): with the door open, a guest whose key is not
registered waits in a waiting room (never in tmux) until the host admits it, from the
CLI, into the share without reconnecting; or denies it, or it gives up. Real OpenSSH,
real tmux, real `pairtui serve`."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pexpect
import pyte
import pytest
from support import (
    Server,
    SshGuest,
    TmuxHost,
    pairtui,
    pairtui_json,
    share,
    start_server,
    type_in_host,
    wait_until,
)

from pairtui.audit import Audit

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]


def guest_clients(host: TmuxHost) -> list[dict[str, str]]:
    return [c for c in host.clients() if c["session"].startswith("pairtui-")]


def open_door(*extra: str) -> None:
    res = pairtui("door", "open", "--for", "5m", *extra)
    assert res.returncode == 0 and "the door is open" in res.stdout, res


def waiting(g: SshGuest) -> dict[str, object]:
    """The guest's knock as `pairtui knocks` lists it, once its screen shows its code."""
    g.wait_for("Read this code to the host:")
    code = g.text().split("Read this code to the host: ", 1)[1].split()[0]
    [knock] = wait_until(lambda: pairtui_json("knocks"), what="the knock listed")
    assert knock["code"] == code
    return dict(knock)


def test_with_the_door_closed_an_unknown_key_is_refused_as_ever(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    _, srv = shared
    g = guests(srv.port, keys("stranger"))
    assert g.wait_exit() != 0
    assert "Permission denied" in g.output
    assert pairtui_json("knocks") == []


def test_an_admitted_guest_goes_from_the_waiting_room_into_the_share_without_reconnecting(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    host, srv = shared
    open_door()
    g = guests(srv.port, keys("carol"))
    knock = waiting(g)
    assert "Your key: SHA256:" in g.text() and "Ctrl-C to give up" in g.text()
    g.send("echo TYPED-$((6*7))\r")  # drained: no tmux client exists yet
    g.send("\x02d\x02:")
    assert guest_clients(host) == []
    res = pairtui("admit", str(knock["id"]), "--mode", "pair")
    assert res.returncode == 0, res.stderr
    g.wait_for("MARK-21")  # the same connection, now in the share
    assert "TYPED-42" not in host.capture()
    g.send("echo CAROL-$((6*7))\r")
    wait_until(lambda: "CAROL-42" in host.capture(), what="pair input in the pane")
    [client] = guest_clients(host)
    assert client["session"] == "pairtui-main-pair"
    [guest] = pairtui_json("guest", "list")
    g.close()
    # Admitted once: the key is not a guest any more once that connection ended.
    wait_until(lambda: pairtui_json("guest", "list") == [], what="the guest forgotten")
    events = [e["event"] for e in Audit().read() if e["event"] in {"knock", "admit"}]
    assert events == ["knock", "admit"] and str(guest["name"]).startswith("guest-")


def test_a_remembered_guest_stays_a_guest_with_its_expiry(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    _, srv = shared
    open_door()
    g = guests(srv.port, keys("dave"))
    knock = waiting(g)
    res = pairtui("admit", str(knock["id"]), "--remember", "--expires", "1d", "--name", "dave")
    assert res.returncode == 0, res.stderr
    g.wait_for("MARK-21")
    g.close()
    again = guests(srv.port, keys("dave"))  # the plain string, no knock
    again.wait_for("MARK-21")
    [guest] = pairtui_json("guest", "list")
    assert (guest["name"], guest["mode"], bool(guest["expires"])) == ("dave", "view", True)


def test_a_denied_guest_is_told_and_its_next_knock_is_turned_away(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    host, srv = shared
    open_door()
    g = guests(srv.port, keys("eve"))
    knock = waiting(g)
    assert pairtui("deny", str(knock["id"])).returncode == 0
    assert g.wait_exit() != 0
    assert "pairtui: the host did not let you in" in g.output
    again = guests(srv.port, keys("eve"))
    assert again.wait_exit() != 0
    assert "MARK-21" not in again.output and "Read this code" not in again.output
    assert pairtui_json("knocks") == [] and pairtui_json("guest", "list") == []
    assert guest_clients(host) == []


def test_a_waiting_guest_can_give_up_and_runs_nothing(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect,
    tmp_path: Path,
) -> None:  # fmt: skip
    _, srv = shared
    open_door()
    g = guests(srv.port, keys("frank"))
    waiting(g)
    g.send("\x03")
    assert g.wait_exit() != 0
    assert "pairtui: you stopped waiting" in g.output
    wait_until(lambda: pairtui_json("knocks") == [], what="the knock gone")
    canary = tmp_path / "ran"
    asked = guests(srv.port, keys("frank2"), command=f"touch {canary}", tty=False)
    assert asked.wait_exit() != 0
    assert not canary.exists()
    assert pairtui_json("guest", "list") == []


@pytest.fixture
def strict_door(tmux_host: TmuxHost) -> Iterator[Server]:
    """A server whose door lets 20 wait in all (any number from one address) and
    closes an unanswered knock after 8 s (long enough for 50 ssh clients to knock on a
    loaded machine), with the host's session shared as main."""
    cfg = Path(os.environ["PAIRTUI_CONFIG_DIR"])
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "config.toml").write_text(
        "[limits]\nmax_knocks = 20\nmax_knocks_per_peer = 1000\nknock_timeout = 8\n"
    )
    type_in_host(tmux_host, "echo MARK-$((20+1))")
    share(tmux_host, "--session", "host", "--name", "main")
    srv = start_server()
    yield srv
    srv.stop()


def test_fifty_knocks_at_once_stay_within_the_bounds_and_the_host_stays_usable(
    tmux_host: TmuxHost, strict_door: Server, keys: Callable[[str], Path], guests: Connect
) -> None:
    open_door()
    me = pexpect.spawn("tmux", ["-S", str(tmux_host.socket), "attach-session", "-t", "host"],
                       dimensions=(40, 120), env=dict(os.environ))  # fmt: skip
    try:
        crowd = [guests(strict_door.port, keys(f"k{i}"), log_level="INFO") for i in range(50)]
        wait_until(lambda: len(pairtui_json("knocks")) == 20, timeout=60, what="20 waiting")
        turned = wait_until(
            lambda: [g for g in crowd if "too many guests are waiting" in g.output] or None,
            timeout=60, what="the rest turned away",
        )  # fmt: skip
        assert len(pairtui_json("knocks")) == 20  # never more
        assert len(turned) >= 20
        # The host's tmux still answers at once, and its messages are batched.
        type_in_host(tmux_host, "echo STILL-$((40+2))")
        wait_until(lambda: "STILL-42" in tmux_host.capture(), what="the host's pane")
        told = [m for m in tmux_host.run("show-messages").splitlines() if "knocks" in m]
        assert 0 < len(told) < 20, told  # twenty knocks: one menu, then counted in batches
        assert any("waiting (pairtui knocks)" in m for m in told), told
        # Unanswered, they are told and closed.
        for g in crowd:
            if "Read this code" in g.output:
                assert g.wait_exit(timeout=20) != 0
                assert "pairtui: the host did not answer" in g.output
        wait_until(lambda: pairtui_json("knocks") == [], timeout=20, what="nobody waiting")
        assert pairtui_json("guest", "list") == []
    finally:
        me.close(force=True)


def test_the_host_is_asked_in_a_tmux_menu_and_admits_with_one_key(
    shared: tuple[TmuxHost, Server], keys: Callable[[str], Path], guests: Connect
) -> None:
    host, srv = shared
    me = pexpect.spawn("tmux", ["-S", str(host.socket), "attach-session", "-t", "host"],
                       dimensions=(40, 120), env=dict(os.environ))  # fmt: skip
    screen = pyte.Screen(120, 40)
    stream = pyte.ByteStream(screen)

    def shown() -> str:
        with contextlib.suppress(pexpect.TIMEOUT, pexpect.EOF):
            while True:
                stream.feed(me.read_nonblocking(65536, timeout=0.05))
        return "\n".join(screen.display)

    try:
        wait_until(lambda: any(c["session"] == "host" for c in host.clients()), what="host")
        open_door()
        g = guests(srv.port, keys("hana"))
        knock = waiting(g)
        wait_until(lambda: "Admit as pair" in shown(), what="the menu")
        assert f"{knock['code']} knocks from 127.0.0.1" in shown()
        # Nothing typed by chance decides: no item has a key, the first does nothing,
        # and an admit asks for the code the guest reads out; a wrong one admits nobody.
        wrong = pairtui("admit", str(knock["id"]), "--code", "000-000")
        assert wrong.returncode != 0 and "wrong code" in wrong.stderr
        me.send("jj\r")  # down to "Admit as pair (may type)", Enter
        wait_until(lambda: "Type the code the guest reads you" in shown(), what="the prompt")
        me.send(f"{knock['code']}\r")
        g.wait_for("MARK-21")
        g.send("echo HANA-$((6*7))\r")
        wait_until(lambda: "HANA-42" in host.capture(), what="pair input in the pane")
        wait_until(lambda: "admitted" in host.run("show-messages"), what="the answer told")
    finally:
        me.close(force=True)


def test_a_knock_that_opens_no_terminal_leaves_the_waiting_room_when_its_time_is_up(
    strict_door: Server, keys: Callable[[str], Path], guests: Connect
) -> None:
    """`ssh -N` knocks and never asks for a terminal: it must not hold a place for ever."""
    open_door()
    g = guests(strict_door.port, keys("idle"), "-N", tty=False)
    wait_until(lambda: pairtui_json("knocks"), what="the knock listed")
    wait_until(lambda: pairtui_json("knocks") == [], timeout=15, what="the knock timed out")
    assert g.wait_exit(timeout=10) != 0
