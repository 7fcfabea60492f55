"""The first-run wizard of a workstation: connect this app to the practice service.

Shown instead of the practice's own setup when the administrator named a service
(``service_address``, the MSI's SERVICE_ADDRESS) or one runs on this PC. On a single-PC
practice whose admin may administer the local service, one click asks the service for a
code and pairs (``service pair`` and ``connect`` in one); elsewhere staff enter the code the
admin's ``practice-client service pair`` shows. The pairing itself is
:func:`practice_client.service.workstation.connect_workstation`, in a worker.
"""

from __future__ import annotations

import socket
from pathlib import Path

from PySide6.QtWidgets import QFormLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget, QWizard, QWizardPage

from practice_client.gui.controller import Controller
from practice_client.gui.resources import app_icon


class ConnectPage(QWizardPage):
    def __init__(self, controller: Controller, address: str, local_home: Path | None) -> None:
        super().__init__()
        self.controller = controller
        self.local_home = local_home
        self.paired = False
        self.setTitle(self.tr("Connect to the practice service"))
        self.setSubTitle(self.tr("The practice service holds the practice key, the requests and the documents. "
                                 "This PC works through it."))
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.address = QLineEdit(address)
        self.address.setAccessibleName(self.tr("Address of the practice service"))
        self.code = QLineEdit()
        self.code.setAccessibleName(self.tr("Pairing code"))
        self.code.setPlaceholderText(self.tr("from 'practice-client service pair' at the practice server"))
        form.addRow(self.tr("Practice service (host:port)"), self.address)
        form.addRow(self.tr("Pairing code"), self.code)
        layout.addLayout(form)
        self.here = QPushButton(self.tr("Ask the practice service on this PC for a code"))
        self.here.setVisible(local_home is not None)
        self.here.clicked.connect(self._ask_here)
        layout.addWidget(self.here)
        self.status = QLabel(wordWrap=True)
        layout.addWidget(self.status)
        for edit in (self.address, self.code):
            edit.textChanged.connect(self.completeChanged)
        controller.localCode.connect(self.code.setText)
        controller.servicePaired.connect(self._paired)
        controller.failed.connect(self._failed)

    def _ask_here(self) -> None:
        if self.local_home is not None:
            self.controller.ask_local_code(self.local_home, socket.gethostname()[:64])

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return bool(self.address.text().strip() and self.code.text().strip())

    def validatePage(self) -> bool:  # noqa: N802 - Qt's name
        if self.paired:
            return True
        self.status.setText(self.tr("Connecting…"))
        self.controller.pair_service(self.address.text().strip(), self.code.text().strip())
        return False  # the wizard finishes once the pairing succeeded (servicePaired)

    def _paired(self, name: str) -> None:
        self.paired = True
        self.status.setText(self.tr("Connected as %1.").replace("%1", name))
        wizard = self.wizard()
        if wizard is not None:
            wizard.accept()

    def _failed(self, action: str, message: str) -> None:
        if action in ("pair_service", "local_code"):
            self.status.setText(message)


class ConnectWizard(QWizard):
    def __init__(self, controller: Controller, address: str, local_home: Path | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Practice Client – connect this workstation"))
        self.setWindowIcon(app_icon())
        self.page = ConnectPage(controller, address, local_home)
        self.addPage(self.page)
