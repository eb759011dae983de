"""asciicast v2: the one place that writes and reads the recording format.

asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/) is what asciinema,
asciinema-player and every tool around them read: a JSON header line, then one JSON
array per event, ``[seconds since start, code, data]``:

- ``"o"`` output, exactly the bytes a view guest's terminal got (decoded as UTF-8; a
  character split across two reads is kept whole);
- ``"r"`` a resize, ``"COLSxROWS"``;
- ``"m"`` a marker, shown on the player's timeline: pairtui marks joins and leaves
  (``alice joined (pair)``, ``alice left``), the mode changes and why a recording ended;
- ``"i"`` input, with ``--input`` only: the keys a pair guest typed. The format has no
  field for who typed them, so each ``"i"`` event is attributed
  in a sidecar file next to the cast (``NAME.keys.jsonl``, lines ``[seconds, guest,
  data]``, the same clock), which players ignore and ``pairtui play`` reads.

Files are created 0600 (never overwritten: ``O_EXCL``) and written as they go: the
writer keeps what came in for at most :data:`FLUSH_INTERVAL` before it reaches the
file, so a crash loses at most that, and the reader takes a file whose last line was
cut off (a crash, a full disk) as ending before that line.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pairtui.errors import PairtuiError

VERSION = 2
FLUSH_INTERVAL = 1.0  # seconds: the most a crash may lose
SUFFIX = ".cast"
KEYS_SUFFIX = ".keys.jsonl"
MAX_LINE = 16 * 1024 * 1024  # characters: a longer line is not one pairtui wrote
_NAME_RE = re.compile(r"^(?P<share>.+)-(?P<when>\d{8}T\d{6}Z)(?:-\d+)?$")


@dataclass(frozen=True)
class Header:
    width: int
    height: int
    timestamp: int  # Unix seconds when recording started
    title: str = ""
    env: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"version": VERSION, "width": self.width,
                                  "height": self.height, "timestamp": self.timestamp}  # fmt: skip
        if self.title:
            out["title"] = self.title
        if self.env:
            out["env"] = self.env
        return out


@dataclass(frozen=True)
class Event:
    time: float  # seconds since the recording started
    code: str  # "o", "i", "r" or "m"
    data: str


def joined(guest: str, mode: str) -> str:
    return f"{guest} joined ({mode})"


def left(guest: str) -> str:
    return f"{guest} left"


def mode_changed(guest: str, mode: str) -> str:
    return f"{guest} now {mode}"


def renamed(old: str, new: str) -> str:
    return f"share {old} renamed {new}"


def stopped(reason: str) -> str:
    return f"recording stopped: {reason}"


_MARKERS = (
    ("join", re.compile(r"(\S+) joined \((?:view|pair)\)")),
    ("leave", re.compile(r"(\S+) left")),
    ("mode", re.compile(r"(\S+) now (?:view|pair)")),
)


def marker_kind(text: str) -> tuple[str, str]:
    """``(kind, guest)`` of a marker: ``("join", "alice")`` for ``alice joined (pair)``,
    ``"leave"`` and ``"mode"`` likewise; ``("note", "")`` for anything else (why it
    stopped, a rename). Guest names never contain spaces."""
    for kind, pattern in _MARKERS:
        m = pattern.fullmatch(text)
        if m:
            return kind, m[1]
    return "note", ""


def guest_of_marker(text: str) -> str | None:
    """The guest a join marker names, else None."""
    kind, guest = marker_kind(text)
    return guest if kind == "join" else None


def new_path(directory: Path, share: str, now: datetime | None = None) -> Path:
    """``SHARE-<UTC time>.cast`` in ``directory``, with ``-2``, ``-3``… if taken."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    for n in range(1, 1000):
        name = f"{share}-{stamp}" + (f"-{n}" if n > 1 else "")
        path = directory / f"{name}{SUFFIX}"
        if not path.exists():
            return path
    raise PairtuiError(f"too many recordings of {share} at {stamp} in {directory}")


def share_of(path: Path) -> tuple[str, str] | None:
    """``(share, UTC stamp)`` from a recording's file name, or None for another name."""
    if not path.name.endswith(SUFFIX):
        return None
    m = _NAME_RE.match(path.name.removesuffix(SUFFIX))
    return (m["share"], m["when"]) if m else None


def keys_path(cast: Path) -> Path:
    """The sidecar that says who typed what (``--input`` recordings only)."""
    return cast.with_name(cast.name.removesuffix(SUFFIX) + KEYS_SUFFIX)


