"""The dashboard driving the real engine: a real tmux server and real OpenSSH guests.

The engine runs in-process on 127.0.0.1, port 0, on the app's own event loop, as it
does for a host who runs ``pairtui``; keys are pressed through Textual's pilot.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support import Server, SshGuest, TmuxHost, relay_threads, share_host_session
from test_control import eventually, invite
from textual.screen import Screen
from textual.widgets import Input, Static

from pairtui import config
from pairtui.app import PairtuiApp
from pairtui.app.backend import Services, TmuxShareHost, load_services
from pairtui.app.dialogs import AddGuestDialog, ConfirmDialog
from pairtui.app.screens import MainScreen
from pairtui.app.widgets import Field
from pairtui.control import RemoteEngine
from pairtui.engine import Engine
from pairtui.host import Host
from pairtui.registry import Mode, Registry

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]
SIZE = (110, 32)


def dashboard(
    tmux_socket: Path | None = None,
    *,
    cfg: config.Config | None = None,
    config_path: Path | None = None,
    user_themes: Path | None = None,
) -> PairtuiApp:
    """The app as ``pairtui`` builds it, with an engine on a free loopback port."""
    socket = tmux_socket or Path("/nonexistent/tmux")

    def load() -> Services:
        host = Host()
        return Services(Engine("127.0.0.1", 0), host, TmuxShareHost(host, socket))

    return PairtuiApp(
        load,
        config=cfg or config.Config(cursor_blink=False),
        config_path=config_path,
        user_themes=user_themes,
    )


async def started(app: PairtuiApp) -> None:
    await eventually(lambda: app.server.phase not in ("starting",), what="the engine to start")
    assert app.server.up, app.server.message


async def until_screen(app: PairtuiApp, kind: type[Screen[Any]]) -> None:
    await eventually(lambda: isinstance(app.screen, kind), what=f"{kind.__name__} to open")


async def notified(app: PairtuiApp, text: str) -> None:
    """Notifications reach the app as messages: wait for one mentioning ``text``."""
    await eventually(
        lambda: any(text in f"{n.title} {n.message}" for n in app._notifications),
        what=f"a notification about {text!r}",
    )


async def readonly_flags(host: TmuxHost) -> list[str]:
    clients = await asyncio.to_thread(host.clients)
    return [c["readonly"] for c in clients if c["session"].startswith("pairtui-")]


async def test_a_guest_who_joins_appears_as_a_row_with_a_notification(
    tmux_host: TmuxHost, keys: Callable[[str], Path], guests: Connect
) -> None:
    share_host_session(tmux_host)
    invite("alice", keys("alice"))
    app = dashboard(tmux_host.socket)
    async with app.run_test(size=SIZE):
        await started(app)
        table = app.main.clients_table
        assert table.row_count == 0
        guests(app.server.port, keys("alice"), size=(90, 30))
        await eventually(lambda: table.row_count == 1, what="alice's row")
        client = table.selected
        assert client is not None
        assert (client.guest, client.share, client.mode) == ("alice", "main", "pair")
        assert table.get_row(client.id)[0].plain == "alice"
        await notified(app, "alice joined main")
        guests_table = app.main.guests_table  # loads off the UI thread: may come later
        await eventually(lambda: "alice" in guests_table.records, what="alice's guest row")
        assert guests_table.records["alice"].online == 1


async def test_kick_asks_then_removes_the_row_and_ends_the_guests_ssh(
    tmux_host: TmuxHost, keys: Callable[[str], Path], guests: Connect
) -> None:
    share_host_session(tmux_host)
    invite("alice", keys("alice"))
    app = dashboard(tmux_host.socket)
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        g = guests(app.server.port, keys("alice"))
        table = app.main.clients_table
        await eventually(lambda: table.row_count == 1, what="alice's row")
        # Her terminal is served by a thread of its own (the native relay) when kicked.
        await eventually(lambda: relay_threads(os.getpid()) == 1, what="alice's relay thread")

        await pilot.press("k")
        await until_screen(app, ConfirmDialog)
        await pilot.press("n")  # changing one's mind does nothing
        await eventually(lambda: not isinstance(app.screen, ConfirmDialog))
        assert table.row_count == 1 and g.child.isalive()

        await pilot.press("k")
        await until_screen(app, ConfirmDialog)
        await pilot.press("y")
        await eventually(lambda: table.row_count == 0, what="the row to go")
        await eventually(lambda: not g.child.isalive(), what="the guest's ssh to exit")
        assert "disconnected by the host" in g.output
        await notified(app, "alice left")


async def test_a_login_without_a_terminal_is_a_row_the_host_can_kick(
    tmux_host: TmuxHost, keys: Callable[[str], Path], guests: Connect
) -> None:
    share_host_session(tmux_host)
    invite("alice", keys("alice"))
    ctl = Path(os.environ["TMUX_TMPDIR"]).parent / "ctl"
    app = dashboard(tmux_host.socket)
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        g = guests(app.server.port, keys("alice"), "-N", "-M", "-S", str(ctl), tty=False)
        table = app.main.clients_table
        await eventually(lambda: table.row_count == 1, what="alice's row")
        client = table.selected
        assert client is not None and not client.terminal
        assert table.get_row(client.id)[3].plain == "no terminal"
        await notified(app, "alice logged in, no terminal")
        await pilot.press("k")
        await until_screen(app, ConfirmDialog)
        await pilot.press("y")
        await eventually(lambda: table.row_count == 0, what="the row to go")
        await eventually(lambda: not g.child.isalive(), what="the guest's ssh to exit")


async def test_toggling_the_mode_switches_the_live_tmux_client_and_stays(
    tmux_host: TmuxHost, keys: Callable[[str], Path], guests: Connect
) -> None:
    share_host_session(tmux_host)
    invite("bob", keys("bob"), Mode.VIEW)
    app = dashboard(tmux_host.socket)
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        g = guests(app.server.port, keys("bob"))
        table = app.main.clients_table
        await eventually(lambda: table.row_count == 1, what="bob's row")
        assert await readonly_flags(tmux_host) == ["1"]
        await eventually(lambda: relay_threads(os.getpid()) == 1, what="bob's relay thread")

        await pilot.press("m")  # granting pair asks first ([ui] confirm_pair)
        await until_screen(app, ConfirmDialog)
        await pilot.press("n")
        await until_screen(app, MainScreen)
        await asyncio.sleep(0.3)
        assert await readonly_flags(tmux_host) == ["1"]  # no: still watching
        assert Registry().get("bob").mode is Mode.VIEW

        await pilot.press("m")
        await until_screen(app, ConfirmDialog)
        await pilot.press("y")
        await eventually(lambda: table.selected and table.selected.mode == "pair", what="pair")
        assert await readonly_flags(tmux_host) == ["0"]
        assert Registry().get("bob").mode is Mode.PAIR
        await asyncio.sleep(2.5)  # the engine reconciles every second: it must not undo it
        assert await readonly_flags(tmux_host) == ["0"]
        assert g.child.isalive()  # switched without reconnecting
        # Served by a thread again after the switch (the switch took it back first).
        await eventually(lambda: relay_threads(os.getpid()) == 1, what="bob's relay thread")

        await pilot.press("m")  # back to view: no question
        await eventually(lambda: table.selected and table.selected.mode == "view", what="view")
        assert isinstance(app.screen, MainScreen)
        assert await readonly_flags(tmux_host) == ["1"]


async def test_adding_a_guest_from_a_key_file_lets_them_join(
    tmux_host: TmuxHost, keys: Callable[[str], Path], guests: Connect
) -> None:
    share_host_session(tmux_host)
    key = keys("carol")
    app = dashboard(tmux_host.socket)
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        await pilot.press("2", "a")
        await until_screen(app, AddGuestDialog)
        dialog = app.screen
        dialog.query_one("#key", Input).value = str(key)  # the private key: refused
        await pilot.pause()
        field = next(f for f in dialog.query(Field) if f.input.id == "key")
        assert field.error is not None and "private key" in field.error
        assert "private key" in str(field.query_one(".field-message", Static).content)
        dialog.query_one("#name", Input).value = "carol"
        dialog.query_one("#key", Input).value = f"{key}.pub"
        dialog.query_one("#key", Input).focus()
        await pilot.press("enter")
        await eventually(lambda: "carol" in app.main.guests_table.records, what="carol's row")
        assert Registry().get("carol").mode is Mode.VIEW  # the configured default
        guests(app.server.port, key)
        await eventually(lambda: app.main.clients_table.row_count == 1, what="carol joined")


async def test_quitting_with_guests_connected_asks_and_disconnects_them(
    tmux_host: TmuxHost, keys: Callable[[str], Path], guests: Connect
) -> None:
    share_host_session(tmux_host)
    invite("alice", keys("alice"))
    app = dashboard(tmux_host.socket)
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        g = guests(app.server.port, keys("alice"))
        await eventually(lambda: app.main.clients_table.row_count == 1, what="alice's row")
        await pilot.press("q")
        await until_screen(app, ConfirmDialog)
        await pilot.press("y")
    await eventually(lambda: not g.child.isalive(), what="the guest's ssh to exit")
    assert "the host stopped sharing" in g.output


async def test_a_port_in_use_is_shown_in_the_ui_and_guests_still_load(
    tmux_host: TmuxHost, tmp_path: Path
) -> None:
    blocker = Engine("127.0.0.1", 0)  # another program on the port (not a pairtui to attach to)
    await blocker.start()
    control = tmp_path / "control.sock"  # not the blocker's, whose loop this test shares
    try:
        app = PairtuiApp(
            lambda: Services(Engine("127.0.0.1", blocker.port, control_path=control), Host(),
                             TmuxShareHost(Host(), tmux_host.socket)),
            config=config.Config(cursor_blink=False),
        )  # fmt: skip
        Registry().add("dora", [])
        async with app.run_test(size=SIZE):
            await eventually(lambda: app.server.phase == "error", what="the error state")
            assert "already" in app.server.message
            await eventually(lambda: "dora" in app.main.guests_table.records, what="guests")
    finally:
        await blocker.stop()


async def test_the_dashboard_attaches_to_a_running_server_and_leaves_it_running(
    tmux_host: TmuxHost, server: Server, keys: Callable[[str], Path], guests: Connect
) -> None:
    share_host_session(tmux_host)
    invite("alice", keys("alice"))
    g = guests(server.port, keys("alice"))
    app = PairtuiApp(lambda: load_services(config.load()), config=config.Config(cursor_blink=False))
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        assert app.server.phase == "attached"
        assert isinstance(app.services and app.services.engine, RemoteEngine)
        assert app.server.port == server.port
        await notified(app, "Attached")
        table = app.main.clients_table
        await eventually(lambda: table.row_count == 1, what="the server's guest")
        g2 = guests(server.port, keys("alice"))
        await eventually(lambda: table.row_count == 2, what="a second join, streamed")
        g2.close()
        await eventually(lambda: table.row_count == 1, what="its leave, streamed")
        await pilot.press("q")  # no question: the guests stay with the server
    assert server.proc.poll() is None
    await asyncio.sleep(0.5)
    assert g.child.isalive()


async def test_the_host_brings_a_tunnel_down_and_up_from_the_dashboard(
    tmux_host: TmuxHost,
) -> None:
    import socket as socketlib

    from pairtui.tunnels import Tunnel, TunnelStore

    with socketlib.socket() as s:  # a relay that is not there: the tunnel keeps retrying
        s.bind(("127.0.0.1", 0))
        closed = int(s.getsockname()[1])
    TunnelStore().add(Tunnel("vps", "me", "127.0.0.1", port=closed))
    app = dashboard(tmux_host.socket)
    async with app.run_test(size=SIZE) as pilot:
        await started(app)
        manager = app.main.services.engine.tunnels  # type: ignore[union-attr]
        await eventually(lambda: "retrying" in manager.infos()[0].describe(), what="retrying")
        await pilot.press("3", "t")
        await eventually(lambda: not TunnelStore().load()[0].enabled, what="tunnel disabled")
        await notified(app, "Tunnel vps: down")
        assert "retrying" not in manager.infos()[0].describe()
        await pilot.press("t")
        await eventually(lambda: TunnelStore().load()[0].enabled, what="tunnel enabled")
        await eventually(lambda: "retrying" in manager.infos()[0].describe(), what="retrying")
