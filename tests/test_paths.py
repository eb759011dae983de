"""Where pairtui keeps its files: PAIRTUI_*_DIR, else XDG, and private (0700) directories."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from support import keygen, pairtui

from pairtui import paths
from pairtui.ssh import fingerprint, load_or_create_host_key


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Fresh, not yet created locations for every variable paths.py reads."""
    where = {
        "PAIRTUI_CONFIG_DIR": tmp_path / "override" / "config",
        "PAIRTUI_STATE_DIR": tmp_path / "override" / "state",
        "XDG_CONFIG_HOME": tmp_path / "xdg" / "config",
        "XDG_STATE_HOME": tmp_path / "xdg" / "state",
    }
    for name, path in where.items():
        monkeypatch.setenv(name, str(path))
    return where


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_overrides_win_over_xdg(env: dict[str, Path]) -> None:
    assert paths.config_dir() == env["PAIRTUI_CONFIG_DIR"]
    assert paths.state_dir() == env["PAIRTUI_STATE_DIR"]
    assert mode(env["PAIRTUI_CONFIG_DIR"]) == 0o700
    assert mode(env["PAIRTUI_STATE_DIR"]) == 0o700
    assert not env["XDG_CONFIG_HOME"].exists()
    assert not env["XDG_STATE_HOME"].exists()


def test_xdg_is_honoured_without_overrides(
    env: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PAIRTUI_CONFIG_DIR")
    monkeypatch.setenv("PAIRTUI_STATE_DIR", "")  # empty counts as unset
    assert paths.config_dir() == env["XDG_CONFIG_HOME"] / "pairtui"
    assert paths.state_dir() == env["XDG_STATE_HOME"] / "pairtui"
    assert mode(env["XDG_CONFIG_HOME"] / "pairtui") == 0o700
    assert mode(env["XDG_STATE_HOME"] / "pairtui") == 0o700
    assert not env["PAIRTUI_CONFIG_DIR"].exists()


def test_tilde_in_an_override_is_the_home_dir(
    env: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PAIRTUI_CONFIG_DIR", "~/pt-config")
    assert paths.config_dir() == tmp_path / "home" / "pt-config"


@pytest.mark.parametrize("mask", [0o000, 0o002, 0o022, 0o077])
def test_dirs_are_private_whatever_the_umask(env: dict[str, Path], mask: int) -> None:
    old = os.umask(mask)
    try:
        assert mode(paths.config_dir()) == 0o700
        assert mode(paths.state_dir()) == 0o700
    finally:
        os.umask(old)


def test_every_file_lives_in_its_dir(env: dict[str, Path]) -> None:
    config, state = env["PAIRTUI_CONFIG_DIR"], env["PAIRTUI_STATE_DIR"]
    assert paths.registry_file() == config / "authorized_keys"
    assert paths.config_file() == config / "config.toml"
    for f in (paths.host_key_file(), paths.shares_file(), paths.audit_file(), paths.server_log()):
        assert f.parent == state


def test_cli_writes_the_registry_under_xdg(
    env: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PAIRTUI_CONFIG_DIR")
    key = keygen(tmp_path, "k")
    res = pairtui("guest", "add", "alice", "--key", f"{key}.pub")
    assert res.returncode == 0, res.stderr
    registry = env["XDG_CONFIG_HOME"] / "pairtui" / "authorized_keys"
    assert "pairtui:alice" in registry.read_text()
    assert mode(registry.parent) == 0o700
    assert mode(registry) == 0o600
    assert not env["PAIRTUI_CONFIG_DIR"].exists()


def test_processes_starting_at_once_share_one_host_key(env: dict[str, Path]) -> None:
    """A fresh machine, several pairtui processes at once: one key, the same for all."""
    code = (
        "from pairtui.ssh import fingerprint, load_or_create_host_key;"
        "print(fingerprint(load_or_create_host_key()))"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(8)
    ]
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, [err for _, err in results]
    printed = {out.strip() for out, _ in results}
    keyfile = paths.host_key_file()
    assert printed == {fingerprint(load_or_create_host_key())}
    assert mode(keyfile) == 0o600
    assert sorted(p.name for p in keyfile.parent.iterdir() if "host" in p.name) == [keyfile.name]


# --- the control socket ----------------------------------------------------------------


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private runtime dir, as logind makes one (short: socket paths are limited)."""
    path = Path(tempfile.mkdtemp(prefix="pt-run-", dir="/tmp"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(path))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_the_control_socket_is_in_the_runtime_dir(env: dict[str, Path], runtime: Path) -> None:
    assert paths.control_socket() == runtime / "pairtui" / "control.sock"
    assert mode(runtime / "pairtui") == 0o700


def _file(path: Path) -> Path:
    path.write_text("")
    return path


def _give_away(path: Path) -> None:
    os.chown(path, 65534, 65534)  # nobody's


class NoRuntime(NamedTuple):
    test_id: str
    spoil: Callable[[Path, pytest.MonkeyPatch], object]  # (the runtime dir, monkeypatch)


NO_RUNTIME = [
    NoRuntime("unset", lambda run, mp: mp.delenv("XDG_RUNTIME_DIR")),
    NoRuntime("empty", lambda run, mp: mp.setenv("XDG_RUNTIME_DIR", "")),
    NoRuntime("relative", lambda run, mp: mp.setenv("XDG_RUNTIME_DIR", "run")),
    NoRuntime("missing", lambda run, mp: mp.setenv("XDG_RUNTIME_DIR", str(run / "gone"))),
    NoRuntime("a-file", lambda run, mp: mp.setenv("XDG_RUNTIME_DIR", str(_file(run / "f")))),
    NoRuntime("open-to-others", lambda run, mp: run.chmod(0o755)),
    NoRuntime("its-pairtui-dir-open", lambda run, mp: (run / "pairtui").mkdir(0o755)),
    NoRuntime("someone-elses", lambda run, mp: _give_away(run)),
]


@pytest.mark.parametrize("case", NO_RUNTIME, ids=[c.test_id for c in NO_RUNTIME])
def test_without_a_private_runtime_dir_the_socket_stays_in_the_state_dir(
    env: dict[str, Path], runtime: Path, monkeypatch: pytest.MonkeyPatch, case: NoRuntime
) -> None:
    if case.test_id == "someone-elses" and os.geteuid() != 0:
        pytest.skip("giving a directory away needs root")
    old = os.umask(0)  # the 0755 asked for is what a directory gets
    try:
        case.spoil(runtime, monkeypatch)
    finally:
        os.umask(old)
    assert paths.control_socket() == env["PAIRTUI_STATE_DIR"] / "control.sock"


def test_a_socket_in_the_state_dir_is_used_until_it_goes(
    env: dict[str, Path], runtime: Path
) -> None:
    """What an older pairtui's server left listening there is still the one to ask."""
    old = env["PAIRTUI_STATE_DIR"] / "control.sock"
    new = runtime / "pairtui" / "control.sock"
    paths.state_dir()
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(old))
        assert paths.control_socket() == old
        paths.runtime_dir()
        with socket.socket(socket.AF_UNIX) as newer:
            newer.bind(str(new))
            assert paths.control_socket() == new  # both there: the new place wins
        new.unlink()
    old.unlink()
    assert paths.control_socket() == new
