"""`pairtui guest add/list/remove/set`, run as the real CLI in child processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from support import keygen, pairtui, pairtui_json

from pairtui import paths


@dataclass(frozen=True)
class Keys:
    """Public key files (and a few bad ones) for one test."""

    a: Path
    b: Path
    c: Path
    d: Path
    private: Path
    garbage: Path
    truncated: Path
    empty: Path
    twice: Path

    def text(self, key: Path) -> str:
        return key.read_text()


@pytest.fixture(scope="module")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("keys")
    for name in ("a", "b", "c", "d"):
        keygen(d, name)
    (d / "garbage.pub").write_text("this is not a key\n")
    (d / "truncated.pub").write_text((d / "a.pub").read_text()[:40] + "\n")
    (d / "empty.pub").write_text("")
    (d / "twice.pub").write_text((d / "c.pub").read_text() * 2)
    return d


@pytest.fixture
def keys(key_dir: Path) -> Keys:
    d = key_dir
    return Keys(
        a=d / "a.pub", b=d / "b.pub", c=d / "c.pub", d=d / "d.pub", private=d / "a",
        garbage=d / "garbage.pub", truncated=d / "truncated.pub", empty=d / "empty.pub",
        twice=d / "twice.pub",
    )  # fmt: skip


@pytest.fixture
def registry_file() -> Path:
    path = paths.registry_file()
    assert path == Path(os.environ["PAIRTUI_CONFIG_DIR"]) / "authorized_keys"
    return path


def fingerprint(pubfile: Path) -> str:
    out = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(pubfile)],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    return out.split()[1]


def openssh_fingerprints(file: Path) -> list[str]:
    """What ``ssh-keygen -l`` lists; it must list every key line of the file."""
    res = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(file)],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    text = file.read_text()
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    found = [line.split()[1] for line in res.stdout.splitlines()]
    assert len(found) == len(lines), text
    return found


def ok(*args: str, input: str | None = None) -> str:
    res = pairtui(*args, input=input)
    assert res.returncode == 0, res.stderr
    return res.stdout


def fails(*args: str, input: str | None = None) -> str:
    """Run a command that must fail with one readable line; return that line."""
    res = pairtui(*args, input=input)
    assert res.returncode == 1, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr, res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("pairtui: "), res.stderr
    return lines[0]


def guests() -> dict[str, Any]:
    return {g["name"]: g for g in pairtui_json("guest", "list")}


# --- add, list --------------------------------------------------------------------------


def test_add_and_list_json_schema(keys: Keys, registry_file: Path) -> None:
    out = pairtui_json("guest", "add", "alice", "--key", str(keys.a), "--mode", "pair",
                       "--expires", "2h", "--share", "web")  # fmt: skip
    listed = pairtui_json("guest", "list")
    assert listed == [out]
    (alice,) = listed
    assert set(alice) == {"name", "mode", "share", "expires", "expired", "keys", "authorized_keys"}
    assert (alice["name"], alice["mode"], alice["share"], alice["expired"]) == (
        "alice", "pair", "web", False,
    )  # fmt: skip
    expires = datetime.strptime(alice["expires"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(expires - (datetime.now(UTC) + timedelta(hours=2))) < timedelta(minutes=1)
    assert alice["keys"] == [
        {"type": "ssh-ed25519", "fingerprint": fingerprint(keys.a), "comment": "a@test"}
    ]
    (line,) = alice["authorized_keys"]
    assert line in registry_file.read_text().splitlines()
    assert f'expiry-time="{expires:%Y%m%d%H%M%S}Z"' in line
    assert openssh_fingerprints(registry_file) == [fingerprint(keys.a)]


def test_list_text_and_empty() -> None:
    assert pairtui_json("guest", "list") == []
    assert "no guests yet" in ok("guest", "list")


def test_list_text_shows_each_guest_and_key(keys: Keys) -> None:
    ok("guest", "add", "alice", "--key", str(keys.a))
    ok("guest", "add", "bob", "--key", str(keys.b), "--share", "web", "--expires", "1d")
    text = ok("guest", "list")
    assert "alice  view  any share" in text
    assert "bob  view  share=web  expires " in text
    assert f"ssh-ed25519 {fingerprint(keys.a)} a@test" in text
    assert f"ssh-ed25519 {fingerprint(keys.b)} b@test" in text


def test_add_existing_name_adds_the_key(keys: Keys, registry_file: Path) -> None:
    first = ok("guest", "add", "alice", "--key", str(keys.a), "--mode", "pair")
    assert first.startswith("added guest alice (pair):")
    second = ok("guest", "add", "alice", "--key", str(keys.b))
    assert second.startswith("added keys to alice (pair):")  # mode kept
    assert fingerprint(keys.b) in second
    alice = guests()["alice"]
    assert [k["fingerprint"] for k in alice["keys"]] == [fingerprint(keys.a), fingerprint(keys.b)]
    assert alice["mode"] == "pair"
    assert openssh_fingerprints(registry_file) == [fingerprint(keys.a), fingerprint(keys.b)]


def test_key_from_standard_input(keys: Keys) -> None:
    out = pairtui_json_input("guest", "add", "alice", "--key", "-", input=keys.text(keys.a))
    assert [k["fingerprint"] for k in out["keys"]] == [fingerprint(keys.a)]
    both = keys.text(keys.b) + "\n# a comment line\n" + keys.text(keys.c)
    out = pairtui_json_input("guest", "add", "bob", "--key", "-", input=both)
    assert [k["fingerprint"] for k in out["keys"]] == [fingerprint(keys.b), fingerprint(keys.c)]


def pairtui_json_input(*args: str, input: str) -> Any:
    res = pairtui(*args, "--json", input=input)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_repeated_key_option(keys: Keys) -> None:
    ok("guest", "add", "alice", "--key", str(keys.a), "--key", str(keys.b))
    assert len(guests()["alice"]["keys"]) == 2


def test_default_mode_comes_from_the_config(keys: Keys) -> None:
    paths.config_file().write_text('[server]\ndefault_mode = "pair"\n')
    ok("guest", "add", "alice", "--key", str(keys.a))
    ok("guest", "add", "bob", "--key", str(keys.b), "--mode", "view")
    assert {n: g["mode"] for n, g in guests().items()} == {"alice": "pair", "bob": "view"}


# --- remove -------------------------------------------------------------------------------


def test_remove_one_key_then_the_guest(keys: Keys, registry_file: Path) -> None:
    ok("guest", "add", "alice", "--key", str(keys.a), "--key", str(keys.b))
    ok("guest", "add", "bob", "--key", str(keys.c))
    out = ok("guest", "remove", "alice", "--key", fingerprint(keys.a))
    assert out.strip() == f"removed key {fingerprint(keys.a)} of alice"
    assert [k["fingerprint"] for k in guests()["alice"]["keys"]] == [fingerprint(keys.b)]
    assert openssh_fingerprints(registry_file) == [fingerprint(keys.b), fingerprint(keys.c)]

    assert ok("guest", "remove", "alice").strip() == "removed guest alice"
    assert list(guests()) == ["bob"]
    assert openssh_fingerprints(registry_file) == [fingerprint(keys.c)]


def test_unknown_guest_is_a_clear_error(keys: Keys, registry_file: Path) -> None:
    ok("guest", "add", "alice", "--key", str(keys.a))
    before = registry_file.read_bytes()
    for args in (
        ("guest", "remove", "bob"),
        ("guest", "remove", "bob", "--key", fingerprint(keys.a)),
        ("guest", "set", "bob", "--mode", "pair"),
    ):
        assert fails(*args) == "pairtui: unknown guest 'bob' (see `pairtui guest list`)"
    line = fails("guest", "remove", "alice", "--key", fingerprint(keys.b))
    assert line == (f"pairtui: guest 'alice' has no key {fingerprint(keys.b)} "
                    f"(its keys: {fingerprint(keys.a)})")  # fmt: skip
    assert registry_file.read_bytes() == before


def test_a_key_is_named_as_ssh_keygen_prints_it_or_by_its_start(
    keys: Keys, registry_file: Path
) -> None:
    ok("guest", "add", "alice", "--key", str(keys.a), "--key", str(keys.b), "--key", str(keys.c))
    fa, fb, fc = fingerprint(keys.a), fingerprint(keys.b), fingerprint(keys.c)
    # Without the SHA256: prefix, as some tools and people copy it.
    out = ok("guest", "remove", "alice", "--key", fa.removeprefix("SHA256:"))
    assert out.strip() == f"removed key {fa} of alice"
    # The shortened form the dashboard shows: enough of the start to be unambiguous.
    out = ok("guest", "remove", "alice", "--key", fb[:19] + "…")
    assert out.strip() == f"removed key {fb} of alice"
    assert openssh_fingerprints(registry_file) == [fc]
    before = registry_file.read_bytes()
    assert "has no key" in fails("guest", "remove", "alice", "--key", "SHA256:")
    assert "has no key" in fails("guest", "remove", "alice", "--key", fc[:10])  # too short
    assert registry_file.read_bytes() == before


# --- set --------------------------------------------------------------------------------


def test_set_changes_mode_expiry_and_share(keys: Keys, registry_file: Path) -> None:
    ok("guest", "add", "alice", "--key", str(keys.a))
    alice = pairtui_json("guest", "set", "alice", "--mode", "pair", "--expires", "30m")
    assert (alice["mode"], alice["share"]) == ("pair", None)
    assert alice["expires"] is not None
    assert "expiry-time=" in registry_file.read_text()

    alice = pairtui_json("guest", "set", "alice", "--share", "web")
    assert (alice["mode"], alice["share"]) == ("pair", "web")
    assert alice["expires"] is not None  # untouched

    alice = pairtui_json("guest", "set", "alice", "--expires", "never", "--share", "")
    assert (alice["mode"], alice["share"], alice["expires"]) == ("pair", None, None)
    assert "expiry-time=" not in registry_file.read_text()

    alice = pairtui_json(
        "guest", "set", "alice", "--mode", "view", "--expires", "2031-01-02T03:04Z"
    )
    assert (alice["mode"], alice["expires"]) == ("view", "2031-01-02T03:04:00Z")
    assert guests()["alice"] == {**alice, "expired": False}
    assert 'expiry-time="20310102030400Z"' in registry_file.read_text()
    assert openssh_fingerprints(registry_file) == [fingerprint(keys.a)]


def test_adding_a_key_with_expires_never_lifts_the_expiry(keys: Keys, registry_file: Path) -> None:
    ok("guest", "add", "alice", "--key", str(keys.a), "--expires", "2h")
    alice = pairtui_json("guest", "add", "alice", "--key", str(keys.b))
    assert alice["expires"] is not None  # not given: kept
    alice = pairtui_json("guest", "add", "alice", "--key", str(keys.c), "--expires", "never")
    assert alice["expires"] is None
    assert "expiry-time=" not in registry_file.read_text()


def test_set_needs_something_to_change(keys: Keys, registry_file: Path) -> None:
    ok("guest", "add", "alice", "--key", str(keys.a))
    before = registry_file.read_bytes()
    assert "nothing to change" in fails("guest", "set", "alice")
    assert registry_file.read_bytes() == before


# --- bad input: one line, non-zero exit, the file untouched --------------------------------


class Bad(NamedTuple):
    test_id: str
    args: tuple[str, ...]  # "{c}" is key file c; stdin's "{text_c}" is its content
    message: str
    stdin: str | None = None


A, C, TAKEN = ("add", "carol"), ("add", "carol", "--key", "{c}"), "registered to guest 'alice'"
BAD = [
    Bad("garbage key", (*A, "--key", "{garbage}"), "not an OpenSSH public key"),
    Bad("truncated key", (*A, "--key", "{truncated}"), "not an OpenSSH public key"),
    Bad("private key", (*A, "--key", "{private}"), "holds a private key"),
    Bad("empty key file", (*A, "--key", "{empty}"), "no public key found"),
    Bad("missing key file", (*A, "--key", "{a}.nope"), "cannot read key file"),
    Bad("key file is a directory", (*A, "--key", "{dir}"), "cannot read key file"),
    Bad("no key at all", A, "give a key"),
    Bad("empty stdin", (*A, "--key", "-"), "standard input: no public key found", ""),
    Bad("garbage stdin", (*A, "--key", "-"), "standard input: not an OpenSSH", "ssh-rsa AAAA\n"),
    Bad("same guest again", ("add", "alice", "--key", "{a}"), TAKEN),
    Bad("key of another guest", (*A, "--key", "{a}"), TAKEN),
    Bad("new key plus a taken one", (*C, "--key", "{a}"), TAKEN),
    Bad("same key twice in a file", (*A, "--key", "{twice}"), "is given twice"),
    Bad("same key twice as options", (*C, "--key", "{c}"), "is given twice"),
    Bad("same key twice on stdin", (*A, "--key", "-"), "is given twice", "{text_c}{text_c}"),
    Bad("hand-written key", (*A, "--key", "{d}"), "not managed by pairtui"),
    Bad("name with a space", ("add", "a b", "--key", "{c}"), "invalid guest name 'a b'"),
    Bad("empty name", ("add", "", "--key", "{c}"), "invalid guest name ''"),
    Bad("name with a slash", ("add", "x/y", "--key", "{c}"), "invalid guest name"),
    Bad("name with a newline", ("add", "carol\n", "--key", "{c}"), "name 'carol\\n'"),
    Bad("name too long", ("add", "c" * 65, "--key", "{c}"), "invalid guest name"),
    Bad("name not ascii", ("add", "zoë", "--key", "{c}"), "invalid guest name"),
    Bad("expiry 2x", (*C, "--expires", "2x"), "invalid expiry '2x'"),
    Bad("expiry 0m", (*C, "--expires", "0m"), "invalid expiry '0m': must be in the future"),
    Bad("expiry past", (*C, "--expires", "2001-02-03T04:05"), "that time has passed"),
    Bad("expiry huge", (*C, "--expires", "99999999999d"), "too far in the future"),
    Bad("set expiry 2x", ("set", "alice", "--expires", "2x"), "invalid expiry '2x'"),
    Bad("set expiry past", ("set", "alice", "--expires", "2001-02-03"), "that time has passed"),
    Bad("set expiry 0m", ("set", "alice", "--expires", "0m"), "must be in the future"),
    Bad("share name", (*C, "--share", "no way"), "invalid share name 'no way'"),
    Bad("set share name", ("set", "alice", "--share", "no/way"), "invalid share name"),
]


@pytest.mark.parametrize("case", BAD, ids=[c.test_id for c in BAD])
def test_bad_input_is_one_line_and_changes_nothing(
    case: Bad, keys: Keys, registry_file: Path
) -> None:
    registry_file.write_text(f"# my notes\n{keys.text(keys.d).strip()} hand@written\n")
    ok("guest", "add", "alice", "--key", str(keys.a), "--expires", "1d")
    before = registry_file.read_bytes()
    files = {f: str(getattr(keys, f)) for f in Keys.__dataclass_fields__}
    texts = {f"text_{f}": keys.text(getattr(keys, f)) for f in ("a", "c")}
    args = [a.format(**files, dir=keys.a.parent) for a in case.args]
    stdin = None if case.stdin is None else case.stdin.format(**texts)
    line = fails("guest", *args, input=stdin)
    assert case.message in line, line
    assert registry_file.read_bytes() == before
    assert [p.name for p in registry_file.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_bad_key_on_first_add_creates_no_registry(keys: Keys, registry_file: Path) -> None:
    fails("guest", "add", "alice", "--key", str(keys.garbage))
    assert not registry_file.exists()


# --- two (eight) processes at once ---------------------------------------------------------


def test_concurrent_guest_add_processes(tmp_path: Path, registry_file: Path) -> None:
    pubs = [keygen(tmp_path, f"k{i}").with_suffix(".pub") for i in range(8)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "pairtui", "guest", "add", f"g{i}", "--key", str(p)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, p in enumerate(pubs)
    ]
    try:
        for proc in procs:
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    assert sorted(guests()) == [f"g{i}" for i in range(8)]
    assert sorted(openssh_fingerprints(registry_file)) == sorted(fingerprint(p) for p in pubs)


# --- what guests control: shown escaped, kept exact, refused where OpenSSH refuses ---------

HOSTILE = "\x1b]52;c;aGFja2Vk\x07\x1b]0;pwned\x07\x1b[2J\u202eevil\u200b [bold red]x[/]"
"""A key comment that writes the host's clipboard, retitles and clears its terminal."""
HOSTILE_SHOWN = (
    "\\x1b]52;c;aGFja2Vk\\x07\\x1b]0;pwned\\x07\\x1b[2J\\u202eevil\\u200b [bold red]x[/]"
)


