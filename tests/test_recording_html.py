"""A recording as one HTML page (issue 18): what the page holds, and that a real headless
Chromium (Debian's, driven by Playwright) plays it to the end with the marker on the
timeline, while a guest's hostile output stays text on the screen."""

from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support import wait_until

from pairtui.errors import PairtuiError
from pairtui.recording import cast as castfmt
from pairtui.recording import html
from pairtui.recording.cast import CastWriter, Header

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Request

REPO = Path(__file__).resolve().parent.parent
PLAYER = REPO / "pairtui" / "recording" / html.ASSETS
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
START = 1_796_000_000  # 2026-11-30T00:53:20Z: a fixed start, so the title is known
END = "RECORDED-END-42"
HOSTILE = "</script><script>document.title='pwned'</script><!--<script>"


def record(path: Path, steps: list[tuple[str, str]], *, keys: bool = False) -> Path:
    """A real cast (the writer pairtui's recorder uses), written over ~1 s: ``steps`` are
    ``(code, data)`` with "o" output, "m" a marker, "i" a guest's keys, "w" a pause."""
    w = CastWriter(path, Header(80, 24, START, ""), keys=keys)
    for code, data in steps:
        if code == "o":
            w.output(data.encode())
        elif code == "m":
            w.marker(data)
        elif code == "i":
            w.input("alice", data.encode())
        else:
            time.sleep(float(data))
    w.close()
    return path


def session(tmp_path: Path, first: str = "$ make demo\r\n", guest: str = "alice") -> Path:
    return record(tmp_path / "main-20261130T000000Z.cast", [
        ("o", "\x1b[2J\x1b[H" + first), ("w", "0.25"),
        ("m", castfmt.joined(guest, "pair")), ("o", "building...\r\n"), ("w", "0.25"),
        ("o", "still building\r\n"), ("w", "0.25"),
        ("m", castfmt.left(guest)), ("o", f"\x1b[1;32m{END}\x1b[0m\r\n"), ("w", "0.25"),
        ("o", "$ "),
    ])  # fmt: skip


def data_block(page: str) -> dict[str, object]:
    m = re.search(r'<script type="application/json" id="pairtui-recording">(.*?)</script>',
                  page, re.DOTALL)  # fmt: skip
    assert m, "no data block"
    loaded: dict[str, object] = json.loads(m[1])
    return loaded


# What the page holds ─────────────────────────────────────────────────────────────────


