"""The host layer: every host action writes its file, then tells the front end's
``changed`` exactly once (and not at all when it fails), with a real tmux for shares."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support import TmuxHost

from pairtui.authorized_keys import GuestKey, parse_public_keys
from pairtui.errors import PairtuiError
from pairtui.host import Host
from pairtui.registry import Mode, Registry
from pairtui.shares import ShareStore
from pairtui.tmux import Tmux
from pairtui.tunnels import Tunnel, TunnelStore


class Told:
    """A front end's ``changed``, counting what the engine would have been told, and
    checking that the file was already written when it was."""

    def __init__(self, written: Callable[[], bool] = lambda: True) -> None:
        self.times = 0
        self._written = written

    def __call__(self) -> None:
        assert self._written(), "told before the file was written"
        self.times += 1


def _key(keys: Callable[[str], Path], name: str) -> list[GuestKey]:
    return list(parse_public_keys(keys(name).with_name(f"{name}.pub").read_text()))


def test_each_guest_action_writes_then_tells_once(keys: Callable[[str], Path]) -> None:
    told = Told(lambda: Registry().path.exists())
    host = Host(told)
    host.add_guest("alice", _key(keys, "alice"), mode=Mode.VIEW)
    assert told.times == 1 and host.guest("alice").mode is Mode.VIEW
    host.update_guest("alice", mode=Mode.PAIR)
    assert told.times == 2 and Registry().get("alice").mode is Mode.PAIR
    host.remove_guest("alice")
    assert told.times == 3 and "alice" not in host.guests()


def test_a_failed_action_tells_nobody(keys: Callable[[str], Path]) -> None:
    told = Told()
    host = Host(told)
    with pytest.raises(PairtuiError):
        host.update_guest("nobody", mode=Mode.PAIR)
    with pytest.raises(PairtuiError):
        host.remove_guest("nobody")
    with pytest.raises(PairtuiError):
        host.unshare("nothing")
    assert told.times == 0


def test_share_actions_tell_and_the_newest_share_is_the_default(tmux_host: TmuxHost) -> None:
    told = Told(lambda: ShareStore().path.exists())
    host = Host(told)
    assert host.default_share() is None
    first = host.share(Tmux(tmux_host.socket), session="host", name="first")
    assert told.times == 1 and host.share_live(first)
    host.rename_share("first", "demo")
    assert told.times == 2 and [s.name for s in host.share_list()] == ["demo"]
    assert host.default_share() == host.share_named("demo")
    host.unshare("demo")
    assert told.times == 3 and host.share_list() == []


def test_renaming_a_share_moves_the_guests_invited_to_it(
    tmux_host: TmuxHost, keys: Callable[[str], Path]
) -> None:
    host = Host()
    host.share(Tmux(tmux_host.socket), session="host", name="old")
    host.add_guest("alice", _key(keys, "alice"), share="old")
    host.rename_share("old", "new")
    assert host.guest("alice").share == "new"


def test_tunnel_files_change_without_telling_the_engine_to_reconcile() -> None:
    """Connected guests do not depend on tunnels.json; the engine brings tunnels up."""
    told = Told()
    host = Host(told)
    host.add_tunnel(Tunnel("vps", "me", "relay.example.org", 22, 2222, "127.0.0.1", None))
    host.set_tunnel_enabled("vps", False)
    assert [t.enabled for t in TunnelStore().load()] == [False]
    host.remove_tunnel("vps")
    assert host.tunnels() == [] and told.times == 0
