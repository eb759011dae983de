"""Atomic, locked file updates: a reader never sees half a file, two writers never lose data."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def atomic_write(path: Path, data: str | bytes, mode: int = 0o600) -> None:
    """Write to a temp file in the same directory, fsync, then rename over ``path``.

    An OSError (a full disk, a permission) names ``path``, not the temp file or no file
    at all, and leaves ``path`` as it was: the message a user reads says what failed.
    """
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise _about(exc, path) from None
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        tmp.chmod(mode)
        tmp.replace(path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _about(exc, path) from None
        raise
    with contextlib.suppress(OSError):
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _about(exc: OSError, path: Path) -> OSError:
    """``exc`` about ``path`` alone (its type kept: callers may catch PermissionError)."""
    if exc.filename2 is None or exc.errno is None:
        exc.filename = str(path)
        return exc
    return type(exc)(exc.errno, exc.strerror, str(path)).with_traceback(exc.__traceback__)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path``'s sidecar ``.lock`` file for a read-modify-write."""
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


Stamp = tuple[int, int, int]
NO_FILE: Stamp = (0, 0, 0)


def file_stamp(path: Path) -> Stamp:
    """``(mtime_ns, size, inode)``: one ``stat`` that tells whether a file was rewritten
    (every pairtui write is a rename, so a new inode); :data:`NO_FILE` when it is gone."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return NO_FILE
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
