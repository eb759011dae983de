"""Importing keys from a forge (`--github USER`, `--gitlab USER`) served by a local HTTP server."""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from support import keygen, pairtui, pairtui_json

from pairtui import paths
from pairtui.errors import PairtuiError
from pairtui.forges import fetch_keys


@dataclass
class Forge:
    """A stand-in for github.com: ``pages`` maps a path to (status, body)."""

    url: str
    pages: dict[str, tuple[int, bytes]]
    requests: list[str] = field(default_factory=list)


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """urllib honours *_proxy variables; loopback requests must not go through one."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")


@pytest.fixture
def forge() -> Iterator[Forge]:
    state = Forge("", {})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            status, body = state.pages.get(self.path, (404, b"Not Found"))
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def use_forge(github: str, gitlab: str | None = None) -> None:
    lines = ["[forges]", f'github = "{github}"']
    if gitlab is not None:
        lines.append(f'gitlab = "{gitlab}"')
    paths.config_file().write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def two_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("forge-keys")
    return keygen(d, "one").with_suffix(".pub"), keygen(d, "two", "rsa").with_suffix(".pub")


def fingerprint(pubfile: Path) -> str:
    out = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(pubfile)],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    return out.split()[1]


def as_forge_serves(pubfile: Path) -> bytes:
    """GitHub serves ``TYPE BASE64`` lines, without the comment."""
    return (" ".join(pubfile.read_text().split()[:2]) + "\n").encode()


def fails(*args: str) -> str:
    res = pairtui(*args)
    assert res.returncode == 1, (res.returncode, res.stdout, res.stderr)
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pairtui: "), res.stderr
    return lines[0]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # nothing listens there any more: connections are refused


# --- through the CLI ----------------------------------------------------------------------


def test_github_import_registers_every_key(forge: Forge, two_keys: tuple[Path, Path]) -> None:
    one, two = two_keys
    forge.pages["/alice.keys"] = (200, as_forge_serves(one) + as_forge_serves(two))
    use_forge(forge.url)
    out = pairtui_json("guest", "add", "alice", "--github", "alice", "--mode", "pair")
    assert forge.requests == ["/alice.keys"]
    assert [k["fingerprint"] for k in out["keys"]] == [fingerprint(one), fingerprint(two)]
    (alice,) = pairtui_json("guest", "list")
    assert alice["mode"] == "pair"
    assert [(k["type"], k["fingerprint"]) for k in alice["keys"]] == [
        ("ssh-ed25519", fingerprint(one)),
        ("ssh-rsa", fingerprint(two)),
    ]


def test_gitlab_import_and_a_base_url_with_a_path(
    forge: Forge, two_keys: tuple[Path, Path]
) -> None:
    one, _ = two_keys
    forge.pages["/gl/bob.keys"] = (200, one.read_bytes())  # with its comment this time
    use_forge(f"http://127.0.0.1:{closed_port()}", gitlab=forge.url + "/gl/")
    out = pairtui_json("guest", "add", "bob", "--gitlab", "bob")
    assert forge.requests == ["/gl/bob.keys"]
    assert out["keys"] == [
        {"type": "ssh-ed25519", "fingerprint": fingerprint(one), "comment": "one@test"}
    ]


def test_forge_keys_plus_a_key_file(forge: Forge, two_keys: tuple[Path, Path]) -> None:
    one, two = two_keys
    forge.pages["/alice.keys"] = (200, as_forge_serves(one))
    use_forge(forge.url)
    out = pairtui_json("guest", "add", "alice", "--key", str(two), "--github", "alice")
    assert {k["fingerprint"] for k in out["keys"]} == {fingerprint(one), fingerprint(two)}


def test_unknown_user_is_a_clear_error(forge: Forge) -> None:
    use_forge(forge.url)
    line = fails("guest", "add", "ghost", "--github", "ghost")
    assert line == f"pairtui: github has no user 'ghost' ({forge.url}/ghost.keys)"
    assert not paths.registry_file().exists()


def test_user_without_keys_is_a_clear_error(forge: Forge) -> None:
    forge.pages["/nokeys.keys"] = (200, b"")
    forge.pages["/blank.keys"] = (200, b"\n  \n")
    use_forge(forge.url)
    for user in ("nokeys", "blank"):
        line = fails("guest", "add", user, "--github", user)
        assert line == f"pairtui: github user {user!r} has no public keys ({forge.url}/{user}.keys)"
    assert not paths.registry_file().exists()


def test_unreachable_forge_is_a_clear_error() -> None:
    port = closed_port()
    use_forge(f"http://127.0.0.1:{port}")
    line = fails("guest", "add", "alice", "--github", "alice")
    assert line.startswith(f"pairtui: cannot reach http://127.0.0.1:{port}/alice.keys: ")
    assert "refused" in line.lower()


def test_forge_failures_leave_the_registry_unchanged(
    forge: Forge, two_keys: tuple[Path, Path]
) -> None:
    one, two = two_keys
    forge.pages["/alice.keys"] = (200, as_forge_serves(one))
    forge.pages["/broken.keys"] = (500, b"oops")
    forge.pages["/html.keys"] = (200, b"<html><body>Sign in</body></html>\n")
    forge.pages["/thief.keys"] = (200, as_forge_serves(two) + as_forge_serves(one))
    use_forge(forge.url)
    pairtui_json("guest", "add", "alice", "--github", "alice")
    before = paths.registry_file().read_bytes()
    assert fails("guest", "add", "x", "--github", "broken").endswith("/broken.keys: HTTP 500")
    assert "not an OpenSSH public key" in fails("guest", "add", "x", "--github", "html")
    assert "already registered to guest 'alice'" in fails("guest", "add", "x", "--github", "thief")
    assert "has no user" in fails("guest", "add", "x", "--github", "nobody")
    assert paths.registry_file().read_bytes() == before


def test_forge_keys_openssh_would_refuse_are_refused(
    forge: Forge, two_keys: tuple[Path, Path]
) -> None:
    """A forge is the guest's word: a NUL or junk in the base64 is not skipped over."""
    one, _ = two_keys
    kind, blob = one.read_text().split()[:2]
    forge.pages["/nul.keys"] = (200, f"{kind} {blob[:30]}\x00{blob[30:]}\n".encode())
    forge.pages["/junk.keys"] = (200, f"{kind} {blob[:30]}\x1b\x07{blob[30:]}\n".encode())
    use_forge(forge.url)
    line = fails("guest", "add", "x", "--github", "nul")
    assert line == f"pairtui: {forge.url}/nul.keys: not an OpenSSH public key (it holds a NUL byte)"
    line = fails("guest", "add", "x", "--github", "junk")
    assert line.endswith("/junk.keys: not an OpenSSH public key (its key data is not valid base64)")
    assert not paths.registry_file().exists()


