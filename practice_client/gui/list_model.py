"""One Qt model for every list of the window: pages on demand, changes applied in place.

A :class:`ListModel` holds the rows loaded so far, in the list's order, and asks for
the next page when the view scrolls to the end (``canFetchMore``/``fetchMore``).
A refresh hands it :class:`~practice_client.gui.viewmodels.Changes`: a changed row is
updated, moved or inserted where the order puts it (or dropped when it now lies
beyond the loaded part: a later page brings it), a removed key leaves. Selection and
scroll position follow (moves, not resets). Only when too much changed at once is the
first page read again.

The model never reads anything itself: its ``loader`` (the controller) runs the
query in a worker and calls back in the GUI thread. Each answer carries the model's
*generation*: an answer to an older query (the filter changed meanwhile) is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QFont, QIcon

from practice_client.gui.idlist import ID_ROLE
from practice_client.gui.viewmodels import DESCENDING, Changes, Page, Query, Row, SortKey

Index = QModelIndex | QPersistentModelIndex
# (query, after, on_page) - runs the page query off the GUI thread, calls on_page(page) in it
Loader = Callable[[Query, SortKey | None, Callable[[Page], None]], None]


@dataclass(frozen=True)
class Column:
    """How one column shows a row."""

    title: str
    text: Callable[[Any], str]
    tooltip: Callable[[Any], str] | None = None
    icon: Callable[[Any], QIcon | None] | None = None
    accessible: Callable[[Any], str] | None = None


def precedes(a: SortKey, b: SortKey, descending: Sequence[bool]) -> bool:
    """Whether sort key ``a`` comes before ``b`` in a list ordered with ``descending``."""
    for x, y, down in zip(a, b, descending, strict=False):
        if x == y:
            continue
        if x is None or y is None:
            return (y is None) if down else (x is None)
        return bool(x > y) if down else bool(x < y)
    return False


class ListModel(QAbstractTableModel):
    """The loaded part of one list; see the module docstring."""

    reloaded = Signal()  # a first page replaced everything (pages re-select their row)
    rowChanged = Signal(str)  # key of a row whose content was replaced (the detail pane follows)

    def __init__(self, query: Query, columns: list[Column], loader: Loader,
                 bold: Callable[[Any], bool] | None = None) -> None:
        super().__init__()
        self.query = query
        self.columns = columns
        self._loader = loader
        self._bold = bold
        self._descending = DESCENDING[query.kind]
        self._rows: list[Row] = []
        self._index: dict[str, int] | None = {}
        self._more = False
        self._fetching = False
        self.generation = 0
        self.cursor = -1  # nothing loaded yet: changes are meaningless until the first page
        self._font = QFont()
        self._font.setBold(True)

    # -- what the view asks ---------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 - Qt's name and default
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section].title
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        row, column = self._rows[index.row()], self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(row)
        if role == Qt.ItemDataRole.ToolTipRole and column.tooltip is not None:
            return column.tooltip(row) or None
        if role == Qt.ItemDataRole.DecorationRole and column.icon is not None:
            return column.icon(row)
        if role == Qt.ItemDataRole.AccessibleTextRole and column.accessible is not None:
            return column.accessible(row)
        if role == Qt.ItemDataRole.FontRole and self._bold is not None and self._bold(row):
            return self._font
        if role == ID_ROLE:
            return row.key
        return None

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008, N802
        return not parent.isValid() and self._more and not self._fetching

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008, N802
        if not self.canFetchMore(parent):
            return
        self._fetching = True
        generation = self.generation
        after = self._rows[-1].sort if self._rows else None
        self._loader(self.query, after, lambda page: self._next_page(generation, page))

    # -- rows by key ----------------------------------------------------------------------

    def rows(self) -> list[Row]:
        return list(self._rows)

    def row_at(self, number: int) -> Row | None:
        return self._rows[number] if 0 <= number < len(self._rows) else None

    def row_of(self, key: str) -> int | None:
        if self._index is None:
            self._index = {row.key: number for number, row in enumerate(self._rows)}
        return self._index.get(key)

    def get(self, key: str) -> Row | None:
        number = self.row_of(key)
        return None if number is None else self._rows[number]

    @property
    def loading(self) -> bool:
        return self._fetching

    @property
    def more(self) -> bool:
        return self._more

    # -- loading ----------------------------------------------------------------------------

    def set_query(self, query: Query) -> None:
        """Another filter: read the list from its first page."""
        self.query = query
        self.reload()

    def reload(self) -> None:
        self.generation += 1
        self._fetching = True
        generation = self.generation
        self._loader(self.query, None, lambda page: self._first_page(generation, page))

    def failed(self) -> None:
        """The loader's query failed (the message is shown elsewhere): allow a new try."""
        self._fetching = False

    def _first_page(self, generation: int, page: Page) -> None:
        if generation != self.generation:
            return
        self.beginResetModel()
        self._rows, self._index = list(page.rows), None
        self._more, self._fetching, self.cursor = page.more, False, page.cursor
        self.endResetModel()
        self.reloaded.emit()

    def _next_page(self, generation: int, page: Page) -> None:
        if generation != self.generation:
            return
        self._fetching = False
        self._more = page.more
        fresh = [row for row in page.rows if self.row_of(row.key) is None]
        if len(fresh) == len(page.rows) and (not self._rows or not fresh
                                              or precedes(self._rows[-1].sort, fresh[0].sort, self._descending)):
            if fresh:  # the usual case: the page continues the list
                self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows) + len(fresh) - 1)
                self._rows.extend(fresh)
                self._index = None
                self.endInsertRows()
            return
        for row in page.rows:  # the list changed meanwhile: place each row where it belongs
            self._upsert(row, keep_beyond=True)

    # -- changes ----------------------------------------------------------------------------

    def apply(self, generation: int, changes: Changes) -> None:
        """Changes computed for ``generation`` (see the module docstring)."""
        if generation != self.generation or self.cursor < 0:
            return
        if changes.reset:
            self.reload()
            return
        for key in changes.removed:
            number = self.row_of(key)
            if number is not None:
                self._remove(number)
        for row in changes.rows:
            self._upsert(row)
        self.cursor = max(self.cursor, changes.cursor)

    def _remove(self, number: int) -> None:
        self.beginRemoveRows(QModelIndex(), number, number)
        del self._rows[number]
        self._index = None
        self.endRemoveRows()

    def _upsert(self, row: Row, keep_beyond: bool = False) -> None:
        old = self.row_of(row.key)
        place = self._place(row.sort, skip=old)
        others = len(self._rows) - (old is not None)
        beyond = place == others and self._more and not keep_beyond  # a later page brings it
        if old is None:
            if not beyond:
                self.beginInsertRows(QModelIndex(), place, place)
                self._rows.insert(place, row)
                self._index = None
                self.endInsertRows()
            return
        if beyond:
            self._remove(old)
            return
        if place != old:
            self.beginMoveRows(QModelIndex(), old, old, QModelIndex(), place if place < old else place + 1)
            del self._rows[old]
            self._rows.insert(place, row)
            self._index = None
            self.endMoveRows()
        else:
            self._rows[old] = row
        self.dataChanged.emit(self.index(place, 0), self.index(place, len(self.columns) - 1))
        self.rowChanged.emit(row.key)

    def _place(self, sort: SortKey, skip: int | None) -> int:
        """Where a row with ``sort`` goes among the loaded rows other than row ``skip``."""
        def at(i: int) -> SortKey:
            return self._rows[i if skip is None or i < skip else i + 1].sort

        low, high = 0, len(self._rows) - (skip is not None)
        while low < high:
            middle = (low + high) // 2
            if precedes(at(middle), sort, self._descending):
                low = middle + 1
            else:
                high = middle
        return low
