"""The engine's contract: the in-process engine and a dashboard's connection to a
running server keep it alike (mypy checks the shapes; this checks what they answer)."""

from __future__ import annotations

import time
from pathlib import Path

from pairtui import __version__
from pairtui.control.client import RemoteEngine
from pairtui.engine import Engine
from pairtui.engine_api import base_status

FIELDS = {"pid", "listen", "port", "fingerprint", "uptime_seconds", "clients", "version",
          "started"}  # fmt: skip


def test_every_engine_reports_the_same_base_status_fields(tmp_path: Path) -> None:
    engine = Engine("127.0.0.1", 2299, control_path=tmp_path / "c.sock")
    remote = RemoteEngine(tmp_path / "c.sock")
    for status in (base_status(engine), base_status(remote)):
        assert status.keys() >= FIELDS
    local = base_status(engine)
    assert (local["listen"], local["port"], local["clients"]) == ("127.0.0.1", 2299, 0)
    assert local["version"] == __version__


def test_the_uptime_counts_from_the_start(tmp_path: Path) -> None:
    engine = Engine("127.0.0.1", 0, control_path=tmp_path / "c.sock")
    engine.started = time.time() - 90
    assert 89 <= float(str(base_status(engine)["uptime_seconds"])) <= 91
