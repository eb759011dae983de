"""Telling system clients apart: which share and mode a tmux session is, and ids."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from pairtui.system.clients import SystemClient, kick, list_clients
from pairtui.tmux import share_of_session, share_sessions


class SessionCase(NamedTuple):
    test_id: str
    session: str
    expected: tuple[str, str] | None


SESSION_CASES = [
    SessionCase("view", "pairtui-main-view", ("main", "view")),
    SessionCase("pair", "pairtui-main-pair", ("main", "pair")),
    SessionCase("a dash in the share", "pairtui-my-work-view", ("my-work", "view")),
    SessionCase("the host's own session", "main", None),
    SessionCase("not a mode", "pairtui-main-ssh", None),
    SessionCase("no share", "pairtui--view", None),
    SessionCase("no mode", "pairtui-main", None),
]


@pytest.mark.parametrize("case", SESSION_CASES, ids=[c.test_id for c in SESSION_CASES])
def test_share_of_session(case: SessionCase) -> None:
    assert share_of_session(case.session) == case.expected


def test_share_of_session_reads_what_share_sessions_names() -> None:
    sessions = share_sessions("x-1")
    assert share_of_session(sessions.view) == ("x-1", "view")
    assert share_of_session(sessions.pair) == ("x-1", "pair")


def test_to_json_is_what_pairtui_clients_prints_for_sshd_guests() -> None:
    client = SystemClient("sys-pts-3", "alice", "guest", "/dev/pts/3", "main", "view", 42,
                          0.0, 60.0, 80, 24, "203.0.113.5:50000", "/tmp/s")  # fmt: skip
    data = client.to_json()
    assert data["since"] == "1970-01-01T00:00:00Z"
    assert data["last_input"] == "1970-01-01T00:01:00Z"
    assert (data["via"], data["size"], data["tmux_client"]) == ("sshd", "80x24", "/dev/pts/3")


def test_nothing_is_listed_or_kicked_when_not_set_up() -> None:
    assert list_clients() == []
    assert kick("alice") == []
