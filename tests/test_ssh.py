"""SSH facts: the host key (made once, kept private), its fingerprint, and guests' strings."""

from __future__ import annotations

import os
import re
import subprocess
import threading
from pathlib import Path
from typing import NamedTuple

import asyncssh
import pytest

from pairtui import paths
from pairtui.errors import PairtuiError
from pairtui.ssh import (
    SshString,
    address,
    fingerprint,
    host_of,
    load_or_create_host_key,
    ssh_strings,
)


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


# --- addresses ------------------------------------------------------------------------------


class Addr(NamedTuple):
    test_id: str
    host: str
    port: int
    written: str


ADDRESSES = [
    Addr("ipv4", "198.51.100.7", 50312, "198.51.100.7:50312"),
    Addr("ipv6-loopback", "::1", 2222, "[::1]:2222"),
    Addr("ipv6-full", "2001:db8::1:2", 22, "[2001:db8::1:2]:22"),
    Addr("ipv6-scoped", "fe80::1%eth0", 40000, "[fe80::1%eth0]:40000"),
    Addr("ipv4-mapped", "::ffff:192.0.2.1", 1, "[::ffff:192.0.2.1]:1"),
    Addr("hostname", "relay.example.org", 2300, "relay.example.org:2300"),
]


@pytest.mark.parametrize("case", ADDRESSES, ids=[c.test_id for c in ADDRESSES])
def test_address_is_written_as_openssh_writes_it(case: Addr) -> None:
    assert address(case.host, case.port) == case.written


@pytest.mark.parametrize("case", ADDRESSES, ids=[c.test_id for c in ADDRESSES])
def test_host_of_gives_back_the_host_of_an_address(case: Addr) -> None:
    assert host_of(address(case.host, case.port)) == case.host


def test_host_of_an_unknown_peer_is_what_it_was() -> None:
    """A connection without a peer name is listed as ``?``; its host is still ``?``."""
    assert host_of("?") == "?"


# --- the strings guests type -----------------------------------------------------------------


class Strings(NamedTuple):
    test_id: str
    listen: str
    port: int
    share: str | None
    commands: list[str]


STRINGS = [
    Strings("loopback-v4", "127.0.0.1", 2222, None, ["ssh -p 2222 guest@localhost"]),
    Strings("loopback-v6", "::1", 2222, None, ["ssh -p 2222 guest@localhost"]),
    Strings("localhost", "localhost", 22, None, ["ssh guest@localhost"]),
    Strings("one-v4", "192.0.2.10", 2222, None, ["ssh -p 2222 guest@192.0.2.10"]),
    Strings("one-v6", "2001:db8::5", 2222, None, ["ssh -p 2222 guest@[2001:db8::5]"]),
    Strings("port-22", "192.0.2.10", 22, None, ["ssh guest@192.0.2.10"]),
    Strings("a-share", "127.0.0.1", 2222, "demo", ["ssh -t -p 2222 guest@localhost demo"]),
    Strings("share-port-22", "2001:db8::5", 22, "demo", ["ssh -t guest@[2001:db8::5] demo"]),
]


@pytest.mark.parametrize("case", STRINGS, ids=[c.test_id for c in STRINGS])
def test_ssh_strings_for_one_listen_address(case: Strings) -> None:
    strings = ssh_strings(case.listen, case.port, case.share)
    assert [s.command for s in strings] == case.commands
    assert all((s.port, s.share) == (case.port, case.share) for s in strings)


@pytest.mark.parametrize("listen", ["0.0.0.0", "::", ""])
def test_listening_everywhere_offers_localhost_first_then_this_machines_addresses(
    listen: str,
) -> None:
    strings = ssh_strings(listen, 2222, "demo")
    assert strings[0] == SshString("ssh -t -p 2222 guest@localhost demo", "localhost", 2222, "demo")
    others = strings[1:]
    assert len({s.host for s in others}) == len(others)
    for s in others:
        assert not s.host.startswith("127.") and s.host != "localhost"
        assert s.command == f"ssh -t -p 2222 guest@{s.host} demo"


