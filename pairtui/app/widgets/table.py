"""A DataTable of keyed records that updates cell by cell.

Joins and leaves touch one row; the clock tick rewrites only cells whose text
changed, so an idle dashboard repaints almost nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar, Generic, TypeVar

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.message import Message
from textual.reactive import var
from textual.theme import Theme
from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist

T = TypeVar("T")


class RecordTable(DataTable[Text], Generic[T]):
    """Rows are records of type ``T`` keyed by :meth:`key_of`; cells come from :meth:`cells`."""

    COLUMNS: ClassVar[list[tuple[str, str]]] = []  # (key, label)
    ELASTIC: ClassVar[str | None] = None
    """A column whose text fits the room the others leave (:attr:`room`), so the table
    fills a wide terminal and still fits a narrow one."""
    ELASTIC_MIN: ClassVar[int] = 8

    now: var[float] = var(0.0)  # watch_now updates only the cells whose text changed
    """Wall-clock seconds, bound from the screen; durations are computed against it."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.records: dict[str, T] = {}
        self._shown: dict[str, dict[str, str]] = {}  # what each cell shows, to skip no-ops
        self.room = self.ELASTIC_MIN
        """Cells the elastic column may take; :meth:`cells` fits its text to it."""

    # --- subclasses ---------------------------------------------------------------

    def key_of(self, record: T) -> str:
        raise NotImplementedError

    def cells(self, record: T) -> dict[str, Text]:
        raise NotImplementedError

    def highlighted_message(self, record: T | None) -> Message:
        raise NotImplementedError

    # --- life cycle ---------------------------------------------------------------

    def on_mount(self) -> None:
        for key, label in self.COLUMNS:
            self.add_column(label, key=key)
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, theme: Theme) -> None:
        for shown in self._shown.values():
            shown.clear()  # styles changed even where the text did not
        self.refresh_cells()

    def watch_now(self) -> None:
        self.refresh_cells()

    def on_resize(self, event: events.Resize) -> None:
        self._fit()

    def _fit(self) -> None:
        """Give the elastic column what the other columns leave of the width."""
        if self.ELASTIC is None:
            return
        widths = {
            key: max(
                [cell_len(label)] + [cell_len(shown.get(key, "")) for shown in self._shown.values()]
            )
            for key, label in self.COLUMNS
            if key != self.ELASTIC
        }
        used = sum(widths.values()) + 2 * self.cell_padding * len(self.COLUMNS)
        room = max(self.ELASTIC_MIN, self.scrollable_content_region.width - used)
        if room != self.room:
            self.room = room
            self.refresh_cells()

    def colour(self, variable: str) -> str:
        """A theme colour for Rich cell styles (DataTable cells cannot use ``$variables``)."""
        return self.app.theme_variables.get(variable, "")

    def mode_cell(self, mode: str) -> Text:
        """``view`` / ``pair`` in the theme's mode colours; pair is bold: it can type."""
        colour = self.colour(f"pairtui-{mode}")
        return Text(mode, style=" ".join(filter(None, ["bold" if mode == "pair" else "", colour])))

    # --- records ------------------------------------------------------------------

    @property
    def selected(self) -> T | None:
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except RowDoesNotExist:
            return None
        return self.records.get(key or "")

    def put(self, record: T) -> None:
        """Add the record, or update the cells of its row that changed."""
        key = self.key_of(record)
        cells = self.cells(record)
        self.records[key] = record
        if key not in self._shown:
            self.add_row(*(cells[k] for k, _ in self.COLUMNS), key=key)
            self._shown[key] = {k: v.plain for k, v in cells.items()}
            if self.row_count == 1:
                self.announce()
            self._fit()
            return
        self._update(key, cells)
        self._fit()

    def drop(self, key: str) -> T | None:
        record = self.records.pop(key, None)
        if key in self._shown:
            del self._shown[key]
            self.remove_row(key)
            self.announce()
            self._fit()
        return record

    def replace_all(self, records: Iterable[T]) -> None:
        """Make the rows exactly ``records``, keeping the cursor on the same record."""
        wanted = {self.key_of(r): r for r in records}
        for key in [k for k in self.records if k not in wanted]:
            self.drop(key)
        appended = list(self.records) + [k for k in wanted if k not in self.records]
        if list(wanted) != appended:
            current = self.selected
            self.clear()
            self.records.clear()
            self._shown.clear()
            for record in wanted.values():
                self.put(record)
            if current is not None:
                self.select_key(self.key_of(current))
            return
        for record in wanted.values():
            self.put(record)

    def refresh_cells(self) -> None:
        for key, record in self.records.items():
            self._update(key, self.cells(record))

    def select_key(self, key: str) -> None:
        if key in self._shown:
            self.move_cursor(row=self.get_row_index(key))

    def _update(self, key: str, cells: dict[str, Text]) -> None:
        shown = self._shown.setdefault(key, {})
        changed = False
        for column, text in cells.items():
            if shown.get(column) != text.plain:
                self.update_cell(key, column, text, update_width=True)
                shown[column] = text.plain
                changed = True
        if changed and self.selected is self.records.get(key):
            self.announce()

    # --- selection ----------------------------------------------------------------

    def announce(self) -> None:
        self.post_message(self.highlighted_message(self.selected))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.announce()
