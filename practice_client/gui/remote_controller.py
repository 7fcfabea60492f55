"""The window of a workstation: the same :class:`Controller`, its reads through the
practice service (:class:`~practice_client.gui.remote_source.RemoteSource`) and its
staff actions sent as the service's commands, each with an idempotency key.

- Live: the service's change feed (SSE) is read in a thread of its own; every change
  refreshes the lists (what changed since each list's cursor) within a fraction of a second,
  so every workstation shows the same state. The feed reconnects by itself.
- Offline: while the service cannot be reached the window keeps its last state and says
  so (``connectionChanged("service-offline")``); actions fail at once with that message.
- Nothing half-done: an action whose answer was lost (the service went away while it ran)
  is kept by its key; once the service is back the key is settled - the service answers
  with the action's result if it was applied, or closes the key as *not applied* (a late
  copy is then refused too) - and the window reports which.
- Shares (Eingang): released and discarded by the service's ``share.release`` (an admin
  workstation only) and ``share.discard``, applied to the practice's shares, not this home's.
- Settings: the practice's (:class:`~practice_client.gui.viewmodels.PracticeSettings`) are
  the service's, read through its view and changed by its ``settings.save`` (an admin
  workstation only); the workstation's own (language, tray, its log) stay in its own config.
- The window never opens a database or the practice key: the home is a workstation home.
  Files staff pick here are read here and sent to the service, which checks them: PMS
  master data and a trust certificate inside their command; request e-mails (``.eml``,
  ``.msg``, bounded as the local import reads them) inside ``mails.import``, which records
  and verifies them as mail from the mailbox; documents for a request - up to the
  practice's document limit, far more than a command's body - streamed one by one to the
  service's staging folder (``PUT /v1/staged/<id>``), then put into the request's delivery
  by ``files.add``. Only what needs the practice server itself (the practice's setup, the
  platform connection test) is refused with a message saying where to do it.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from practice_client.context import Context
from practice_client.core.atomic import atomic_write
from practice_client.core.config import Config
from practice_client.core.errors import PracticeClientError
from practice_client.core.text import Text
from practice_client.delivery.outbox import check_file
from practice_client.gui.controller import CertificatePreview, Controller
from practice_client.gui.i18n import current_language
from practice_client.gui.remote_source import RemoteSource
from practice_client.gui.viewmodels import Overview, PracticeSettings
from practice_client.intake.mail_file import read_mail_bytes
from practice_client.provision import SetupParams
from practice_client.service.client import Outcome, ServiceClient, ServiceRefused, ServiceUnavailable
from practice_client.service.commands import MAX_FILES

log = logging.getLogger(__name__)

COMMAND_WAIT = 10.0  # how long an action is resent (same key) while the service is away
MAIL_BATCH_BYTES = 48 * 1024 * 1024  # e-mail files in one mails.import (as base64 within the body limit)


def _batches(files: list[tuple[Path, bytes]], budget: int) -> list[list[tuple[Path, bytes]]]:
    """The files in order, in lists of at most ``budget`` bytes (a larger file alone)."""
    batches: list[list[tuple[Path, bytes]]] = []
    size = 0
    for item in files:
        if not batches or size + len(item[1]) > budget or len(batches[-1]) >= MAX_FILES:
            batches.append([])
            size = 0
        batches[-1].append(item)
        size += len(item[1])
    return batches


class ServiceOffline(PracticeClientError):
    """An action that got no answer: kept by its key and settled when the service is back."""


class _Feed(QObject):
    """The feed thread's news, handed to the GUI thread (queued signals)."""

    changed = Signal()
    state = Signal(str, str)  # "online" | "offline" | "refused", message


