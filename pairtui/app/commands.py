"""The command palette: every action that has a key is also a command by name, and
every theme is found by its name."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Protocol, runtime_checkable

from textual.command import DiscoveryHit, Hit, Hits, Provider

from pairtui.app.screens.main import Command, MainScreen
from pairtui.app.screens.recording_player import RecordingPlayerScreen


@runtime_checkable
class HasCommands(Protocol):
    """What the palette asks of the app (the app module registers this provider, so
    this module cannot import the app)."""

    def commands(self) -> Iterable[Command]: ...


class DashboardCommands(Provider):
    """The app's bindings everywhere, the dashboard's or the recording player's when it
    is the screen below."""

    def _commands(self) -> list[Command]:
        app = self.app
        commands = list(app.commands()) if isinstance(app, HasCommands) else []
        if isinstance(self.screen, MainScreen):
            commands += self.screen.commands()
        elif isinstance(self.screen, RecordingPlayerScreen):
            commands += [Command(*entry) for entry in self.screen.palette()]
        return commands

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(command.title, command.run, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(score, matcher.highlight(command.title), command.run, help=command.help)


class ThemeCommands(Provider):
    """``Theme: NAME`` for every theme whose name matches what is typed, so a theme is
    found by name as any action is (choosing one saves it, as the theme picker does).

    Only on a search: listed up front, the themes would bury the dashboard's actions.
    """

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        app = self.app
        for name in sorted(app.available_themes):
            title = f"Theme: {name}"
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(title),
                    partial(setattr, app, "theme", name),
                    help="Switch to this theme; it is saved in the config file",
                )
