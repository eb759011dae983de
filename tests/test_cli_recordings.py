"""`pairtui recordings`, `recordings export` and `pairtui play`, run as the real CLI;
`play` in a real PTY, its screen read with pyte, the terminal's settings read back with
`stty` once it is gone."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pexpect
import pyte
import pytest
from support import pairtui, wait_until

from pairtui import paths
from pairtui.recording import cast
from pairtui.recording.cast import CastWriter, Header

Step = tuple[float, str, str]  # (seconds, "o", "m" or "i:GUEST", data)


def record(
    share: str,
    when: datetime,
    steps: list[Step],
    monkeypatch: pytest.MonkeyPatch,
    *,
    size: tuple[int, int] = (80, 10),
    keys: bool = False,
) -> Path:
    """A cast in the recordings dir, as the recorder writes it, on the steps' clock."""
    now = [0.0]
    # time.monotonic is the time module's: patched only while writing, so that the
    # test's own deadlines still run on the real clock.
    with monkeypatch.context() as clock:
        clock.setattr("pairtui.recording.cast.time.monotonic", lambda: now[0])
        path = cast.new_path(paths.recordings_dir(), share, when)
        w = CastWriter(path, Header(*size, int(when.timestamp())), keys=keys)
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


WHEN = datetime(2026, 12, 6, 10, 15, tzinfo=UTC)
SHORT = [
    (0.5, "o", "\x1b[2J\x1b[Hfirst line\r\n"),
    (1.0, "m", cast.joined("alice", "pair")),
    (2.0, "o", "second line\r\n"),
    (3.0, "o", "the last words\r\n"),
]


def test_recordings_json_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    old = record("demo", WHEN, SHORT, monkeypatch)
    new = record("main", WHEN.replace(hour=11), [(4.5, "o", "x")], monkeypatch, keys=True)
    for argv in (("recordings", "--json"), ("recordings", "list", "--json")):
        res = pairtui(*argv)
        assert res.returncode == 0, res.stderr
        rows = json.loads(res.stdout)
        assert [r["path"] for r in rows] == [str(new), str(old)]
        assert rows[1] == {
            "name": "demo-20261206T101500Z", "path": str(old), "share": "demo",
            "started": "2026-12-06T10:15:00Z", "duration": 3.0, "size": old.stat().st_size,
            "guests": ["alice"], "input_recorded": False, "width": 80, "height": 10,
        }  # fmt: skip
        assert (rows[0]["input_recorded"], rows[0]["duration"]) == (True, 4.5)


def test_the_table_escapes_names_from_the_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """A share's or a guest's name in a file never reaches the terminal raw: an OSC in
    one could retitle the host's terminal or write its clipboard."""
    record("ev\x1b]0;pwned\x07il", WHEN, [(2.0, "m", cast.joined("\x1b[31mmallory", "pair"))],
           monkeypatch)  # fmt: skip
    record("demo", WHEN, SHORT, monkeypatch)
    (paths.recordings_dir() / "bad\x1b[2J.cast").write_text("garbage\n")
    res = pairtui("recordings")
    assert res.returncode == 0, res.stderr
    assert "\x1b" not in res.stdout + res.stderr
    header, *lines = res.stdout.splitlines()
    assert header.split() == ["SHARE", "STARTED", "DURATION", "SIZE", "INPUT", "NAME", "GUESTS"]
    local = WHEN.astimezone().strftime("%Y-%m-%d %H:%M")
    assert any(
        line.startswith("ev\\x1b]0;pwned\\x07il  ") and line.endswith("  \\x1b[31mmallory")
        for line in lines
    ), res.stdout
    assert any(re.match(rf"demo +{local} +3s +\d+B +no +demo-20261206T101500Z +alice$", line)
               for line in lines), res.stdout  # fmt: skip
    assert res.stderr == "pairtui: skipped bad\\x1b[2J.cast: not a recording pairtui can play " \
        "(Expecting value: line 1 column 1 (char 0))\n"  # fmt: skip


def test_no_recordings_says_where_they_would_be() -> None:
    res = pairtui("recordings")
    assert (res.returncode, res.stdout) == (0, f"no recordings in {paths.recordings_dir()}\n")