def run_bytes(*args: str) -> subprocess.CompletedProcess[bytes]:
    """The CLI's output as the terminal would receive it: bytes, no newline translation."""
    return subprocess.run(
        [sys.executable, "-m", "pairtui", *args],
        capture_output=True, timeout=30, check=False,
    )  # fmt: skip


def keygen_accepts(file: Path) -> bool:
    res = subprocess.run(["ssh-keygen", "-l", "-f", str(file)], capture_output=True, timeout=30,
                         check=False)  # fmt: skip
    return res.returncode == 0


def test_a_hostile_key_comment_is_listed_escaped_and_kept_exact(
    keys: Keys, tmp_path: Path, registry_file: Path
) -> None:
    kind, blob = keys.text(keys.a).split()[:2]
    hostile = tmp_path / "hostile.pub"
    hostile.write_text(f"{kind} {blob} mallory{HOSTILE}\n")
    assert keygen_accepts(hostile)  # OpenSSH takes any comment: so does pairtui
    ok("guest", "add", "mallory", "--key", str(hostile), "--share", "web")

    for args in (("guest", "list"), ("guest", "set", "mallory", "--mode", "pair")):
        res = run_bytes(*args)
        assert res.returncode == 0, res.stderr
        out = res.stdout.decode()
        assert not any(unicodedata.category(ch) in {"Cc", "Cf"} for ch in out.replace("\n", ""))
        assert f"ssh-ed25519 {fingerprint(keys.a)} mallory{HOSTILE_SHOWN}\n" in out, out

    # JSON stays exact data (JSON escapes the controls itself) ...
    res = run_bytes("guest", "list", "--json")
    assert b"\x1b" not in res.stdout and b"\x07" not in res.stdout
    (mallory,) = json.loads(res.stdout)
    assert mallory["keys"][0]["comment"] == f"mallory{HOSTILE}"
    # ... and so does the registry, which sshd reads.
    assert f"pairtui:mallory mallory{HOSTILE}" in registry_file.read_text()


