"""JsonList, the file behind shares.json and tunnels.json: whole records, one error
naming a broken file, and a write only when an edit changed something."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pairtui.errors import PairtuiError
from pairtui.fileutil import file_stamp
from pairtui.jsonlist import JsonList


def names(path: Path) -> JsonList[str]:
    def from_row(row: dict[str, Any]) -> str:
        return str(row["name"])

    return JsonList(path, "names", from_row, lambda name: {"name": name})


def test_a_missing_or_empty_file_is_an_empty_list(tmp_path: Path) -> None:
    assert names(tmp_path / "none.json").load() == []
    (tmp_path / "empty.json").write_text("  \n")
    assert names(tmp_path / "empty.json").load() == []


@pytest.mark.parametrize("text", ["{", '{"name": "a"}', '[{"nom": "a"}]'])
def test_a_broken_file_is_one_error_naming_it(tmp_path: Path, text: str) -> None:
    path = tmp_path / "names.json"
    path.write_text(text)
    with pytest.raises(PairtuiError, match=rf"^{path}: not a valid names file \("):
        names(path).load()


def test_an_edit_is_written_only_when_it_changed_something(tmp_path: Path) -> None:
    path = tmp_path / "names.json"
    file = names(path)
    with file.edit() as rows:
        rows.append("a")
    assert file.load() == ["a"] and path.stat().st_mode & 0o777 == 0o600
    stamp = file_stamp(path)
    with file.edit() as rows:
        rows[:] = ["a"]
    assert file_stamp(path) == stamp


def test_an_edit_that_raises_writes_nothing(tmp_path: Path) -> None:
    file = names(tmp_path / "names.json")
    with file.edit() as rows:
        rows.append("a")
    with pytest.raises(PairtuiError), file.edit() as rows:
        rows.append("b")
        raise PairtuiError("no")
    assert file.load() == ["a"]
