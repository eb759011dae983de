"""The server's log lines: their shape per destination, escaping, the audit records in
words, and which engine events make a line (the end-to-end side: test_cli_serve.py)."""

from __future__ import annotations

import errno
import io
import logging
import os
import pty
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import pytest

from pairtui import log
from pairtui.audit import Audit
from pairtui.errors import PairtuiError
from pairtui.events import AccessRefused, ClientChanged, ClientInfo, ClientJoined, ClientLeft

HOSTILE = "\x1b]52;c;aGFja2Vk\x07\x1b[2J\u202e\nforged line"


def _record(
    message: str, level: int = logging.INFO, name: str = "pairtui.server"
) -> logging.LogRecord:
    record = logging.LogRecord(name, level, __file__, 1, "%s", (message,), None)
    record.created = 1_700_000_000.0  # 2023-11-14T22:13:20Z
    return record


class Shape(NamedTuple):
    test_id: str
    target: log.Target
    level: int
    line: str


SHAPES = [
    Shape("pipe-info", "pipe", logging.INFO, "alice joined"),
    Shape("pipe-warning", "pipe", logging.WARNING, "warning: alice joined"),
    Shape("file-info", "file", logging.INFO, "2023-11-14T22:13:20Z alice joined"),
    Shape("file-error", "file", logging.ERROR, "2023-11-14T22:13:20Z error: alice joined"),
    Shape("journal-info", "journal", logging.INFO, "<6>alice joined"),
    Shape("journal-warning", "journal", logging.WARNING, "<4>alice joined"),
    Shape("journal-debug", "journal", logging.DEBUG, "<7>alice joined"),
]


@pytest.mark.parametrize("case", SHAPES, ids=[c.test_id for c in SHAPES])
def test_a_line_has_the_shape_of_where_it_goes(case: Shape) -> None:
    assert log.LineFormatter(case.target).format(_record("alice joined", case.level)) == case.line


def test_a_terminal_line_starts_with_the_local_time_and_colours_only_the_level() -> None:
    record = _record("refused x", logging.WARNING)
    stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
    assert log.LineFormatter("tty").format(record) == f"{stamp} warning: refused x"
    coloured = log.LineFormatter("tty", colour=True).format(record)
    assert coloured == f"{stamp} \x1b[33mwarning:\x1b[0m refused x"
    # Colour is for terminals only.
    assert "\x1b" not in log.LineFormatter("file", colour=True).format(record)


@pytest.mark.parametrize("target", ["tty", "file", "journal", "pipe"])
def test_a_guests_words_are_escaped_and_cannot_forge_a_line(target: log.Target) -> None:
    line = log.LineFormatter(target).format(_record(f"refused: no share {HOSTILE}"))
    assert "\n" not in line and "\x1b" not in line and "\u202e" not in line, line
    assert "\\x1b]52;c;aGFja2Vk\\x07\\x1b[2J\\u202e\\nforged line" in line


def test_a_line_drops_pairtuis_own_prefix_and_names_another_librarys() -> None:
    fmt = log.LineFormatter("pipe")
    assert fmt.format(_record("pairtui: cannot write the audit log")) == (
        "cannot write the audit log"
    )
    assert fmt.format(_record("[conn=0] Accepted", name="asyncssh.connection")) == (
        "asyncssh: [conn=0] Accepted"
    )


def test_an_exception_is_one_line_not_a_traceback() -> None:
    try:
        raise ValueError(f"bad {HOSTILE}")
    except ValueError:
        record = _record("terminal failed", logging.ERROR)
        import sys

        record.exc_info = sys.exc_info()
    line = log.LineFormatter("pipe").format(record)
    assert line.startswith("error: terminal failed (ValueError: bad \\x1b]52")
    assert "\n" not in line and "Traceback" not in line


class Described(NamedTuple):
    test_id: str
    event: str
    fields: dict[str, object]
    line: str


