"""Progress drawn into a list cell: one delegate paints every row's bar (no widget per
row - a window with thousands of documents on their way stays as light as one)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionProgressBar, QStyleOptionViewItem

PROGRESS_ROLE = Qt.ItemDataRole.UserRole + 1  # (percent or -1 for "busy", text) or None


class ProgressDelegate(QStyledItemDelegate):
    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        value = index.data(PROGRESS_ROLE)
        if not value:
            super().paint(painter, option, index)
            return
        percent, text = value
        bar = QStyleOptionProgressBar()
        if option.widget is not None:
            bar.initFrom(option.widget)  # palette, font, direction of the view
        bar.rect = option.rect.adjusted(2, 3, -2, -3)
        busy = percent < 0  # no bytes reported yet: the style's busy bar
        bar.minimum, bar.maximum = 0, 0 if busy else 100
        bar.progress = 0 if busy else percent
        bar.text = text
        bar.textVisible = True
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        bar.state = option.state | QStyle.StateFlag.State_Horizontal
        style = option.widget.style() if option.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, option.widget)
