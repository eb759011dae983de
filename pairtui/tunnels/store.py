"""``tunnels.json``: the host's tunnels, written atomically under a lock."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from pairtui import paths
from pairtui.errors import PairtuiError
from pairtui.jsonlist import JsonList
from pairtui.tunnels.model import Tunnel, validate


class TunnelStore:
    """``tunnels.json``: a JSON list of tunnels, rewritten atomically under its lock."""

    def __init__(self, path: Path | None = None) -> None:
        self._file = JsonList(path or paths.tunnels_file(), "tunnels", Tunnel.from_json,
                              Tunnel.to_json)  # fmt: skip
        self.path = self._file.path

    def load(self) -> list[Tunnel]:
        return self._file.load()

    def get(self, name: str) -> Tunnel:
        for tunnel in self.load():
            if tunnel.name == name:
                return tunnel
        raise PairtuiError(f"no tunnel named {name!r} (see `pairtui tunnel list`)")

    def add(self, tunnel: Tunnel) -> Tunnel:
        validate(tunnel)
        with self._file.edit() as tunnels:
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
            tunnels.append(tunnel)
        return tunnel

    def remove(self, name: str) -> Tunnel:
        with self._file.edit() as tunnels:
            found = [t for t in tunnels if t.name == name]
            if not found:
                raise PairtuiError(f"no tunnel named {name!r} (see `pairtui tunnel list`)")
            tunnels[:] = [t for t in tunnels if t.name != name]
        return found[0]

    def set_enabled(self, name: str, enabled: bool) -> Tunnel:
        with self._file.edit() as tunnels:
            for i, t in enumerate(tunnels):
                if t.name == name:
                    tunnels[i] = replace(t, enabled=enabled)
                    return tunnels[i]
        raise PairtuiError(f"no tunnel named {name!r} (see `pairtui tunnel list`)")
