"""The server's log: Python logging, one line per event, shaped for where it goes.

``pairtui serve`` says what happens (joins, leaves, kicks, mode changes, refusals,
errors) one line each, on standard error. The line's shape depends on what reads it:

- a terminal: a short local time and the line (colour only for the level word);
- a file (the background server's ``serve.log``): the full UTC time, as pairtui writes
  times everywhere, since the file is read long after;
- the journal (systemd points ``JOURNAL_STREAM`` at our standard error): no time, as
  journald stamps lines itself, and a ``<N>`` prefix it reads as the priority;
- a pipe (a supervisor, a script): the bare line; whoever reads it stamps it.

Every line goes through :func:`pairtui.printable.printable`: a guest's words (a key
offered, a share asked for, a TERM) reach no terminal raw, and a newline in one cannot
forge a second line.

The lines come from two places: the engine's events (:class:`EventLog` subscribes to
them: joins, leaves, kicks, mode changes) and the audit log's records (refusals,
errors, tunnels), which :mod:`pairtui.audit` also hands to the ``pairtui.audit`` logger.
Records the events already tell are not said twice (:data:`TOLD_BY_EVENTS`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import stat
import sys
import time
from typing import Literal, TextIO

from pairtui.clock import iso_utc
from pairtui.durations import duration
from pairtui.errors import PairtuiError
from pairtui.events import (
    RECORDING_STOPPED,
    ClientChanged,
    ClientInfo,
    ClientJoined,
    ClientLeft,
    DoorChanged,
    Event,
    RecordingChanged,
    where,
)
from pairtui.printable import printable

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
"""What ``--log-level`` takes; each shows its level and those above."""

SERVER = logging.getLogger("pairtui.server")
"""The server's own lines: start, stop, and what the engine reports through its ``log``."""
EVENTS = logging.getLogger("pairtui.events")
"""One line per join, leave, kick and mode change (:class:`EventLog`)."""
START = logging.getLogger("pairtui.start")
"""What is served and how guests join: shown whatever the level (see :func:`setup`)."""

TOLD_BY_EVENTS = frozenset({"join", "connect", "leave", "kick", "mode", "rename"})
"""Audit records the engine's events already tell (with the client as it was)."""

Target = Literal["tty", "file", "journal", "pipe"]

_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3}
_COLOUR = {logging.DEBUG: "\x1b[2m", logging.WARNING: "\x1b[33m", logging.ERROR: "\x1b[31m"}


def parse_level(text: str) -> int:
    """A ``--log-level`` value; one readable line when it is not one."""
    try:
        return LEVELS[text.lower()]
    except KeyError:
        raise PairtuiError(
            f"--log-level must be one of {', '.join(LEVELS)}, not {text!r}"
        ) from None


def target_of(stream: TextIO) -> Target:
    """Where ``stream`` goes. The journal is recognised as systemd documents it: the
    device and inode in ``JOURNAL_STREAM`` are the stream's own (a child that inherited
    the variable but writes elsewhere is not logging to the journal)."""
    try:
        fd = stream.fileno()
        st = os.fstat(fd)
    except (OSError, ValueError, AttributeError):
        return "pipe"
    if os.environ.get("JOURNAL_STREAM", "") == f"{st.st_dev}:{st.st_ino}":
        return "journal"
    if os.isatty(fd):
        return "tty"
    return "file" if stat.S_ISREG(st.st_mode) else "pipe"


