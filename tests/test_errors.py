"""The one user-facing error: its JSON form is what `--json` prints in place of a result."""

from __future__ import annotations

from pairtui.errors import PairtuiError


def test_an_error_in_json_is_its_message() -> None:
    assert PairtuiError("no share named 'x'").to_json() == {"error": "no share named 'x'"}
