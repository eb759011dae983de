"""Shares: the store in shares.json, the tmux sessions behind it, and which share a guest gets."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from support import TmuxHost, keygen

from pairtui import paths
from pairtui.authorized_keys import parse_public_keys
from pairtui.errors import PairtuiError
from pairtui.fileutil import file_stamp
from pairtui.registry import Guest, Registry
from pairtui.shares import (
    Share,
    ShareStore,
    resolve_share,
    suggested_name,
    validate_share_name,
)
from pairtui.tmux import Tmux, share_sessions

CREATED = "2026-01-02T03:04:05Z"


def share(name: str, target: str = "host", socket: str = "/tmp/s", created: str = CREATED) -> Share:
    return Share(name, "session", target, None, socket, created)


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


# --- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "7", "main", "Work_2-b", "x" * 32])
def test_good_share_names(name: str) -> None:
    assert validate_share_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "-lead", "_lead", "x" * 33, "two words", "a/b", "a.b", "café", "a;b", "a\nb"]
)
def test_bad_share_names_are_refused_in_one_line(name: str) -> None:
    with pytest.raises(PairtuiError, match=r"invalid share name .*up to 32") as err:
        validate_share_name(name)
    assert "\n" not in str(err.value).replace(repr(name), "")


class Suggest(NamedTuple):
    test_id: str
    session: str
    suggested: str


SUGGESTIONS = [
    Suggest("plain", "work", "work"),
    Suggest("window", "work-2", "work-2"),
    Suggest("spaces-and-dots", "my project.v2", "my-project-v2"),
    Suggest("runs-collapse", "a  //  b", "a-b"),
    Suggest("edges-trimmed", "  (api)  ", "api"),
    Suggest("long", "s" * 40, "s" * 32),
    Suggest("nothing-left", "日本語", "share"),
    Suggest("empty", "", "share"),
]


@pytest.mark.parametrize("case", SUGGESTIONS, ids=[c.test_id for c in SUGGESTIONS])
def test_suggested_name_from_a_session_name(case: Suggest) -> None:
    assert suggested_name(case.session) == case.suggested


@pytest.mark.parametrize(
    "session",
    [
        "work",
        "my project.v2",
        "-dash-",
        "a" * 31 + "." + "b",
        "ünïcode ok",
        "#1 [tmp]",
        "_scratch",
        "-_-",
    ],
)
def test_every_suggested_name_is_a_valid_share_name(session: str) -> None:
    """Its docstring's promise: sharing any session without --name must not fail on the name."""
    assert validate_share_name(suggested_name(session))


def test_a_session_named_with_a_leading_underscore_can_be_shared_without_a_name(
    tmux_host: TmuxHost,
) -> None:
    tmux_host.run("new-session", "-d", "-s", "_scratch")
    assert Tmux(tmux_host.socket).has_session("_scratch")
    try:
        made = ShareStore().create(Tmux(tmux_host.socket), session="_scratch")
    except PairtuiError as exc:
        pytest.fail(f"sharing session '_scratch' failed: {exc}")
    assert made.target == "_scratch" and "scratch" in made.name


# --- the store ------------------------------------------------------------------------------------


def test_no_file_and_an_empty_file_are_no_shares() -> None:
    store = ShareStore()
    assert not store.path.exists()
    assert (store.load(), store.default()) == ([], None)
    store.path.write_text("  \n")
    assert (store.load(), store.default()) == ([], None)


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        '{"name": "main"}',  # an object, not a list of them
        "42",
        '[{"name": "main"}]',  # fields missing
        '["main"]',
    ],
    ids=["not-json", "object", "number", "missing-fields", "list-of-strings"],
)
def test_a_broken_shares_file_is_one_error_naming_the_file(text: str) -> None:
    store = ShareStore()
    store.path.write_text(text)
    with pytest.raises(PairtuiError, match=rf"^{re.escape(str(store.path))}: not a valid shares"):
        store.load()
    with pytest.raises(PairtuiError):
        store.default()


def test_the_store_lives_in_the_state_dir_and_is_private(tmux_host: TmuxHost) -> None:
    store = ShareStore()
    assert store.path == paths.state_dir() / "shares.json"
    made = store.create(Tmux(tmux_host.socket), session="host", name="main")
    assert mode(store.path) == 0o600
    assert json.loads(store.path.read_text()) == [made.to_json()]
    assert ShareStore().load() == [made]


