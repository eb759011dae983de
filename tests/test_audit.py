"""The audit log: one JSON line per event, safe to `cat` whatever a guest sent."""

from __future__ import annotations

import errno
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pairtui.audit import Audit

HOSTILE = "\x1b]52;c;aGFja2Vk\x07\x1b[2J\u202e\u2028\x85\x00"


def test_guest_controlled_fields_are_escaped_in_the_file_and_exact_when_read(
    tmp_path: Path,
) -> None:
    audit = Audit(tmp_path / "audit.jsonl")
    undecodable = b"caf\xe9".decode("utf-8", "surrogateescape")  # a registry comment's bytes
    audit.record("refused", peer=f"203.0.113.9{HOSTILE}:22", share=HOSTILE, term=undecodable)
    data = audit.path.read_bytes()
    # JSON's own escapes: printable ASCII and one newline per event, nothing a terminal runs.
    assert data.endswith(b"\n") and data.count(b"\n") == 1
    assert all(0x20 <= b < 0x7F for b in data[:-1]), data
    (row,) = audit.read()
    assert (row["peer"], row["share"], row["term"]) == (
        f"203.0.113.9{HOSTILE}:22",
        HOSTILE,
        undecodable,
    )


# --- a log that cannot be written --------------------------------------------------------


def test_a_log_that_cannot_be_written_is_told_once_per_kind_and_never_raises(
    tmp_path: Path,
) -> None:
    """``/dev/full`` fails every write with ENOSPC, a directory with EISDIR."""
    path = tmp_path / "audit.jsonl"
    path.symlink_to("/dev/full")
    heard: list[str] = []
    audit = Audit(path, report=heard.append)
    for i in range(3):
        audit.record("join", guest=f"g{i}")
    assert audit.failing
    assert len(heard) == 1
    assert str(path) in heard[0] and os.strerror(errno.ENOSPC) in heard[0]
    path.unlink()
    path.mkdir()  # another kind of failure: told too, once
    audit.record("leave")
    audit.record("leave")
    assert len(heard) == 2 and os.strerror(errno.EISDIR) in heard[1]

    path.rmdir()  # writable again: told once, and the log says what it missed
    audit.record("kick", guest="g0")
    audit.record("leave", guest="g0")
    assert not audit.failing
    assert len(heard) == 3 and "is written again (5 events were not recorded)" in heard[2]
    gap, kick, leave = audit.read()
    assert (gap["event"], kick["event"], leave["event"]) == ("error", "kick", "leave")
    assert gap["reason"] == (
        f"5 events not recorded ({os.strerror(errno.ENOSPC)}; {os.strerror(errno.EISDIR)})"
    )

    path.unlink()
    path.symlink_to("/dev/full")  # failing again after it worked: told again
    audit.record("join")
    assert len(heard) == 4 and os.strerror(errno.ENOSPC) in heard[3]


def test_a_report_that_records_an_event_itself_is_not_told_again(tmp_path: Path) -> None:
    """The engine's default log writes to the audit log: a failure must not loop."""
    path = tmp_path / "audit.jsonl"
    path.symlink_to("/dev/full")
    heard: list[str] = []

    def log(line: str) -> None:
        heard.append(line)
        audit.record("error", reason=line)

    audit = Audit(path, report=log)
    audit.record("join")
    assert len(heard) == 1 and audit.failing
    path.unlink()
    audit.record("join")
    assert not audit.failing
    assert len(heard) == 2
    assert [e["event"] for e in audit.read()] == ["error", "join", "error"]
    assert audit.read()[0]["reason"] == f"2 events not recorded ({os.strerror(errno.ENOSPC)})"


# --- the logging hook ------------------------------------------------------------------


def test_every_event_goes_to_the_audit_logger_even_when_the_file_fails(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The server's log shows refusals and errors from here (pairtui.log)."""
    path = tmp_path / "audit.jsonl"
    audit = Audit(path, report=lambda line: None)
    with caplog.at_level(logging.DEBUG, logger="pairtui.audit"):
        audit.record("refused", peer="127.0.0.1:1", fingerprint="SHA256:a", via=None)
        path.unlink()
        path.symlink_to("/dev/full")  # not written: still logged
        audit.record("error", reason=HOSTILE)
        audit.record("tunnel-forward", tunnel="vps")
        audit.record("join", guest="alice")
    said = [(r.levelno, getattr(r, "audit_event", None), getattr(r, "audit_fields", None))
            for r in caplog.records if r.name == "pairtui.audit"]  # fmt: skip
    assert said == [
        (logging.WARNING, "refused", {"peer": "127.0.0.1:1", "fingerprint": "SHA256:a"}),
        (logging.ERROR, "error", {"reason": HOSTILE}),
        (logging.DEBUG, "tunnel-forward", {"tunnel": "vps"}),
        (logging.INFO, "join", {"guest": "alice"}),
    ]


def test_without_a_configured_log_nothing_reaches_standard_error(tmp_path: Path) -> None:
    """The dashboard runs an engine in its own process: a refusal or an error must not be
    printed over its screen by logging's last-resort handler."""
    code = (
        "import sys; from pathlib import Path; from pairtui.audit import Audit;"
        "a = Audit(Path(sys.argv[1]));"
        "a.record('refused', peer='127.0.0.1:1', reason='unknown key');"
        "a.record('error', reason='boom')"
    )
    res = subprocess.run([sys.executable, "-c", code, str(tmp_path / "audit.jsonl")],
                         capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
    assert (res.returncode, res.stdout, res.stderr) == (0, "", "")
    assert len(Audit(tmp_path / "audit.jsonl").read()) == 2
