"""The two lines at the top: the server's state, and what guests type to join."""

from __future__ import annotations

from textual.app import RenderResult
from textual.content import Content
from textual.reactive import reactive, var
from textual.widget import Widget

from pairtui.app import fmt
from pairtui.app.backend import ServerState


class StatusBar(Widget):
    """Listening address, uptime, attached or not, and errors in words."""

    state: reactive[ServerState] = reactive(ServerState, layout=False)
    now: var[float] = var(0.0)
    """The clock; it repaints only when the minute-grained uptime it shows changes."""
    uptime: reactive[str] = reactive("")
    counts: reactive[dict[str, int]] = reactive(dict)
    """How many clients are connected, guests invited and shares live."""

    def watch_state(self, state: ServerState) -> None:
        self.set_class(state.phase == "error" or state.phase == "stopped", "-error")
        self.set_class(state.phase == "attached", "-attached")
        self.watch_now()

    def watch_now(self) -> None:
        self.uptime = fmt.coarse(self.now - self.state.started)

    def render(self) -> RenderResult:
        s = self.state
        if s.phase == "starting":
            return Content.from_markup("[b]pairtui[/b] · starting the server…")
        if s.phase in ("error", "stopped"):
            return Content.from_markup("[b]pairtui[/b] · $message", message=s.message)
        up = self.uptime
        c = self.counts
        tally = (
            f"{c.get('clients', 0)} connected · {fmt.plural(c.get('guests', 0), 'guest')} · "
            f"{fmt.plural(c.get('shares', 0), 'share')}"
        )
        if s.phase == "attached":
            return Content.from_markup(
                "[b]pairtui[/b] · attached to [b]pairtui serve[/b] (pid $pid) on $addr · "
                "up $up · $tally",
                pid=str(s.pid),
                addr=f"{s.listen}:{s.port}",
                up=up,
                tally=tally,
            )
        return Content.from_markup(
            "[b]pairtui[/b] · serving on $addr · up $up · $tally",
            addr=f"{s.listen}:{s.port}",
            up=up,
            tally=tally,
        )


class JoinBar(Widget):
    """The default share's ssh string in full, and the host key guests should check."""

    strings: reactive[tuple[str, ...]] = reactive(tuple, layout=True)
    fingerprint: reactive[str] = reactive("")
    hint: reactive[str] = reactive("starting…")
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
