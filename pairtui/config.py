"""The user's config file (TOML): defaults for the server and the forges keys come from."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

from pairtui import paths
from pairtui.errors import PairtuiError
from pairtui.ssh import DEFAULT_LISTEN, DEFAULT_PORT


@dataclass
class Config:
    listen: str = DEFAULT_LISTEN
    port: int = DEFAULT_PORT
    default_mode: str = "view"
    tmux_socket: str | None = None
    forges: dict[str, str] = field(
        default_factory=lambda: {"github": "https://github.com", "gitlab": "https://gitlab.com"}
    )


def load(path: Path | None = None) -> Config:
    """Read the config; a bad value is an error that names its key."""
    path = path or paths.config_file()
    cfg = Config()
    try:
        raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return cfg
    except tomllib.TOMLDecodeError as exc:
        raise PairtuiError(f"{path}: not valid TOML ({exc})") from None
    server = raw.get("server", {})
    _expect(path, "server", server, dict)
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
            raise PairtuiError(f"{path}: server.default_mode must be 'view' or 'pair'")
        cfg.default_mode = mode
    if "tmux_socket" in server:
        cfg.tmux_socket = _expect(path, "server.tmux_socket", server["tmux_socket"], str)
    forges = raw.get("forges", {})
    _expect(path, "forges", forges, dict)
    for name, url in forges.items():
        cfg.forges[name] = _expect(path, f"forges.{name}", url, str).rstrip("/")
    return cfg


def _expect(path: Path, key: str, value: object, kind: type[T]) -> T:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise PairtuiError(f"{path}: {key} must be a {kind.__name__}, not {value!r}")
    return value
