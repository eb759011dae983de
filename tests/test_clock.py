"""One way pairtui writes a time, for Unix times and datetimes alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from pairtui.clock import iso_utc

MOMENT = datetime(2026, 12, 6, 10, 0, 5, 900_000, tzinfo=UTC)


def test_a_unix_time_and_a_datetime_read_the_same() -> None:
    assert iso_utc(MOMENT.timestamp()) == iso_utc(MOMENT) == "2026-12-06T10:00:05Z"


def test_a_time_in_another_zone_is_written_in_utc_to_the_second() -> None:
    paris = MOMENT.astimezone(timezone(timedelta(hours=1)))
    assert iso_utc(paris) == "2026-12-06T10:00:05Z"
    assert iso_utc(0) == "1970-01-01T00:00:00Z"
