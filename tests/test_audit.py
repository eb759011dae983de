"""The audit log: one JSON line per event, safe to `cat` whatever a guest sent."""

from __future__ import annotations

from pathlib import Path

from pairtui.audit import Audit

HOSTILE = "\x1b]52;c;aGFja2Vk\x07\x1b[2J\u202e\u2028\x85\x00"


def test_guest_controlled_fields_are_escaped_in_the_file_and_exact_when_read(
    tmp_path: Path,
) -> None:
    audit = Audit(tmp_path / "audit.jsonl")
    undecodable = b"caf\xe9".decode("utf-8", "surrogateescape")  # a registry comment's bytes
    audit.record("refused", peer=f"203.0.113.9{HOSTILE}:22", share=HOSTILE, term=undecodable)
    data = audit.path.read_bytes()
    # JSON's own escapes: printable ASCII and one newline per event, nothing a terminal runs.
    assert data.endswith(b"\n") and data.count(b"\n") == 1
    assert all(0x20 <= b < 0x7F for b in data[:-1]), data
    (row,) = audit.read()
    assert (row["peer"], row["share"], row["term"]) == (
        f"203.0.113.9{HOSTILE}:22",
        HOSTILE,
        undecodable,
    )
