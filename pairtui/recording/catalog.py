"""The recordings on this machine: what each one is (share, when, how long, who was
there), without a front end's formatting, and which file a name on a command line means.

A recording can be hours of output, so its duration and guests come from one pass
over its events as :func:`pairtui.recording.cast.read` streams them: a listing never
holds a whole cast in memory. A file that is not a recording (a stray ``.cast``, one
whose header was lost) is skipped with a note saying why, so one bad file never hides
the others.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pairtui import paths
from pairtui.errors import PairtuiError
from pairtui.recording import cast


@dataclass(frozen=True)
class Recording:
    path: Path
    share: str
    started: datetime  # UTC
    duration: float  # seconds, to the last event
    size: int  # bytes: the cast and its keys sidecar
    guests: tuple[str, ...]  # from the join markers, in the order they first joined
    input_recorded: bool  # a keys sidecar exists (recorded with --input)
    width: int
    height: int

    @property
    def name(self) -> str:
        """What ``pairtui play`` takes: the file name without ``.cast``."""
        return self.path.name.removesuffix(cast.SUFFIX)

    def to_json(self) -> dict[str, object]:
        from pairtui.clock import iso_utc

        return {
            "name": self.name,
            "path": str(self.path),
            "share": self.share,
            "started": iso_utc(self.started),
            "duration": round(self.duration, 3),
            "size": self.size,
            "guests": list(self.guests),
            "input_recorded": self.input_recorded,
            "width": self.width,
            "height": self.height,
        }


@dataclass(frozen=True)
class Skipped:
    """A ``.cast`` file that is not a recording pairtui can read, and why."""

    path: Path
    why: str


@dataclass(frozen=True)
class Listing:
    recordings: tuple[Recording, ...]  # newest first
    skipped: tuple[Skipped, ...]


def describe(path: Path) -> Recording:
    """One recording, read in one streamed pass.

    Raises:
        PairtuiError: not an asciicast v2 file, or not readable (the file and why).
    """
    header, events = cast.read(path)
    duration = 0.0
    guests: dict[str, None] = {}  # ordered, unique
    try:
        for event in events:
            duration = max(duration, event.time)
            if event.code == "m" and (guest := cast.guest_of_marker(event.data)):
                guests.setdefault(guest)
    except (TypeError, ValueError) as exc:  # a line that is JSON but not an event
        raise PairtuiError(f"{path}: not a recording pairtui can play ({exc})") from None
    keys = cast.keys_path(path)
    return Recording(
        path=path,
        share=_share(path, header),
        started=_started(path, header),
        duration=duration,
        size=_size(path) + _size(keys),
        guests=tuple(guests),
        input_recorded=keys.is_file(),
        width=header.width,
        height=header.height,
    )


def scan(directory: Path) -> Listing:
    """Every recording in ``directory``, newest first, and the ``.cast`` files skipped."""
    found: list[Recording] = []
    skipped: list[Skipped] = []
    try:
        candidates = sorted(directory.glob(f"*{cast.SUFFIX}"))
    except OSError as exc:
        raise PairtuiError(f"{directory}: {exc.strerror or exc}") from None
    for path in candidates:
        if not path.is_file():
            skipped.append(Skipped(path, "not a file"))
            continue
        try:
            found.append(describe(path))
        except PairtuiError as exc:
            skipped.append(Skipped(path, str(exc).removeprefix(f"{path}: ")))
        except OSError as exc:  # removed or unreadable while we looked
            skipped.append(Skipped(path, exc.strerror or str(exc)))
    found.sort(key=lambda r: (r.started, r.path.name), reverse=True)
    return Listing(tuple(found), tuple(skipped))


def list_recordings(directory: Path) -> list[Recording]:
    """The recordings in ``directory``, newest first (files that are not are left out;
    :func:`scan` says which and why)."""
    return list(scan(directory).recordings)


def resolve(name_or_path: str, directory: Path | None = None) -> Path:
    """The cast file a command line names: a path to a file; else, in the recordings
    directory, a file name, the name without ``.cast``, or the start of one name
    (``demo-20261206`` when only one recording starts so).

    Raises:
        PairtuiError: nothing, or more than one recording, answers to it.
    """
    given = Path(name_or_path).expanduser()
    if given.is_file():
        return given.absolute()
    if not name_or_path or "/" in name_or_path:
        raise PairtuiError(f"no recording {name_or_path!r}: no such file")
    directory = paths.recordings_dir() if directory is None else directory
    for name in (name_or_path, name_or_path + cast.SUFFIX):
        if (directory / name).is_file():
            return directory / name
    stem = name_or_path.removesuffix(cast.SUFFIX)
    matches = sorted(p for p in directory.glob(f"*{cast.SUFFIX}") if p.name.startswith(stem))
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = ", ".join(p.name.removesuffix(cast.SUFFIX) for p in matches[:3])
        more = f" and {len(matches) - 3} more" if len(matches) > 3 else ""
        raise PairtuiError(f"{name_or_path!r} names {len(matches)} recordings ({names}{more}); "
                           "give one whole name")  # fmt: skip
    raise PairtuiError(f"no recording {name_or_path!r} in {directory} "
                       "(`pairtui recordings` lists them)")  # fmt: skip


def _share(path: Path, header: cast.Header) -> str:
    named = cast.share_of(path)
    if named:
        return named[0]
    return header.title.removeprefix("pairtui: ") or path.name.removesuffix(cast.SUFFIX)


def _started(path: Path, header: cast.Header) -> datetime:
    """The header's time; else the one in the file name; else when the file changed."""
    if header.timestamp > 0:
        with contextlib.suppress(ValueError, OverflowError, OSError):  # out of range
            return datetime.fromtimestamp(header.timestamp, UTC)
    named = cast.share_of(path)
    if named:
        with contextlib.suppress(ValueError):
            return datetime.strptime(named[1], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