DESCRIBED = [
    Described("refused-unknown-key", "refused",
              {"peer": "198.51.100.7:50312", "fingerprint": "SHA256:abc", "reason": "unknown key"},
              "refused 198.51.100.7:50312 (key SHA256:abc): unknown key"),
    Described("refused-a-guest-through-a-tunnel", "refused",
              {"peer": "198.51.100.7:1", "via": "vps", "fingerprint": "SHA256:abc",
               "reason": "port forwarding", "guest": "alice"},
              "refused alice from 198.51.100.7:1 via vps (key SHA256:abc): port forwarding"),
    Described("refused-a-share-it-asked-for", "refused",
              {"peer": "127.0.0.1:9", "fingerprint": "SHA256:abc", "reason": "no share",
               "guest": "alice", "share": "evil\x1b[2J"},
              "refused alice from 127.0.0.1:9 (key SHA256:abc): no share (share 'evil\\x1b[2J')"),
    Described("refusals-counted", "refused",
              {"peer": "127.0.0.1", "fingerprint": "", "count": 7,
               "reason": "7 more refusals (not logged one by one)"},
              "refused 127.0.0.1: 7 more refusals (not logged one by one)"),
    Described("host-full-counted", "refused",
              {"fingerprint": "", "count": 30,
               "reason": "30 more guests refused, the host being full (not logged one by one)"},
              "refused: 30 more guests refused, the host being full (not logged one by one)"),
    Described("error-of-a-client", "error",
              {"client": "c3", "guest": "alice", "reason": "unusable TERM replaced",
               "term": "x\x1b"},
              "alice (client c3): unusable TERM replaced (term 'x\\x1b')"),
    Described("error-of-the-server", "error", {"reason": "reconcile: boom"},
              "reconcile: boom"),
    Described("tunnel-up", "tunnel-up", {"tunnel": "vps", "relay": "r.example", "remote": "0:2222"},
              "tunnel vps up (relay 'r.example', remote '0:2222')"),
    Described("tunnel-down", "tunnel-down", {"tunnel": "vps", "reason": "connection lost"},
              "tunnel vps down: connection lost"),
    Described("tunnels-file", "tunnel-error", {"reason": "tunnels.json: bad"},
              "tunnels: tunnels.json: bad"),
    Described("anything-else", "someday", {"what": 1}, "someday (what 1)"),
]  # fmt: skip


@pytest.mark.parametrize("case", DESCRIBED, ids=[c.test_id for c in DESCRIBED])
def test_an_audit_record_in_words(case: Described) -> None:
    assert log.describe_record(case.event, case.fields) == case.line


ALICE = ClientInfo(id="c1", guest="alice", fingerprint="SHA256:abc", peer="127.0.0.1:40112",
                   share="main", mode="view", tty="/dev/pts/7")  # fmt: skip


