"""The binding check at start: the pinned pair is sound, and a leaking one is refused."""

from __future__ import annotations

import ctypes
import sys

import pytest
from PySide6.QtWidgets import QApplication

from practice_client.core.errors import PracticeClientError
from practice_client.gui.binding_check import check_binding, none_references_lost


def test_the_pinned_binding_keeps_every_reference_to_none(gui_app: QApplication) -> None:
    assert none_references_lost() == 0
    check_binding()  # what application() runs at every start


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal: no reference to it can be lost")
def test_a_binding_that_loses_references_to_none_is_refused(gui_app: QApplication) -> None:
    lost: list[int] = []

    def leaking_call() -> None:  # what PySide6 6.12 did on Python 3.11 on every void call
        ctypes.pythonapi.Py_DecRef(ctypes.py_object(None))
        lost.append(1)

    try:
        with pytest.raises(PracticeClientError, match="loses a reference to None"):
            check_binding(leaking_call)
    finally:
        for _ in lost:  # give back what the simulation took
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(None))
