"""The guest registry: the authorized_keys file it writes, how it reads it back, safe writes.

OpenSSH itself is the judge of the file: ``ssh-keygen -l`` must list every key line, and a
real ``sshd -i`` (spoken to through ``ssh -o ProxyCommand``, so no port is opened) must
accept the options pairtui writes.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import getpass
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import NamedTuple

import asyncssh
import pytest
from support import keygen, pairtui, wait_until

from pairtui import paths
from pairtui.authorized_keys import GuestKey, parse_public_keys
from pairtui.errors import PairtuiError
from pairtui.registry import (
    SETTLE,
    Guest,
    KeyIndex,
    Mode,
    Registry,
    RegistryError,
    forced_command,
    parse_expiry,
    validate_name,
)

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
SSHD = Path("/usr/sbin/sshd")

# --- helpers -------------------------------------------------------------------------


def pub(key: Path) -> Path:
    return key.with_name(key.name + ".pub")


def guest_keys(*keys: Path) -> list[GuestKey]:
    return [k for key in keys for k in parse_public_keys(pub(key).read_text(), str(key))]


def keygen_fingerprint(pubfile: Path) -> str:
    """The SHA256 fingerprint as ``ssh-keygen -l`` prints it."""
    out = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(pubfile)],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    return out.split()[1]


def key_lines(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.strip() and not line.lstrip().startswith("#")]


def openssh_fingerprints(file: Path) -> list[str]:
    """Fingerprints of every key line, read by ``ssh-keygen -l``, which skips lines it cannot
    parse: so the file is valid only if it lists as many keys as the file has key lines."""
    res = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(file)],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    fingerprints = [line.split()[1] for line in res.stdout.splitlines()]
    lines = key_lines(file.read_text(encoding="utf-8", errors="surrogateescape"))
    assert len(fingerprints) == len(lines), f"ssh-keygen skipped lines of:\n{lines}"
    return fingerprints


def split_options(line: str) -> tuple[list[str], str]:
    """``(options, rest)`` of an authorized_keys line, with OpenSSH's quoting rules."""
    quoted, i, opts, cur = False, 0, [], ""
    while i < len(line) and (quoted or line[i] not in " \t"):
        if line.startswith('\\"', i):
            cur += '"'
            i += 2
            continue
        if line[i] == '"':
            quoted = not quoted
        elif line[i] == "," and not quoted:
            opts.append(cur)
            cur = ""
        else:
            cur += line[i]
        i += 1
    return [*opts, cur], line[i:].strip()


def layout(text: str) -> list[str]:
    """The file's lines, with each guest's block collapsed to ``<NAME>`` and the header dropped."""
    out: list[str] = []
    for line in text.split("\n")[:-1]:
        if line.startswith("# pairtui-guest "):
            token = "<" + line.split('"name":"')[1].split('"')[0] + ">"
        elif " pairtui:" in line:
            token = "<" + line.split(" pairtui:")[1].split()[0] + ">"
        elif line.startswith(("# Guests of pairtui.", "# other lines and comments are kept")):
            continue
        else:
            token = line
        if not (out and token.startswith("<") and out[-1] == token):
            out.append(token)
    return out


@pytest.fixture(scope="module")
def kp(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Key pairs shared by the module's tests: ``kp["a"]`` is a private key path."""
    d = tmp_path_factory.mktemp("keys")
    made = {n: keygen(d, n) for n in ("a", "b", "c", "d", "e")}
    made["rsa"] = keygen(d, "rsa", "rsa")
    made["ecdsa"] = keygen(d, "ecdsa", "ecdsa")
    return made


@pytest.fixture
def reg() -> Registry:
    return Registry()


# --- the file OpenSSH reads ----------------------------------------------------------


def test_file_is_valid_for_openssh_with_the_options_pairtui_promises(
    reg: Registry, kp: dict[str, Path]
) -> None:
    expires = datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC)
    reg.add("alice", guest_keys(kp["a"], kp["rsa"], kp["ecdsa"]), mode=Mode.PAIR, expires=expires)
    reg.add("bob", guest_keys(kp["b"]), share="web")
    assert reg.path == paths.registry_file()
    assert reg.path.stat().st_mode & 0o777 == 0o600

    expected = [keygen_fingerprint(pub(kp[n])) for n in ("a", "rsa", "ecdsa", "b")]
    assert openssh_fingerprints(reg.path) == expected
    owners = [("alice", "a"), ("alice", "rsa"), ("alice", "ecdsa"), ("bob", "b")]
    lines = key_lines(reg.path.read_text())
    for line, (name, key) in zip(lines, owners, strict=True):
        options, rest = split_options(line)
        expiry = ["expiry-time=20310203040506Z"] if name == "alice" else []
        assert options == ["restrict", "pty", *expiry, f"command={forced_command(name)}"], line
        assert ('expiry-time="20310203040506Z",' in line) == (name == "alice")
        assert shlex.split(forced_command(name))[1:] == ["-m", "pairtui", "join", name]
        keytype, blob, comment = rest.split(" ", 2)
        assert f"{keytype} {blob}" == " ".join(pub(kp[key]).read_text().split()[:2])
        assert comment == f"pairtui:{name} {key}@test"


