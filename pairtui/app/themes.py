"""Theme files: one TOML file per theme, bundled and from the user's config dir.

A file holds the fields of :class:`textual.theme.Theme` (``name``, ``primary``,
``dark``, ...) plus an optional ``[variables]`` table, where pairtui's own colours
(``pairtui-view``, ``pairtui-pair``, ``pairtui-ssh``) and Textual's variables go.
Loading never raises: a file that does not parse or validate is reported with the
reason and skipped. User themes replace bundled ones of the same name.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from textual.color import Color, ColorParseError
from textual.css.stylesheet import Stylesheet, StylesheetParseError
from textual.theme import Theme

THEMES_DIRNAME = "themes"

_COLOURS = (
    "primary",
    "secondary",
    "warning",
    "error",
    "success",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
_FLOATS = ("luminosity_spread", "text_alpha")
_BOOLS = ("dark", "ansi")
_ALLOWED = {f.name for f in fields(Theme)}


class ThemeFileError(Exception):
    """Why one theme file cannot be used."""


@dataclass(frozen=True)
class ThemeProblem:
    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class LoadedThemes:
    """What loaded (by name, in load order), where it came from, and what failed."""

    themes: dict[str, Theme] = field(default_factory=dict)
    sources: dict[str, Path] = field(default_factory=dict)
    problems: list[ThemeProblem] = field(default_factory=list)


def bundled_dir(package_dir: Path | None = None) -> Path | None:
    """The bundled themes: ``pairtui/themes`` in a wheel, ``themes/`` in a checkout."""
    package = package_dir or Path(__file__).resolve().parent.parent
    for candidate in (package / THEMES_DIRNAME, package.parent / THEMES_DIRNAME):
        if candidate.is_dir() and any(candidate.glob("*.toml")):
            return candidate
    return None


def load_theme_file(path: Path) -> Theme:
    """One validated theme; the name defaults to the file's stem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ThemeFileError(f"cannot read it ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ThemeFileError(f"not valid TOML ({exc})") from None
    unknown = sorted(set(raw) - _ALLOWED)
    if unknown:
        raise ThemeFileError(f"unknown key {unknown[0]!r} (known: {', '.join(sorted(_ALLOWED))})")
    name = raw.get("name", path.stem)
    if not isinstance(name, str) or not name.strip():
        raise ThemeFileError("name must be a non-empty string")
    if "primary" not in raw:
        raise ThemeFileError("primary is required")
    values: dict[str, object] = {"name": name.strip()}
    for key in _COLOURS:
        if key in raw:
            values[key] = _colour(key, raw[key])
    for key in _BOOLS:
        if key in raw:
            if not isinstance(raw[key], bool):
                raise ThemeFileError(f"{key} must be true or false, not {raw[key]!r}")
            values[key] = raw[key]
    for key in _FLOATS:
        if key in raw:
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ThemeFileError(f"{key} must be a number, not {value!r}")
            values[key] = float(value)
    variables = raw.get("variables", {})
    if not isinstance(variables, dict):
        raise ThemeFileError("variables must be a table")
    for key, value in variables.items():
        if not isinstance(value, str):
            raise ThemeFileError(f"variables.{key} must be a string, not {value!r}")
        _check_variable(key, value)
    values["variables"] = dict(variables)
    theme = Theme(**values)  # type: ignore[arg-type]
    try:
        theme.to_color_system().generate()
    except Exception as exc:  # noqa: BLE001 - whatever Textual rejects, the file is at fault
        raise ThemeFileError(f"Textual cannot use it ({exc})") from None
    return theme


def _colour(key: str, value: object) -> str:
    if not isinstance(value, str):
        raise ThemeFileError(f"{key} must be a colour string, not {value!r}")
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeFileError(f"{key}: {value!r} is not a colour (try '#RRGGBB')") from None
    return value


def _check_variable(key: str, value: str) -> None:
    """Parse the value as Textual would, so a bad one is caught here, not mid-repaint."""
    prop = "text-style" if key.endswith("style") else "color"
    sheet = Stylesheet(variables={"v": value})
    sheet.add_source(f"Widget {{ {prop}: $v; }}")
    try:
        sheet.parse()
    except StylesheetParseError:
        what = "a text style" if prop == "text-style" else "a colour"
        raise ThemeFileError(f"variables.{key}: {value!r} is not {what}") from None


def load_dir(directory: Path | None, into: LoadedThemes) -> None:
    """Load every ``*.toml`` in ``directory`` (sorted, so the outcome is stable)."""
    if directory is None or not directory.is_dir():
        return
    for path in sorted(directory.glob("*.toml")):
        try:
            theme = load_theme_file(path)
        except ThemeFileError as exc:
            into.problems.append(ThemeProblem(path, str(exc)))
            continue
        into.themes[theme.name] = theme
        into.sources[theme.name] = path


def load_themes(bundled: Path | None, user: Path | None) -> LoadedThemes:
    """Bundled themes, then user themes over them by name."""
    loaded = LoadedThemes()
    load_dir(bundled, loaded)
    load_dir(user, loaded)
    return loaded
