"""The view of a :class:`~practice_client.gui.list_model.ListModel`: rows are records,
the selection is a record's key, and it survives refreshes (rows move, the list is read
again after a bulk change).

A table view, styled as a list: it asks for the next page only when the last row comes
into view (a tree view asks on every layout, and so would read the whole list)."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from practice_client.gui.idlist import ID_ROLE
from practice_client.gui.list_model import ListModel
from practice_client.gui.viewmodels import Row

MAX_COLUMN_WIDTH = 160  # long names and document lists elide (the full text is the tooltip)


class RecordView(QTableView):
    currentKeyChanged = Signal(str)  # "" when nothing is selected

    def __init__(self, model: ListModel, accessible_name: str, widths: dict[int, int] | None = None,
                 parent: QWidget | None = None) -> None:
        """``widths``: columns that get this width instead of fitting their contents."""
        super().__init__(parent)
        self._widths = widths or {}
        self.setModel(model)
        self.list_model = model
        self.setAccessibleName(accessible_name)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setTabKeyNavigation(False)  # Tab leaves the list (to the detail pane, the buttons)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        rows = self.verticalHeader()
        rows.hide()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # the view never measures rows it does not show
        rows.setDefaultSectionSize(self.fontMetrics().height() + 10)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setHighlightSections(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setStretchLastSection(True)
        self._sized = False
        self._wanted = ""
        self.selectionModel().currentRowChanged.connect(self._current_changed)
        model.modelAboutToBeReset.connect(self._remember)
        model.reloaded.connect(self._restore)

    def current_key(self) -> str:
        index = self.currentIndex()
        return str(index.data(ID_ROLE)) if index.isValid() else ""

    def current_row(self) -> Row | None:
        index = self.currentIndex()
        return self.list_model.row_at(index.row()) if index.isValid() else None

    def select_key(self, key: str) -> bool:
        """Select the row of ``key``; False when it is not loaded (or empty)."""
        number = self.list_model.row_of(key) if key else None
        if number is None:
            return False
        self.selectionModel().setCurrentIndex(
            self.list_model.index(number, 0),
            QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
        )
        return True

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.currentKeyChanged.emit(str(current.data(ID_ROLE)) if current.isValid() else "")

    def _remember(self) -> None:
        self._wanted = self.current_key() or self._wanted

    def _restore(self) -> None:
        """After a first page: the columns fit what is shown (measured once: only the rows
        in view), and the row selected before is selected again if it is still there."""
        if not self._sized and self.list_model.rowCount():
            self._sized = True
            header = self.horizontalHeader()
            for column in range(self.list_model.columnCount() - 1):
                if column in self._widths:
                    header.resizeSection(column, self._widths[column])
                elif header.sectionResizeMode(column) is QHeaderView.ResizeMode.Interactive:
                    header.resizeSection(column, min(MAX_COLUMN_WIDTH, max(self.sizeHintForColumn(column),
                                                                            header.sectionSizeHint(column))))
        if not self.select_key(self._wanted):
            self.currentKeyChanged.emit(self.current_key())
        self._wanted = ""