def test_guest_metadata_round_trips_through_the_file(reg: Registry, kp: dict[str, Path]) -> None:
    expires = datetime(2031, 2, 3, 4, 5, 6, 789, tzinfo=UTC)
    reg.add("alice", guest_keys(kp["a"], kp["b"]), mode=Mode.PAIR, share="web", expires=expires)
    reg.add("bob", guest_keys(kp["c"]))
    guests = Registry(reg.path).guests()
    assert list(guests) == ["alice", "bob"]
    alice = guests["alice"]
    assert (alice.mode, alice.share) == (Mode.PAIR, "web")
    assert alice.expires == expires.replace(microsecond=0)
    assert [k.fingerprint for k in alice.keys] == [
        keygen_fingerprint(pub(kp["a"])),
        keygen_fingerprint(pub(kp["b"])),
    ]
    assert [k.comment for k in alice.keys] == ["a@test", "b@test"]
    bob = guests["bob"]
    assert (bob.mode, bob.share, bob.expires) == (Mode.VIEW, None, None)
    assert "expiry-time" not in key_lines(reg.path.read_text())[-1]


def test_key_comment_that_is_not_ascii_survives(
    reg: Registry, tmp_path: Path, kp: dict[str, Path]
) -> None:
    key = tmp_path / "jose"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "José Müller", "-f", str(key)],
        check=True, timeout=30,
    )  # fmt: skip
    (added,) = parse_public_keys(pub(key).read_text(encoding="utf-8"))
    assert added.comment == "José Müller"
    reg.add("jose", [added])
    reg.add("bob", guest_keys(kp["b"]))  # a rewrite must not drop jose's key
    (back,) = reg.guests()["jose"].keys
    assert (back.fingerprint, back.comment) == (keygen_fingerprint(pub(key)), "José Müller")
    assert len(openssh_fingerprints(reg.path)) == 2


def test_real_sshd_accepts_the_lines_and_honours_expiry(
    reg: Registry, kp: dict[str, Path], tmp_path: Path
) -> None:
    reg.add("alice", guest_keys(kp["a"]), expires=datetime.now(UTC) + timedelta(hours=1))
    reg.add("bob", guest_keys(kp["b"]), expires=datetime.now(UTC) - timedelta(minutes=5))
    reg.add("carol", guest_keys(kp["c"]), mode=Mode.PAIR)
    with reg.path.open("a") as f:
        f.write("# a note sshd must skip\n")

    alice = sshd_login(tmp_path, reg.path, kp["a"])
    assert alice.returncode not in (0, 255), alice  # the forced `pairtui join` ran, and refused
    assert alice.stderr.startswith("pairtui: "), alice
    assert "Accepted publickey" in alice.log
    assert f'forced command: "{forced_command("alice")}"' in alice.log
    options = [ln for ln in alice.log.splitlines() if ": key options: " in ln]
    assert options, alice.log
    assert "pty" in options[-1]
    assert not any(f in options[-1] for f in ("port-forwarding", "agent-forwarding", "X11"))

    carol = sshd_login(tmp_path, reg.path, kp["c"])
    assert f'forced command: "{forced_command("carol")}"' in carol.log, carol
    assert "bad key options" not in alice.log + carol.log

    bob = sshd_login(tmp_path, reg.path, kp["b"])
    assert bob.returncode == 255, bob
    assert "expired" in bob.log, bob.log
    assert "Accepted publickey" not in bob.log


