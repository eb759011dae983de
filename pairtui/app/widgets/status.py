"""The two lines at the top: the server's state, and what guests type to join."""

from __future__ import annotations

from textual.app import RenderResult
from textual.content import Content
from textual.reactive import reactive, var
from textual.widget import Widget

from pairtui.app import fmt
from pairtui.app.backend import ServerState
from pairtui.events import DoorState


class StatusBar(Widget):
    """Listening address, uptime, attached or not, errors in words, and the counts.

    What is shared is always in sight: the counts (live shares, while any the shares
    being recorded, connected clients, invited guests, and while it matters the open
    door and who waits at it) are the last part to go on a narrow terminal; the words
    around the address and then the uptime give way first.
    """

    state: reactive[ServerState] = reactive(ServerState, layout=False)
    now: var[float] = var(0.0)
    """The clock; it repaints only when the minute-grained uptime it shows changes."""
    uptime: reactive[str] = reactive("")
    counts: reactive[dict[str, int]] = reactive(dict)
    """How many clients are connected, guests invited, shares live and recorded, knocks
    waiting."""
    door: reactive[DoorState] = reactive(DoorState, layout=False)
    door_left: reactive[str] = reactive("")
    """How long the door stays open, as shown (minutes: it repaints once a minute)."""

    def watch_state(self, state: ServerState) -> None:
        self.set_class(state.phase == "error" or state.phase == "stopped", "-error")
        self.set_class(state.phase == "attached", "-attached")
        self.watch_now()

    def watch_now(self) -> None:
        self.uptime = fmt.coarse(self.now - self.state.started)
        self.door_left = door_left(self.door, self.now)

    def watch_door(self) -> None:
        self.door_left = door_left(self.door, self.now)

    def tally(self) -> str:
        c = self.counts
        live = c.get("shares", 0)
        shared = f"{fmt.plural(live, 'share')} live" if live else "nothing shared"
        parts = [shared]
        if c.get("recording"):
            parts.append(f"REC {c['recording']}")
        parts += [
            f"{c.get('clients', 0)} connected",
            fmt.plural(c.get("guests", 0), "guest"),
        ]
        if self.door_left:
            parts.append(f"door open {self.door_left}")
        if c.get("waiting"):
            parts.append(f"{c['waiting']} waiting")
        return " · ".join(parts)

    def render(self) -> RenderResult:
        s = self.state
        if s.phase == "starting":
            return Content.from_markup("[b]pairtui[/b] · starting the server…")
        width = self.size.width
        if s.phase in ("error", "stopped"):
            full = Content.from_markup("[b]pairtui[/b] · $m", m=s.message)
            if full.cell_length <= width:
                return full
            # Whole on the Clients tab and in the notification.
            short = "no server: F5 retries" if s.phase == "error" else "server gone: F5 starts one"
            return Content.from_markup("[b]pairtui[/b] · $m", m=short)
        addr = f"{s.listen}:{s.port}"
        pid = str(s.pid)
        if s.phase == "attached":
            where = [
                Content.from_markup(
                    "attached to [b]pairtui serve[/b] (pid $pid) on $addr", pid=pid, addr=addr
                ),
                Content.from_markup("attached (pid $pid) · $addr", pid=pid, addr=addr),
                Content.from_markup("attached (pid $pid)", pid=pid),
            ]
        else:
            where = [Content(f"serving on {addr}"), Content(addr)]
        head = Content.from_markup("[b]pairtui[/b]")
        up = Content(f"up {self.uptime}")
        tally = Content.from_markup("[b]$tally[/b]", tally=self.tally())
        dot = Content(" · ")
        candidates = [
            *(dot.join([head, w, up, tally]) for w in where),
            *(dot.join([head, w, tally]) for w in where),
            dot.join([head, tally]),
            tally,
        ]
        return next((c for c in candidates if c.cell_length <= width), candidates[-1])


def door_left(door: DoorState, now: float) -> str:
    """``10m`` just after opening it for ten minutes, ``<1m`` in its last minute, ""
    once closed: counted up, so it never says less than is left."""
    left = door.seconds_left(now)
    if left <= 0:
        return ""
    return "<1m" if left < 60 else fmt.coarse(left + 59)


class JoinBar(Widget):
    """The default share's ssh string in full, and the host key guests should check."""

    strings: reactive[tuple[str, ...]] = reactive(tuple, layout=True)
    fingerprint: reactive[str] = reactive("")
    hint: reactive[str] = reactive("starting…", layout=True)
    """Shown instead of a string when nobody can join yet."""

    def render(self) -> RenderResult:
        if self.strings:
            joins = Content("\n" + " " * 18).join(
                Content.from_markup("[$pairtui-ssh b]$cmd[/]", cmd=cmd) for cmd in self.strings
            )
            first = Content.from_markup("[$text-muted]Guests join with[/]  ").append(joins)
        else:
            first = Content.from_markup("[$text-muted]Guests join with[/]  $hint", hint=self.hint)
        second = Content.from_markup(
            "[$text-muted]Host key[/]          $fp", fp=self.fingerprint or "…"
        )
        return Content("\n").join([first, second])
