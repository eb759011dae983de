"""The ``pairtui`` dashboard: the engine in-process (or attached to ``pairtui serve``), live."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.dom import DOMNode
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Input

from pairtui import config as config_mod
from pairtui import paths
from pairtui.app import themes
from pairtui.app.backend import ServerState, Services, load_services
from pairtui.app.commands import DashboardCommands, ThemeCommands
from pairtui.app.dialogs import (
    AddGuestDialog,
    ConfirmDialog,
    DoorDialog,
    EditGuestDialog,
    InvitationMadeDialog,
    InviteDialog,
    KnockDialog,
    PromptDialog,
    RecordDialog,
    ShareDialog,
    TunnelDialog,
)
from pairtui.app.screens.help import HelpScreen, binding_rows
from pairtui.app.screens.main import Command, MainScreen
from pairtui.app.screens.recording_player import RecordingPlayerScreen
from pairtui.config import Config
from pairtui.errors import PairtuiError
from pairtui.printable import printable

FALLBACK_THEME = "textual-dark"
_KEEP = object()


class PairtuiApp(App[None], inherit_bindings=False):
    """A live view of who is in, and the host's controls over guests and shares.

    The app paints first and builds its services in a worker (the core pulls in
    asyncssh), then starts the engine and follows its events. Closing the app stops an
    in-process engine; an attached ``pairtui serve`` keeps running.
    """

    CSS_PATH = "pairtui.tcss"
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]
    """Every screen, dialogs too, gets ``-short`` below 30 rows (the CSS tightens forms)."""
    TITLE = "pairtui"
    COMMANDS = App.COMMANDS | {DashboardCommands, ThemeCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help", id="help",
                tooltip="Every key, what it does, and its id for the keymap"),
        Binding("q", "quit", "Quit", id="quit",
                tooltip="Quit (asks first while guests are connected to this dashboard)"),
        Binding("ctrl+q", "quit", "Quit", id="quit-anywhere", show=False, priority=True,
                tooltip="Quit, even from a text field"),
        Binding("ctrl+p", "command_palette", "Commands", id="command-palette", show=False,
                priority=True, tooltip="Find any action or theme by name"),
        Binding("ctrl+t", "change_theme", "Theme", id="theme", show=False,
                tooltip="Pick a theme; the choice is saved in the config file"),
        Binding("ctrl+c", "help_quit", show=False, system=True, id="ctrl-c",
                tooltip="Says how to quit"),
    ]  # fmt: skip

    server: reactive[ServerState] = reactive(ServerState, init=False)

    def __init__(
        self,
        load: Callable[[], Services],
        *,
        config: Config | None = None,
        config_path: Path | None = None,
        clock: Callable[[], float] = time.time,
        bundled_themes: Path | object | None = _KEEP,
        user_themes: Path | object | None = _KEEP,
    ) -> None:
        super().__init__()
        self.load = load
        self.config = config or Config()
        self.config_path = config_path
        self.clock = clock
        self.bundled_themes = themes.bundled_dir() if bundled_themes is _KEEP else bundled_themes
        self.user_themes = config_mod.themes_dir() if user_themes is _KEEP else user_themes
        self.services: Services | None = None
        self.cursor_blink = self.config.cursor_blink
        self.main = MainScreen(
            clock,
            default_mode=self.config.default_mode,
            confirm_pair=self.config.confirm_pair,
        )
        self._theme_ready = False
        self._remote_watch: asyncio.Task[None] | None = None

    # --- start and stop ------------------------------------------------------------------

    def get_default_screen(self) -> Screen[None]:
        return self.main

    def on_mount(self) -> None:
        self._apply_themes()
        self._apply_keymap()
        # Paint first: building the services imports the heavy core.
        self.call_after_refresh(self.action_start_engine)

    def _apply_themes(self) -> None:
        loaded = themes.load_themes(
            self.bundled_themes if isinstance(self.bundled_themes, Path) else None,
            self.user_themes if isinstance(self.user_themes, Path) else None,
        )
        for theme in loaded.themes.values():
            self.register_theme(theme)
        for problem in loaded.problems:
            self.notify(
                problem.reason,
                title=f"Theme file skipped: {problem.path.name}",
                severity="warning",
                timeout=10,
            )
        wanted = self.config.theme
        if wanted not in self.available_themes:
            fallback = (
                config_mod.DEFAULT_THEME
                if config_mod.DEFAULT_THEME in self.available_themes
                else FALLBACK_THEME
            )
            self.notify(
                f"There is no theme {wanted!r}; using {fallback}.",
                title="Theme not found",
                severity="warning",
            )
            wanted = fallback
        self.theme = wanted
        self._theme_ready = True

    def watch_theme(self, theme: str) -> None:
        """Remember the host's choice (palette or ctrl+t) in the config file."""
        if not self._theme_ready or theme == self.config.theme:
            return
        try:
            config_mod.save_theme(theme, self.config_path)
        except (PairtuiError, OSError) as exc:
            self.notify(str(exc), title="Theme not saved", severity="warning")
            return
        self.config.theme = theme

    def get_theme_variable_defaults(self) -> dict[str, str]:
        """pairtui's own colours, for themes that do not set them."""
        t = self.current_theme
        return {
            "pairtui-view": t.primary,
            "pairtui-pair": t.warning or t.accent or t.primary,
            "pairtui-ssh": t.accent or t.primary,
        }

    def _apply_keymap(self) -> None:
        keymap = self.config.keymap
        known = {b.id for _, b in self.all_bindings() if b.id}
        unknown = sorted(set(keymap) - known)
        if unknown:
            self.notify(
                f"keymap: no binding {', '.join(map(repr, unknown))} (press ? for the ids)",
                title="Config",
                severity="warning",
            )
        self.set_keymap({k: v for k, v in keymap.items() if k in known})

    @work(exclusive=True, group="engine")
    async def action_start_engine(self) -> None:
        """Build the services (first time, or after the attached server went away) and start."""
        self.server = ServerState("starting")
        services = self.services
        if services is None or self.server.phase == "stopped" or services.attached:
            try:
                services = await asyncio.to_thread(self.load)
            except PairtuiError as exc:
                self._failed(str(exc))
                return
        self.services = services
        engine = services.engine
        try:
            await engine.start()
        except PairtuiError as exc:
            self._failed(str(exc))
            self.main.attach(services)  # guests and shares still work without a server
            return
        except Exception as exc:  # noqa: BLE001 - shown in the UI, never as a traceback
            self._failed(f"the server could not start: {type(exc).__name__}: {exc}")
            self.main.attach(services)
            return
        self.server = ServerState(
            "attached" if services.attached else "serving",
            listen=engine.listen,
            port=engine.port,
            fingerprint=engine.fingerprint,
            started=engine.started,
            pid=int(getattr(engine, "pid", 0)),
        )
        self.main.attach(services)
        if services.attached:
            self.notify(
                f"Attached to the running pairtui serve (pid {self.server.pid}). "
                "Quitting the dashboard leaves it and its guests running.",
                title="Attached",
            )
            self._remote_watch = asyncio.create_task(self._watch_remote())

    async def _watch_remote(self) -> None:
        from pairtui.control import RemoteEngine

        engine = self.services.engine if self.services else None
        if isinstance(engine, RemoteEngine):
            reason = await engine.wait_closed()
            self.server = ServerState("stopped", message=f"{reason}; press F5 to start one here")
            self.notify(reason, title="Server gone", severity="error", timeout=10)

    def _failed(self, message: str) -> None:
        self.server = ServerState("error", message=f"{message} (F5 retries)")
        self.notify(message, title="The server is not running", severity="error", timeout=10)

    def watch_server(self, server: ServerState) -> None:
        self.main.server = server

    async def on_unmount(self) -> None:
        if self._remote_watch is not None:
            self._remote_watch.cancel()
        if self.services is not None:
            await self.services.engine.stop()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every toast is plain text (``markup`` is ignored): messages quote guests' words
        (names, refusals, where a relay says a guest came from), which must neither run as
        markup nor reach the terminal as control characters."""
        super().notify(
            printable(message, multiline=True),
            title=printable(title),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    # --- quitting ---------------------------------------------------------------------------

    async def action_quit(self) -> None:
        services = self.services
        connected = len(services.engine.clients) if services and not services.attached else 0
        if not connected:
            self.exit()
            return
        body = Content.from_markup(
            "[b]$n[/b] connected to this dashboard's server; quitting disconnects "
            "them.\n\nRun [b]pairtui serve[/b] to keep a server up without the dashboard.",
            n=f"{connected} guest is" if connected == 1 else f"{connected} guests are",
        )
        self.push_screen(
            ConfirmDialog("Quit and disconnect everyone?", body, "Quit"),
            lambda yes: self.exit() if yes else None,
        )

    # --- help, keys and the palette ---------------------------------------------------------

    SCREENS_WITH_KEYS: ClassVar[list[tuple[str, type[DOMNode]]]] = [
        ("Everywhere", App),
        ("Dashboard", MainScreen),
        ("Help", HelpScreen),
        ("Recording player", RecordingPlayerScreen),
        ("Add guest", AddGuestDialog),
        ("Edit guest", EditGuestDialog),
        ("Invite", InviteDialog),
        ("Invitation made", InvitationMadeDialog),
        ("Knock", KnockDialog),
        ("Open the door", DoorDialog),
        ("Confirm", ConfirmDialog),
        ("Prompt", PromptDialog),
        ("Record", RecordDialog),
        ("Share", ShareDialog),
        ("Tunnels", TunnelDialog),
    ]

    def all_bindings(self) -> Iterator[tuple[str, Binding]]:
        """Every binding with an id, by where it applies (the dashboard's with its tabs')."""
        for title, cls in self.SCREENS_WITH_KEYS:
            if cls is App:
                bindings: Iterable[BindingType] = type(self).BINDINGS
            elif cls is MainScreen:
                bindings = MainScreen.key_bindings()
            else:
                bindings = cls.BINDINGS
            for binding in bindings:
                if isinstance(binding, Binding) and binding.id:
                    yield title, binding

    def keys_for(self, binding: Binding) -> str:
        """The keys in effect for a binding, after the user's keymap, as shown to people."""
        keys = self.config.keymap.get(binding.id or "", binding.key)
        shown = [self.get_key_display(Binding(k.strip(), "")) for k in keys.split(",")]
        return " ".join(shown)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        groups: dict[str, list[Binding]] = {}
        for title, binding in self.all_bindings():
            groups.setdefault(title, []).append(binding)
        path = self.config_path or paths.config_file()
        self.push_screen(
            HelpScreen(
                [(title, binding_rows(bs, self.keys_for)) for title, bs in groups.items()],
                str(path),
            )
        )

    def commands(self) -> Iterable[Command]:
        """The app's own bindings as palette commands."""
        for binding in self.BINDINGS:
            if not isinstance(binding, Binding) or binding.system:
                continue
            if binding.action == "command_palette" or binding.id == "quit-anywhere":
                continue
            yield Command(
                binding.description, binding.tooltip, partial(self.run_action, binding.action)
            )

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """``[ui] cursor_blink`` applies to every input, in every dialog."""
        if isinstance(event.widget, Input):
            event.widget.cursor_blink = self.cursor_blink

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        # Quit and Theme come from our bindings (quit must ask first; theme is saved).
        for command in super().get_system_commands(screen):
            if command.title not in {"Quit", "Theme"}:
                yield command


def run(
    *,
    listen: str | None = None,
    port: int | None = None,
    tmux_socket: str | None = None,
    config_path: Path | None = None,
) -> int:
    """Open the dashboard; raises :class:`PairtuiError` for a bad config file."""
    cfg = config_mod.load(config_path)
    app = PairtuiApp(
        partial(load_services, cfg, listen, port, tmux_socket),
        config=cfg,
        config_path=config_path,
    )
    app.run()
    return app.return_code or 0