class KeyLine(NamedTuple):
    test_id: str
    line: str  # the type {t}, base64 {b} and comment {c} of a real key; {h}{r} is {b} split,
    # {u} is {b} without its padding, {x} is {b} cut short
    openssh: bool  # does ssh-keygen -l accept the file?
    refusal: str  # what pairtui says; "" when it takes the key


KEY_LINES = [
    KeyLine("nul-in-base64", "{t} {h}\x00{r} {c}", False, "(it holds a NUL byte)"),
    KeyLine("junk-in-base64", "{t} {h}!{r} {c}", False, "(its key data is not valid base64)"),
    KeyLine("escape-in-base64", "{t} {h}\x1b{r} {c}", False, "(its key data is not valid base64)"),
    KeyLine("base64-of-another-type", "ssh-rsa {b} {c}", False, "not an OpenSSH public key"),
    KeyLine("truncated-blob", "{t} {x} {c}", False, "not an OpenSSH public key"),
    KeyLine("nul-in-comment", "{t} {b} {c}\x00hidden", True, "(it holds a NUL byte)"),
    KeyLine("unpadded-base64", "{t} {u} {c}", False, "not an OpenSSH public key"),
    KeyLine("tabs-between-fields", "{t}\t{b}\t{c}", True, ""),
    KeyLine("controls-in-comment", "{t} {b} {c}\x1b[2J\r\x0b\x85", True, ""),
]