def test_forced_command_quoting_matches_sshd(
    reg: Registry, kp: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An interpreter path with a quote, a backslash and a space still runs under sshd."""
    odd = tmp_path / "o'dd \\\"dir"
    odd.mkdir()
    marker = tmp_path / "ran"
    wrapper = odd / "python"
    wrapper.write_text(
        f'#!/bin/sh\n: > {shlex.quote(str(marker))}\nexec {shlex.quote(sys.executable)} "$@"\n'
    )
    wrapper.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(wrapper))
    reg.add("alice", guest_keys(kp["a"]))
    (key,) = Registry(reg.path).guests()["alice"].keys  # pairtui reads its own line back
    assert key.fingerprint == keygen_fingerprint(pub(kp["a"]))

    login = sshd_login(tmp_path, reg.path, kp["a"])
    assert marker.exists(), login
    assert login.stderr.startswith("pairtui: "), login


@dataclass
class Login:
    returncode: int
    stderr: str
    log: str


def sshd_login(tmp: Path, registry: Path, key: Path) -> Login:
    """Log in with ``key`` to a real sshd that reads ``registry`` as its authorized_keys."""
    work = tmp / "sshd"
    work.mkdir(exist_ok=True)
    host_key = work / "host_key"
    if not host_key.exists():
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)],
            check=True, timeout=30,
        )  # fmt: skip
    if os.geteuid() == 0:
        # sshd running as root wants its privilege separation dir, as its service creates it.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    env = " ".join(
        f"{n}={os.environ[n]}"
        for n in ("HOME", "PAIRTUI_CONFIG_DIR", "PAIRTUI_STATE_DIR", "TMUX_TMPDIR")
    )
    config = work / "sshd_config"
    config.write_text(
        textwrap.dedent(f"""\
            HostKey {host_key}
            AuthorizedKeysFile {registry}
            AuthenticationMethods publickey
            StrictModes no
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            UsePAM no
            PidFile none
            LogLevel DEBUG1
            SetEnv {env}
            """)
    )
    log = work / f"{key.name}.log"
    log.unlink(missing_ok=True)
    proxy = shlex.join([str(SSHD), "-i", "-f", str(config), "-E", str(log)])
    res = subprocess.run(
        ["ssh", "-F", "/dev/null", "-T", "-i", str(key), "-o", f"ProxyCommand={proxy}",
         "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "IdentityAgent=none",
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "LogLevel=ERROR", f"{getpass.getuser()}@localhost"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return Login(res.returncode, res.stderr, log.read_text() if log.exists() else "")


# --- several keys, removal -------------------------------------------------------------


def test_guest_with_several_keys_and_removal(reg: Registry, kp: dict[str, Path]) -> None:
    reg.add("alice", guest_keys(kp["a"]), mode=Mode.PAIR)
    added = reg.add("alice", guest_keys(kp["b"]))
    assert added.mode is Mode.PAIR  # adding a key keeps what was set
    fa, fb = keygen_fingerprint(pub(kp["a"])), keygen_fingerprint(pub(kp["b"]))
    assert [k.fingerprint for k in reg.guests()["alice"].keys] == [fa, fb]
    assert openssh_fingerprints(reg.path) == [fa, fb]

    before = reg.path.read_bytes()
    with pytest.raises(PairtuiError, match="has no key"):
        reg.remove("alice", fingerprint=keygen_fingerprint(pub(kp["c"])))
    assert reg.path.read_bytes() == before

    reg.remove("alice", fingerprint=fa)
    assert [k.fingerprint for k in reg.guests()["alice"].keys] == [fb]
    assert openssh_fingerprints(reg.path) == [fb]

    reg.remove("alice", fingerprint=fb)  # the last key: the guest goes too
    assert reg.guests() == {}
    assert key_lines(reg.path.read_text()) == []
    with pytest.raises(PairtuiError, match="unknown guest 'alice'"):
        reg.remove("alice")


def test_remove_and_update_unknown_guest(reg: Registry, kp: dict[str, Path]) -> None:
    reg.add("alice", guest_keys(kp["a"]))
    before = reg.path.read_bytes()
    with pytest.raises(PairtuiError, match="unknown guest 'bob'"):
        reg.remove("bob")
    with pytest.raises(PairtuiError, match="unknown guest 'bob'"):
        reg.update("bob", mode=Mode.PAIR)
    with pytest.raises(PairtuiError, match="unknown guest 'bob'"):
        reg.get("bob")
    assert reg.path.read_bytes() == before


def test_update_changes_mode_share_and_expiry(reg: Registry, kp: dict[str, Path]) -> None:
    reg.add("alice", guest_keys(kp["a"]), share="web", expires=NOW)
    reg.update("alice", mode=Mode.PAIR)
    alice = reg.guests()["alice"]
    assert (alice.mode, alice.share, alice.expires) == (Mode.PAIR, "web", NOW)
    reg.update("alice", share="", expires=None)
    alice = reg.guests()["alice"]
    assert (alice.mode, alice.share, alice.expires) == (Mode.PAIR, None, None)
    assert "expiry-time" not in reg.path.read_text()


# --- lines written by hand --------------------------------------------------------------


def test_hand_written_lines_survive_every_rewrite_in_place(
    reg: Registry, kp: dict[str, Path]
) -> None:
    foreign_key = f'from="127.0.0.1" {" ".join(pub(kp["e"]).read_text().split()[:2])} admin@box'
    reg.path.write_text(f"# my own notes\n{foreign_key}\n\n")
    reg.add("alice", guest_keys(kp["a"]))
    assert layout(reg.path.read_text()) == ["# my own notes", foreign_key, "", "<alice>"]

    with reg.path.open("a") as f:
        f.write("# between alice and bob\n")
    reg.add("bob", guest_keys(kp["b"]))
    with reg.path.open("a") as f:
        f.write("\t# indented, at the end\n\n")
    expected = [
        "# my own notes", foreign_key, "", "<alice>", "# between alice and bob", "<bob>",
        "\t# indented, at the end", "",
    ]  # fmt: skip
    assert layout(reg.path.read_text()) == expected

    reg.add("alice", guest_keys(kp["c"]))  # a key added to alice stays in alice's block
    reg.update("bob", mode=Mode.PAIR)
    reg.add("carol", guest_keys(kp["d"]))
    assert layout(reg.path.read_text()) == [*expected, "<carol>"]
    assert len(openssh_fingerprints(reg.path)) == 5

    reg.remove("alice")
    reg.remove("carol")
    assert layout(reg.path.read_text()) == [
        "# my own notes", foreign_key, "", "# between alice and bob", "<bob>",
        "\t# indented, at the end", "",
    ]  # fmt: skip
    assert list(reg.guests()) == ["bob"]  # the hand-written key is not a guest


def test_foreign_bytes_survive_exactly(reg: Registry, kp: dict[str, Path]) -> None:
    """Not UTF-8, CRLF, a form feed: sshd only splits on newlines, and so must a rewrite."""
    odd = [b"# caf\xe9 in latin-1\r", b"# form\x0cfeed \xe2\x80\xa8 line separator", b"   "]
    reg.path.write_bytes(b"\n".join(odd) + b"\n")
    reg.add("alice", guest_keys(kp["a"]))
    reg.add("bob", guest_keys(kp["b"]))
    reg.remove("alice")
    lines = reg.path.read_bytes().split(b"\n")
    assert lines[2:5] == odd
    assert list(reg.guests()) == ["bob"]
    assert len(openssh_fingerprints(reg.path)) == 1


def test_lost_metadata_line_keeps_the_expiry_sshd_enforces(
    reg: Registry, kp: dict[str, Path]
) -> None:
    reg.add("alice", guest_keys(kp["a"]), expires=NOW)
    text = reg.path.read_text()
    reg.path.write_text("".join(ln for ln in text.splitlines(True) if "pairtui-guest" not in ln))
    assert reg.guests()["alice"].expires == NOW
    reg.add("bob", guest_keys(kp["b"]))  # a rewrite must not lift alice's expiry
    assert 'expiry-time="20300601120000Z"' in key_lines(reg.path.read_text())[0]
    assert reg.guests()["alice"].expires == NOW


def test_hand_written_pairtui_line_is_adopted(
    reg: Registry, kp: dict[str, Path], tokyo_time: None
) -> None:
    """A line tagged ``pairtui:NAME`` by hand becomes that guest's key, with sshd's reading
    of its expiry (no Z: local time), and is rewritten restricted."""
    key = " ".join(pub(kp["a"]).read_text().split()[:2])
    reg.path.write_text(f'expiry-time="20300601",command="true" {key} pairtui:alice\tmy laptop\n')
    alice = reg.guests()["alice"]
    assert alice.expires == datetime(2030, 5, 31, 15, 0, tzinfo=UTC)
    assert [k.comment for k in alice.keys] == ["my laptop"]
    reg.add("bob", guest_keys(kp["b"]))
    line = key_lines(reg.path.read_text())[0]
    assert line.startswith('restrict,pty,expiry-time="20300531150000Z",command="')
    assert line.endswith(f"{key} pairtui:alice my laptop")


# --- refusing bad input -------------------------------------------------------------------


def test_duplicate_keys_are_refused_and_nothing_changes(reg: Registry, kp: dict[str, Path]) -> None:
    foreign = " ".join(pub(kp["e"]).read_text().split()[:2]) + " hand@written"
    reg.path.write_text(f"# notes\n{foreign}\n")
    reg.add("alice", guest_keys(kp["a"]))
    reg.add("bob", guest_keys(kp["b"]))
    before = reg.path.read_bytes()
    fa = keygen_fingerprint(pub(kp["a"]))
    cases: list[tuple[str, list[GuestKey], str]] = [
        ("alice", guest_keys(kp["a"]), f"key {fa} is already registered to guest 'alice'"),
        ("bob", guest_keys(kp["a"]), f"key {fa} is already registered to guest 'alice'"),
        ("carol", guest_keys(kp["a"]), "already registered to guest 'alice'"),
        ("carol", guest_keys(kp["c"], kp["c"]), "is given twice"),
        ("carol", guest_keys(kp["e"]), "line 4, not managed by pairtui"),
    ]
    for name, keys, message in cases:
        with pytest.raises(PairtuiError, match=re.escape(message)):
            reg.add(name, keys)
        assert reg.path.read_bytes() == before, (name, message)


class KeyText(NamedTuple):
    test_id: str
    text: str
    message: str


BAD_KEY_TEXT = [
    KeyText("garbage", "hello world\n", "not an OpenSSH public key"),
    KeyText("truncated", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIADB", "not an OpenSSH public key"),
    KeyText("type only", "ssh-ed25519\n", "not an OpenSSH public key"),
    KeyText("options", 'restrict,command="sh" ssh-ed25519 AAAA', "not an OpenSSH public key"),
    KeyText("empty", "", "no public key found"),
    KeyText("only comments", "# nothing\n\n   \n", "no public key found"),
    KeyText("private", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n", "holds a private key"),
]


@pytest.mark.parametrize("case", BAD_KEY_TEXT, ids=[c.test_id for c in BAD_KEY_TEXT])
def test_malformed_public_keys_are_refused(case: KeyText) -> None:
    with pytest.raises(PairtuiError, match=case.message) as info:
        parse_public_keys(case.text, source="k.pub")
    assert str(info.value).startswith("k.pub")
    assert "\n" not in str(info.value)


def test_second_bad_line_is_named(kp: dict[str, Path]) -> None:
    text = pub(kp["a"]).read_text() + "ssh-ed25519 AAAA\n"
    with pytest.raises(PairtuiError, match=r"^k\.pub, line 2: not an OpenSSH public key$"):
        parse_public_keys(text, source="k.pub")


def test_public_keys_with_comments_blank_lines_and_crlf(kp: dict[str, Path]) -> None:
    text = (
        "# my keys\r\n\r\n"
        + pub(kp["a"]).read_text().strip() + "\r\n"
        + " ".join(pub(kp["rsa"]).read_text().split()[:2]) + "\n"
    )  # fmt: skip
    keys = parse_public_keys(text)
    assert [k.fingerprint for k in keys] == [
        keygen_fingerprint(pub(kp["a"])),
        keygen_fingerprint(pub(kp["rsa"])),
    ]
    assert [(k.algorithm, k.comment) for k in keys] == [("ssh-ed25519", "a@test"), ("ssh-rsa", "")]


GOOD_NAMES = ["alice", "A", "bob.smith", "x_y-z", "7", "a" * 64]
BAD_NAMES = ["", "a b", "x/y", "-x", ".hidden", "a" * 65, "ünï", "alice\n", "al\nice", "a:b", "é"]


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_good_guest_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize("name", BAD_NAMES, ids=[repr(n) for n in BAD_NAMES])
def test_bad_guest_names_are_refused(reg: Registry, name: str, kp: dict[str, Path]) -> None:
    with pytest.raises(PairtuiError, match="invalid guest name"):
        validate_name(name)
    with pytest.raises(PairtuiError, match="invalid guest name"):
        reg.add(name, guest_keys(kp["a"]))
    assert not reg.path.exists()


# --- expiry -----------------------------------------------------------------------------


class Duration(NamedTuple):
    test_id: str
    text: str
    delta: timedelta


DURATIONS = [
    Duration("seconds", "90s", timedelta(seconds=90)),
    Duration("minutes", "30m", timedelta(minutes=30)),
    Duration("hours", "2h", timedelta(hours=2)),
    Duration("days", "7d", timedelta(days=7)),
    Duration("weeks", "1w", timedelta(weeks=1)),
    Duration("spaces and case", " 3 H ", timedelta(hours=3)),
]


@pytest.mark.parametrize("case", DURATIONS, ids=[c.test_id for c in DURATIONS])
def test_expiry_durations(case: Duration) -> None:
    assert parse_expiry(case.text, now=NOW) == NOW + case.delta


@pytest.fixture
def tokyo_time() -> Iterator[None]:
    """Local time is UTC+9 (a POSIX TZ string: no tz database needed)."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "JST-9"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def test_expiry_iso_local_time_is_the_hosts(tokyo_time: None) -> None:
    assert parse_expiry("2030-12-01T10:00", now=NOW) == datetime(2030, 12, 1, 1, 0, tzinfo=UTC)
    assert parse_expiry("2030-12-01", now=NOW) == datetime(2030, 11, 30, 15, 0, tzinfo=UTC)


def test_expiry_iso_with_zone(tokyo_time: None) -> None:
    want = datetime(2030, 12, 1, 10, 0, tzinfo=UTC)
    assert parse_expiry("2030-12-01T10:00Z", now=NOW) == want
    assert parse_expiry("2030-12-01T10:00:00+00:00", now=NOW) == want
    assert parse_expiry("2030-12-01T12:00+02:00", now=NOW) == want
    assert parse_expiry("2030-12-01T05:30-04:30", now=NOW) == want
    assert parse_expiry("2030-12-01T10:00Z", now=NOW).tzinfo == UTC  # type: ignore[union-attr]


@pytest.mark.parametrize("text", ["never", "NEVER", "none", "", "  "])
def test_expiry_never(text: str) -> None:
    assert parse_expiry(text, now=NOW) is None


BAD_EXPIRIES = [
    ("2x", "use a duration"),
    ("1h30m", "use a duration"),
    ("-1h", "use a duration"),
    ("2030-13-01", "use a duration"),
    ("tomorrow", "use a duration"),
    ("0m", "must be in the future"),
    ("0s", "must be in the future"),
    ("2030-06-01T11:59Z", "that time has passed"),
    ("2030-06-01T12:00Z", "that time has passed"),
    ("2020-01-01", "that time has passed"),
    ("99999999999d", "too far in the future"),
    ("999999999d", "too far in the future"),
    ("9" * 5000 + "w", "too far in the future"),
    ("9999-12-31T23:59:59-05:00", "too far in the future"),
]


@pytest.mark.parametrize(("text", "message"), BAD_EXPIRIES, ids=[t[:20] for t, _ in BAD_EXPIRIES])
def test_bad_expiries(text: str, message: str) -> None:
    with pytest.raises(PairtuiError, match=message) as info:
        parse_expiry(text, now=NOW)
    assert str(info.value).startswith("invalid expiry")


def test_expiry_default_now_is_the_clock() -> None:
    when = parse_expiry("1h")
    assert when is not None
    assert abs(when - (datetime.now(UTC) + timedelta(hours=1))) < timedelta(seconds=30)
    with pytest.raises(PairtuiError, match="passed"):
        parse_expiry((datetime.now(UTC) - timedelta(minutes=1)).isoformat())


def test_guest_expired() -> None:
    assert not Guest("a").expired(NOW)
    assert not Guest("a").expired(datetime.max.replace(tzinfo=UTC))
    g = Guest("a", expires=NOW)
    assert not g.expired(NOW - timedelta(seconds=1))
    assert g.expired(NOW)
    assert g.expired(NOW + timedelta(days=1))
    assert g.expired(NOW.astimezone(timezone(timedelta(hours=-7))))
    assert Guest("a", expires=datetime.now(UTC) - timedelta(seconds=1)).expired()
    assert not Guest("a", expires=datetime.now(UTC) + timedelta(minutes=5)).expired()
    assert Guest("a", expires=NOW).to_json()["expires"] == "2030-06-01T12:00:00Z"


# --- the server's index -----------------------------------------------------------------


def test_key_index_follows_the_file(reg: Registry, kp: dict[str, Path]) -> None:
    empty = KeyIndex.load(reg.path)
    assert empty.by_blob == {}
    (ka,) = guest_keys(kp["a"])
    (kb,) = guest_keys(kp["b"])
    reg.add("alice", [ka], mode=Mode.PAIR)
    index = empty.fresh(reg.path)
    assert index is not empty
    guest, key = index.by_blob[ka.blob]
    assert (guest.name, guest.mode, key.fingerprint) == ("alice", Mode.PAIR, ka.fingerprint)
    assert index.fresh(reg.path) is index  # unchanged file: no re-read

    reg.add("bob", [kb])
    index = index.fresh(reg.path)
    assert set(index.guests()) == {"alice", "bob"}
    reg.remove("alice")
    index = index.fresh(reg.path)
    assert ka.blob not in index.by_blob
    assert set(index.guests()) == {"bob"}


# --- a registry that cannot be read (issue 15) ------------------------------------------------


def _other_type_key() -> str:
    """A key line of a type asyncssh cannot load: its blob names the type, as sshd wants."""
    kind = b"ssh-future-v01@example.com"
    blob = len(kind).to_bytes(4, "big") + kind + b"\0\0\0\x04data"
    return f"{kind.decode()} {base64.b64encode(blob).decode()} someone@box"


class Broken(NamedTuple):
    test_id: str
    text: bytes
    line: int
    why: str


BROKEN = [
    Broken("nul-byte", b"# notes\n\x00\x01\x02 binary\n", 2, "NUL byte"),
    Broken("text-garbage", b"# notes\n\nhello world\n", 3, "neither a key line nor a comment"),
    Broken("binary-garbage", b"\x89PNG\r\n\x1a\n\xff\xfe", 1, "neither a key line nor"),
    Broken("meta-not-json", b'# pairtui-guest {"name":"al\n', 1, "pairtui-guest line"),
    Broken("meta-bad-mode", b'# pairtui-guest {"name":"al","mode":"root"}\n', 1,
           "pairtui-guest line"),
    Broken("meta-bad-name", b'# pairtui-guest {"name":"a b"}\n', 1, "pairtui-guest line"),
    Broken("meta-bad-expiry", b'# pairtui-guest {"name":"al","expires":"soon"}\n', 1,
           "pairtui-guest line"),
    Broken("tagged-no-key", b"# notes\nrestrict ssh-ed25519 AAAA pairtui:alice\n", 2,
           "tagged pairtui:"),
]  # fmt: skip


@pytest.mark.parametrize("case", BROKEN, ids=[c.test_id for c in BROKEN])
def test_a_broken_registry_is_an_error_naming_file_and_line(
    case: Broken, reg: Registry, kp: dict[str, Path]
) -> None:
    reg.path.write_bytes(case.text)
    with pytest.raises(RegistryError, match=re.escape(f"{reg.path}, line {case.line}: ")) as info:
        reg.guests()
    assert case.why in str(info.value)
    assert info.value.to_json()["line"] == case.line
    with pytest.raises(RegistryError):
        reg.add("bob", guest_keys(kp["b"]))
    assert reg.path.read_bytes() == case.text  # never rewritten, garbage and all
    with pytest.raises(RegistryError):
        KeyIndex.load(reg.path)


def test_a_pairtui_tag_with_a_bad_name_is_an_error(reg: Registry, kp: dict[str, Path]) -> None:
    key = " ".join(pub(kp["a"]).read_text().split()[:2])
    reg.path.write_text(f"# notes\n{key} pairtui:no/slash\n")
    with pytest.raises(RegistryError, match=r"line 2: 'pairtui:no/slash' is not a valid guest"):
        reg.guests()


def test_hand_written_keys_of_any_type_are_fine(reg: Registry, kp: dict[str, Path]) -> None:
    mine = " ".join(pub(kp["e"]).read_text().split()[:2])
    text = (
        f'# notes\ncommand="uptime",no-pty {mine} admin@box\n'
        f"{_other_type_key()}\n"
        f'from="10.0.0.0/8" {_other_type_key()}\n'
        "   \n\t# indented comment\n"
    )
    reg.path.write_text(text)
    assert reg.guests() == {}
    reg.add("alice", guest_keys(kp["a"]))
    assert list(reg.guests()) == ["alice"]
    assert text in reg.path.read_text()


def _index_with_alice_and_bob(reg: Registry, kp: dict[str, Path]) -> tuple[KeyIndex, bytes]:
    reg.add("alice", guest_keys(kp["a"]))
    reg.add("bob", guest_keys(kp["b"]))
    index = KeyIndex.load(reg.path)
    assert set(index.guests()) == {"alice", "bob"}
    return index, reg.path.read_bytes()


def _in_place(path: Path, data: bytes) -> None:
    with path.open("r+b") as f:
        f.truncate(0)
        f.write(data)


def test_an_edit_in_place_takes_access_away_only_once_settled(
    reg: Registry, kp: dict[str, Path]
) -> None:
    index, good = _index_with_alice_and_bob(reg, kp)
    no_bob = b"".join(ln for ln in good.splitlines(True) if b"bob" not in ln)
    _in_place(reg.path, no_bob)
    t = time.monotonic()
    assert index.fresh(reg.path, now=t) is index
    assert index.fresh(reg.path, now=t + SETTLE - 0.1) is index
    settled = index.fresh(reg.path, now=t + SETTLE)
    assert set(settled.guests()) == {"alice"} and settled.problem is None
    assert settled.fresh(reg.path) is settled


def test_truncate_then_write_back_changes_nothing(reg: Registry, kp: dict[str, Path]) -> None:
    index, good = _index_with_alice_and_bob(reg, kp)
    t = time.monotonic()
    _in_place(reg.path, b"")
    assert index.fresh(reg.path, now=t) is index
    assert index.fresh(reg.path, now=t + 1.5) is index
    _in_place(reg.path, good)
    after = index.fresh(reg.path, now=t + SETTLE + 1)
    assert set(after.guests()) == {"alice", "bob"}


def test_content_that_changed_meanwhile_starts_settling_again(
    reg: Registry, kp: dict[str, Path]
) -> None:
    index, good = _index_with_alice_and_bob(reg, kp)
    t = time.monotonic()
    _in_place(reg.path, b"")
    assert index.fresh(reg.path, now=t) is index
    _in_place(reg.path, good[: len(good) // 2])  # the editor is still writing
    assert index.fresh(reg.path, now=t + SETTLE) is index
    assert index.fresh(reg.path, now=t + SETTLE + 1) is index


def test_additions_in_place_apply_at_once(reg: Registry, kp: dict[str, Path]) -> None:
    index, _ = _index_with_alice_and_bob(reg, kp)
    (kc,) = guest_keys(kp["c"])
    with reg.path.open("a") as f:
        f.write(f"{kc.openssh} pairtui:carol\n")
    after = index.fresh(reg.path, now=time.monotonic())
    assert set(after.guests()) == {"alice", "bob", "carol"}


def test_a_file_renamed_over_the_registry_is_trusted_at_once(
    reg: Registry, kp: dict[str, Path]
) -> None:
    index, _ = _index_with_alice_and_bob(reg, kp)
    reg.remove("bob")  # pairtui writes by rename
    after = index.fresh(reg.path, now=time.monotonic())
    assert set(after.guests()) == {"alice"}


def test_a_broken_file_keeps_the_last_good_index(reg: Registry, kp: dict[str, Path]) -> None:
    index, good = _index_with_alice_and_bob(reg, kp)
    _in_place(reg.path, b"garbage\n")
    t = time.monotonic()
    assert index.fresh(reg.path, now=t) is index
    assert index.problem is None  # not reported while it may be half-written
    broken = index.fresh(reg.path, now=t + SETTLE)
    assert broken.by_blob == index.by_blob
    assert broken.problem is not None and broken.problem.line == 1
    assert broken.fresh(reg.path) is broken  # reported once: the same object until it changes
    _in_place(reg.path, good)
    healed = broken.fresh(reg.path, now=t + SETTLE + 1)
    assert healed.problem is None and set(healed.guests()) == {"alice", "bob"}


def test_garbage_renamed_over_the_registry_is_reported_at_once(
    reg: Registry, kp: dict[str, Path], tmp_path: Path
) -> None:
    index, _ = _index_with_alice_and_bob(reg, kp)
    other = reg.path.with_name("garbage")
    other.write_bytes(b"\x00")
    other.replace(reg.path)
    broken = index.fresh(reg.path, now=time.monotonic())
    assert broken.problem is not None and "NUL" in str(broken.problem)
    assert broken.by_blob == index.by_blob


def test_a_deleted_registry_settles_like_an_edit_in_place(
    reg: Registry, kp: dict[str, Path]
) -> None:
    index, _ = _index_with_alice_and_bob(reg, kp)
    reg.path.unlink()
    t = time.monotonic()
    assert index.fresh(reg.path, now=t) is index
    assert index.fresh(reg.path, now=t + SETTLE).guests() == {}


def test_cli_guest_list_on_a_broken_registry(reg: Registry) -> None:
    reg.path.parent.mkdir(parents=True, exist_ok=True)
    reg.path.write_bytes(b"# ok\n# pairtui-guest [1,2]\n")
    res = pairtui("guest", "list")
    assert res.returncode == 1
    assert f"{reg.path}, line 2" in res.stderr and "no guests" not in res.stdout
    res = pairtui("guest", "list", "--json")
    assert res.returncode == 1
    assert json.loads(res.stdout)["line"] == 2


# --- concurrent writers -------------------------------------------------------------------


def test_threads_adding_at_once_lose_nothing(reg: Registry) -> None:
    keys = [_fresh_key() for _ in range(8)]
    start = threading.Barrier(len(keys))
    errors: list[Exception] = []

    def edit(i: int) -> None:
        try:
            start.wait(timeout=10)
            Registry(reg.path).add(f"t{i}", [keys[i]])
            Registry(reg.path).update(f"t{i}", mode=Mode.PAIR)
            Registry(reg.path).update(f"t{i}", share=f"s{i}")
        except Exception as exc:  # noqa: BLE001 -- asserted below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=edit, args=(i,)) for i in range(len(keys))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    guests = reg.guests()
    assert sorted(guests) == [f"t{i}" for i in range(8)]
    assert all((g.mode, g.share) == (Mode.PAIR, f"s{g.name[1:]}") for g in guests.values())
    assert sorted(openssh_fingerprints(reg.path)) == sorted(k.fingerprint for k in keys)


def _fresh_key() -> GuestKey:
    return GuestKey(asyncssh.generate_private_key("ssh-ed25519").convert_to_public())


WRITER = """
import pathlib, sys, time
import asyncssh
from pairtui.authorized_keys import GuestKey
from pairtui.registry import Registry
go, n = pathlib.Path(sys.argv[1]), sys.argv[2]
keys = [asyncssh.generate_private_key("ssh-ed25519").convert_to_public() for _ in range(5)]
pathlib.Path(f"{go}.ready{n}").touch()
deadline = time.monotonic() + 30
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.002)
for i, key in enumerate(keys):
    Registry().add(f"p{n}-{i}", [GuestKey(key)])
"""


def test_processes_adding_at_once_lose_nothing(reg: Registry, tmp_path: Path) -> None:
    """8 processes x 5 read-modify-writes, released together: every guest is kept."""
    go = tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(go), str(n)], stderr=subprocess.PIPE)
        for n in range(8)
    ]
    try:
        ready = [Path(f"{go}.ready{n}") for n in range(8)]
        wait_until(lambda: all(r.exists() for r in ready), timeout=60, what="writers ready")
        go.touch()
        for p in procs:
            _, err = p.communicate(timeout=60)
            assert p.returncode == 0, err.decode()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    want = sorted(f"p{n}-{i}" for n in range(8) for i in range(5))
    assert sorted(reg.guests()) == want
    assert len(openssh_fingerprints(reg.path)) == 40


