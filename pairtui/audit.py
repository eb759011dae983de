"""Append-only JSON-lines record of joins, leaves, kicks and refusals."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from pairtui import paths


class Audit:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.audit_file()

    def record(self, event: str, **fields: object) -> None:
        """One line per event; O_APPEND keeps concurrent writers' lines whole."""
        row: dict[str, object] = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "event": event,
        }
        row.update({k: v for k, v in fields.items() if v is not None})
        data = (json.dumps(row, separators=(",", ":")) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def read(self) -> list[dict[str, object]]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]