def test_the_page_is_private_self_contained_and_named_after_the_share(tmp_path: Path) -> None:
    rec = tmp_path / "recordings"
    rec.mkdir()
    out = rec / "share.html"
    html.export_html(session(rec), out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert sorted(p.name for p in rec.iterdir()) == ["main-20261130T000000Z.cast", "share.html"]
    page = out.read_text()
    assert "<title>main — 2026-11-30T00:53:20Z</title>" in page
    assert page.count("<script") == page.count("</script") == 3
    markup = re.sub(r"<(script|style)\b.*?</\1>", "", page, flags=re.DOTALL)
    assert not re.search(r"\b(src|href)\s*=", markup), "the page loads nothing from anywhere"
    assert "default-src 'none'" in page.replace("&#x27;", "'")
    assert (PLAYER / "asciinema-player.min.js").read_text() in page
    assert (PLAYER / "asciinema-player.css").read_text() in page
    cast = data_block(page)["cast"]
    assert isinstance(cast, list)
    assert cast[0] == Header(80, 24, START).to_json()
    assert [e[1:] for e in cast[1:] if e[1] == "m"] == [["m", "alice joined (pair)"],
                                                        ["m", "alice left"]]  # fmt: skip


def test_hostile_output_and_titles_cannot_leave_the_data_block(tmp_path: Path) -> None:
    text = HOSTILE + " & <b>\u2028\u2029 é\r\n"
    path = record(tmp_path / "x.cast", [("o", text), ("m", "<b>m</b>")])
    raw = path.read_text().split("\n")[:-1]  # (not splitlines: U+2028)
    raw[0] = json.dumps(dict(json.loads(raw[0]), title="</title><script>x()</script>"))
    raw.append('[0.5, "o", "lone \\ud800 surrogate"]')  # a damaged file: JSON allows it
    path.write_text("\n".join(raw) + "\n")
    page = html.render(path)
    assert page.count("<script") == page.count("</script") == 3
    assert "<!--" not in page
    title = "&lt;/title&gt;&lt;script&gt;x()&lt;/script&gt; — 2026-11-30T00:53:20Z"
    assert f"<title>{title}</title>" in page
    cast = data_block(page)["cast"]
    assert isinstance(cast, list)
    assert cast[1][1:] == ["o", text]
    assert cast[2][1:] == ["m", "<b>m</b>"]
    assert cast[3][1:] == ["o", "lone ? surrogate"]  # made text every reader can encode
    assert all(ord(c) < 128 for c in page.split('id="pairtui-recording">')[1].split("<")[0])


def test_typed_keys_stay_out_of_the_page_unless_asked(tmp_path: Path) -> None:
    path = record(tmp_path / "k.cast", [("o", "Password: "), ("i", "hunter2\r"), ("o", "\r\n")],
                  keys=True)  # fmt: skip
    plain = data_block(html.render(path))
    assert "hunter2" not in json.dumps(plain)
    assert plain["options"] == {"preload": True, "fit": "width", "controls": True,
                                "keystrokeOverlay": False}  # fmt: skip
    kept = data_block(html.render(path, keys=True))
    cast = kept["cast"]
    assert isinstance(cast, list)
    assert [e[1:] for e in cast[1:]] == [["o", "Password: "], ["i", "hunter2\r"], ["o", "\r\n"]]
    assert kept["options"] == dict(plain["options"], keystrokeOverlay=True)


def test_a_cut_off_cast_plays_what_was_whole_and_an_empty_one_is_refused(tmp_path: Path) -> None:
    path = record(tmp_path / "c.cast", [("o", "one\r\n"), ("o", "two\r\n")])
    with path.open("a") as f:
        f.write('[1.0, "o", "thr')  # a crash mid-line
    cast = data_block(html.render(path))["cast"]
    assert isinstance(cast, list)
    assert [e[2] for e in cast[1:]] == ["one\r\n", "two\r\n"]

    empty = record(tmp_path / "e.cast", [])
    with pytest.raises(PairtuiError, match="nothing recorded to play"):
        html.export_html(empty, tmp_path / "e.html")
    assert not (tmp_path / "e.html").exists()
    (tmp_path / "n.cast").write_text("not a cast\n")
    with pytest.raises(PairtuiError, match="not a recording"):
        html.export_html(tmp_path / "n.cast", tmp_path / "n.html")


def test_the_title_falls_back_to_the_file_name_and_shows_no_controls(tmp_path: Path) -> None:
    path = tmp_path / "odd\x1bname.cast"
    path.write_text(json.dumps({"version": 2, "width": 80, "height": 24}) + '\n[0, "o", "x"]\n')
    header, _ = castfmt.read(path)
    assert html.page_title(path, header) == "odd\\x1bname.cast"
    named = Header(80, 24, START, "demo \u202eevil")
    assert html.page_title(path, named) == "demo \\u202eevil — 2026-11-30T00:53:20Z"


def test_the_shipped_player_is_whole_licensed_and_can_be_inlined() -> None:
    for name in html.PLAYER_FILES:
        assert (PLAYER / name).is_file(), name
    readme = (PLAYER / "README.md").read_text()
    assert f"asciinema-player {html.PLAYER_VERSION} (vendored)" in readme
    assert f"asciinema-player@{html.PLAYER_VERSION}" in readme
    assert "Apache License" in (PLAYER / "LICENSE").read_text()
    js = (PLAYER / "asciinema-player.min.js").read_text()
    css = (PLAYER / "asciinema-player.css").read_text()
    assert "AsciinemaPlayer" in js
    # Inlined as they are, these would end (or confuse) the element that holds them.
    for text, bad in ((js, "</script"), (js, "<!--"), (css, "</style")):
        assert bad not in text.lower(), bad


def test_the_wheel_ships_the_player_where_the_exporter_reads_it(tmp_path: Path) -> None:
    from hatchling.builders.wheel import WheelBuilder

    wheel = Path(next(iter(WheelBuilder(str(REPO)).build(directory=str(tmp_path / "dist")))))
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path / "site")
    shipped = {f"pairtui/recording/{html.ASSETS}/{n}" for n in (*html.PLAYER_FILES, "README.md")}
    assert shipped <= names
    cast = session(tmp_path)
    code = ("import sys, pathlib; from pairtui.recording import html; print(html.__file__); "
            "html.export_html(*map(pathlib.Path, sys.argv[1:]))")  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-c", code, str(cast), str(tmp_path / "w.html")],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    assert out == str(tmp_path / "site" / "pairtui" / "recording" / "html.py")
    assert (tmp_path / "w.html").read_text() == html.render(cast)


# In a real browser ──────────────────────────────────────────────────────────────────