def test_a_session_share_records_what_was_shared_and_when(tmux_host: TmuxHost) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    made = ShareStore().create(Tmux(tmux_host.socket), session="host", name="main")
    after = datetime.now(UTC)
    assert (made.name, made.kind, made.target, made.pane) == ("main", "session", "host", None)
    assert made.socket == str(tmux_host.socket)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", made.created)
    when = datetime.strptime(made.created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= when <= after
    tmux = Tmux(tmux_host.socket)
    assert tmux.has_session(made.sessions.view) and tmux.has_session(made.sessions.pair)
    assert ShareStore().live(made)


def test_a_share_without_a_name_is_named_after_its_session(tmux_host: TmuxHost) -> None:
    tmux_host.run("new-session", "-d", "-s", "my project (v2)")
    made = ShareStore().create(Tmux(tmux_host.socket), session="my project (v2)")
    assert (made.name, made.target) == ("my-project-v2", "my project (v2)")


def test_without_a_session_the_one_pairtui_runs_in_is_shared(
    tmux_host: TmuxHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without the pane, tmux's most recent session would be this newer one (or, in the
    # same second, this one again: it sorts first).
    tmux_host.run("new-session", "-d", "-s", "aaa")
    pane = tmux_host.run("display-message", "-p", "-t", "host:0", "#{pane_id}").strip()
    monkeypatch.setenv("TMUX", f"{tmux_host.socket},{tmux_host.pid},0")
    monkeypatch.setenv("TMUX_PANE", pane)
    assert ShareStore().create(Tmux(tmux_host.socket)).target == "host"


def test_without_a_session_outside_tmux_a_guest_session_is_never_the_one_shared(
    tmux_host: TmuxHost,
) -> None:
    """The guests' sessions are the newest on the server; the host's session is shared."""
    store, tmux = ShareStore(), Tmux(tmux_host.socket)
    store.create(tmux, session="host", name="main")
    made = store.create(tmux)
    assert (made.name, made.target) == ("host", "host")


def test_a_pane_share_holds_its_window_named_session_and_index(tmux_host: TmuxHost) -> None:
    tmux_host.run("new-window", "-d", "-t", "host:3")
    pane = tmux_host.run("display-message", "-p", "-t", "host:3", "#{pane_id}").strip()
    window = tmux_host.run("display-message", "-p", "-t", "host:3", "#{window_id}").strip()
    store = ShareStore()
    made = store.create(Tmux(tmux_host.socket), pane=pane)
    assert (made.name, made.kind, made.target, made.pane) == ("host-3", "window", window, pane)
    assert store.for_window(window) == made
    assert store.for_window("@999") is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"session": "host", "pane": "%0"}, "either --session or --pane, not both"),
        ({"session": "nope"}, "no tmux session named 'nope'"),
        ({"session": "pairtui-main-view"}, "is a pairtui guest session; share its host"),
        ({"session": "host", "name": "bad name"}, "invalid share name 'bad name'"),
    ],
    ids=["session-and-pane", "no-such-session", "a-guest-session", "bad-name"],
)
def test_a_share_that_cannot_be_made_changes_nothing(
    tmux_host: TmuxHost, kwargs: dict[str, Any], message: str
) -> None:
    store = ShareStore()
    first = store.create(Tmux(tmux_host.socket), session="host", name="main")
    before = file_stamp(store.path)
    sessions = tmux_host.run("list-sessions", "-F", "#{session_name}")
    with pytest.raises(PairtuiError, match=re.escape(message)):
        store.create(Tmux(tmux_host.socket), **kwargs)
    assert file_stamp(store.path) == before
    assert store.load() == [first]
    assert tmux_host.run("list-sessions", "-F", "#{session_name}") == sessions


def test_sharing_again_under_a_name_replaces_it(
    tmux_host: TmuxHost,
) -> None:
    tmux_host.run("new-session", "-d", "-s", "other")
    store, tmux = ShareStore(), Tmux(tmux_host.socket)
    store.create(tmux, session="host", name="a")
    store.create(tmux, session="host", name="b")
    assert store.default() is None  # two shares: a guest who names none chooses
    again = store.create(tmux, session="other", name="a")
    assert [s.name for s in store.load()] == ["b", "a"]
    assert store.get("a") == again and again.target == "other"
    store.remove("b")
    assert store.default() == again
    view = share_sessions("a").view
    assert tmux_host.run("display-message", "-p", "-t", f"={view}", "#{session_group}").strip() == (
        tmux_host.run("display-message", "-p", "-t", "=other", "#{session_group}").strip()
    )


