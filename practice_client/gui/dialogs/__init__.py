"""Dialogs of the desktop app, one per file. They are opened with ``open()`` (window-modal,
non-blocking) so the event loop keeps running and tests can drive them."""