class Browsed:
    """A page open in Chromium, with everything it said and asked for."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("request", self._request)

    def _console(self, msg: ConsoleMessage) -> None:
        if msg.type in ("error", "warning"):
            self.errors.append(f"{msg.type}: {msg.text}")

    def _request(self, request: Request) -> None:
        self.requests.append(request.url)

    def js(self, expression: str) -> object:
        # Through the DevTools protocol: the page's policy forbids eval, rightly, so
        # Playwright's wait_for_function (which evals in the page) cannot be used.
        return self.page.evaluate(expression)


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[BrowserContext]:
    """Debian's Chromium, headless, with a fresh profile; never a downloaded browser."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is missing: scripts/bootstrap --test installs Debian's chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is missing: scripts/bootstrap --test installs the test extra")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=executable,
            headless=True,
            args=FLAGS,
            offline=True,
        )
        context.set_default_timeout(20_000)
        try:
            yield context
        finally:
            context.close()


def open_page(context: BrowserContext, path: Path) -> Browsed:
    """``path`` loaded (its scripts have run, the player may still be loading)."""
    browsed = Browsed(context.new_page())
    browsed.page.goto(path.as_uri())
    return browsed


def wait_loaded(browsed: Browsed) -> Browsed:
    wait_until(lambda: browsed.js("!!window.pairtuiPlayer && pairtuiPlayer.getDuration() > 0"),
               timeout=20, what="the player to load the recording")  # fmt: skip
    return browsed


def play_to_the_end(browsed: Browsed) -> str:
    """Press the player's own start button; the terminal's text once it has ended."""
    browsed.js("window.ended = false;"
               "pairtuiPlayer.addEventListener('ended', () => (window.ended = true))")  # fmt: skip
    browsed.page.locator(".ap-overlay-start").click()
    wait_until(lambda: browsed.js("window.ended"), timeout=20, what="the player to end")
    text = browsed.page.locator(".ap-term-text").inner_text()
    assert isinstance(text, str)
    return text


@pytest.mark.e2e
def test_chromium_plays_the_page_to_the_end_with_the_markers_on_its_timeline(
    tmp_path: Path, chromium: BrowserContext
) -> None:
    out = tmp_path / "share.html"
    html.export_html(session(tmp_path), out)
    browsed = wait_loaded(open_page(chromium, out))
    assert browsed.page.title() == "main — 2026-11-30T00:53:20Z"
    markers = browsed.page.locator(".ap-marker-container .ap-tooltip").all_text_contents()
    assert [m.split(" - ", 1)[1] for m in markers] == ["alice joined (pair)", "alice left"]
    duration = browsed.js("pairtuiPlayer.getDuration()")
    assert isinstance(duration, float) and 0.7 < duration < 5, duration

    screen = play_to_the_end(browsed)
    assert END in screen, screen
    assert "$ make demo" in screen
    assert browsed.js("pairtuiPlayer.getCurrentTime()") == pytest.approx(duration, abs=0.05)
    assert browsed.errors == []
    assert all(u.startswith("file:") for u in browsed.requests), browsed.requests


@pytest.mark.e2e
def test_hostile_output_stays_text_on_the_screen_in_chromium(
    tmp_path: Path, chromium: BrowserContext
) -> None:
    img = "<img src=x onerror=\"document.title='pwned'\">"
    out = tmp_path / "hostile.html"
    html.export_html(session(tmp_path, first=f"{HOSTILE}\r\n{img}\r\n", guest=img), out)
    browsed = open_page(chromium, out)
    assert browsed.page.title() == "main — 2026-11-30T00:53:20Z"  # no script of theirs ran
    wait_loaded(browsed)
    markers = browsed.page.locator(".ap-marker-container .ap-tooltip").all_text_contents()
    assert [m.split(" - ", 1)[1] for m in markers] == [f"{img} joined (pair)", f"{img} left"]
    screen = play_to_the_end(browsed)
    assert "</script><script>document.title='pwned'</script>" in screen, screen
    assert img in screen
    assert END in screen
    assert browsed.page.title() == "main — 2026-11-30T00:53:20Z"
    assert browsed.errors == []
    assert browsed.page.locator("img").count() == 0

    # Even a script that got into the page would not run: the policy names the two.
    browsed.js("""(() => { const s = document.createElement("script");
                  s.textContent = "document.title = 'pwned'"; document.body.append(s); })()""")
    wait_until(lambda: any("Content Security Policy" in e for e in browsed.errors), timeout=10,
               what="the policy to refuse the script")  # fmt: skip
    assert browsed.page.title() == "main — 2026-11-30T00:53:20Z"
