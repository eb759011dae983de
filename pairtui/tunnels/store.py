"""``tunnels.json``: the host's tunnels, written atomically under a lock."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from pairtui import paths
from pairtui.errors import PairtuiError
from pairtui.fileutil import atomic_write, locked, read_text
from pairtui.tunnels.model import Tunnel, validate


class TunnelStore:
    """``tunnels.json``: a JSON list of tunnels, rewritten atomically under its lock."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.tunnels_file()

    def load(self) -> list[Tunnel]:
        text = read_text(self.path)
        if not text.strip():
            return []
        try:
            data = json.loads(text)
            if not isinstance(data, list):
                raise TypeError("not a list")
            return [Tunnel.from_json(row) for row in data]
        except (ValueError, TypeError, KeyError) as exc:
            raise PairtuiError(f"{self.path}: not a valid tunnels file ({exc})") from None

    def get(self, name: str) -> Tunnel:
        for tunnel in self.load():
            if tunnel.name == name:
                return tunnel
        raise PairtuiError(f"no tunnel named {name!r} (see `pairtui tunnel list`)")

    def _save(self, tunnels: list[Tunnel]) -> None:
        data = json.dumps([t.to_json() for t in tunnels], indent=2) + "\n"
        atomic_write(self.path, data)

    def add(self, tunnel: Tunnel) -> Tunnel:
        validate(tunnel)
        with locked(self.path):
            tunnels = self.load()
            if any(t.name == tunnel.name for t in tunnels):
                raise PairtuiError(
                    f"a tunnel named {tunnel.name!r} exists already "
                    f"(`pairtui tunnel remove {tunnel.name}` first)"
                )
            same = [
                t.name
                for t in tunnels
                if (t.host, t.port, t.remote_port) == (tunnel.host, tunnel.port, tunnel.remote_port)
            ]
            if same:
                raise PairtuiError(
                    f"tunnel {same[0]!r} already forwards port {tunnel.remote_port} on "
                    f"{tunnel.host}; choose another --remote-port"
                )
            self._save([*tunnels, tunnel])
        return tunnel

    def remove(self, name: str) -> Tunnel:
        with locked(self.path):
            tunnels = self.load()
            found = [t for t in tunnels if t.name == name]
            if not found:
                raise PairtuiError(f"no tunnel named {name!r} (see `pairtui tunnel list`)")
            self._save([t for t in tunnels if t.name != name])
        return found[0]

    def set_enabled(self, name: str, enabled: bool) -> Tunnel:
        with locked(self.path):
            tunnels = self.load()
            for i, t in enumerate(tunnels):
                if t.name == name:
                    tunnels[i] = replace(t, enabled=enabled)
                    if t.enabled != enabled:
                        self._save(tunnels)
                    return tunnels[i]
        raise PairtuiError(f"no tunnel named {name!r} (see `pairtui tunnel list`)")