def test_export_writes_a_page_next_to_the_cast(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = record("demo", WHEN, SHORT, monkeypatch)
    res = pairtui("recordings", "export", "demo-20261206T101500Z", "--html")
    assert res.returncode == 0, res.stderr
    page = path.with_suffix(".html")
    assert res.stdout == f"{page}\n" and "the last words" in page.read_text()
    out = tmp_path / "talk.html"
    res = pairtui("recordings", "export", str(path), "--html", "-o", str(out), "--json")
    assert json.loads(res.stdout) == {"cast": str(path), "html": str(out)} and out.exists()
    res = pairtui("recordings", "export", str(path))
    assert res.returncode == 2
    assert (
        res.stderr == "pairtui: recordings export: say the format: --html (the only one for now)\n"
    )


def test_export_keeps_typed_keys_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    steps = [*SHORT, (3.5, "i:alice", "hunter2-typed")]
    path = record("demo", WHEN, steps, monkeypatch, keys=True)
    page = path.with_suffix(".html")
    assert pairtui("recordings", "export", path.name, "--html").returncode == 0
    assert "the last words" in page.read_text() and "hunter2-typed" not in page.read_text()
    assert pairtui("recordings", "export", path.name, "--html", "--keys").returncode == 0
    assert "hunter2-typed" in page.read_text()


@pytest.mark.parametrize("argv", [("--speed", "0"), ("--idle-limit", "-1"), ("--speed", "x")])
def test_play_refuses_a_bad_number_in_one_line(argv: tuple[str, ...]) -> None:
    res = pairtui("play", "demo", *argv)
    assert res.returncode == 2 and len(res.stderr.splitlines()) == 1, res.stderr
    assert res.stderr.startswith(f"pairtui: play: argument {argv[0]}: ")


def test_play_without_a_terminal_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    path = record("demo", WHEN, SHORT, monkeypatch)
    res = pairtui("play", str(path), input="")  # standard input is a pipe
    assert (res.returncode, res.stdout) == (1, "")
    assert res.stderr == "pairtui: no terminal to play on: standard input and output must be one\n"


def test_play_of_nothing_is_one_line() -> None:
    res = pairtui("play", "nope", "--json")
    assert res.returncode == 1
    assert json.loads(res.stdout)["error"].startswith("no recording 'nope' in ")


# --- `pairtui play` in a real terminal --------------------------------------------


class Terminal:
    """`pairtui play` run by ``sh`` in a PTY; after it, ``sh`` saves its exit status and
    ``stty -a`` (the terminal's settings as the player left them) to files."""

    def __init__(self, tmp: Path, *args: str, size: tuple[int, int] = (80, 24)) -> None:
        self.rc_file, self.stty_file = tmp / "rc", tmp / "stty"
        play = shlex.join([sys.executable, "-m", "pairtui", "play", *args])
        script = f"{play}; echo $? > {self.rc_file}; stty -a > {self.stty_file}; exec sleep 30"
        cols, rows = size
        self.child = pexpect.spawn("sh", ["-c", script], dimensions=(rows, cols),
                                   env=dict(os.environ))  # fmt: skip
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)

    def pump(self) -> str:
        while True:
            try:
                data = self.child.read_nonblocking(65536, timeout=0.05)
            except (pexpect.TIMEOUT, pexpect.EOF):
                break
            self.stream.feed(data)
        return "\n".join(line.rstrip() for line in self.screen.display)

    def wait_for(self, needle: str, timeout: float = 15) -> str:
        def shown() -> str | None:
            screen = self.pump()
            return screen if needle in screen else None

        return wait_until(shown, timeout, what=f"{needle!r} on the screen")

    def player_pid(self) -> int:
        """The python process ``sh`` started (found through /proc)."""

        def child() -> int | None:
            for stat in Path("/proc").glob("[0-9]*/stat"):
                try:
                    fields = stat.read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == self.child.pid:
                    return int(stat.parent.name)
            return None

        return wait_until(child, 10, what="the player's process")

    def finished(self) -> tuple[int, str]:
        """The player's exit status and `stty -a` after it, once ``sh`` has them."""
        wait_until(lambda: self.stty_file.exists() and self.stty_file.read_text(), 15,
                   what="the shell to run stty after the player")  # fmt: skip
        self.pump()
        return int(self.rc_file.read_text()), self.stty_file.read_text()

    def close(self) -> None:
        self.child.close(force=True)