CREATOR = """
import sys
from pathlib import Path
from pairtui.shares import ShareStore
from pairtui.tmux import Tmux
ShareStore().create(Tmux(Path(sys.argv[1])), session="host", name=sys.argv[2])
"""


def test_processes_sharing_at_once_lose_no_share(tmux_host: TmuxHost) -> None:
    """shares.json is edited under its lock: each process's share survives the others'."""
    names = [f"s{i}" for i in range(6)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CREATOR, str(tmux_host.socket), name],
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * len(names), errors
    store = ShareStore()
    assert sorted(s.name for s in store.load()) == names
    assert all(store.live(s) for s in store.load())


def test_an_unknown_share_is_one_error_pointing_at_the_list() -> None:
    store = ShareStore()
    pointer = r"no share named 'x' \(see `pairtui share list`\)"
    with pytest.raises(PairtuiError, match=pointer):
        store.get("x")
    with pytest.raises(PairtuiError, match=pointer):
        store.remove("x")
    assert not store.path.exists()


def test_removing_a_share_ends_its_sessions_and_keeps_the_others(tmux_host: TmuxHost) -> None:
    store, tmux = ShareStore(), Tmux(tmux_host.socket)
    keep = store.create(tmux, session="host", name="keep")
    gone = store.create(tmux, session="host", name="gone")
    assert store.remove("gone") == gone
    assert store.load() == [keep]
    assert not tmux.has_session(gone.sessions.view) and not tmux.has_session(gone.sessions.pair)
    assert store.live(keep)
    assert tmux.has_session("host")  # the host's own session is never touched


def test_a_share_on_a_tmux_that_is_gone_can_still_be_removed_and_renamed(
    tmux_host: TmuxHost,
) -> None:
    store = ShareStore()
    store.create(Tmux(tmux_host.socket), session="host", name="a")
    store.create(Tmux(tmux_host.socket), session="host", name="b")
    tmux_host.kill()
    assert store.rename("a", "c").name == "c"
    store.remove("b")
    assert [s.name for s in store.load()] == ["c"]


# --- renaming ----------------------------------------------------------------------------------


def test_renaming_moves_the_sessions_and_keeps_everything_else(tmux_host: TmuxHost) -> None:
    store, tmux = ShareStore(), Tmux(tmux_host.socket)
    before = store.create(tmux, session="host", name="main")
    other = store.create(tmux, session="host", name="other")
    after = store.rename("main", "demo")
    assert after.to_json() == {**before.to_json(), "name": "demo"}
    assert store.load() == [after, other]  # same place in the list: the default stays
    assert not tmux.has_session(before.sessions.view)
    assert tmux.has_session(after.sessions.view) and tmux.has_session(after.sessions.pair)
    assert before.now_in(store.load()) == after


def test_renaming_to_its_own_name_changes_nothing(tmux_host: TmuxHost) -> None:
    store = ShareStore()
    made = store.create(Tmux(tmux_host.socket), session="host", name="main")
    assert store.rename("main", "main") == made
    assert store.load() == [made]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("main", "other", "there is already a share named 'other'"),
        ("nope", "fresh", "no share named 'nope'"),
        ("main", "no good", "invalid share name 'no good'"),
    ],
    ids=["taken", "unknown", "invalid"],
)
def test_a_rename_that_cannot_happen_changes_nothing(
    tmux_host: TmuxHost, old: str, new: str, message: str
) -> None:
    store, tmux = ShareStore(), Tmux(tmux_host.socket)
    store.create(tmux, session="host", name="main")
    store.create(tmux, session="host", name="other")
    before, shares = file_stamp(store.path), store.load()
    sessions = tmux_host.run("list-sessions", "-F", "#{session_name}")
    with pytest.raises(PairtuiError, match=re.escape(message)):
        store.rename(old, new)
    assert (file_stamp(store.path), store.load()) == (before, shares)
    assert tmux_host.run("list-sessions", "-F", "#{session_name}") == sessions


def test_guests_invited_to_a_share_are_invited_to_its_new_name(
    tmux_host: TmuxHost, tmp_path: Path
) -> None:
    registry = Registry()
    for name, invited in (("alice", "main"), ("bob", "other"), ("carol", None)):
        pub = keygen(tmp_path, name).with_suffix(".pub").read_text()
        registry.add(name, parse_public_keys(pub), share=invited)
    store = ShareStore()
    store.create(Tmux(tmux_host.socket), session="host", name="main")
    store.rename("main", "demo", registry)
    shares = {name: g.share for name, g in Registry().guests().items()}
    assert shares == {"alice": "demo", "bob": "other", "carol": None}


