"""The user's config file (TOML): server defaults, forges, the dashboard's theme and keys.

Every key is optional; :data:`EXAMPLE` documents them all with their defaults. A bad
value is a :class:`~pairtui.errors.PairtuiError` that names the file and the key.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pairtui import paths
from pairtui.errors import PairtuiError
from pairtui.fileutil import atomic_write, locked, read_text
from pairtui.limits import Limits, RecordingLimits, Startups

T = TypeVar("T")

# The defaults live here, not in pairtui.ssh, so reading the config stays cheap.
DEFAULT_LISTEN = "127.0.0.1"
DEFAULT_PORT = 2222
DEFAULT_THEME = "pairtui-dark"

EXAMPLE = f"""\
# pairtui configuration. Every key is optional; the values shown are the defaults.

[server]
listen = "{DEFAULT_LISTEN}"     # address the SSH server binds ("0.0.0.0" for every address)
port = {DEFAULT_PORT}              # 0 picks a free port
default_mode = "view"     # mode of new guests: "view" (read-only) or "pair" (can type)
# tmux_socket = "work"    # the host's tmux server: a socket path, or a name as with `tmux -L`

[limits]                  # what one peer may cost the embedded server (as sshd's options)
max_startups = "{Limits().max_startups}"  # connections not logged in yet: START:RATE:FULL
login_grace_time = {Limits().login_grace_time}     # seconds to log in
max_auth_tries = {Limits().max_auth_tries}        # refused keys before a connection is closed
max_sessions = {Limits().max_sessions}         # terminals at once on one connection
knock_timeout = {Limits().knock_timeout}       # seconds a knock waits for the host (pairtui door)
max_knocks = {Limits().max_knocks}           # guests waiting at the door at once
max_knocks_per_peer = {Limits().max_knocks_per_peer}   # ... from one address or key, and a minute
wrong_tokens = {Limits().wrong_tokens}          # wrong invitation tokens per address and minute

