"""Lists whose rows stand for records: each row keeps its record's id, the selection is an id."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTreeWidget

ID_ROLE = Qt.ItemDataRole.UserRole


def current_id(tree: QTreeWidget) -> str:
    """The id of the selected row, or "" when none is selected."""
    item = tree.currentItem()
    return str(item.data(0, ID_ROLE)) if item is not None else ""


def select_id(tree: QTreeWidget, record_id: str) -> bool:
    """Select the row of ``record_id``; False when the list has none."""
    for index in range(tree.topLevelItemCount()):
        item = tree.topLevelItem(index)
        if item.data(0, ID_ROLE) == record_id:
            tree.setCurrentItem(item)
            return True
    return False
