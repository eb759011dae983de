"""pairtui.keys: what the host gives for a guest's key (a key, a file, FORGE:USER), read
alike by the CLI and the dashboard."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest
from app_fakes import KEYS, fingerprint_of

from pairtui.errors import PairtuiError
from pairtui.keys import KeySource, fetch, forge_user, read_key_source, ways

FORGES = {"github": "https://github.com", "gitlab": "https://gitlab.com",
          "Codeberg": "https://codeberg.org"}  # fmt: skip


class Given(NamedTuple):
    test_id: str
    text: str
    source: KeySource


FORGE_USERS = [
    Given("github", "github:alice", KeySource(forge="github", user="alice")),
    Given("gitlab", "gitlab:bob.b-c_d", KeySource(forge="gitlab", user="bob.b-c_d")),
    Given("a forge of the config", "codeberg:carol", KeySource(forge="Codeberg", user="carol")),
    Given("any case, blanks around", "  GitHub:alice\n", KeySource(forge="github", user="alice")),
]


@pytest.mark.parametrize("case", FORGE_USERS, ids=[c.test_id for c in FORGE_USERS])
def test_a_forge_user_is_checked_not_fetched(case: Given) -> None:
    assert read_key_source(case.text, FORGES) == case.source


@pytest.mark.parametrize(
    "user", ["alice/x", "alice?x=1", "../etc/passwd", "a b", "-x", "", "x" * 100, "alice\tx"]
)
def test_a_forge_user_name_is_refused_as_fetch_keys_refuses_it(user: str) -> None:
    """The whole name must match (``fullmatch``): a valid start is not enough."""
    message = f"invalid github user name {user!r}"
    with pytest.raises(PairtuiError) as given:
        read_key_source(f"github:{user}", FORGES)
    assert str(given.value) == message
    with pytest.raises(PairtuiError) as direct:
        forge_user("github", user)
    assert str(direct.value) == message


def test_a_forge_not_in_the_config_is_a_file_name() -> None:
    with pytest.raises(PairtuiError, match=r"^cannot read key file 'gitea:alice': no such file"):
        read_key_source("gitea:alice", FORGES)


def test_a_pasted_key_and_a_key_file_read_alike(tmp_path: Path) -> None:
    pasted = read_key_source(KEYS["alice"], FORGES)
    path = tmp_path / "alice.pub"
    path.write_text(KEYS["alice"] + "\n")
    from_file = read_key_source(str(path), FORGES)
    assert [k.fingerprint for k in pasted.keys] == [fingerprint_of("alice")]
    assert pasted == from_file and pasted.forge is None
    assert fetch(pasted, FORGES) == list(pasted.keys)  # nothing to fetch


def test_a_file_named_like_a_key_is_read_as_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("ssh-alice.pub").write_text(KEYS["alice"] + "\n")
    (key,) = read_key_source("ssh-alice.pub", FORGES).keys
    assert key.fingerprint == fingerprint_of("alice")


def test_a_pasted_key_too_long_for_a_file_name_is_still_a_key() -> None:
    kind, blob, _ = KEYS["bob"].split()
    with pytest.raises(PairtuiError, match="the pasted key: "):
        read_key_source(f"{kind} {blob} {'x' * 5000}\x00", FORGES)
    (key,) = read_key_source(f"{kind} {blob} {'x' * 5000}", FORGES).keys
    assert key.fingerprint == fingerprint_of("bob")


class Bad(NamedTuple):
    test_id: str
    text: str
    error: str


BAD = [
    Bad(
        "nothing",
        "  ",
        "give a public key, the path of a .pub file, or github:USER / gitlab:USER / Codeberg:USER",
    ),
    Bad("a broken key", "ssh-ed25519 AAAAnot-a-key", "the pasted key: not an OpenSSH public key"),
    Bad("a private key", "-----BEGIN OPENSSH PRIVATE KEY-----", "holds a private key"),
    Bad("no such file", "~/nope.pub", "cannot read key file '~/nope.pub': no such file"),
]


@pytest.mark.parametrize("case", BAD, ids=[c.test_id for c in BAD])
def test_what_is_not_a_key_says_why(case: Bad) -> None:
    with pytest.raises(PairtuiError) as exc:
        read_key_source(case.text, FORGES)
    assert case.error in str(exc.value)


def test_a_directory_is_not_a_key_file(tmp_path: Path) -> None:
    with pytest.raises(PairtuiError, match=r"^cannot read key file .*: \[Errno 21\]"):
        read_key_source(str(tmp_path), FORGES)


def test_ways_lists_every_forge_or_none() -> None:
    assert ways(["github"]) == "a public key, the path of a .pub file, or github:USER"
    assert ways([]) == "a public key, the path of a .pub file"


def test_fetching_from_a_forge_the_config_lost_says_so() -> None:
    with pytest.raises(PairtuiError, match=r"^no forge 'codeberg' in the config"):
        fetch(KeySource(forge="codeberg", user="carol"), {"github": "https://github.com"})
