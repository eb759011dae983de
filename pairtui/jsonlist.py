"""A JSON list of records in one file: ``shares.json`` and ``tunnels.json`` are both this.

Read whole (a missing or empty file is an empty list, a broken one is one error naming
the file), edited under the file's lock, and written atomically only when the edit
changed something: a reader never sees half a file, two writers never lose an update.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

from pairtui.errors import PairtuiError
from pairtui.fileutil import atomic_write, locked, read_text

T = TypeVar("T")


class JsonList(Generic[T]):
    """Records of one kind in ``path``, in the file's order.

    Args:
        what: the file's kind for people ("shares", "tunnels").
        from_row / to_row: a record from its JSON object and back (``from_row`` raises
            ValueError, TypeError or KeyError for a row that is not one).
    """

    def __init__(
        self,
        path: Path,
        what: str,
        from_row: Callable[[dict[str, Any]], T],
        to_row: Callable[[T], dict[str, Any]],
    ) -> None:
        self.path = path
        self.what = what
        self._from_row = from_row
        self._to_row = to_row

    def load(self) -> list[T]:
        text = read_text(self.path)
        if not text.strip():
            return []
        try:
            data = json.loads(text)
            if not isinstance(data, list):
                raise TypeError("not a list")
            return [self._from_row(row) for row in data]
        except (ValueError, TypeError, KeyError) as exc:
            raise PairtuiError(f"{self.path}: not a valid {self.what} file ({exc})") from None

    @contextlib.contextmanager
    def edit(self) -> Iterator[list[T]]:
        """The records to change in place; written back (if changed) when the block ends
        without an error, all under the file's lock."""
        with locked(self.path):
            records = self.load()
            before = list(records)
            yield records
            if records != before:
                rows = [self._to_row(r) for r in records]
                atomic_write(self.path, json.dumps(rows, indent=2) + "\n", 0o600)