class LineFormatter(logging.Formatter):
    """One line per record, escaped, in the shape :func:`target_of` chose."""

    def __init__(self, target: Target, colour: bool = False) -> None:
        super().__init__()
        self.target = target
        self.colour = colour and target == "tty"

    def format(self, record: logging.LogRecord) -> str:
        text = printable(self.message(record))
        if self.target == "journal":
            return f"<{_PRIORITY.get(record.levelno, 6)}>{text}"
        if record.levelno != logging.INFO:
            word = f"{record.levelname.lower()}:"
            if self.colour:
                word = f"{_COLOUR.get(record.levelno, '')}{word}\x1b[0m"
            text = f"{word} {text}"
        if self.target == "tty":
            return f"{time.strftime('%H:%M:%S', time.localtime(record.created))} {text}"
        if self.target == "file":
            return f"{iso_utc(record.created)} {text}"
        return text

    @staticmethod
    def message(record: logging.LogRecord) -> str:
        """The words: an audit record described, else the message; an exception adds
        its one-line summary (no traceback: one event, one line)."""
        event = getattr(record, "audit_event", None)
        fields = getattr(record, "audit_fields", None)
        if isinstance(event, str) and isinstance(fields, dict):
            text = describe_record(event, fields)
        else:
            text = record.getMessage().removeprefix("pairtui: ")
        if record.name.partition(".")[0] != "pairtui":  # asyncssh's notes, say
            text = f"{record.name.partition('.')[0]}: {text}"
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            text = f"{text} ({type(exc).__name__}: {exc})"
        return text


class LineHandler(logging.StreamHandler[TextIO]):
    """A stream handler that goes quiet when its stream is gone: a closed terminal
    (SIGHUP, EIO) must neither stop the shutdown nor print a "Logging error" traceback."""

    def handleError(self, record: logging.LogRecord) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError | ValueError):
            self.setStream(open(os.devnull, "w"))  # noqa: PTH123, SIM115 - for good
            return
        super().handleError(record)


class _NotTwice(logging.Filter):
    """Drops the audit records that :class:`EventLog` tells from the events."""

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "audit_event", None) not in TOLD_BY_EVENTS


_TOKEN = re.compile(r"inv-[A-Za-z0-9_-]+")


