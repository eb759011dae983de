"""Times as pairtui shows and stores them: UTC, to the second, ISO 8601 with a ``Z``
(``2026-12-06T10:00:00Z``), the same in the registry, ``--json`` and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_utc(when: float | datetime) -> str:
    """``when`` (a Unix time, or an aware datetime) as pairtui writes times."""
    moment = datetime.fromtimestamp(when, UTC) if isinstance(when, int | float) else when
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
