"""The host's tmux sessions: which are shared, under which name, how to join, and
which are being recorded (REC: consent is visible to the host as to the guests)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual.content import Content
from textual.message import Message

from pairtui.app import fmt
from pairtui.app.backend import HostState
from pairtui.app.widgets.table import RecordTable
from pairtui.printable import printable

if TYPE_CHECKING:
    from pairtui.events import RecordingInfo
    from pairtui.shares import Share


@dataclass(frozen=True)
class ShareRow:
    """A share, or a host session nobody shares yet (``share is None``)."""

    session: str  # the host session ("" for a window share whose window is gone)
    what: str  # "session work", "window work:2 (vim)"
    share: Share | None = None
    live: bool = False
    default: bool = False
    guests: int = 0  # connected clients
    recording: RecordingInfo | None = None  # going on now

    @property
    def key(self) -> str:
        return f"share:{self.share.name}" if self.share else f"session:{self.session}"


def share_rows(
    state: HostState,
    connected: dict[str, int],
    recordings: Mapping[str, RecordingInfo] | None = None,
) -> list[ShareRow]:
    """Shares first (oldest first, as guests' default is the newest), then unshared sessions."""
    default = state.default
    recorded = recordings or {}
    rows = [
        ShareRow(
            *state.shows(s),
            share=s,
            live=s.name in state.live,
            default=default is not None and s.name == default.name,
            guests=connected.get(s.name, 0),
            recording=recorded.get(s.name),
        )
        for s in state.shares
    ]
    shared = {s.target for s in state.shares if s.kind == "session"}
    rows += [ShareRow(n, f"session {n}") for n in state.sessions if n not in shared]
    return rows


class SharesTable(RecordTable[ShareRow]):
    """Shares and shareable sessions of the host's tmux server."""

    COLUMNS = [
        ("name", "Share"),
        ("what", "Shares"),
        ("status", "Status"),
        ("guests", "Guests"),
    ]

    @dataclass
    class ShareHighlighted(Message):
        """The cursor moved to another row (``None``: nothing to show)."""

        table: SharesTable
        row: ShareRow | None

        @property
        def control(self) -> SharesTable:
            return self.table

    def key_of(self, record: ShareRow) -> str:
        return record.key

    def cells(self, record: ShareRow) -> dict[str, Text]:
        share = record.share
        if share is None:
            return {
                "name": Text("—", style=self.colour("text-muted")),
                "what": Text(printable(record.what)),
                "status": Text("not shared", style=self.colour("text-muted")),
                "guests": Text(""),
            }
        if not record.live:
            status = Text("gone", style=self.colour("text-error"))
        elif record.default:
            status = Text("shared · default", style=self.colour("text-success"))
        else:
            status = Text("shared", style=self.colour("text-success"))
        if record.recording is not None:
            status.append(" · ").append("REC", style=f"bold {self.colour('text-error')}")
        return {
            "name": Text(share.name, style="bold"),
            "what": Text(printable(record.what)),
            "status": status,
            "guests": Text(str(record.guests) if record.guests else "·", justify="right"),
        }

    def highlighted_message(self, record: ShareRow | None) -> Message:
        return self.ShareHighlighted(self, record)


def share_detail(
    row: ShareRow,
    strings: list[str],
    fingerprint: str,
    relays: list[tuple[str, str]] | None = None,
    now: float = 0.0,  # for how long it has been recorded
) -> Content:
    """How guests join this share, in full (directly and through each relay tunnel),
    with the host key they should see, and whether it is recorded (and the key that
    starts or stops that, which the footer has no room for)."""
    if row.share is None:
        return Content.from_markup(
            "Session [b]$session[/b] is not shared. Press [b]s[/b] to share it.",
            session=printable(row.session),
        )
    lines = [
        Content.from_markup(
            "[b]$name[/b] shares $what$gone",
            name=row.share.name,
            what=printable(row.what),
            gone="" if row.live else " · its tmux session is gone: unshare it",
        )
    ]
    lines += [
        Content.from_markup("[$text-muted]join[/] [$pairtui-ssh]$cmd[/]", cmd=cmd)
        for cmd in strings
    ]
    lines += [
        Content.from_markup(
            "[$text-muted]relay[/] [$pairtui-ssh]$cmd[/] [$text-muted]$note[/]", cmd=cmd, note=note
        )
        for cmd, note in relays or []
    ]
    if fingerprint:
        lines.append(Content.from_markup("[$text-muted]host key[/] $fp", fp=fingerprint))
    if row.live or row.recording is not None:
        lines += recording_lines(row.recording, now)
    return Content("\n").join(lines)


def recording_lines(rec: RecordingInfo | None, now: float) -> list[Content]:
    """``REC 12m · screen only · R stops`` and the file, or how to start one."""
    if rec is None:
        return [Content.from_markup("[$text-muted]not recorded ·[/] [b]R[/b] records it")]
    what = "screen and pair guests' keys" if rec.input else "screen only"
    return [
        Content.from_markup(
            "[$text-error b]REC[/] $age · $what · [b]R[/b] stops",
            age=fmt.coarse(now - rec.started),
            what=what,
        ),
        Content.from_markup("[$text-muted]into[/] $path", path=printable(rec.path)),
    ]