[recording]               # pairtui record: a recording ends by itself past either cap
max_size_mb = {RecordingLimits().max_bytes // (1024 * 1024)}         # megabytes per recording
max_hours = {RecordingLimits().max_seconds // 3600}            # hours per recording

[forges]                  # for `--key NAME:USER`, `--github`, the dashboard's key field
github = "https://github.com"
gitlab = "https://gitlab.com"

[ui]
theme = "{DEFAULT_THEME}"  # a bundled theme, a file in <config dir>/themes/, or a Textual theme
cursor_blink = true
confirm_pair = true       # granting `pair` (typing) from the dashboard asks first

[keymap]                  # binding id = "keys" (comma-separated); ids are listed by `?`
# client-kick = "K"
# guest-add = "a,insert"
"""

_KNOWN = {
    "server": {"listen", "port", "default_mode", "tmux_socket"},
    "forges": None,  # any forge name
    "limits": {
        "max_startups",
        "login_grace_time",
        "max_auth_tries",
        "max_sessions",
        "knock_timeout",
        "max_knocks",
        "max_knocks_per_peer",
        "wrong_tokens",
    },
    "recording": {"max_size_mb", "max_hours"},
    "ui": {"theme", "cursor_blink", "confirm_pair"},
    "keymap": None,  # any binding id; the dashboard reports ids it does not know
}


@dataclass
class Config:
    listen: str = DEFAULT_LISTEN
    port: int = DEFAULT_PORT
    default_mode: str = "view"
    tmux_socket: str | None = None
    forges: dict[str, str] = field(
        default_factory=lambda: {"github": "https://github.com", "gitlab": "https://gitlab.com"}
    )
    theme: str = DEFAULT_THEME
    cursor_blink: bool = True
    confirm_pair: bool = True
    """Granting ``pair`` (typing into the host's panes) from the dashboard asks first."""
    keymap: dict[str, str] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    recording: RecordingLimits = field(default_factory=RecordingLimits)


def load(path: Path | None = None) -> Config:
    """Read the config; a bad value is an error that names its key."""
    path = path or paths.config_file()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config()
    except (OSError, UnicodeDecodeError) as exc:
        raise PairtuiError(f"{path}: cannot read the config file ({exc})") from None
    return parse(text, path)


def parse(text: str, path: Path) -> Config:
    """Validate config text; ``path`` only names the file in messages."""
    cfg = Config()
    try:
        raw: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PairtuiError(f"{path}: not valid TOML ({exc})") from None
    for name, value in raw.items():
        if name not in _KNOWN:
            known = ", ".join(f"[{t}]" for t in _KNOWN)
            hint = _home_of(name) or f"the tables are {known}"
            raise PairtuiError(f"{path}: unknown key {name!r} ({hint})")
        _expect(path, name, value, dict)
        allowed = _KNOWN[name]
        for key in value:
            if allowed is not None and key not in allowed:
                hint = _home_of(key) or f"known: {', '.join(sorted(allowed))}"
                raise PairtuiError(f"{path}: unknown key {name}.{key} ({hint})")

    server = raw.get("server", {})
    if "listen" in server:
        cfg.listen = _expect(path, "server.listen", server["listen"], str)
    if "port" in server:
        port = _expect(path, "server.port", server["port"], int)
        if not 0 <= port <= 65535:
            raise PairtuiError(f"{path}: server.port must be 0-65535, not {port}")
        cfg.port = port
    if "default_mode" in server:
        mode = _expect(path, "server.default_mode", server["default_mode"], str)
        if mode not in {"view", "pair"}:
            raise PairtuiError(
                f"{path}: server.default_mode must be 'view' or 'pair', not {mode!r}"
            )
        cfg.default_mode = mode
    if "tmux_socket" in server:
        cfg.tmux_socket = _expect(path, "server.tmux_socket", server["tmux_socket"], str)

    cfg.limits = _limits(path, raw.get("limits", {}))
    cfg.recording = _recording(path, raw.get("recording", {}))

    for name, url in raw.get("forges", {}).items():
        url = _expect(path, f"forges.{name}", url, str)
        if not re.match(r"^https?://[^\s/]+", url):
            raise PairtuiError(f"{path}: forges.{name} must be an http(s) URL, not {url!r}")
        cfg.forges[name] = url.rstrip("/")

    ui = raw.get("ui", {})
    if "theme" in ui:
        theme = _expect(path, "ui.theme", ui["theme"], str).strip()
        if not theme:
            raise PairtuiError(f"{path}: ui.theme must name a theme, not be empty")
        cfg.theme = theme
    if "cursor_blink" in ui:
        cfg.cursor_blink = _expect(path, "ui.cursor_blink", ui["cursor_blink"], bool)
    if "confirm_pair" in ui:
        cfg.confirm_pair = _expect(path, "ui.confirm_pair", ui["confirm_pair"], bool)

    for binding, keys in raw.get("keymap", {}).items():
        keys = _expect(path, f"keymap.{binding}", keys, str)
        if not keys.strip() or any(not k.strip() for k in keys.split(",")):
            raise PairtuiError(
                f"{path}: keymap.{binding} must list keys separated by commas, not {keys!r}"
            )
        cfg.keymap[binding] = keys
    return cfg


def _home_of(key: str) -> str:
    """``belongs in [server]`` for a key written in the wrong table (or outside any)."""
    homes = [table for table, keys in _KNOWN.items() if keys and key in keys]
    return f"{key} belongs in [{homes[0]}]" if homes else ""


def check_names(
    cfg: Config, path: Path, *, bindings: Collection[str], themes: Collection[str]
) -> list[str]:
    """What only the dashboard can tell about a valid file: a ``[keymap]`` id that is no
    binding, a ``[ui] theme`` that does not exist. Each problem names the file and the key.

    :func:`parse` lets these through so that one stale id or a theme file being written
    never stops the dashboard, which warns and goes on; ``pairtui config check`` is strict.
    """
    problems = []
    for binding in cfg.keymap:
        if binding not in bindings:
            hint = _home_of(binding) or "the dashboard's ? key lists the ids"
            problems.append(f"{path}: keymap.{binding} is not a binding id ({hint})")
    if cfg.theme not in themes:
        problems.append(f"{path}: ui.theme: there is no theme {cfg.theme!r} "
                        f"(themes: {', '.join(sorted(themes))})")  # fmt: skip
    return problems


def _limits(path: Path, table: dict[str, Any]) -> Limits:
    startups = Limits().max_startups
    if "max_startups" in table:
        value = table["max_startups"]
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else None
        text = text or _expect(path, "limits.max_startups", value, str)
        try:
            startups = Startups.parse(text)
        except PairtuiError as exc:
            raise PairtuiError(f"{path}: limits.{exc}") from None
    numbers: dict[str, int] = {}
    for key in ("login_grace_time", "max_auth_tries", "max_sessions", "knock_timeout",
                "max_knocks", "max_knocks_per_peer", "wrong_tokens"):  # fmt: skip
        if key in table:
            n = _expect(path, f"limits.{key}", table[key], int)
            if not 1 <= n <= 100_000:
                raise PairtuiError(f"{path}: limits.{key} must be 1-100000, not {n}")
            numbers[key] = n
    return Limits(max_startups=startups, **numbers)


def _recording(path: Path, table: dict[str, Any]) -> RecordingLimits:
    caps = RecordingLimits()
    size, hours = caps.max_bytes // (1024 * 1024), caps.max_seconds // 3600
    if "max_size_mb" in table:
        size = _expect(path, "recording.max_size_mb", table["max_size_mb"], int)
        if not 1 <= size <= 1_000_000:
            raise PairtuiError(f"{path}: recording.max_size_mb must be 1-1000000, not {size}")
    if "max_hours" in table:
        hours = _expect(path, "recording.max_hours", table["max_hours"], int)
        if not 1 <= hours <= 24 * 365:
            raise PairtuiError(f"{path}: recording.max_hours must be 1-8760, not {hours}")
    return RecordingLimits(size * 1024 * 1024, hours * 3600)


def _expect(path: Path, key: str, value: object, kind: type[T]) -> T:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise PairtuiError(f"{path}: {key} must be a {_TYPE_NAMES[kind]}, not {value!r}")
    return value


_TYPE_NAMES: dict[type, str] = {
    str: "string",
    int: "whole number",
    bool: "boolean (true or false)",
    dict: "table",
}


# --- writing ------------------------------------------------------------------------


def save_theme(theme: str, path: Path | None = None) -> None:
    """Persist ``[ui] theme``, keeping every other line and comment of the file."""
    set_value("ui", "theme", theme, path)


def set_value(table: str, key: str, value: str, path: Path | None = None) -> None:
    """Set one string value in the config file, atomically and under the file's lock.

    The file is edited as text so comments survive; the result is parsed again and
    must hold the new value, or nothing is written.
    """
    path = path or paths.config_file()
    with locked(path):
        text = read_text(path)
        new = _set_in_text(text, table, key, value)
        try:
            written = tomllib.loads(new).get(table, {}).get(key)
        except (tomllib.TOMLDecodeError, AttributeError):
            written = None
        if written != value:
            raise PairtuiError(
                f"{path}: cannot update {table}.{key} automatically; set it by hand "
                f"({table}.{key} = {json.dumps(value)})"
            )
        parse(new, path)
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o600
        atomic_write(path, new, mode=mode)


_HEADER_RE = re.compile(r"^\s*\[\s*([^\]\s]+)\s*\]\s*(#.*)?$")


def _set_in_text(text: str, table: str, key: str, value: str) -> str:
    line = f"{key} = {json.dumps(value)}"
    lines = text.splitlines()
    key_re = re.compile(rf"^\s*{re.escape(key)}\s*=")
    start = None
    for i, raw in enumerate(lines):
        m = _HEADER_RE.match(raw)
        if m and m[1] == table:
            start = i
            break
    if start is None:
        sep = "\n" if text and not text.endswith("\n") else ""
        blank = "\n" if text.strip() else ""
        return f"{text}{sep}{blank}[{table}]\n{line}\n"
    end = len(lines)
    for j in range(start + 1, len(lines)):
        if re.match(r"^\s*\[", lines[j]):
            end = j
            break
    for j in range(start + 1, end):
        if key_re.match(lines[j]):
            lines[j] = line
            return "\n".join(lines) + "\n"
    insert = end
    while insert > start + 1 and not lines[insert - 1].strip():
        insert -= 1
    lines.insert(insert, line)
    return "\n".join(lines) + "\n"


def themes_dir() -> Path:
    """Where user theme files live (``<config dir>/themes/*.toml``)."""
    return paths.config_dir() / "themes"
