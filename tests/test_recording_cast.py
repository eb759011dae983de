"""The recording format: asciicast v2 written as it goes, read back whole or cut off."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pairtui.errors import PairtuiError
from pairtui.recording import cast
from pairtui.recording.cast import CastWriter, Header


def test_a_cast_reads_back_as_it_was_written_and_is_private(tmp_path: Path) -> None:
    path = cast.new_path(tmp_path, "demo", datetime(2026, 12, 6, 10, 15, tzinfo=UTC))
    assert path.name == "demo-20261206T101500Z.cast"
    w = CastWriter(path, Header(80, 24, 1_796_000_000, "pairtui: demo"), keys=True)
    w.output("é".encode()[:1])  # a character split across two reads stays whole
    w.output("é ok\r\n".encode()[1:])
    w.marker(cast.joined("alice", "pair"))
    w.input("alice", b"ls\r")
    w.resize(100, 30)
    w.close()
    w.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cast.keys_path(path).stat().st_mode) == 0o600
    header, events = cast.read(path)
    assert header == Header(80, 24, 1_796_000_000, "pairtui: demo")
    got = [(e.code, e.data) for e in events]
    assert got == [("o", "é ok\r\n"), ("m", "alice joined (pair)"), ("i", "ls\r"), ("r", "100x30")]
    [[_, guest, keys]] = [json.loads(x) for x in cast.keys_path(path).read_text().splitlines()]
    assert (guest, keys) == ("alice", "ls\r")
    assert cast.share_of(path) == ("demo", "20261206T101500Z")
    assert cast.guest_of_marker("alice joined (pair)") == "alice"
    assert cast.guest_of_marker("alice left") is None
    with pytest.raises(FileExistsError):
        CastWriter(path, Header(80, 24, 0))  # never overwritten
    assert cast.new_path(tmp_path, "demo", datetime(2026, 12, 6, 10, 15, tzinfo=UTC)).name == (
        "demo-20261206T101500Z-2.cast"
    )


def test_a_cast_cut_off_mid_line_ends_before_that_line(tmp_path: Path) -> None:
    path = tmp_path / "x.cast"
    w = CastWriter(path, Header(80, 24, 0))
    w.output(b"one")
    w.output(b"two")
    w.close()
    with path.open("a") as f:
        f.write('[1.5, "o", "thr')  # a crash or a full disk mid-write
    _, events = cast.read(path)
    assert [e.data for e in events] == ["one", "two"]


def test_what_is_not_a_cast_is_one_readable_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.cast"
    path.write_text('{"version": 1}\n')
    with pytest.raises(PairtuiError, match=r"notes\.cast: not a recording"):
        cast.read(path)
    with pytest.raises(PairtuiError, match=r"missing\.cast"):
        cast.read(tmp_path / "missing.cast")


def test_events_reach_the_file_within_the_flush_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash loses at most FLUSH_INTERVAL: an event older than that is written with
    the next one, without waiting for close."""
    now = [100.0]
    monkeypatch.setattr("pairtui.recording.cast.time.monotonic", lambda: now[0])
    path = tmp_path / "x.cast"
    w = CastWriter(path, Header(80, 24, 0))
    w.output(b"a")
    assert len(path.read_text().splitlines()) == 1  # the header only, for now
    now[0] += cast.FLUSH_INTERVAL
    w.output(b"b")
    assert len(path.read_text().splitlines()) == 3
    w.close()


def test_a_damaged_line_ends_the_events_and_a_lone_surrogate_becomes_a_question_mark(
    tmp_path: Path,
) -> None:
    path = tmp_path / "x.cast"
    path.write_text('{"version": 2, "width": 80, "height": 24}\n'
                    '[0.5, "o", "a\\ud800b"]\n5\n[1.0, "o", "after"]\n')  # fmt: skip
    _, events = cast.read(path)
    got = [e.data for e in events]
    assert got == ["a?b"]
    got[0].encode()  # every reader may encode it
