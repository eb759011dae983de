"""A recording as one HTML page that plays it, for people who have no pairtui.

The page carries everything: asciinema-player's script and stylesheet (shipped in
``asciinema_player/``, see its README), the recording as data, and a Content-Security-Policy that
lets only those two scripts run and nothing load from anywhere. What was on screen is a
guest's to choose (a ``</script>`` in a pane's output, say), so the recording goes in as
JSON with every ``<``, ``>`` and ``&`` escaped: it can never close the block it sits in,
and a script it smuggled in anyway would not match the policy's hashes.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from importlib import resources
from pathlib import Path

from pairtui.clock import iso_utc
from pairtui.errors import PairtuiError
from pairtui.fileutil import atomic_write
from pairtui.printable import printable
from pairtui.recording import cast as castfmt

PLAYER_VERSION = "3.18.0"  # asciinema_player/README.md says where it came from
ASSETS = "asciinema_player"  # a directory of files beside the modules (not player.py)
PLAYER_FILES = ("asciinema-player.min.js", "asciinema-player.css", "LICENSE")

# Played as recorded: no idle time cut, the terminal as wide as the page allows.
_OPTIONS: dict[str, object] = {"preload": True, "fit": "width", "controls": True}

# Constant, so its hash in the policy is too: the data changes, this script does not.
_START = """(function () {
  "use strict";
  var page = JSON.parse(document.getElementById("pairtui-recording").textContent);
  window.pairtuiPlayer = AsciinemaPlayer.create(
    {data: page.cast}, document.getElementById("player"), page.options);
})();"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{policy}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="pairtui, asciinema-player {version}">
<title>{title}</title>
<style>
{css}
body {{ margin: 0 auto; padding: 1em; max-width: 90em; font-family: sans-serif;
        background: #fff; color: #222; }}
h1 {{ font-size: 1.2em; margin: 0 0 .6em; }}
footer {{ margin-top: .8em; font-size: .8em; color: #666; }}
</style>
</head>
<body>
<h1>{title}</h1>
<div id="player"></div>
<footer>Recorded with pairtui; played by asciinema-player {version} (Apache License 2.0,
included in this page's source).</footer>
<script type="application/json" id="pairtui-recording">{data}</script>
<script>{player_js}</script>
<script>{start_js}</script>
</body>
</html>
"""


def export_html(cast: Path, out: Path, *, keys: bool = False) -> None:
    """Write ``out``: one page that plays ``cast``, markers on its timeline.

    Written atomically and 0600: it holds whatever was on screen.

    Args:
        cast: An asciicast v2 file (a last line cut off is left out, as pairtui plays it).
        out: The page to write (replaced if it exists).
        keys: Keep the keys pair guests typed (``"i"`` events of an ``--input``
            recording) and show them as they were typed. Left out by default: a page
            is for sharing, and typed keys include what never reached the screen.

    Raises:
        PairtuiError: ``cast`` cannot be read, is not asciicast v2, or has nothing to play.
        OSError: ``out`` could not be written (the error names ``out``).
    """
    atomic_write(out, render(cast, keys=keys), 0o600)


def render(cast: Path, *, keys: bool = False) -> str:
    """The page :func:`export_html` writes, as text."""
    header, events = castfmt.read(cast)
    codes = {"o", "r", "m", "i"} if keys else {"o", "r", "m"}
    rows: list[object] = [header.to_json()]
    rows.extend([e.time, e.code, e.data] for e in events if e.code in codes)
    if len(rows) == 1:
        raise PairtuiError(f"{cast}: nothing recorded to play")
    options = dict(_OPTIONS, keystrokeOverlay=keys)
    player_js, css = _asset("asciinema-player.min.js"), _asset("asciinema-player.css")
    title = html.escape(page_title(cast, header))
    return _PAGE.format(
        policy=html.escape(_policy(player_js, _START)),
        version=PLAYER_VERSION,
        title=title,
        css=css,
        data=script_json({"cast": rows, "options": options}),
        player_js=player_js,
        start_js=_START,
    )


def page_title(cast: Path, header: castfmt.Header) -> str:
    """What the recording is of and when it started, e.g. ``main — 2026-12-06T10:00:00Z``:
    the cast's title, else the share its file name says, else the file name."""
    named = castfmt.share_of(cast)
    what = header.title or (named[0] if named else cast.name)
    when = iso_utc(header.timestamp) if header.timestamp > 0 else ""
    return printable(f"{what} — {when}" if when else what)


def script_json(value: object) -> str:
    """``value`` as JSON that is safe inside a ``<script>`` element: no ``<`` (so no
    ``</script>``, no ``<!--``), ``>`` or ``&`` appears raw, and everything beyond ASCII
    (U+2028, lone surrogates from a damaged file) is a ``\\u`` escape. JSON.parse reads
    it back exactly."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _policy(*scripts: str) -> str:
    """Only these inline scripts run (and the player's WebAssembly); nothing is fetched."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in scripts
    )
    return (
        f"default-src 'none'; script-src {hashes} 'wasm-unsafe-eval'; "
        "style-src 'unsafe-inline'; img-src data:; font-src data:; "
        "base-uri 'none'; form-action 'none'"
    )


def _asset(name: str) -> str:
    return (resources.files("pairtui.recording") / ASSETS / name).read_text(encoding="utf-8")