@pytest.fixture
def heard() -> Iterator[list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logger = logging.getLogger("pairtui.test-events")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield records
    logger.removeHandler(handler)


def test_events_make_a_line_only_for_what_the_host_cares_about(
    heard: list[logging.LogRecord],
) -> None:
    events = log.EventLog(logging.getLogger("pairtui.test-events"))
    events(ClientJoined(ALICE))
    typed = replace(ALICE, last_input=time.time())
    events(ClientChanged(typed))  # every half second while alice types: nothing
    events(ClientChanged(replace(typed, mode="pair")))
    events(ClientChanged(replace(typed, mode="pair", share="docs")))
    events(ClientChanged(replace(typed, mode="pair", share="docs", cols=100, rows=30)))
    events(AccessRefused("127.0.0.1:1", "SHA256:x", "unknown key"))  # the audit log says it
    events(ClientLeft(replace(ALICE, since=time.time() - 75), "you were disconnected by the host"))
    events(ClientChanged(ALICE))  # gone: nothing more about it
    said = [(r.levelno, r.getMessage()) for r in heard]
    assert said == [
        (logging.INFO, ("alice joined share main in view mode from 127.0.0.1:40112 "
                        "(client c1, key SHA256:abc)")),
        (logging.INFO, "alice is now in pair mode on share main (client c1)"),
        (logging.INFO, "alice stays on share main, now named docs (client c1)"),
        (logging.DEBUG, "alice resized to 100x30 (client c1)"),
        (logging.INFO, ("alice left share main after 1m 15s: you were disconnected by "
                        "the host (client c1)")),
    ]  # fmt: skip


def test_a_login_without_a_terminal_is_said_as_such(heard: list[logging.LogRecord]) -> None:
    events = log.EventLog(logging.getLogger("pairtui.test-events"))
    idle = replace(ALICE, share="", tty="", via="vps", peer="198.51.100.7:1", since=time.time())
    events(ClientJoined(idle))
    events(ClientLeft(idle, "guest left"))
    assert [r.getMessage() for r in heard] == [
        (
            "alice logged in without a terminal from 198.51.100.7:1 via vps "
            "(client c1, key SHA256:abc)"
        ),
        "alice left (no terminal) after 0s: guest left (client c1)",
    ]


def test_log_levels() -> None:
    assert log.parse_level("WARNING") == logging.WARNING
    with pytest.raises(PairtuiError, match="--log-level must be one of debug, info, warning"):
        log.parse_level("loud")


def test_where_the_log_goes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    with (tmp_path / "serve.log").open("w") as f:
        assert log.target_of(f) == "file"
    r, w = os.pipe()
    with os.fdopen(r), os.fdopen(w, "w") as wf:
        assert log.target_of(wf) == "pipe"
        st = os.fstat(w)
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
        assert log.target_of(wf) == "journal"
        other_r, other_w = os.pipe()
        with os.fdopen(other_r), os.fdopen(other_w, "w") as other:
            assert log.target_of(other) == "pipe"  # inherited, but not for this stream
    master, slave = pty.openpty()
    with os.fdopen(master), os.fdopen(slave, "w") as tty:
        assert log.target_of(tty) == "tty"
    assert log.target_of(io.StringIO()) == "pipe"


class ClosedTerminal(io.StringIO):
    def write(self, s: str) -> int:
        raise OSError(errno.EIO, os.strerror(errno.EIO))


def test_a_stream_that_is_gone_makes_the_log_quiet_not_noisy(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A closed terminal (SIGHUP) must not print "--- Logging error ---" per line."""
    stream = ClosedTerminal()
    handler = log.LineHandler(stream)
    handler.setFormatter(log.LineFormatter("pipe"))
    handler.handle(_record("alice joined"))
    handler.handle(_record("alice left"))
    assert capfd.readouterr().err == ""
    assert handler.stream is not stream


def test_setup_shows_the_audit_records_the_events_do_not_tell(tmp_path: Path) -> None:
    out = io.StringIO()
    handler = log.setup(logging.INFO, out)
    try:
        audit = Audit(tmp_path / "audit.jsonl")
        audit.record("join", client="c1", guest="alice")  # EventLog tells it
        audit.record("kick", client="c1", guest="alice", reason="x")  # so too
        audit.record("refused", peer="127.0.0.1:1", fingerprint="SHA256:a", reason="unknown key")
        audit.record("tunnel-forward", tunnel="vps", origin="1.2.3.4:5")  # debug
        log.START.info("serving")
        logging.getLogger("pairtui").setLevel(logging.ERROR)
        log.START.info("shares")  # whatever the level
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger("pairtui").setLevel(logging.NOTSET)
    assert out.getvalue().splitlines() == [
        "warning: refused 127.0.0.1:1 (key SHA256:a): unknown key",
        "serving",
        "shares",
    ]


def test_the_door_and_recordings_are_one_line_each(heard: list[logging.LogRecord]) -> None:
    from pairtui.events import RECORDING_STOPPED, DoorChanged, DoorState, RecordingChanged
    from pairtui.events import RecordingInfo as Rec

    events = log.EventLog(logging.getLogger("pairtui.test-events"))
    events(DoorChanged(DoorState(time.time() + 600.5, "main")))
    events(DoorChanged(DoorState()))
    events(DoorChanged(DoorState(), timed_out=True))
    events(RecordingChanged(Rec("main", "/r/main.cast", 0, True, "recording")))
    events(RecordingChanged(Rec("main", "/r/main.cast", 0, True, "stopped", RECORDING_STOPPED)))
    events(RecordingChanged(Rec("main", "/r/main.cast", 0, False, "stopped", "disk full")))
    said = [(r.levelno, r.getMessage()) for r in heard]
    assert said == [
        (logging.INFO, "the door is open to share main for 10m 00s: unregistered keys may knock"),
        (logging.INFO, "the door is closed"),
        (logging.INFO, "the door closed by itself"),
        (logging.INFO, "recording share main (screen and keys) into /r/main.cast"),
        (logging.INFO, "recording of share main stopped: the host stopped it (/r/main.cast)"),
        (logging.WARNING, "recording of share main stopped: disk full (/r/main.cast)"),
    ]
