"""Append-only JSON-lines record of joins, leaves, kicks and refusals.

Recording never raises: a join, a leave or a kick must not fail because the log cannot
be written (a full disk, a permission). A failure is reported once per kind (its
``strerror``) until a line is written again; the log then says how many events it
missed, and so does the report. A line is written whole or not at all.

Every event also goes to the ``pairtui.audit`` logger (written or not): the server's log
(:mod:`pairtui.log`) shows refusals, errors and tunnels from there, so what the host sees
and what the file keeps are the same records, bounded the same way (the engine counts a
peer's refusals before it records them). Nothing is shown unless a front end configures
logging: the dashboard's in-process engine must not write over its screen.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pairtui import paths

LOGGER = logging.getLogger(__name__)
LOGGER.addHandler(logging.NullHandler())  # no "last resort" handler writing to stderr

LEVELS = {
    "refused": logging.WARNING,
    "error": logging.ERROR,
    "tunnel-error": logging.ERROR,
    "tunnel-failed": logging.ERROR,
    "tunnel-down": logging.WARNING,
    "tunnel-forward": logging.DEBUG,
}
"""How much each kind of event matters in a log; every other kind is INFO."""


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Audit:
    """The audit log at ``path``.

    Args:
        report: hears about a failure to write (once per kind) and the recovery; the
            server's log by default (stderr). It may itself record an event: that
            event is counted as missed, not reported again.
    """

    def __init__(
        self, path: Path | None = None, report: Callable[[str], None] | None = None
    ) -> None:
        self.path = path or paths.audit_file()
        self.report = report or _to_stderr
        self._missed: dict[str, int] = {}  # kind of failure -> events not written since
        self._lock = threading.Lock()

    @property
    def failing(self) -> bool:
        """The last event could not be written (and was counted, and reported)."""
        return bool(self._missed)

    def record(self, event: str, **fields: object) -> None:
        """One line per event; never raises (see the module's docstring)."""
        line = _line(event, fields)
        message = None
        with self._lock:
            missed = sum(self._missed.values())
            gap = ""
            if missed:
                why = "; ".join(self._missed)
                gap = _line("error", {"reason": f"{missed} events not recorded ({why})"})
            try:
                self._append((gap + line).encode())
            except OSError as exc:
                kind = exc.strerror or type(exc).__name__
                if kind not in self._missed:
                    message = (f"pairtui: cannot write the audit log {self.path}: {kind}; "
                               "events are not recorded until it can be written again")  # fmt: skip
                self._missed[kind] = self._missed.get(kind, 0) + 1
            else:
                if missed:
                    message = (f"pairtui: the audit log {self.path} is written again "
                               f"({missed} events were not recorded)")  # fmt: skip
                self._missed.clear()
        if message is not None:  # outside the lock: the report may record an event
            with contextlib.suppress(OSError, ValueError):  # a closed or broken stderr
                self.report(message)
        _log(event, fields)

    def _append(self, data: bytes) -> None:
        """O_APPEND keeps concurrent writers' lines whole; a short write (the disk filled
        up mid-line) is taken back, so the log stays whole lines."""
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            written = 0
            try:
                while written < len(data):
                    written += os.write(fd, data[written:])
            except OSError:
                if written:
                    with contextlib.suppress(OSError):
                        end = os.lseek(fd, 0, os.SEEK_CUR)  # just past our bytes
                        if os.fstat(fd).st_size == end:  # nobody appended since
                            os.ftruncate(fd, end - written)
                raise
        finally:
            os.close(fd)

    def read(self) -> list[dict[str, object]]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]


def _log(event: str, fields: dict[str, object]) -> None:
    """The event to the ``pairtui.audit`` logger: ``audit_event`` and ``audit_fields`` on
    the record say what it was; its message is the JSON line for any other handler."""
    level = LEVELS.get(event, logging.INFO)
    if not LOGGER.isEnabledFor(level):
        return
    shown = {k: v for k, v in fields.items() if v is not None}
    extra = {"audit_event": event, "audit_fields": shown}
    # Logging reports its own failures (handleError); this must not raise either.
    with contextlib.suppress(Exception):
        LOGGER.log(level, "%s %s", event, json.dumps(shown, default=str), extra=extra)


def _line(event: str, fields: dict[str, object]) -> str:
    row: dict[str, object] = {
        "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "event": event,
    }
    row.update({k: v for k, v in fields.items() if v is not None})
    return json.dumps(row, separators=(",", ":"), default=str) + "\n"
