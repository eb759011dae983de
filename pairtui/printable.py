"""Guest-controlled text made safe to show on the host's terminal.

Key comments, TERM, requested share names, forge answers and what a relay reports are
the guest's (or a stranger's) words. Shown raw, an escape sequence in one could write
the host's clipboard (OSC 52), retitle or clear its terminal, and a bidi override could
make text read backwards. Every front end (CLI, dashboard, tmux messages) passes such
text through :func:`printable` where it shows it; stored data stays exact.
"""

from __future__ import annotations

import unicodedata

HIDDEN = frozenset({"Cc", "Cf", "Cs", "Cn", "Zl", "Zp"})
"""Unicode categories a terminal acts on or draws as nothing: controls (C0, DEL, C1),
format characters (bidi overrides and isolates, zero-width ones, tags), lone surrogates
(undecodable bytes), unassigned code points, and the line and paragraph separators."""

_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def printable(text: str, *, multiline: bool = False) -> str:
    """``text`` with every hidden character written as a visible escape (``\\x1b``,
    ``\\u202e``); everything printable, UTF-8 names included, is left as it is.

    Args:
        text: What a guest (or anyone but the host) could have chosen.
        multiline: Keep ``\\n`` for messages the host's own code splits into lines.
    """
    if text.isascii() and text.isprintable():  # the common case, at C speed
        return text
    return "".join(
        ch if (multiline and ch == "\n") or unicodedata.category(ch) not in HIDDEN else _escape(ch)
        for ch in text
    )


def _escape(ch: str) -> str:
    cp = ord(ch)
    if ch in _SHORT:
        return _SHORT[ch]
    if cp < 0x100:
        return f"\\x{cp:02x}"
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"
