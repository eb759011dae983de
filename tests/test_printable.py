"""Strings a guest controls, made safe to show on the host's terminal."""

from __future__ import annotations

import unicodedata
from typing import NamedTuple

import pytest

from pairtui.printable import printable


class Shown(NamedTuple):
    test_id: str
    given: str
    shown: str


CASES = [
    Shown("plain", "alice@laptop", "alice@laptop"),
    Shown("empty", "", ""),
    Shown("utf8-names-stay-readable", "José Müller 名前 🦀", "José Müller 名前 🦀"),
    Shown("osc52-clipboard", "\x1b]52;c;aGFja2Vk\x07", "\\x1b]52;c;aGFja2Vk\\x07"),
    Shown("title-and-clear", "\x1b]0;pwned\x07\x1b[2J", "\\x1b]0;pwned\\x07\\x1b[2J"),
    Shown("c0-controls", "a\tb\nc\rd\x00e\x08f", "a\\tb\\nc\\rd\\x00e\\x08f"),
    Shown("del-and-c1", "a\x7fb\x9bc\x85d", "a\\x7fb\\x9bc\\x85d"),
    Shown("bidi-override", "evil\u202egnp.exe", "evil\\u202egnp.exe"),
    Shown("bidi-isolates", "\u2066a\u2067b\u2068c\u2069", "\\u2066a\\u2067b\\u2068c\\u2069"),
    Shown("zero-width", "a\u200bb\u200dc\ufeffd", "a\\u200bb\\u200dc\\ufeffd"),
    Shown("line-separators", "a\u2028b\u2029c", "a\\u2028b\\u2029c"),
    Shown("tag-characters", "a\U000e0041b", "a\\U000e0041b"),
    Shown("undecodable-byte", b"caf\xe9".decode("utf-8", "surrogateescape"), "caf\\udce9"),
    Shown("markup-is-text", "[b]x[/] [@click=app.quit]q[/]", "[b]x[/] [@click=app.quit]q[/]"),
    Shown("backslash-kept", "DOMAIN\\user", "DOMAIN\\user"),
    Shown("no-break-space-kept", "a\u00a0b", "a\u00a0b"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.test_id for c in CASES])
def test_printable(case: Shown) -> None:
    assert printable(case.given) == case.shown


def test_newlines_kept_only_when_asked() -> None:
    assert printable("one\ntwo\x1b", multiline=True) == "one\ntwo\\x1b"
    assert printable("one\r\ntwo", multiline=True) == "one\\r\ntwo"


def test_nothing_a_terminal_acts_on_survives() -> None:
    """Every code point: what is left is printable, and nothing printable is touched."""
    hidden = {"Cc", "Cf", "Cs", "Cn", "Zl", "Zp"}
    for cp in range(0x110000):
        ch = chr(cp)
        shown = printable(ch)
        if unicodedata.category(ch) in hidden:
            assert shown.startswith("\\") and shown.isascii() and shown.isprintable(), hex(cp)
        else:
            assert shown == ch, hex(cp)
