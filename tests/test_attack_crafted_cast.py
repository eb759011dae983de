"""Attack: one crafted ``.cast`` in the recordings dir breaks every reader of recordings.

``cast.read`` turns a line that is not JSON into "not a recording" (the header) or the
end of the events (an event), catching ``ValueError``/``KeyError``/``TypeError``. A
line of deeply nested JSON (``[[[[…``) makes ``json.loads`` raise ``RecursionError``,
caught nowhere: ``pairtui recordings`` lists nothing and prints a traceback (one bad
file hides every good one), ``pairtui recordings export`` and ``pairtui play`` crash
the same way. The readers are meant to skip a bad file with a note, and to say in one
line why a file cannot be played.

The real CLI on crafted files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import pairtui

from pairtui import paths

HEADER = json.dumps({"version": 2, "width": 80, "height": 24, "timestamp": 1765015500})
DEEP = "[" * 200_000 + "\n"


def recordings() -> Path:
    where = paths.recordings_dir()
    where.mkdir(parents=True, exist_ok=True, mode=0o700)
    return where


def good() -> Path:
    path = recordings() / "main-20261206T101500Z.cast"
    path.write_text(HEADER + "\n" + json.dumps([0.5, "o", "hello\r\n"]) + "\n")
    return path


@pytest.mark.parametrize(
    "crafted",
    [DEEP, HEADER + "\n" + json.dumps([0.5, "o", "hi"]) + "\n" + DEEP],
    ids=["deep-header", "deep-event"],
)
def test_a_deeply_nested_line_is_a_bad_file_skipped_with_a_note(crafted: str) -> None:
    good()
    (recordings() / "evil-20261206T101600Z.cast").write_text(crafted)
    res = pairtui("recordings")
    assert "Traceback" not in res.stderr, res.stderr[-300:]
    assert res.returncode == 0, res.stderr[-300:]
    assert "main" in res.stdout


def test_exporting_a_deeply_nested_cast_is_one_line(tmp_path: Path) -> None:
    bad = recordings() / "evil-20261206T101600Z.cast"
    bad.write_text(HEADER + "\n" + json.dumps([0.5, "o", "hi"]) + "\n" + DEEP)
    res = pairtui("recordings", "export", str(bad), "--html", "-o", str(tmp_path / "x.html"))
    assert "Traceback" not in res.stderr, res.stderr[-300:]
    assert len(res.stderr.splitlines()) <= 1, res.stderr[-300:]