# --- crashes ------------------------------------------------------------------------------


def temp_files(reg: Registry) -> list[Path]:
    return sorted(reg.path.parent.glob(f".{reg.path.name}.*"))


@pytest.mark.parametrize("fail", ["replace", "fsync"])
def test_failed_write_leaves_the_old_file(
    reg: Registry, kp: dict[str, Path], monkeypatch: pytest.MonkeyPatch, fail: str
) -> None:
    reg.add("alice", guest_keys(kp["a"]))
    reg.add("bob", guest_keys(kp["b"]))
    before = reg.path.read_bytes()

    def boom(*args: object) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(os, fail, boom)
        with pytest.raises(OSError, match="No space left"):
            reg.add("carol", guest_keys(kp["c"]))
    assert reg.path.read_bytes() == before
    assert temp_files(reg) == []
    reg.add("dave", guest_keys(kp["d"]))
    assert list(reg.guests()) == ["alice", "bob", "dave"]
    assert len(openssh_fingerprints(reg.path)) == 3


CRASHER = """
import os, pathlib, sys, time
from pairtui.authorized_keys import parse_public_keys
from pairtui.registry import Registry
marker, keyfile = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])

def torn_fsync(fd):
    # Only half of the new file made it to disk, then the power went.
    os.ftruncate(fd, os.fstat(fd).st_size // 2)
    marker.write_text("writing")
    time.sleep(120)

os.fsync = torn_fsync
Registry().add("carol", parse_public_keys(keyfile.read_text()))
"""


