"""The engine's own duties around its connections (the guests' side: test_e2e_*.py;
what a change means for one guest: test_reconcile.py; renames: test_engine_rename.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from test_control import eventually

from pairtui.audit import Audit
from pairtui.authorized_keys import parse_public_keys
from pairtui.engine import Engine
from pairtui.registry import Mode, Registry


async def test_a_registry_change_runs_the_front_ends_hook_and_audits_what_it_reports(
    keys: Callable[[str], Path], tmux_host: object
) -> None:
    """System guests follow the registry through the hook the front end gave the engine
    (their sync); what it reports goes to the audit log, not to a terminal the engine
    does not own."""
    calls: list[str] = []

    def keys_changed() -> list[str]:
        calls.append(threading.current_thread().name)
        return ["guest's keys file is out of date"]

    eng = Engine("127.0.0.1", 0, keys_changed=keys_changed)
    await eng.start()
    try:
        pub = keys("alice").with_name("alice.pub").read_text()
        Registry().add("alice", parse_public_keys(pub), mode=Mode.VIEW)
        await eventually(lambda: calls, what="the hook after the registry changed")
        assert threading.main_thread().name not in calls  # never on the event loop
        reasons = await eventually(
            lambda: [e.get("reason") for e in Audit().read() if e.get("event") == "error"],
            what="the hook's problem in the audit log",
        )
        assert reasons == ["system guests: guest's keys file is out of date"]
    finally:
        await eng.stop()
