"""The desktop app for practice staff (PySide6).

A thin layer: widgets (``pages/``, ``dialogs/``, ``wizard.py``, ``main_window.py``)
call only :class:`~practice_client.gui.controller.Controller`, which runs every
crypto, network and disk call in worker threads and answers with Qt signals. The
core packages never import anything from here.
"""
