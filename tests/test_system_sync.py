"""What a sync tells its caller (the engine and the CLI print nothing else for it)."""

from __future__ import annotations

from pathlib import Path

from pairtui.system.state import state_file
from pairtui.system.sudo import sudo_command
from pairtui.system.sync import SyncReport, socket_grants, sync_if_set_up


def test_a_clean_sync_has_nothing_to_say() -> None:
    assert SyncReport(wrote=True, lines=3, detached=["alice"]).problems() == []


def test_warnings_come_first_then_the_stale_file_with_the_sudo_command() -> None:
    report = SyncReport(stale=True, warnings=["tmux on /s: gone"], keys_file="/home/g/ak")
    assert report.problems() == [
        "tmux on /s: gone",
        (
            "/home/g/ak is out of date and only root may rewrite it; run:\n"
            f"    {sudo_command('system', 'sync')}\n"
            "  (or let sshd ask pairtui instead: `pairtui system sshd-config`)"
        ),
    ]


def test_a_failed_sync_says_only_why() -> None:
    assert SyncReport(stale=True, warnings=["w"], error="boom").problems() == ["boom"]


def test_not_set_up_is_none_and_a_broken_record_is_a_report() -> None:
    assert sync_if_set_up() is None
    state_file().parent.mkdir(parents=True, exist_ok=True)
    state_file().write_text("{")
    report = sync_if_set_up()
    assert report is not None
    [problem] = report.problems()
    assert problem.startswith(f"{state_file()} is not a valid system-guest record")


def test_a_socket_needs_write_on_itself_and_search_above(tmp_path: Path) -> None:
    socket = tmp_path / "tmux" / "default"
    grants = socket_grants(socket)
    assert grants[0] == (socket.resolve(), 0o2)
    assert grants[1:] == [(d, 0o1) for d in socket.resolve().parents]
    assert grants[-1] == (Path("/"), 0o1)
