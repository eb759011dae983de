"""Atomic writes, the sidecar lock, file stamps and reading a file that may not exist."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support import holds_for

from pairtui.fileutil import NO_FILE, atomic_write, file_stamp, locked, read_text


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def leftovers(path: Path) -> list[str]:
    """Temp files ``atomic_write`` made beside ``path`` and did not clean up."""
    return sorted(p.name for p in path.parent.glob(f".{path.name}.*"))


# --- atomic_write ------------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
@pytest.mark.parametrize("wanted", [0o600, 0o644, 0o640])
def test_the_mode_asked_for_is_the_mode_written_whatever_the_umask(
    tmp_path: Path, umask: int, wanted: int
) -> None:
    target = tmp_path / "f"
    old = os.umask(umask)
    try:
        atomic_write(target, "x", wanted)
    finally:
        os.umask(old)
    assert mode(target) == wanted


def test_rewriting_replaces_the_old_mode_with_the_one_asked_for(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("old")
    target.chmod(0o666)
    atomic_write(target, "new")  # the default keeps secrets private
    assert (target.read_text(), mode(target)) == ("new", 0o600)


def test_text_is_written_as_utf8_and_bytes_exactly(tmp_path: Path) -> None:
    target = tmp_path / "f"
    atomic_write(target, "café ✓\n")
    assert target.read_bytes() == "café ✓\n".encode()
    raw = bytes(range(256))
    atomic_write(target, raw)
    assert target.read_bytes() == raw
    assert leftovers(target) == []


def test_a_write_that_fails_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "f"
    atomic_write(target, "the old content\n", 0o640)
    before = file_stamp(target)
    with pytest.raises(UnicodeEncodeError):
        atomic_write(target, "half \udc80 of it", 0o600)  # a lone surrogate cannot be encoded
    assert target.read_text() == "the old content\n"
    assert (file_stamp(target), mode(target)) == (before, 0o640)
    assert leftovers(target) == []


def test_a_write_that_fails_names_the_file_and_keeps_the_error_type(tmp_path: Path) -> None:
    """What a user reads ("pairtui: [Errno 28] ...: 'PATH'") says which file failed,
    not a temp file's name or none at all."""
    missing = tmp_path / "no-such-dir" / "f"
    with pytest.raises(FileNotFoundError) as no_dir:  # mkstemp fails
        atomic_write(missing, "x")
    assert (no_dir.value.filename, no_dir.value.filename2) == (str(missing), None)
    target = tmp_path / "d"
    (target / "inside").mkdir(parents=True)
    with pytest.raises(IsADirectoryError) as over_dir:  # the rename fails
        atomic_write(target, "x")
    assert str(over_dir.value).endswith(f": {str(target)!r}")
    assert leftovers(target) == []


WRITER = """
import sys
from pathlib import Path
from pairtui.fileutil import atomic_write
target, rounds = Path(sys.argv[1]), int(sys.argv[2])
for i in range(rounds):
    atomic_write(target, (b"A" if i % 2 else b"B") * 200_000)
Path(sys.argv[3]).write_text("done")
"""


def test_a_reader_only_ever_sees_a_whole_old_or_whole_new_file(tmp_path: Path) -> None:
    """Another process rewrites a large file over and over while this one reads it."""
    target = tmp_path / "big"
    done = tmp_path / "done"
    whole = {b"A" * 200_000, b"B" * 200_000}
    atomic_write(target, b"A" * 200_000)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target), "300", str(done)])
    seen: set[bytes] = set()
    deadline = time.monotonic() + 60
    try:
        while not done.exists() and writer.poll() is None:
            assert time.monotonic() < deadline, "the writer took over a minute"
            data = target.read_bytes()
            assert data in whole, f"a torn read: {len(data)} bytes, starting {data[:8]!r}"
            seen.add(data)
        assert writer.wait(timeout=60) == 0
    finally:
        if writer.poll() is None:
            writer.kill()
    assert len(seen) == 2, "the reader never saw the file change: the test proved nothing"
    assert leftovers(target) == []