def _create(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC,
                   0o600)  # fmt: skip


class CastWriter:
    """Appends events to a new cast file; :meth:`flush` at least every
    :data:`FLUSH_INTERVAL` (the recorder's timer does, and :meth:`add` when the oldest
    unwritten event is older than that).

    Raises ``OSError`` (e.g. ``ENOSPC``) from the write that failed; what was written
    before stays a valid cast.
    """

    def __init__(self, path: Path, header: Header, *, keys: bool = False) -> None:
        self.path = path
        self._fd = _create(path)
        self._keys_fd = _create(keys_path(path)) if keys else -1
        self._start = time.monotonic()
        self._pending: list[str] = []
        self._pending_keys: list[str] = []
        self._pending_size = 0
        self._oldest = 0.0
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.size = 0  # bytes in the file, the sidecar included
        self._write(self._fd, [json.dumps(header.to_json(), ensure_ascii=False) + "\n"])

    @property
    def pending(self) -> int:
        """Characters kept but not written yet (at most a second's worth)."""
        return self._pending_size

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._start

    def output(self, data: bytes) -> None:
        text = self._decoder.decode(data)
        if text:
            self._add("o", text)

    def resize(self, width: int, height: int) -> None:
        self._add("r", f"{width}x{height}")

    def marker(self, text: str) -> None:
        self._add("m", text)

    def input(self, guest: str, data: bytes) -> None:
        """Keys a guest typed (only for a writer made with ``keys=True``)."""
        if self._keys_fd < 0:
            return
        text = data.decode("utf-8", "replace")
        at = round(self.elapsed, 6)
        self._add("i", text, at)
        line = json.dumps([at, guest, text], ensure_ascii=False) + "\n"
        self._pending_keys.append(line)
        self._pending_size += len(line)

    def _add(self, code: str, data: str, at: float | None = None) -> None:
        at = round(self.elapsed, 6) if at is None else at
        if not self._pending:
            self._oldest = time.monotonic()
        line = json.dumps([at, code, data], ensure_ascii=False) + "\n"
        self._pending.append(line)
        self._pending_size += len(line)
        if time.monotonic() - self._oldest >= FLUSH_INTERVAL:
            self.flush()

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        keys, self._pending_keys = self._pending_keys, []
        self._pending_size = 0
        if pending:
            self._write(self._fd, pending)
        if keys:
            self._write(self._keys_fd, keys)

    def _write(self, fd: int, lines: list[str]) -> None:
        data = "".join(lines).encode()
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
            self.size += n

    def close(self) -> None:
        """Flush and close; safe to call twice, and after a failed write."""
        try:
            tail = self._decoder.decode(b"", final=True)
            if tail:
                self._add("o", tail)
            if self._fd >= 0:
                self.flush()
        finally:
            for fd in (self._fd, self._keys_fd):
                if fd >= 0:
                    os.close(fd)
            self._fd = self._keys_fd = -1


def _whole(text: str) -> str:
    """Text that encodes: a damaged or crafted file's lone surrogates (JSON ``"\\ud800"``)
    become ``?``, so no reader fails on them."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode()
    return text


def read(path: Path) -> tuple[Header, Iterator[Event]]:
    """The header and the events of a cast; a last line cut off is left out. The file is
    open only while the events are being read.

    Raises:
        PairtuiError: not an asciicast v2 file (the file and why).
    """
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            first = f.readline(MAX_LINE)
    except OSError as exc:
        raise PairtuiError(f"{path}: {exc.strerror or exc}") from None
    try:
        head = json.loads(first)
        if not isinstance(head, dict) or head.get("version") != VERSION:
            raise ValueError("not asciicast version 2")
        header = Header(int(head["width"]), int(head["height"]), int(head.get("timestamp", 0)),
                        str(head.get("title", "")), dict(head.get("env") or {}))  # fmt: skip
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        why = "nested too deep" if isinstance(exc, RecursionError) else exc
        raise PairtuiError(f"{path}: not a recording pairtui can play ({why})") from None

    def events() -> Iterator[Event]:
        with path.open(encoding="utf-8", errors="replace") as f:
            f.readline(MAX_LINE)
            while line := f.readline(MAX_LINE):
                try:
                    at, code, data = json.loads(line)
                    at = float(at)
                except (ValueError, TypeError, RecursionError):
                    return  # cut off, crafted or not an event: the file ends here
                yield Event(at, str(code), _whole(str(data)))

    return header, events()
