"""Which tmux server pairtui talks to, and the share sessions it creates."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import pytest
from support import TmuxHost

from pairtui.tmux import Tmux, TmuxNotRunning, resolve_socket, share_sessions


class SocketCase(NamedTuple):
    test_id: str
    explicit: str | None
    env: dict[str, str]
    expected: str


UID = os.getuid()
SOCKET_CASES = [
    SocketCase("explicit-path", "/x/y.sock", {"TMUX": "/a,1,0"}, "/x/y.sock"),
    SocketCase("explicit-name", "work", {"TMUX_TMPDIR": "/t"}, f"/t/tmux-{UID}/work"),
    SocketCase("inside-tmux", None, {"TMUX": "/s/sock,123,4"}, "/s/sock"),
    SocketCase("tmux-tmpdir", None, {"TMUX_TMPDIR": "/tt"}, f"/tt/tmux-{UID}/default"),
    SocketCase("default", None, {}, f"/tmp/tmux-{UID}/default"),
]


@pytest.mark.parametrize("case", SOCKET_CASES, ids=[c.test_id for c in SOCKET_CASES])
def test_resolve_socket(case: SocketCase) -> None:
    assert resolve_socket(case.explicit, case.env) == Path(case.expected)


def test_share_creates_guest_sessions_with_their_own_key_tables(tmux_host: TmuxHost) -> None:
    tmux = Tmux(tmux_host.socket)
    names = tmux.create_share("demo", session="host", host="me")
    assert names == share_sessions("demo")
    for mode, session in (("view", names.view), ("pair", names.pair)):
        opts = tmux_host.run("show-options", "-t", f"={session}:").splitlines()
        assert f"key-table pairtui-{mode}" in opts
        assert "prefix None" in opts
        assert "prefix2 None" in opts
    # Guests see the host session's windows (a session group) ...
    windows = tmux_host.run("list-windows", "-t", f"={names.view}", "-F", "#{window_id}")
    assert windows == tmux_host.run("list-windows", "-t", "host", "-F", "#{window_id}")
    # ... and the prefix table for view guests offers nothing but detach.
    view_keys = tmux_host.run("list-keys", "-T", "pairtui-view-prefix").splitlines()
    assert [line.split()[3:] for line in view_keys] == [["d", "detach-client"]]
    assert [w.session for w in tmux.host_windows()] == ["host"]  # not the guests' sessions
    tmux.kill_share("demo")
    assert not tmux.has_session(names.view)
    assert not tmux.has_session(names.pair)


def test_pane_share_holds_only_that_window(tmux_host: TmuxHost) -> None:
    tmux_host.run("new-window", "-d", "-t", "host:1", "-n", "logs \x1f and more")
    window = tmux_host.run("display-message", "-p", "-t", "host:1", "#{window_id}").strip()
    pane = tmux_host.run("display-message", "-p", "-t", "host:1", "#{pane_id}").strip()
    tmux = Tmux(tmux_host.socket)
    names = tmux.create_share("w", window=window, host="me")
    for session in (names.view, names.pair):
        listed = tmux_host.run("list-windows", "-t", f"={session}", "-F", "#{window_id}").split()
        assert listed == [window]
    # The dashboard offers the host's windows, not the guests' links to them.
    second = tmux.host_windows()[1]
    assert (second.session, second.id, second.index, second.pane) == ("host", window, 1, pane)
    assert second.label == "host:1 (logs \x1f and more)"
    assert [w.session for w in tmux.host_windows()] == ["host", "host"]


def test_tmux_not_running_is_a_readable_error(tmp_path: Path) -> None:
    with pytest.raises(TmuxNotRunning, match="tmux is not running on"):
        Tmux(tmp_path / "nothing-here").host_windows()


def test_sharing_a_session_survives_a_global_manual_window_size(tmux_host: TmuxHost) -> None:
    # tmux 3.3a's server crashes on `new-session -t` while window-size is manual globally.
    tmux_host.run("set-option", "-g", "window-size", "manual")
    size = tmux_host.window_size()
    names = Tmux(tmux_host.socket).create_share("m", session="host", host="me")
    assert Tmux(tmux_host.socket).has_session(names.view)
    assert tmux_host.run("show-options", "-gv", "window-size").strip() == "manual"
    assert tmux_host.window_size() == size


def test_prefix_bindings_name_each_key_whatever_flags_come_first(tmux_host: TmuxHost) -> None:
    """``bind -r`` rows read ``bind-key -r -T prefix Up ...``: the key is after the table."""
    tmux_host.run("bind-key", "-r", "-T", "prefix", "F7", "select-pane", "-U")
    tmux_host.run("bind-key", "-T", "prefix", "F8", "display-message", "hi")
    keys = dict(Tmux(tmux_host.socket).prefix_bindings())
    assert "select-pane -U" in keys["F7"] and "display-message" in keys["F8"]
    assert "prefix" not in keys and "-r" not in keys
