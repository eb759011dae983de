"""Every key, what it does, and the id to remap it with in the config file."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
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
                keys_w = max(len(keys) for keys, _ in rows)
                what_w = max(len(b.description) for _, b in rows)
                id_w = max(len(b.id or "") for _, b in rows)
                lines = [
                    Content.from_markup(
                        "[b $accent]$keys[/]  [b]$what[/b]  [i]$id[/i]  [$text-muted]$why[/]",
                        keys=keys.ljust(keys_w),
                        what=b.description.ljust(what_w),
                        id=(b.id or "").ljust(id_w),
                        why=b.tooltip,
                    )
                    for keys, b in rows
                ]
                yield Static(Content("\n").join(lines), classes="help-keys")
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