def test_writer_killed_mid_write(reg: Registry, kp: dict[str, Path], tmp_path: Path) -> None:
    """SIGKILL while holding the lock with half a temp file: the file stays whole, a writer
    that was waiting goes on, and nothing written before is lost."""
    reg.add("alice", guest_keys(kp["a"]))
    reg.add("bob", guest_keys(kp["b"]))
    before = reg.path.read_bytes()
    marker = tmp_path / "marker"
    crasher = subprocess.Popen(
        [sys.executable, "-c", CRASHER, str(marker), str(pub(kp["c"]))], stderr=subprocess.PIPE
    )
    waiter: subprocess.Popen[str] | None = None
    try:
        wait_until(lambda: marker.exists() or crasher.poll() is not None, timeout=30)
        assert crasher.poll() is None, crasher.communicate()[1].decode()
        (torn,) = temp_files(reg)
        assert 0 < torn.stat().st_size < len(before)
        assert _lock_is_held(reg.path)
        assert reg.path.read_bytes() == before  # readers still see the old, whole file

        waiter = subprocess.Popen(
            [sys.executable, "-m", "pairtui", "guest", "add", "dave", "--key", str(pub(kp["d"]))],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        lock = reg.path.with_name(reg.path.name + ".lock").resolve()
        w = waiter
        wait_until(lambda: _has_open(w.pid, lock) or w.poll() is not None, timeout=30)
        assert waiter.poll() is None, waiter.communicate()  # blocked on the lock, not done
        assert reg.path.read_bytes() == before

        crasher.send_signal(signal.SIGKILL)
        assert crasher.wait(timeout=10) == -signal.SIGKILL
        _, err = waiter.communicate(timeout=30)
        assert waiter.returncode == 0, err
    finally:
        for p in (crasher, waiter):
            if p is not None and p.poll() is None:
                p.kill()
    assert list(reg.guests()) == ["alice", "bob", "dave"]
    assert len(openssh_fingerprints(reg.path)) == 3
    assert temp_files(reg) == []  # the crashed writer's temp file was cleaned up
    reg.add("carol", guest_keys(kp["c"]))  # and the key it was adding can be added now
    assert list(reg.guests()) == ["alice", "bob", "dave", "carol"]


def _lock_is_held(path: Path) -> bool:
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _has_open(pid: int, path: Path) -> bool:
    with contextlib.suppress(FileNotFoundError, PermissionError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if fd.readlink() == path:
                    return True
    return False


def test_cli_add_after_crash_is_clean(reg: Registry, kp: dict[str, Path]) -> None:
    """A stray temp file from an earlier crash does not confuse readers or the next add."""
    reg.add("alice", guest_keys(kp["a"]))
    stray = reg.path.with_name(f".{reg.path.name}.abc123.tmp")
    stray.write_text("restrict ssh-ed25519 AAAA half a li")
    res = pairtui("guest", "add", "bob", "--key", str(pub(kp["b"])))
    assert res.returncode == 0, res.stderr
    assert list(reg.guests()) == ["alice", "bob"]
    assert not stray.exists()
