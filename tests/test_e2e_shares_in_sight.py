"""Nothing is shared that the host does not see (issue 16): yesterday's share stayed
reachable because the host forgot it. The host's tmux status names every live share,
and a share given a lifetime ends by itself."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import (
    SshGuest,
    TmuxHost,
    add_guest,
    pairtui,
    pairtui_json,
    start_server,
    type_in_host,
    wait_until,
)

from pairtui.audit import Audit
from pairtui.registry import Guest
from pairtui.shares import Share, resolve_share

pytestmark = pytest.mark.e2e

Connect = Callable[..., SshGuest]


def test_the_hosts_status_names_every_live_share_even_with_nobody_in(
    tmux_host: TmuxHost,
) -> None:
    def shown() -> str:
        return tmux_host.run("display-message", "-p", "#{@pairtui_status}").strip()

    tmux_host.run("new-session", "-d", "-s", "other")
    srv = start_server()
    try:
        assert shown() == ""
        for args in (("--session", "host", "--name", "main"), ("--session", "other")):
            res = pairtui("share", "--tmux-socket", str(tmux_host.socket), "--no-server", *args)
            assert res.returncode == 0, res.stderr
        wait_until(lambda: shown() == "shared: main other", what="both shares named")
        assert pairtui("unshare", "main").returncode == 0
        wait_until(lambda: shown() == "shared: other", what="the one left")
        assert pairtui("unshare", "other").returncode == 0
        wait_until(lambda: shown() == "", what="nothing shared")
    finally:
        srv.stop()


def test_a_share_with_a_lifetime_ends_then_and_its_guests_are_told_why(
    tmux_host: TmuxHost, keys: Callable[[str], Path], guests: Connect
) -> None:
    type_in_host(tmux_host, "echo MARK-$((20+1))")
    add_guest("alice", keys("alice"), "--mode", "view")
    made = pairtui("share", "--tmux-socket", str(tmux_host.socket), "--session", "host",
                   "--name", "brief", "--for", "4s", "--no-server")  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert re.search(r"as 'brief' until \d\d:\d\d \([0-4]s left\)", made.stdout), made.stdout
    [row] = pairtui_json("share", "list")
    assert row["expires"] and datetime.fromisoformat(row["expires"]) > datetime.now(UTC)
    assert "(gone" not in pairtui("share", "list").stdout
    srv = start_server()
    try:
        g = guests(srv.port, keys("alice"))
        g.wait_for("MARK-21")
        assert g.wait_exit(timeout=15) == 1
        assert "this share's time ran out" in g.output
        assert pairtui_json("share", "list") == []
        sessions = tmux_host.run("list-sessions", "-F", "#{session_name}").split()
        assert sessions == ["host"]
        ended = [e for e in Audit().read() if e["event"] == "share-ended"]
        assert [e["share"] for e in ended] == ["brief"]
        assert any(e["event"] == "leave" and e.get("reason") == "this share's time ran out"
                   for e in Audit().read())  # fmt: skip
    finally:
        srv.stop()


def test_a_bad_lifetime_is_one_line_and_shares_nothing(tmux_host: TmuxHost) -> None:
    res = pairtui("share", "--tmux-socket", str(tmux_host.socket), "--for", "soon", "--no-server")
    assert res.returncode != 0
    assert res.stderr.count("\n") == 1 and "invalid expiry 'soon'" in res.stderr
    assert pairtui_json("share", "list") == []


def test_an_expired_share_is_never_joined_even_before_the_server_ends_it() -> None:
    past = (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    old = Share("old", "session", "s", None, "/tmp/x", "2026-01-01T00:00:00Z", expires=past)
    assert old.expired()
    assert isinstance(resolve_share(Guest("a"), "", [old]), str)
    assert resolve_share(Guest("a"), "old", [old]) == (
        "no share 'old' for you; nothing you may join is shared now"
    )
