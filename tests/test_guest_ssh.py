"""The embedded server's guest side in isolation: what it lets through of a view
guest's input, and what it accepts of a guest's terminal (the SSH side end to end:
test_e2e_guest.py, test_e2e_limits.py, test_e2e_revocation.py)."""

from __future__ import annotations

import pytest

from pairtui.guest_ssh import MAX_SIZE, TERM_RE, FocusReportFilter, _clamp


@pytest.mark.parametrize(
    ("chunks", "passed"),
    [
        ([b"ab\x1b[Icd\x1b[O"], b"abcd"),
        ([b"\x1b[I\x1b[I\x1b[O"], b""),
        ([b"x\x1b", b"[Iy"], b"x\x1by"),  # split after ESC: the rest of the report goes
        ([b"x\x1b[", b"Oy"], b"x\x1b[y"),  # split after ESC [
        ([b"\x1b", b"\x1b[A"], b"\x1b\x1b[A"),  # a lone Escape, then an arrow: both pass
        ([b"\x1b[A\x1b[B"], b"\x1b[A\x1b[B"),  # arrows are not focus reports
        ([b"\x1b[1;5I"], b"\x1b[1;5I"),  # nor is a key with parameters
    ],
)
def test_a_view_guests_focus_reports_never_pass_and_everything_else_does(
    chunks: list[bytes], passed: bytes
) -> None:
    focus = FocusReportFilter()
    assert b"".join(focus(c) for c in chunks) == passed


def test_a_guest_demoted_mid_report_loses_the_reports_end() -> None:
    """Switched to view after sending ``ESC [`` as a pair guest: the ``I`` that would
    complete a focus report is dropped."""
    focus = FocusReportFilter()
    focus.tail = b"\x1b["
    assert focus(b"Ihello") == b"hello"


@pytest.mark.parametrize(
    ("asked", "default", "got"),
    [(0, 80, 80), (-5, 24, 24), (1, 80, 1), (1000, 80, 1000), (65535, 80, MAX_SIZE)],
)
def test_a_terminal_size_is_clamped_to_what_a_terminal_can_be(
    asked: int, default: int, got: int
) -> None:
    assert _clamp(asked, default) == got


@pytest.mark.parametrize("term", ["xterm-256color", "screen.xterm-256color", "st+x", "vt100"])
def test_real_terminal_names_are_accepted(term: str) -> None:
    assert TERM_RE.fullmatch(term)


@pytest.mark.parametrize("term", ["", "-x", "xterm\0", "x y", "a/b", "x" * 65, "é"])
def test_a_term_that_is_no_terminal_name_is_refused(term: str) -> None:
    assert not TERM_RE.fullmatch(term)