def restored(stty: str) -> bool:
    """Cooked mode again: echo, canonical input, signals from the keyboard."""
    flags = set(stty.split())
    return {"echo", "icanon", "isig", "opost"} <= flags


@pytest.fixture
def terminals() -> Iterator[list[Terminal]]:
    """The terminals a test opened, closed after it (their shell, which waits in a sleep
    so that the screen can still be read, is ended with them)."""
    made: list[Terminal] = []
    yield made
    for t in made:
        t.close()


def test_play_in_a_terminal_then_space_and_q_leave_it_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, terminals: list[Terminal]
) -> None:
    record("demo", WHEN, SHORT, monkeypatch)
    term = Terminal(tmp_path, "demo-20261206T101500Z", "--speed", "10")
    terminals.append(term)
    screen = term.wait_for("ended 0:03 / 0:03")  # the end holds, with its status line
    assert "the last words" in screen and "alice joined (pair)" in screen
    term.child.send(" ")
    term.child.send("q")
    status, stty = term.finished()
    assert status == 0 and restored(stty), stty
    screen = term.pump()
    # The summary goes on the last row, and the newline after it scrolls one row.
    assert screen.startswith("second line\nthe last words\n"), screen
    assert "\nended 0:03 / 0:03 · alice joined (pair) · demo-20261206T101500Z.cast\n" in screen


def test_pause_step_and_seek_keys_in_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, terminals: list[Terminal]
) -> None:
    long = [(0.2, "o", "\x1b[2J\x1b[Hbefore the pause\r\n"), (30.0, "o", "after it\r\n"),
            (31.0, "m", cast.left("alice")), (60.0, "o", "much later\r\n")]  # fmt: skip
    path = record("talk", WHEN, long, monkeypatch)
    term = Terminal(tmp_path, str(path))
    terminals.append(term)
    term.wait_for("before the pause")
    term.child.send(" ")
    assert "after it" not in term.wait_for("paused 0:0")
    term.child.send(".")  # one frame
    screen = term.wait_for("after it")
    assert "paused 0:30 / 1:00" in screen and "much later" not in screen
    term.child.send("]")  # the next marker
    term.wait_for("paused 0:31 / 1:00 · alice left")
    term.child.setwinsize(30, 80)  # SIGWINCH: the status line goes to the new last row
    term.screen.resize(30, 80)
    wait_until(lambda: "paused 0:31" in (term.pump() and term.screen.display[29]), 10,
               what="the status line on row 30")  # fmt: skip
    term.child.send("\x1b[D")  # back 5 s: replayed from a reset terminal
    screen = term.wait_for("paused 0:26 / 1:00")
    assert "before the pause" in screen and "after it" not in screen
    term.child.send("\x03")  # Ctrl-C quits too (raw mode: a key, not a signal)
    status, stty = term.finished()
    assert status == 0 and restored(stty), stty


def test_a_signal_ends_the_player_with_the_terminal_restored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, terminals: list[Terminal]
) -> None:
    path = record("talk", WHEN, [(0.2, "o", "hello\r\n"), (60.0, "o", "bye")], monkeypatch)
    term = Terminal(tmp_path, str(path))
    terminals.append(term)
    term.wait_for("hello")
    os.kill(term.player_pid(), signal.SIGTERM)
    status, stty = term.finished()
    assert status == 128 + signal.SIGTERM and restored(stty), stty


def test_a_terminal_smaller_than_the_recording_is_said_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, terminals: list[Terminal]
) -> None:
    path = record("wide", WHEN, [(0.1, "o", "wide text")], monkeypatch, size=(120, 40))
    term = Terminal(tmp_path, str(path), "--speed", "5")
    terminals.append(term)
    term.wait_for("pairtui: the recording is 120x40, this terminal 80x24: lines may wrap")
    term.wait_for("wide text")
    term.child.send("q")
    status, stty = term.finished()
    assert status == 0 and restored(stty), stty