# --- locked -----------------------------------------------------------------------------


HOLDER = """
import sys
from pathlib import Path
from pairtui.fileutil import locked
with locked(Path(sys.argv[1])):
    print("locked", flush=True)
    sys.stdin.readline()
"""

TAKER = """
import sys
from pathlib import Path
from pairtui.fileutil import locked
with locked(Path(sys.argv[1])):
    print("got it", flush=True)
"""


def test_a_second_process_waits_for_the_lock_until_the_first_lets_go(tmp_path: Path) -> None:
    target = tmp_path / "data.json"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(target)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    taker: subprocess.Popen[str] | None = None
    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline() == "locked\n"
        taker = subprocess.Popen(
            [sys.executable, "-c", TAKER, str(target)], stdout=subprocess.PIPE, text=True
        )
        t = taker
        holds_for(lambda: t.poll() is None, 1.0)  # blocked while the holder has it
        holder.stdin.write("\n")
        holder.stdin.flush()
        out, _ = taker.communicate(timeout=30)
        assert (taker.returncode, out) == (0, "got it\n")
    finally:
        for p in (holder, taker):
            if p is not None and p.poll() is None:
                p.kill()
    assert not target.exists()  # locking never creates the file it guards
    assert mode(target.with_name("data.json.lock")) == 0o600


def test_the_lock_is_let_go_when_the_block_raises(tmp_path: Path) -> None:
    target = tmp_path / "data.json"
    with pytest.raises(RuntimeError), locked(target):
        raise RuntimeError("the edit failed")
    res = subprocess.run(
        [sys.executable, "-c", TAKER, str(target)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert (res.returncode, res.stdout) == (0, "got it\n"), res.stderr


def test_threads_doing_read_modify_write_under_the_lock_lose_no_update(tmp_path: Path) -> None:
    """Each thread opens its own lock (flock is per open file): no increment is lost."""
    target = tmp_path / "counter"
    atomic_write(target, "0")

    def bump(times: int) -> None:
        for _ in range(times):
            with locked(target):
                atomic_write(target, str(int(read_text(target)) + 1))

    threads = [threading.Thread(target=bump, args=(50,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert read_text(target) == "200"


# --- file_stamp and read_text -------------------------------------------------------------


def test_a_missing_file_has_the_no_file_stamp_and_reads_as_empty(tmp_path: Path) -> None:
    assert file_stamp(tmp_path / "nothing") == NO_FILE
    assert read_text(tmp_path / "nothing") == ""


def test_the_stamp_changes_on_every_rewrite_even_to_the_same_bytes(tmp_path: Path) -> None:
    """Same size, same content, same clock tick: the rename still gives a new inode."""
    target = tmp_path / "f"
    atomic_write(target, "same")
    stamps = [file_stamp(target)]
    for _ in range(5):
        atomic_write(target, "same")
        stamps.append(file_stamp(target))
    assert all(a != b for a, b in itertools.pairwise(stamps)), stamps
    assert file_stamp(target) == file_stamp(target)  # and is stable while nothing writes
    assert NO_FILE not in stamps


def test_the_stamp_is_mtime_size_and_inode(tmp_path: Path) -> None:
    target = tmp_path / "f"
    atomic_write(target, "12345")
    st = target.stat()
    assert file_stamp(target) == (st.st_mtime_ns, 5, st.st_ino)
    target.unlink()
    assert file_stamp(target) == NO_FILE


def test_read_text_is_utf8_whatever_the_locale(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes("naïve — ✓\n".encode())
    code = (
        "import sys; from pathlib import Path; from pairtui.fileutil import read_text;"
        "sys.stdout.buffer.write(read_text(Path(sys.argv[1])).encode('utf-8'))"
    )
    env = {**os.environ, "LANG": "C", "LC_ALL": "C", "PYTHONUTF8": "0"}
    res = subprocess.run(
        [sys.executable, "-X", "utf8=0", "-c", code, str(target)],
        capture_output=True, env=env, timeout=30, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout.decode("utf-8") == "naïve — ✓\n"