class RemoteController(Controller):
    """A :class:`Controller` over the practice service (see the module doc)."""

    actionSettled = Signal(str, bool, str)  # action, applied, message (an action whose answer was lost)
    practice_settings_remote = True
    _practice: PracticeSettings | None = None  # the service's, once read

    def __init__(self, ctx: Context, client: ServiceClient, parent: QObject | None = None) -> None:
        super().__init__(ctx, RemoteSource(client), parent)
        self.client = client
        self.overview = Overview(configured=True)  # the practice is the service's; set up there
        self.service_state = "offline"
        self.may_change_practice_settings = client.connection.role == "admin"  # as the service decides
        self._pending: dict[str, str] = {}  # idempotency key -> action, answers lost
        self._pending_lock = threading.Lock()
        self._feed = _Feed(self)
        self._feed.changed.connect(self._refresh_soon)
        self._feed.state.connect(self._service_state)
        self._stop = threading.Event()
        self._follower = threading.Thread(target=self._follow, name="service-feed", daemon=True)
        self._follower.start()

    # -- the feed ------------------------------------------------------------------

    def _follow(self) -> None:
        def on_event(name: str, _data: dict[str, Any]) -> None:
            if name in ("change", "hello", "agent"):
                self._feed.changed.emit()

        def on_state(state: str, message: Text) -> None:
            self._feed.state.emit(state, message.pick(current_language()))  # the window's language

        self.client.follow(on_event, on_state, self._stop)

    def _service_state(self, state: str, message: str) -> None:
        self.service_state = state
        self.connectionChanged.emit("service-online" if state == "online" else "service-offline")
        if state == "online":
            self.refresh()
            self.load_settings()
            self._settle_pending()
        elif state == "refused":
            self.failed.emit("service", message)

    def _settle_pending(self) -> None:
        with self._pending_lock:
            pending = dict(self._pending)
        for key, action in pending.items():
            self.workers.start("settle", lambda key=key: self._settle(key),
                               lambda message, action=action: self.actionSettled.emit(action, True, str(message)),
                               lambda message, action=action: self.actionSettled.emit(action, False, message))

    def _settle(self, key: str) -> str:
        try:
            self.client.settle(key)
        except ServiceRefused as exc:
            self._forget(key)
            raise PracticeClientError(Text("nicht ausgeführt: ", "not applied: ") + exc.text) from None
        self._forget(key)
        self.refresh_later()
        return "applied"

    def _forget(self, key: str) -> None:
        with self._pending_lock:
            self._pending.pop(key, None)

    def refresh_later(self) -> None:
        self._feed.changed.emit()  # from any thread: the GUI thread refreshes

    def pending_actions(self) -> list[str]:
        with self._pending_lock:
            return sorted(self._pending.values())

    # -- commands ------------------------------------------------------------------

    def _send(self, action: str, name: str, args: dict[str, Any]) -> Outcome:
        """One staff action, sent (and resent with its key) until the service answers."""
        try:
            return self.client.command(name, args, deadline=COMMAND_WAIT, stop=self._stop)
        except ServiceUnavailable as exc:
            if exc.key:
                with self._pending_lock:
                    self._pending[exc.key] = action
            raise ServiceOffline(Text(
                "Der Praxisdienst ist nicht erreichbar. Ob die Aktion ausgeführt wurde, wird geprüft, "
                "sobald er wieder da ist.",
                "The practice service cannot be reached. Whether the action was applied is checked as "
                "soon as it is back.")) from None

    def _command(self, action: str, name: str, args: dict[str, Any], done: Callable[[Any], None]) -> None:
        self._run(action, lambda: self._send(action, name, args).result, done)

    def accept(self, request_id: str, override: bool, reason: str) -> None:
        self._command("accept", "accept", {"request_id": request_id, "override": override, "reason": reason},
                      lambda _r: self.requestDecided.emit(request_id, "accepted"))

    def decline(self, request_id: str, reason: str) -> None:
        self._command("decline", "decline", {"request_id": request_id, "reason": reason},
                      lambda _r: self.requestDecided.emit(request_id, "declined"))

    def assign(self, document_id: str, request_id: str, birth_date: str) -> None:
        self._command("assign", "assign", {"document_id": document_id, "request_id": request_id,
                                           "birth_date": birth_date},
                      lambda _r: self.documentAssigned.emit(document_id))

    def release_held(self, document_id: str, fingerprint: str) -> None:
        self._command("release", "release", {"document_id": document_id, "fingerprint": fingerprint},
                      lambda _r: self.documentReleased.emit(document_id))

    def withhold(self, document_id: str) -> None:
        self._command("withhold", "withhold", {"document_id": document_id},
                      lambda _r: self.documentWithheld.emit(document_id))

    def retry(self, document_id: str) -> None:
        self._command("retry", "retry", {"document_id": document_id},
                      lambda _r: self.documentRetried.emit(document_id))

    def remove_pin(self, fingerprint: str) -> None:
        self._command("remove_pin", "trust.remove", {"fingerprint": fingerprint},
                      lambda _r: self.pinRemoved.emit(fingerprint))

    def release_share(self, share_id: str, reason: str, patient_number: str | None = None,
                      birth_date: str | None = None) -> None:
        """By the service's ``share.release`` (an admin workstation; the service applies the
        shares rules and audits the workstation and user)."""
        self._command("release_share", "share.release",
                      {"share_id": share_id, "reason": reason, "patient_number": patient_number or "",
                       "birth_date": birth_date or ""},
                      lambda _r: self.shareReleased.emit(share_id))

    def discard_share(self, share_id: str, reason: str) -> None:
        self._command("discard_share", "share.discard", {"share_id": share_id, "reason": reason},
                      lambda _r: self.shareDiscarded.emit(share_id))

    @property
    def may_release_shares(self) -> bool:
        """The workstation's role, as for the practice's settings: releases are the admin's."""
        return self.may_change_practice_settings

    def add_files(self, request_id: str, paths: list[Path]) -> None:
        """Each file is checked here as the outbox checks it (all before any is sent),
        streamed to the service's staging folder, then the service's ``files.add`` puts
        them into the request's delivery (checked again there, once per key)."""
        def work() -> int:
            limits = self.config  # the practice's document limit, as the service runs it
            for path in paths:
                check_file(limits, path)
            staged = [{"staged_id": self.client.stage(path), "name": path.name} for path in paths]
            answer = self._send("add_files", "files.add", {"request_id": request_id, "files": staged}).result
            return len(answer["documents"])

        self._run("add_files", work, lambda count: self.filesAdded.emit(request_id, count))

    def import_mails(self, paths: list[Path]) -> None:
        """The e-mail files are read here (bounded, all before any is sent) and recorded
        and verified by the service's ``mails.import`` as the local import does; one
        unreadable file records none. Many files go in several commands (each within
        the service's body limit)."""
        def work() -> int:
            files = [(path, read_mail_bytes(path)) for path in paths]
            new = 0
            for batch in _batches(files, MAIL_BATCH_BYTES):
                sent = [{"name": path.name, "data": base64.b64encode(data).decode("ascii")} for path, data in batch]
                new += int(self._send("import_mails", "mails.import", {"files": sent}).result["new"])
            return new

        self._run("import_mails", work, self.mailsImported.emit)

    def import_patients(self, path: Path) -> None:
        def work() -> int:
            data = base64.b64encode(path.read_bytes()).decode("ascii")  # the file is at this workstation
            return int(self._send("import_patients", "patients.import", {"name": path.name, "data": data})
                       .result["count"])

        self._run("import_patients", work, self.patientsImported.emit)

    # -- settings ---------------------------------------------------------------------

    @property
    def config(self) -> Config:
        """This workstation's own settings, with the practice's as the service runs them
        (before the first answer: the defaults; the page lets nobody change them yet)."""
        return (self._practice or PracticeSettings.of(Config())).over(self.ctx.config)

    def load_settings(self) -> None:
        """The service's settings, read in a worker. Emits: settingsLoaded(Config); or failed."""
        self.workers.start("settings", self.source.settings, self._settings_read,
                           lambda message: self.failed.emit("settings", message))

    def _settings_read(self, practice: PracticeSettings) -> None:
        self._practice = practice
        self.settingsLoaded.emit(self.config)

    def save_settings(self, changes: dict[str, object]) -> None:
        """The practice's settings by the service's ``settings.save`` (its refusal - a key
        its policy locks, a bad value - is the message), the workstation's own here; then
        what the service now runs with. Emits: settingsSaved(Config); or failed."""
        practice = {k: v for k, v in changes.items() if k in PracticeSettings.names()}
        own = {k: v for k, v in changes.items() if k not in practice}
        known = self._practice

        def work() -> PracticeSettings | None:
            if practice:
                self._send("save_settings", "settings.save", {"changes": practice})
            if own:
                self.ctx.update_config(**own)
            return self.source.settings() if practice else known  # own settings alone: no call

        def saved(read: PracticeSettings | None) -> None:
            self._practice = read or self._practice
            self.settingsSaved.emit(self.config)

        self._run("save_settings", work, saved, refresh=False)

    def inspect_certificate(self, path: Path) -> None:
        """The certificate file is read here and verified by the service (which holds the
        platform's identity key); the dialog shows what the service verified."""
        from practice_client.crypto.trust import TrustCertificate, read_certificate
        from practice_client.gui.viewmodels import PatientRow

        def work() -> CertificatePreview:
            text = read_certificate(path)  # bounded, UTF-8, at this workstation
            seen = self._send("inspect_certificate", "trust.inspect", {"name": path.name, "text": text}).result
            cert = TrustCertificate(str(seen["fingerprint"]), str(seen["name"]), str(seen["birth_date"]),
                                    str(seen["phone"]), str(seen["ident"]), "", "", text)
            candidates = tuple(PatientRow(str(c["patient_number"]), str(c["name"]), str(c["birth_date"]), "", None)
                               for c in seen["candidates"])
            return CertificatePreview(path, cert, str(seen["suggested_patient_number"]),
                                      str(seen["already_pinned_for"]), candidates)

        self._run("inspect_certificate", work, self.certificateInspected.emit, refresh=False)

    def pin_certificate(self, preview: CertificatePreview, patient_number: str, replace: bool) -> None:
        """The very text that was shown goes to the service, which verifies it again and pins
        it; a different key than the one staff compared is refused."""
        def work() -> str:
            pinned = self._send("pin_certificate", "trust.pin", {
                "name": preview.path.name, "text": preview.certificate.text, "patient_number": patient_number,
                "replace": replace}).result
            if pinned["fingerprint"] != preview.fingerprint:
                raise PracticeClientError(Text(
                    "Der Praxisdienst hat einen anderen Schlüssel angeheftet als den gezeigten: Anheftungen prüfen",
                    "the practice service pinned another key than the one shown: check the patient's pins"))
            return str(pinned["fingerprint"])

        self._run("pin_certificate", work, self.certificatePinned.emit)

    def write_key_backup(self, path: Path, passphrase: str) -> None:
        def work() -> str:
            answer = self._send("key_backup", "key.backup", {"passphrase": passphrase}).result
            atomic_write(path, base64.b64decode(answer["backup"]))
            return str(path)

        self._run("key_backup", work, self.backupWritten.emit, refresh=False)

    # -- what only the practice server does ------------------------------------------

    def _at_the_server(self, action: str) -> None:
        self.failed.emit(action, Text(
            "Das geht am Praxis-Server (dort liegen Praxisschlüssel und Ordner).",
            "This is done at the practice server (it holds the practice key and the folders).",
        ).pick(current_language()))

    def run_setup(self, params: SetupParams) -> None:
        self._at_the_server("setup")

    def test_connection(self) -> None:
        self._at_the_server("test_connection")

    def start_agent(self) -> None:
        """The agent runs in the service."""

    def shutdown(self, msecs: int = 30000) -> None:
        self._stop.set()
        super().shutdown(msecs)
        self.client.close()
