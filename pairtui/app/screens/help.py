"""Every key, what it does, and the id to remap it with in the config file."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static


def binding_rows(
    bindings: Iterable[BindingType], keys_for: Callable[[Binding], str]
) -> list[tuple[str, Binding]]:
    return [(keys_for(b), b) for b in bindings if isinstance(b, Binding) and b.id and not b.system]


class HelpScreen(Screen[None]):
    """Grouped like the tabs; shows the keys in effect after the user's keymap."""

    BINDINGS = [
        Binding(
            "escape,question_mark,q",
            "app.pop_screen",
            "Back",
            id="help-close",
            tooltip="Back to the dashboard",
        ),
    ]

    def __init__(
        self,
        groups: list[tuple[str, list[tuple[str, Binding]]]],
        config_path: str,
    ) -> None:
        super().__init__()
        self.groups = groups
        self.config_path = config_path

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(
                Content.from_markup(
                    "[b]pairtui[/b] shares your tmux with guests over SSH. "
                    "Mouse works everywhere; [b]ctrl+p[/b] finds any action by name."
                ),
                classes="help-intro",
            )
            for title, rows in self.groups:
                yield Static(title, classes="help-group", markup=False)
                # A grid: the explanations wrap in their own column on a narrow terminal.
                with Grid(classes="help-keys"):
                    for keys, b in rows:
                        yield Static(Content.styled(keys, "bold $accent"), classes="help-key")
                        yield Static(Content.styled(b.description, "bold"))
                        yield Static(Content.styled(b.id or "", "italic"))
                        yield Static(Content.styled(b.tooltip, "$text-muted"))
            yield Static(
                Content.from_markup(
                    "Remap a key in [b]$path[/b], by its id:\n  $table\n  $example",
                    path=self.config_path,
                    table="[keymap]",
                    example='client-kick = "K"',
                ),
                classes="help-outro",
            )
        yield Footer()