# --- following a share: now_in -----------------------------------------------------------------


def test_a_share_is_followed_through_a_rename_and_lost_when_stopped() -> None:
    main = share("main")
    other = share("other", target="elsewhere")
    assert main.now_in([other, main]) == main
    renamed = Share("demo", main.kind, main.target, main.pane, main.socket, main.created)
    assert main.now_in([other, renamed]) == renamed
    assert main.now_in([other]) is None
    assert main.now_in([]) is None


@pytest.mark.parametrize(
    "twin",
    [
        share("x", target="elsewhere"),
        share("x", socket="/tmp/another-server"),
        share("x", created="2026-01-02T03:04:06Z"),
        Share("x", "window", "host", "%1", "/tmp/s", CREATED),
    ],
    ids=["other-target", "other-server", "made-later", "a-window-not-a-session"],
)
def test_a_different_share_is_not_mistaken_for_a_renamed_one(twin: Share) -> None:
    assert share("main").now_in([twin]) is None


def test_a_stopped_share_is_not_mistaken_for_another_share_of_its_session_made_with_it(
    tmux_host: TmuxHost,
) -> None:
    """``pairtui share --name a; pairtui share --name b`` in a script, then ``a`` is stopped:
    the engine asks ``a.now_in(...)`` why a guest's tmux ended and must hear "stopped"
    (it used to find ``b``, and told the guest nothing)."""
    store, tmux = ShareStore(), Tmux(tmux_host.socket)
    a = store.create(tmux, session="host", name="a")
    store.create(tmux, session="host", name="b")
    # Both made within one second, as a script makes them (the clock may tick between).
    rows = json.loads(store.path.read_text())
    rows[1]["created"] = rows[0]["created"]
    store.path.write_text(json.dumps(rows))
    assert [s.name for s in store.load()] == ["a", "b"]
    store.remove("a")
    assert a.now_in(store.load()) is None


# --- which share a guest lands in -----------------------------------------------------------------


class Landing(NamedTuple):
    test_id: str
    invited_to: str | None
    requested: str
    running: list[str]
    lands: str  # a share name, or the start of the reason it may not


LANDINGS = [
    Landing("the-only-one", None, "", ["a"], "a"),
    Landing("several-the-guest-chooses", None, "", ["a", "b"], "?a b"),
    Landing("asks-for-one", None, "a", ["a", "b"], "a"),
    Landing("a-command-is-not-a-share", None, "ls -la", ["a", "b"],
            "no share 'ls -la' for you; you may join: a, b"),
    Landing("invited-goes-there", "a", "", ["a", "b"], "a"),
    Landing("invited-asks-for-it", "a", "a", ["a", "b"], "a"),
    Landing("invited-a-command-is-not-a-share", "a", "vim", ["a", "b"],
            "no share 'vim' for you; you may join: a"),
    # The same answer as for a share that does not exist: b's existence is not told.
    Landing("invited-asks-for-another", "a", "b", ["a", "b"],
            "no share 'b' for you; you may join: a"),
    Landing("invited-share-not-running", "c", "", ["a", "b"], "the share you were invited to"),
    Landing("invited-nothing-running", "c", "", [], "the share you were invited to"),
    Landing("invited-asks-for-a-running-other", "c", "a", ["a"],
            "no share 'a' for you; nothing you may join is shared now"),
    Landing("nothing-shared", None, "", [], "nothing is shared right now"),
    Landing("asks-for-a-missing-share", None, "c", [],
            "no share 'c' for you; nothing you may join is shared now"),
    Landing("a-hostile-name-is-escaped", None, "\x1b]52;c;aGk=\x07", ["a"],
            "no share '\\x1b]52;c;aGk=\\x07' for you; you may join: a"),
    Landing("a-long-name-is-cut", None, "x" * 5000, ["a"], f"no share '{'x' * 40}' for you"),
]  # fmt: skip


@pytest.mark.parametrize("case", LANDINGS, ids=[c.test_id for c in LANDINGS])
def test_which_share_a_guest_lands_in(case: Landing) -> None:
    shares = [share(n, target=f"t-{n}") for n in case.running]
    got = resolve_share(Guest("alice", share=case.invited_to), case.requested, shares)
    if isinstance(got, Share):
        assert got.name == case.lands
        assert got in shares
    elif isinstance(got, list):  # "?a b": the guest chooses among a and b
        assert case.lands == "?" + " ".join(s.name for s in got)
    else:
        assert got.startswith(case.lands), got
        assert "\n" not in got and "\x1b" not in got
