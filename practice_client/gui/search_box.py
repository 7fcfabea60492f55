"""The search field of a list: its text goes to the database once typing pauses."""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QLineEdit, QWidget

PAUSE_MS = 300


class SearchBox(QLineEdit):
    searched = Signal(str)  # the stripped text, after a pause in typing (or at once when cleared)

    def __init__(self, placeholder: str, accessible_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText(placeholder)
        self.setAccessibleName(accessible_name)
        self.setClearButtonEnabled(True)
        self._pause = QTimer(self, singleShot=True, interval=PAUSE_MS)
        self._pause.timeout.connect(lambda: self.searched.emit(self.text().strip()))
        self.textChanged.connect(self._pause.start)
