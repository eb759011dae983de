"""The share picker as a guest drives it: keys in, a screen out (see pairtui.picker)."""

from __future__ import annotations

import pyte
import pytest

from pairtui.picker import Choice, Chosen, GaveUp, Picker


def picker(n: int = 3) -> Picker:
    return Picker("me@box", [Choice(f"s{i}", f"session w{i}") for i in range(n)])


def drawn(p: Picker, cols: int = 60, rows: int = 12) -> list[str]:
    screen = pyte.Screen(cols, rows)
    pyte.ByteStream(screen).feed(p.screen(cols, rows))
    return [line.rstrip() for line in screen.display]


def test_arrows_move_and_enter_chooses() -> None:
    p = picker()
    assert p.feed(b"\x1b[B") is None and p.index == 1
    assert p.feed(b"\x1bOB\x1b[A") is None and p.index == 1  # application-mode arrows too
    assert p.feed(b"j") is None and p.index == 2
    assert p.feed(b"j") is None and p.index == 0  # wraps around
    assert p.feed(b"k\r") == Chosen("s2")


def test_a_digit_chooses_at_once_and_one_out_of_range_does_nothing() -> None:
    assert picker().feed(b"2") == Chosen("s1")
    p = picker()
    assert p.feed(b"7") is None and p.feed(b"0") is None and p.index == 0


def test_an_arrow_split_across_two_reads_is_still_an_arrow() -> None:
    p = picker()
    assert p.feed(b"\x1b[") is None and p.index == 0
    assert p.feed(b"B") is None and p.index == 1


@pytest.mark.parametrize("key", [b"q", b"\x03", b"\x04", b"\x1b"])
def test_q_escape_ctrl_c_and_ctrl_d_give_up(key: bytes) -> None:
    assert picker().feed(key) == GaveUp()


def test_other_keys_and_sequences_do_nothing() -> None:
    p = picker()
    assert p.feed(b"x:!\t \x1b[200~ls\x1b[201~\x1b[5~") is None
    assert p.index == 0


def test_the_screen_names_the_host_each_share_and_marks_the_current_one() -> None:
    p = picker()
    p.feed(b"j")
    rows = drawn(p)
    assert rows[0] == "pairtui: me@box shares 3 things you may join."
    assert rows[2] == "  1  s0  session w0"
    assert rows[3] == "> 2  s1  session w1"
    assert rows[4] == "  3  s2  session w2"
    assert "Up/Down and Enter to join, a digit to jump, q to leave." in rows


def test_a_long_list_scrolls_to_keep_the_current_one_on_a_small_screen() -> None:
    p = picker(30)
    for _ in range(20):
        p.feed(b"j")
    rows = drawn(p, 40, 10)
    assert any(r.startswith(">    s20") for r in rows), rows
    assert len(p.screen(40, 10).split(b"\r\n")) <= 10