@pytest.mark.parametrize("user", ["../etc/passwd", "a b", "alice\n", "-x", "a?b=c", "x" * 100])
def test_invalid_forge_user_names_are_not_fetched(forge: Forge, user: str) -> None:
    use_forge(forge.url)
    line = fails("guest", "add", "alice", f"--github={user}")
    assert line == f"pairtui: invalid github user name {user!r}"
    assert forge.requests == []


def test_any_forge_of_the_config_is_a_key_source(forge: Forge, two_keys: tuple[Path, Path]) -> None:
    """``--key FORGE:USER`` reads as the dashboard's key field does (pairtui.keys)."""
    one, two = two_keys
    forge.pages["/cb/carol.keys"] = (200, as_forge_serves(one))
    forge.pages["/alice.keys"] = (200, as_forge_serves(two))
    paths.config_file().write_text(
        f'[forges]\ncodeberg = "{forge.url}/cb"\ngithub = "{forge.url}"\n'
    )
    out = pairtui_json("guest", "add", "carol", "--key", "codeberg:carol")
    assert [k["fingerprint"] for k in out["keys"]] == [fingerprint(one)]
    out = pairtui_json("guest", "add", "alice", "--key", "github:alice")
    assert [k["fingerprint"] for k in out["keys"]] == [fingerprint(two)]
    assert forge.requests == ["/cb/carol.keys", "/alice.keys"]


def test_a_bad_source_is_refused_before_any_forge_is_asked(forge: Forge) -> None:
    use_forge(forge.url)
    line = fails("guest", "add", "x", "--github", "alice", "--key", "github:a/b")
    assert line == "pairtui: invalid github user name 'a/b'"
    assert forge.requests == []


def test_malformed_base_url_in_the_config_is_a_clear_error() -> None:
    use_forge("github.com")
    line = fails("guest", "add", "alice", "--github", "alice")  # one line, no traceback
    assert "github.com" in line


# --- fetch_keys itself ----------------------------------------------------------------------


def test_fetch_keys_returns_parsed_keys(forge: Forge, two_keys: tuple[Path, Path]) -> None:
    one, two = two_keys
    forge.pages["/alice.keys"] = (200, as_forge_serves(one) + b"\n" + as_forge_serves(two))
    keys = fetch_keys("github", forge.url + "/", "alice")
    assert [k.fingerprint for k in keys] == [fingerprint(one), fingerprint(two)]
    assert [k.comment for k in keys] == ["", ""]


def test_fetch_keys_times_out() -> None:
    """A forge that accepts the connection and never answers: an error, not a hang."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(PairtuiError, match=r"^cannot reach .*/alice\.keys: .*timed out"):
            fetch_keys("github", url, "alice", timeout=0.5)


def test_fetch_keys_from_a_server_that_does_not_speak_http() -> None:
    with socket.socket() as bad:
        bad.bind(("127.0.0.1", 0))
        bad.listen()
        url = f"http://127.0.0.1:{bad.getsockname()[1]}"

        def answer() -> None:
            conn, _ = bad.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        with pytest.raises(PairtuiError, match=r"^cannot (fetch|reach) .*/alice\.keys"):
            fetch_keys("github", url, "alice", timeout=10)
        thread.join(timeout=10)


def test_fetch_keys_with_a_bad_port_in_the_url() -> None:
    with pytest.raises(PairtuiError, match=r"alice\.keys"):
        fetch_keys("github", "http://127.0.0.1:notaport", "alice")
