"""The recordings on disk: listed newest first from real cast files (one cut off, one
not a recording, one with a keys sidecar), streamed, and found by name."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pairtui.errors import PairtuiError
from pairtui.recording import cast, catalog
from pairtui.recording.cast import CastWriter, Header

Step = tuple[float, str, str]  # (seconds, "o"/"m"/"i:GUEST", data)


def record(
    directory: Path,
    share: str,
    when: datetime,
    steps: list[Step],
    monkeypatch: pytest.MonkeyPatch,
    *,
    keys: bool = False,
    size: tuple[int, int] = (80, 24),
) -> Path:
    """A cast as the recorder writes it, on a clock the steps set."""
    now = [0.0]
    # time.monotonic is the time module's: patched only while writing, so that the
    # test's own deadlines still run on the real clock.
    with monkeypatch.context() as clock:
        clock.setattr("pairtui.recording.cast.time.monotonic", lambda: now[0])
        path = cast.new_path(directory, share, when)
        w = CastWriter(path, Header(*size, int(when.timestamp()), f"pairtui: {share}"), keys=keys)
        for at, code, data in steps:
            now[0] = at
            if code == "o":
                w.output(data.encode())
            elif code == "m":
                w.marker(data)
            else:
                w.input(code.removeprefix("i:"), data.encode())
        w.close()
    return path


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, 6, hour, minute, tzinfo=UTC)


def test_recordings_are_listed_newest_first_with_what_they_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    morning = record(tmp_path, "demo", at(9), [(0.5, "o", "hi")], monkeypatch)
    paired = record(
        tmp_path,
        "main",
        at(11),
        [(1.0, "m", cast.joined("bob", "view")), (2.0, "m", cast.joined("alice", "pair")),
         (3.0, "i:alice", "ls\r"), (3.5, "o", "ls\r\n"), (4.0, "m", cast.left("bob")),
         (5.0, "m", cast.joined("bob", "pair")), (62.25, "o", "bye")],
        monkeypatch,
        keys=True,
        size=(120, 40),
    )  # fmt: skip
    crashed = record(tmp_path, "demo", at(10, 15), [(1.0, "o", "a"), (2.0, "o", "b")], monkeypatch)
    with crashed.open("a") as f:
        f.write('[7.5, "o", "half a li')  # the server died mid-write
    (tmp_path / "notes.cast").write_text("not a recording at all\n")
    (tmp_path / "old.cast").write_text('{"version": 1, "width": 80, "height": 24}\n')
    (tmp_path / "main-20261206T110000Z.html").write_text("<html>")  # an export: no note
    (tmp_path / "dir.cast").mkdir()

    listing = catalog.scan(tmp_path)

    assert [r.path for r in listing.recordings] == [paired, crashed, morning]
    assert listing.recordings[0] == catalog.Recording(
        path=paired,
        share="main",
        started=at(11),
        duration=62.25,
        size=paired.stat().st_size + cast.keys_path(paired).stat().st_size,
        guests=("bob", "alice"),
        input_recorded=True,
        width=120,
        height=40,
    )
    assert listing.recordings[1].duration == 2.0  # the cut-off line is not counted
    assert listing.recordings[1].name == "demo-20261206T101500Z"
    assert (listing.recordings[2].guests, listing.recordings[2].input_recorded) == ((), False)
    skipped = {s.path.name: s.why for s in listing.skipped}
    assert set(skipped) == {"notes.cast", "old.cast", "dir.cast"}
    assert "not a recording" in skipped["notes.cast"] and "version 2" in skipped["old.cast"]
    assert catalog.list_recordings(tmp_path) == list(listing.recordings)


def test_a_recording_row_as_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = record(tmp_path, "demo", at(10, 15), [(1.5, "m", cast.joined("alice", "view"))],
                  monkeypatch)  # fmt: skip
    assert catalog.describe(path).to_json() == {
        "name": "demo-20261206T101500Z",
        "path": str(path),
        "share": "demo",
        "started": "2026-12-06T10:15:00Z",
        "duration": 1.5,
        "size": path.stat().st_size,
        "guests": ["alice"],
        "input_recorded": False,
        "width": 80,
        "height": 24,
    }


def test_a_long_recording_is_read_as_a_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = "x" * 1000 + "\r\n"
    path = record(tmp_path, "big", at(12), [(i / 100, "o", line) for i in range(8000)],
                  monkeypatch)  # fmt: skip
    assert path.stat().st_size > 8_000_000
    tracemalloc.start()
    try:
        found = catalog.describe(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert found.duration == 79.99
    assert peak < 1_000_000, f"{peak} bytes to read an 8 MB cast"


def test_a_name_is_a_path_a_file_name_a_name_without_cast_or_the_start_of_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = tmp_path / "recordings"
    rec.mkdir()
    first = record(rec, "demo", at(10, 15), [], monkeypatch)
    second = record(rec, "demo", at(11), [], monkeypatch)
    elsewhere = record(tmp_path, "talk", at(9), [], monkeypatch)
    assert catalog.resolve(str(elsewhere), rec) == elsewhere
    assert catalog.resolve("demo-20261206T101500Z.cast", rec) == first
    assert catalog.resolve("demo-20261206T101500Z", rec) == first
    assert catalog.resolve("demo-20261206T11", rec) == second
    monkeypatch.chdir(tmp_path)
    assert catalog.resolve("talk-20261206T090000Z.cast", rec) == elsewhere  # a relative path
    with pytest.raises(PairtuiError) as many:
        catalog.resolve("demo", rec)
    assert str(many.value) == (
        "'demo' names 2 recordings (demo-20261206T101500Z, demo-20261206T110000Z); "
        "give one whole name"
    )
    with pytest.raises(PairtuiError, match=r"^no recording 'nope' in .*recordings \(`pairtui"):
        catalog.resolve("nope", rec)
    with pytest.raises(PairtuiError, match=r"^no recording 'x/nope.cast': no such file$"):
        catalog.resolve("x/nope.cast", rec)


def test_names_resolve_in_the_recordings_dir_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pairtui import paths

    path = record(paths.recordings_dir(), "demo", at(10, 15), [], monkeypatch)
    assert catalog.resolve("demo-20261206T101500Z") == path
