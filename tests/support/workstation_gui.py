"""One workstation's real window, offscreen, in a process of its own, driven over its
standard streams (the two-GUI tests start two of these against one service).

    QT_QPA_PLATFORM=offscreen PRACTICE_CLIENT_HOME=HOME python -m tests.support.workstation_gui

It builds the app exactly as ``practice-client gui`` does (``app.build_window``: a paired
home gets the RemoteController) and shows the requests page. Stdin takes one JSON object
a line (``{"do": "accept", "request_id": ...}``, ``{"do": "quit"}``); stdout reports one
JSON object a line: ``requests`` (request id -> status, whenever the list shows something
new), ``connection`` (the status bar's state), ``decided``, ``failed``, ``settled``,
``ready``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any

from PySide6.QtCore import QObject, Signal


class Commands(QObject):
    """Lines from stdin, handed to the GUI thread."""

    line = Signal(str)


def say(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def main() -> int:
    from practice_client.context import Context
    from practice_client.gui.app import application, build_window
    from practice_client.gui.viewmodels import ListKind

    ctx = Context()
    app = application("de")
    controller, _tray, window = build_window(ctx)
    window.show_page("requests")
    window.show()
    model = next(m for m in controller.models if m.query.kind is ListKind.REQUESTS)
    shown: dict[str, str] = {}

    def report(*_args: Any) -> None:
        rows = {row.request_id: str(row.record.status) for row in model.rows() if hasattr(row, "record")}
        if rows != shown:
            shown.clear()
            shown.update(rows)
            say("requests", rows=rows)

    for signal in (model.modelReset, model.rowsInserted, model.rowsRemoved, model.dataChanged, model.rowsMoved,
                   model.layoutChanged):
        signal.connect(report)
    controller.connectionChanged.connect(lambda state: say("connection", state=state,
                                                           label=window.connection.text()))
    controller.requestDecided.connect(lambda rid, status: say("decided", request_id=rid, status=status))
    controller.failed.connect(lambda action, message: say("failed", action=action, message=message))
    if hasattr(controller, "actionSettled"):
        controller.actionSettled.connect(lambda action, applied, message: say(
            "settled", action=action, applied=applied, message=message))

    commands = Commands()

    def run(line: str) -> None:
        order = json.loads(line)
        if order["do"] == "accept":
            controller.accept(order["request_id"], False, "")
        elif order["do"] == "decline":
            controller.decline(order["request_id"], order.get("reason", "test"))
        elif order["do"] == "quit":
            app.exit(0)

    commands.line.connect(run)

    def read() -> None:
        for line in sys.stdin:
            if line.strip():
                commands.line.emit(line)
        commands.line.emit('{"do": "quit"}')

    threading.Thread(target=read, daemon=True).start()
    model.reload()
    controller.refresh()
    say("ready", pid=os.getpid())
    code = app.exec()
    controller.shutdown()
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