@pytest.mark.parametrize("case", KEY_LINES, ids=[c.test_id for c in KEY_LINES])
def test_key_lines_openssh_refuses_are_refused_in_one_line(
    case: KeyLine, keys: Keys, tmp_path: Path, registry_file: Path
) -> None:
    pub = keygen(tmp_path, "ecdsa", "ecdsa").with_suffix(".pub")  # its base64 ends in =
    kind, blob, comment = pub.read_text().split()
    assert blob.endswith("=")
    file = tmp_path / "k.pub"
    text = case.line.format(t=kind, b=blob, c=comment, h=blob[:20], r=blob[20:],
                            u=blob.rstrip("="), x=blob[:-8])  # fmt: skip
    file.write_bytes((text + "\n").encode())
    assert keygen_accepts(file) is case.openssh
    if case.refusal:
        line = fails("guest", "add", "carol", "--key", str(file))
        assert line.startswith(f"pairtui: {file}: ") and case.refusal in line, line
        assert not any(unicodedata.category(ch) == "Cc" for ch in line)
        assert not registry_file.exists()
    else:
        (carol,) = pairtui_json("guest", "add", "carol", "--key", str(file))["keys"]
        assert carol["fingerprint"] == fingerprint(pub)


@pytest.mark.parametrize(
    "args",
    [("guest", "remove", "bob"), ("unshare", "nothing"), ("tunnel", "up", "nowhere")],
)
def test_with_json_an_error_is_a_json_object_on_standard_output(args: tuple[str, ...]) -> None:
    """Any command: a script that asked for JSON gets JSON, and still a non-zero exit."""
    res = pairtui(*args, "--json")
    assert res.returncode == 1
    error = json.loads(res.stdout)["error"]
    assert error and res.stderr.strip() == f"pairtui: {error}"