class _NoTokens(logging.Filter):
    """An invitation's token is a password: asyncssh names the user (``inv-TOKEN``) in
    its auth lines, and no line of the log may carry it."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if "inv-" in text:
            record.msg, record.args = _TOKEN.sub("inv-…", text), None
        return True


def setup(level: int, stream: TextIO | None = None) -> LineHandler:
    """Send pairtui's log (and asyncssh's warnings; its connection notes too at debug)
    to ``stream`` (standard error), one line per record; returns the handler.

    The start lines (:data:`START`: address, fingerprint, shares) show at every level:
    whatever the host asked to hear, it always sees what it shares.
    """
    stream = stream or sys.stderr
    target = target_of(stream)
    handler = LineHandler(stream)
    handler.setFormatter(LineFormatter(target, colour=not os.environ.get("NO_COLOR")))
    handler.addFilter(_NotTwice())
    handler.addFilter(_NoTokens())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, LineHandler)]:
        root.removeHandler(old)  # set up twice (tests): one line per record still
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("pairtui").setLevel(level)
    START.setLevel(logging.INFO)
    logging.getLogger("asyncssh").setLevel(
        logging.INFO if level <= logging.DEBUG else logging.WARNING
    )
    return handler


class EventLog:
    """Subscribes to the engine's events: one line per join, leave, kick and mode
    change (a share's rename too; a resize at debug). A client's record changes every
    half second while its guest types: only what the host cares about is said."""

    def __init__(self, logger: logging.Logger = EVENTS) -> None:
        self.logger = logger
        self._last: dict[str, ClientInfo] = {}  # what was last said of each client

    def __call__(self, event: Event) -> None:
        with contextlib.suppress(Exception):  # a log line never breaks the engine
            self._say(event)

    def _say(self, event: Event) -> None:
        if isinstance(event, ClientJoined):
            c = event.client
            self._last[c.id] = c
            self.logger.info(joined(c))
        elif isinstance(event, ClientLeft):
            self._last.pop(event.client.id, None)
            self.logger.info(left(event.client, event.reason, event.kicked))
        elif isinstance(event, ClientChanged):
            c = event.client
            before = self._last.get(c.id)
            if before is None:
                return
            self._last[c.id] = c
            if c.mode != before.mode:
                self.logger.info(f"{c.guest} is now in {c.mode} mode on share {c.share}"
                                 f" (client {c.id})")  # fmt: skip
            if c.share != before.share:
                self.logger.info(f"{c.guest} stays on share {before.share}, now named "
                                 f"{c.share} (client {c.id})")  # fmt: skip
            if (c.cols, c.rows) != (before.cols, before.rows):
                self.logger.debug(f"{c.guest} resized to {c.cols}x{c.rows} (client {c.id})")
        elif isinstance(event, DoorChanged):
            door = event.door
            if door.is_open():
                where = f" to share {door.share}" if door.share else ""
                self.logger.info(f"the door is open{where} for {duration(door.seconds_left())}: "
                                 "unregistered keys may knock")  # fmt: skip
            else:
                self.logger.info("the door closed by itself" if event.timed_out
                                 else "the door is closed")  # fmt: skip
        elif isinstance(event, RecordingChanged):
            r = event.recording
            if r.state == "recording":
                kept = "screen and keys" if r.input else "screen"
                self.logger.info(f"recording share {r.share} ({kept}) into {r.path}")
            else:
                level = logging.INFO if r.reason == RECORDING_STOPPED else logging.WARNING
                self.logger.log(level, f"recording of share {r.share} stopped: {r.reason} "
                                       f"({r.path})")  # fmt: skip


def joined(c: ClientInfo) -> str:
    if not c.terminal:
        return (f"{c.guest} logged in without a terminal from {c.origin} "
                f"(client {c.id}, key {c.fingerprint})")  # fmt: skip
    return (f"{c.guest} joined share {c.share} in {c.mode} mode from {c.origin} "
            f"(client {c.id}, key {c.fingerprint})")  # fmt: skip


def left(c: ClientInfo, reason: str, kicked: bool = False) -> str:
    stay = duration(time.time() - c.since)
    what = f"share {c.share}" if c.terminal else "(no terminal)"
    went = "was kicked from" if kicked else "left"
    return f"{c.guest} {went} {what} after {stay}: {reason} (client {c.id})"


def describe_record(event: str, fields: dict[str, object]) -> str:
    """An audit record in words (refusals, errors, tunnels; any other kind generically)."""
    f = dict(fields)
    f.pop("ts", None)
    reason = str(f.pop("reason", "") or "")
    if event == "refused":
        peer = where(str(f.pop("peer", "")), str(f.pop("via", "") or ""))
        guest = f.pop("guest", None)
        fp = f.pop("fingerprint", "")
        f.pop("count", None)  # the reason says it
        who = f"{guest} from {peer}" if guest else peer
        key = f" (key {fp})" if fp else ""
        return f"refused{' ' if who else ''}{who}{key}: {reason}{_rest(f)}"
    if event.startswith("tunnel-"):
        name = f.pop("tunnel", "")
        what = {"tunnel-up": "up", "tunnel-down": "down", "tunnel-failed": "failed",
                "tunnel-forward": "brings a connection", "tunnel-error": "error"}  # fmt: skip
        head = f"tunnel {name} {what.get(event, event[7:])}" if name else "tunnels"
        return f"{head}{': ' + reason if reason else ''}{_rest(f)}"
    if event == "error":
        guest, client = f.pop("guest", None), f.pop("client", None)
        who = f"{guest} (client {client}): " if guest and client else f"{guest}: " if guest else ""
        return f"{who}{reason}{_rest(f)}"
    return f"{event}{': ' + reason if reason else ''}{_rest(f)}"


def _rest(fields: dict[str, object]) -> str:
    """The fields not in the words yet: ``(share 'x', term 'y')``."""
    shown = [f"{k} {v!r}" if isinstance(v, str) else f"{k} {v}" for k, v in fields.items()]
    return f" ({', '.join(shown)})" if shown else ""