def test_ssh_string_json_names_every_field() -> None:
    (s,) = ssh_strings("2001:db8::5", 2022, "demo")
    assert s.to_json() == {
        "command": "ssh -t -p 2022 guest@[2001:db8::5] demo",
        "host": "2001:db8::5",
        "port": 2022,
        "share": "demo",
    }


# --- the host key ------------------------------------------------------------------------------


def test_the_host_key_is_made_once_private_and_then_reused() -> None:
    first = load_or_create_host_key()
    keyfile = paths.host_key_file()
    assert mode(keyfile) == 0o600
    stamp = keyfile.stat().st_ino, keyfile.stat().st_mtime_ns
    again = load_or_create_host_key()
    assert fingerprint(again) == fingerprint(first)
    assert (keyfile.stat().st_ino, keyfile.stat().st_mtime_ns) == stamp  # not rewritten
    assert first.get_algorithm() == "ssh-ed25519"
    assert [p.name for p in keyfile.parent.iterdir() if keyfile.name in p.name] == [keyfile.name]


@pytest.mark.parametrize("umask", [0o000, 0o022])
def test_a_new_host_key_is_private_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    keyfile = tmp_path / "host_key"
    old = os.umask(umask)
    try:
        load_or_create_host_key(keyfile)
    finally:
        os.umask(old)
    assert mode(keyfile) == 0o600


def test_threads_racing_on_a_fresh_machine_all_get_the_one_key(tmp_path: Path) -> None:
    """The same race as between processes (see test_paths), inside one process."""
    (tmp_path / "race").mkdir()
    keyfile = tmp_path / "race" / "host_key"
    barrier = threading.Barrier(8)
    got: list[str] = []

    def start() -> None:
        barrier.wait(timeout=30)
        got.append(fingerprint(load_or_create_host_key(keyfile)))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(got) == 8
    assert set(got) == {fingerprint(asyncssh.read_private_key(keyfile))}
    assert sorted(p.name for p in keyfile.parent.iterdir()) == ["host_key"]  # no temp files


def test_the_host_key_file_is_one_openssh_reads(tmp_path: Path) -> None:
    keyfile = tmp_path / "host_key"
    key = load_or_create_host_key(keyfile)
    res = subprocess.run(
        ["ssh-keygen", "-y", "-f", str(keyfile)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout.split()[:2] == key.export_public_key().decode().split()[:2]


def test_the_fingerprint_is_the_one_ssh_keygen_prints(tmp_path: Path) -> None:
    """Guests compare it with what their ssh client shows: it must be OpenSSH's SHA256 form."""
    keyfile = tmp_path / "host_key"
    key = load_or_create_host_key(keyfile)
    res = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(keyfile)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert fingerprint(key) == res.stdout.split()[1]
    assert re.fullmatch(r"SHA256:[A-Za-z0-9+/]{43}", fingerprint(key))


@pytest.mark.parametrize("bad_mode", [0o640, 0o604, 0o660, 0o644])
def test_a_host_key_others_can_read_is_refused_with_the_fix(tmp_path: Path, bad_mode: int) -> None:
    keyfile = tmp_path / "host_key"
    load_or_create_host_key(keyfile)
    keyfile.chmod(bad_mode)
    with pytest.raises(PairtuiError, match=re.escape(f"run `chmod 600 {keyfile}`")) as err:
        load_or_create_host_key(keyfile)
    assert f"mode {bad_mode:o}" in str(err.value)


def test_a_read_only_host_key_is_accepted(tmp_path: Path) -> None:
    keyfile = tmp_path / "host_key"
    made = load_or_create_host_key(keyfile)
    keyfile.chmod(0o400)
    assert fingerprint(load_or_create_host_key(keyfile)) == fingerprint(made)


def test_a_damaged_host_key_is_one_readable_error_and_is_not_replaced(tmp_path: Path) -> None:
    keyfile = tmp_path / "host_key"
    keyfile.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nnot really\n")
    keyfile.chmod(0o600)
    with pytest.raises(PairtuiError, match=f"cannot read host key {re.escape(str(keyfile))}"):
        load_or_create_host_key(keyfile)
    # A new key would change the fingerprint guests trust: the damaged one stays for the host.
    assert keyfile.read_text() == "-----BEGIN OPENSSH PRIVATE KEY-----\nnot really\n"
