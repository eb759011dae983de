"""Quitting while the dashboard is still reading the host: nothing it reads comes back
to a screen that is already half taken down (a race CI hit once in 1160 tests)."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from pathlib import Path

import pytest
from app_fakes import busy_scenario, make_app
from test_app_live import SIZE, started

from pairtui.app.backend import HostState
from pairtui.app.screens import MainScreen
from pairtui.app.widgets import JoinBar, StatusBar

pytestmark = pytest.mark.e2e


async def test_a_host_read_that_ends_during_quit_does_not_fail_the_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tmux read is held until the status line is taken down, and the join bar's
    teardown is held until that read is answered: the answer then reaches a screen
    whose status line is gone, as it did by chance on CI (NoMatches, a failed app)."""
    scenario = busy_scenario(tmp_path / "authorized_keys")
    host = scenario.host
    status_gone = threading.Event()
    answered = threading.Event()
    held = threading.Event()
    read = host.state

    def slow_state() -> HostState:
        if not held.is_set():
            return read()
        assert status_gone.wait(10), "the status line was never taken down"
        try:  # a share ended meanwhile: what the screen shows changes
            return dataclasses.replace(read(), live=frozenset())
        finally:
            answered.set()

    def status_unmounted(self: StatusBar) -> None:
        status_gone.set()

    async def join_bar_unmounted(self: JoinBar) -> None:
        deadline = time.monotonic() + 10
        while not answered.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # the read's worker runs on with the answer

    monkeypatch.setattr(host, "state", slow_state)
    monkeypatch.setattr(StatusBar, "on_unmount", status_unmounted, raising=False)
    monkeypatch.setattr(JoinBar, "on_unmount", join_bar_unmounted, raising=False)
    app = make_app(scenario)
    async with app.run_test(size=SIZE):
        await started(app)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        held.set()
        screen.reload_host()
    assert answered.is_set()
