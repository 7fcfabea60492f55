"""The GUI's one door to the rest of the client.

Widgets call only this object. Every method returns at once: the work (crypto,
network, disk, the keyring) runs as a :class:`~practice_client.gui.workers.Job`
in the thread pool, and the answer comes back as a Qt signal in the GUI thread.
The controller never writes state itself; it calls the same domain functions as
the command line (intake, delivery, crypto), which go through the store.

Each method's docstring names the signals it emits. Every failure is reported
through ``failed(action, message)`` with the error's one-line message.

What the window shows it reads through one :class:`~practice_client.gui.viewmodels.DataSource`
(here :class:`~practice_client.gui.local_source.LocalSource`; the practice service's
over HTTPS later): lists a page at a time into list models (:mod:`~practice_client.gui.list_model`),
and on every refresh only what changed since each list's cursor, plus the overview.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal

# The domain modules are imported here, at start-up, on purpose: importing them loads
# C extensions (cryptography, nacl, dns, watchdog) while holding the GIL for ~100 ms.
# Done lazily in a worker that would freeze the GUI thread for as long.
from practice_client.context import Context
from practice_client.core.config import Config
from practice_client.core.errors import InputError
from practice_client.core.patients import read_master_data
from practice_client.crypto import backup, trust
from practice_client.crypto.trust import TrustCertificate
from practice_client.delivery import outbox
from practice_client.diagnostics import export_diagnostics
from practice_client.gui.agent_bridge import AgentBridge
from practice_client.gui.list_model import Column, ListModel
from practice_client.gui.local_source import LocalSource
from practice_client.gui.viewmodels import MAX_CHANGES, DataSource, Overview, Page, PatientRow, Query, SortKey
from practice_client.gui.workers import Workers
from practice_client.intake import decisions
from practice_client.intake.inbox import Inbox
from practice_client.intake.mail_file import import_mail_files
from practice_client.provision import SetupParams, SetupResult, provision
from practice_client.service import agent as _agent  # noqa: F401 - see above (and it loads every source)
from practice_client.shares import actions as share_actions

log = logging.getLogger(__name__)

POLL_MS = 5000
M = TypeVar("M", bound=ListModel)


@dataclass(frozen=True)
class CertificatePreview:
    """A verified trust certificate, before staff compare and pin it. The very object
    that was verified (and shown) is the one that gets pinned."""

    path: Path
    certificate: TrustCertificate
    suggested_patient_number: str
    already_pinned_for: str
    candidates: tuple[PatientRow, ...] = ()  # PMS patients with the certificate's birth date

    @property
    def fingerprint(self) -> str:
        return self.certificate.fingerprint

    @property
    def name(self) -> str:
        return self.certificate.name

    @property
    def birth_date(self) -> str:
        return self.certificate.birth_date

    @property
    def phone(self) -> str:
        return self.certificate.phone


class Controller(QObject):
    """Qt-side service over one :class:`Context`. Lives in the GUI thread."""

    # the practice's settings are this home's own (a workstation's are its practice service's)
    practice_settings_remote = False
    may_change_practice_settings = True  # a workstation: only an admin workstation

    overviewLoaded = Signal(object)  # Overview, after each refresh reached the lists
    auditChecked = Signal(object)  # VerifyResult of the audit chain
    auditEventsLoaded = Signal(object)  # list[str]
    requestDecided = Signal(str, str)  # request_id, new status
    filesAdded = Signal(str, int)  # request_id, number of files
    mailsImported = Signal(int)  # new requests from dropped e-mail files
    documentAssigned = Signal(str)  # document_id
    assignCandidatesLoaded = Signal(object)  # list[AssignCandidate]
    documentReleased = Signal(str)  # document_id (a held document goes to the new key)
    documentWithheld = Signal(str)  # document_id (a held document is not sent)
    documentRetried = Signal(str)  # document_id
    shareReleased = Signal(str)  # share_id (released from quarantine)
    shareDiscarded = Signal(str)  # share_id
    certificateInspected = Signal(object)  # CertificatePreview
    certificatePinned = Signal(str)  # fingerprint
    pinRemoved = Signal(str)  # fingerprint
    patientsImported = Signal(int)  # number of patients
    settingsSaved = Signal(object)  # Config
    settingsLoaded = Signal(object)  # Config: the settings in force, for the settings page
    setupFinished = Signal(object)  # SetupResult
    connectionTested = Signal(bool, str)  # ok, message
    backupWritten = Signal(str)  # path
    diagnosticsExported = Signal(object)  # DiagnosticsReport
    servicePaired = Signal(str)  # the workstation's name (this home now works through the practice service)
    localCode = Signal(str)  # a pairing code the service on this PC gave
    failed = Signal(str, str)  # action, one-line message
    busyChanged = Signal(bool)
    agentStarted = Signal()
    # live events from the agent (see AgentBridge)
    documentProgress = Signal(str, str, int, int)  # document_id, phase, bytes_done, bytes_total
    newRequests = Signal(int)
    agentFailure = Signal(str)
    shareQuarantined = Signal(str, str)  # share_id, why (the Eingang page has the rest)
    connectionChanged = Signal(str)  # "connected" | "offline"

    def __init__(self, ctx: Context, source: DataSource | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.source: DataSource = source or LocalSource(ctx)
        self.workers = Workers(parent=self)
        self.workers.busyChanged.connect(self.busyChanged)
        self.overview = Overview(configured=bool(ctx.config.practice_key_fingerprint))
        self.models: list[ListModel] = []
        self.bridge = AgentBridge(parent=self)
        self.bridge.documentProgress.connect(self.documentProgress)
        self.bridge.newRequests.connect(self.newRequests)
        self.bridge.failure.connect(self.agentFailure)
        self.bridge.shareQuarantined.connect(self.shareQuarantined)
        self.bridge.connectionChanged.connect(self.connectionChanged)
        self.bridge.stateChanged.connect(self._refresh_soon)
        self._loading = False
        self._reload = False
        self._full_check = False
        self._checking = False
        self._refresh_timer = QTimer(self, singleShot=True, interval=250)
        self._refresh_timer.timeout.connect(self.refresh)
        # other processes (the command line, an agent of its own) change the store too: a
        # refresh costs what changed, so the window simply asks every few seconds
        self._poll_timer = QTimer(self, interval=POLL_MS)
        self._poll_timer.timeout.connect(self.refresh)
        self._poll_timer.start()

    @property
    def config(self) -> Config:
        return self.ctx.config

    @property
    def may_release_shares(self) -> bool:
        """Whether this window's user may release a share from quarantine (the Eingang page
        enables its button by it; the domain checks again): here the administrator's policy
        (a workstation: an admin workstation)."""
        return self.config.local_user_is_admin

    # -- plumbing -----------------------------------------------------------------

    def _run(
        self, action: str, fn: Callable[[], Any], on_done: Callable[[Any], None], refresh: bool = True
    ) -> None:
        def done(result: Any) -> None:
            on_done(result)
            if refresh:
                self.refresh()

        self.workers.start(action, fn, done, lambda message: self.failed.emit(action, message))

    def _refresh_soon(self) -> None:
        """Agent events come in bursts and streams: reload at most every 250 ms (never
        postponed indefinitely by a steady stream)."""
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    # -- reading ------------------------------------------------------------------

    def list_model(self, query: Query, columns: list[Column], bold: Callable[[Any], bool] | None = None) -> ListModel:
        """A list for a page; it reads its first page when the page calls ``reload()``, and
        every refresh brings it what changed since."""
        return self.add_model(ListModel, query, columns, bold)

    def add_model(self, kind: type[M], query: Query, columns: list[Column],
                  bold: Callable[[Any], bool] | None = None) -> M:
        """:meth:`list_model` with a subclass of :class:`ListModel` (a list that shows more)."""
        model = kind(query, columns, lambda q, after, done: self._load_page(model, q, after, done), bold)
        model.setParent(self)
        self.models.append(model)
        return model

    def _load_page(self, model: ListModel, query: Query, after: SortKey | None,
                   done: Callable[[Page], None]) -> None:
        source = self.source

        def failed(message: str) -> None:
            model.failed()
            self.failed.emit("refresh", message)

        self.workers.start("page", lambda: source.page(query, after), done, failed)

    def refresh(self, full_audit_check: bool = False) -> None:
        """Bring the overview and every loaded list up to date (only what changed since
        each list's cursor), then check the audit chain (``full_audit_check``: every entry,
        not only the new ones). At most one of each runs; a request during it causes
        exactly one more. Emits: overviewLoaded(Overview), auditChecked(VerifyResult); or failed."""
        self._full_check = self._full_check or full_audit_check
        if self._loading:
            self._reload = True
            return
        self._loading, self._reload = True, False
        source = self.source
        targets = [(model, model.generation, model.query, model.cursor) for model in self.models if model.cursor >= 0]

        def work() -> tuple[Overview, list[Any]]:
            overview = source.overview()
            return overview, [source.changes(query, cursor, MAX_CHANGES) for _m, _g, query, cursor in targets]

        def loaded(result: tuple[Overview, list[Any]]) -> None:
            overview, changes = result
            for (model, generation, _query, _cursor), change in zip(targets, changes, strict=True):
                model.apply(generation, change)
            self.overview = overview
            self.overviewLoaded.emit(overview)

        def ended() -> None:
            self._loading = False
            self._check_audit()
            if self._reload:
                self.refresh()

        self.workers.start("refresh", work, loaded, lambda message: self.failed.emit("refresh", message), ended)

    def _check_audit(self) -> None:
        """The audit chain, in a job of its own: a full check of a long log takes seconds,
        and the lists must not wait for it."""
        if self._checking:
            return
        self._checking = True
        full, self._full_check = self._full_check, False
        source = self.source

        def ended() -> None:
            self._checking = False
            if self._full_check:
                self._check_audit()

        self.workers.start("audit", lambda: source.verify_audit(full), self.auditChecked.emit,
                           lambda message: self.failed.emit("refresh", message), ended)

    def load_audit_events(self) -> None:
        """Emits: auditEventsLoaded(list[str]) or failed."""
        self._run("refresh", self.source.audit_events, self.auditEventsLoaded.emit, refresh=False)

    # -- requests -----------------------------------------------------------------

    def accept(self, request_id: str, override: bool, reason: str) -> None:
        """Accept a request (an unverified one only with ``override`` and a reason).
        Emits: requestDecided(request_id, "accepted"), overviewLoaded; or failed."""
        ctx = self.ctx

        def work() -> str:
            decisions.accept(ctx, request_id, override=override, reason=reason or None)
            self.bridge.poll_now()  # report the decision to the platform soon
            return request_id

        self._run("accept", work, lambda rid: self.requestDecided.emit(rid, "accepted"))

    def decline(self, request_id: str, reason: str) -> None:
        """Decline with a reason the patient sees. Emits: requestDecided(request_id, "declined"); or failed."""
        ctx = self.ctx

        def work() -> str:
            decisions.decline(ctx, request_id, reason=reason)
            self.bridge.poll_now()
            return request_id

        self._run("decline", work, lambda rid: self.requestDecided.emit(rid, "declined"))

    def add_files(self, request_id: str, paths: list[Path]) -> None:
        """Put files into the outbox for an accepted request (copied, then delivered by the agent).
        Emits: filesAdded(request_id, count); or failed."""
        ctx = self.ctx

        def work() -> int:
            agent = self.bridge.agent
            if agent is not None:
                return len(agent.add_files(list(paths), request_id))
            return len(outbox.add_files(ctx, list(paths), request_id))

        self._run("add_files", work, lambda count: self.filesAdded.emit(request_id, count))

    def import_mails(self, paths: list[Path]) -> None:
        """Request e-mails dragged or saved from the mail program (.eml, Outlook .msg),
        verified like received mail; one unreadable file records none of them.
        Emits: mailsImported(number of new requests); or failed."""
        ctx = self.ctx
        self._run("import_mails", lambda: import_mail_files(Inbox(ctx).receive, list(paths)), self.mailsImported.emit)

    # -- documents ----------------------------------------------------------------

    def load_assign_candidates(self) -> None:
        """The requests a file may be assigned to - accepted, not expired, each named by the
        PMS record (number, name, birth date) with the certificate and the claim beside it.
        Emits: assignCandidatesLoaded(list[AssignCandidate]); or failed."""
        self._run("assign_candidates", self.source.assign_candidates, self.assignCandidatesLoaded.emit,
                  refresh=False)

    def assign(self, document_id: str, request_id: str, birth_date: str) -> None:
        """Assign an unassigned file to an accepted request; ``birth_date`` is what staff typed
        from the document, and the domain refuses it unless it is the PMS record's.
        Emits: documentAssigned(document_id); or failed."""
        ctx = self.ctx

        def work() -> str:
            agent = self.bridge.agent
            if agent is not None:
                agent.assign(document_id, request_id, birth_date)
            else:
                outbox.assign(ctx, document_id, request_id, birth_date)
            return document_id

        self._run("assign", work, self.documentAssigned.emit)

    def release_held(self, document_id: str, fingerprint: str) -> None:
        """Staff decide: a held document (the patient was re-pinned) goes to the new key,
        ``fingerprint`` as they were shown it. Emits: documentReleased(document_id); or failed."""
        ctx = self.ctx

        def work() -> str:
            agent = self.bridge.agent
            if agent is not None:
                agent.release(document_id, fingerprint)
            else:
                outbox.release(ctx, document_id, fingerprint)
            return document_id

        self._run("release_held", work, self.documentReleased.emit)

    def withhold(self, document_id: str) -> None:
        """Staff decide: a held document is not sent. Emits: documentWithheld(document_id); or failed."""
        ctx = self.ctx
        self._run("withhold", lambda: outbox.withhold(ctx, document_id).document_id, self.documentWithheld.emit)

    def retry(self, document_id: str) -> None:
        """Send a failed document again. Emits: documentRetried(document_id); or failed."""
        ctx = self.ctx

        def work() -> str:
            agent = self.bridge.agent
            if agent is not None:
                agent.retry(document_id)
            else:
                outbox.retry(ctx, document_id)
            return document_id

        self._run("retry", work, self.documentRetried.emit)

    # -- shares (documents patients share with the practice) -----------------------------

    def release_share(self, share_id: str, reason: str, patient_number: str | None = None,
                      birth_date: str | None = None) -> None:
        """Release a quarantined share (the local user must be an administrator by policy;
        a share without a verified patient needs the PMS patient number and birth date).
        Audited with the actor and role. Emits: shareReleased(share_id); or failed."""
        ctx = self.ctx

        def work() -> str:
            share_actions.release(ctx, share_id, share_actions.local_actor(ctx), reason, patient_number, birth_date)
            self.bridge.poll_now()  # the agent takes it on at once
            return share_id

        self._run("release_share", work, self.shareReleased.emit)

    def discard_share(self, share_id: str, reason: str) -> None:
        """Discard a quarantined or waiting share (its kept files go; the patient's app is
        told). Emits: shareDiscarded(share_id); or failed."""
        ctx = self.ctx

        def work() -> str:
            share_actions.discard(ctx, share_id, share_actions.local_actor(ctx), reason)
            self.bridge.poll_now()  # the receipt goes to the platform soon
            return share_id

        self._run("discard_share", work, self.shareDiscarded.emit)

    # -- patients and trust certificates ----------------------------------------------

    def inspect_certificate(self, path: Path) -> None:
        """Verify a trust certificate file (nothing is pinned yet) for the fingerprint dialog.
        Emits: certificateInspected(CertificatePreview); or failed."""
        ctx = self.ctx

        def work() -> CertificatePreview:
            cert = trust.verify_certificate(ctx, path)
            pinned = ctx.store.get_pin(cert.fingerprint)
            try:
                suggested = trust.find_patient(ctx, cert, None, path).patient_number
            except InputError:  # none or several match: staff choose
                suggested = ""
            # a certificate is pinned only to a patient with its birth date (crypto.trust): offer those
            candidates = tuple(PatientRow(p.patient_number, p.name, p.birth_date, p.phone or "", None)
                               for p in ctx.store.patients_born_on(cert.birth_date))
            return CertificatePreview(
                path, cert, pinned.patient_number if pinned else suggested,
                pinned.patient_number if pinned else "", candidates,
            )

        self._run("inspect_certificate", work, self.certificateInspected.emit, refresh=False)

    def pin_certificate(self, preview: CertificatePreview, patient_number: str, replace: bool) -> None:
        """Pin a compared trust certificate to a PMS patient (``replace``: an explicit re-pin).
        The patient's master data must agree with the certificate (checked by crypto.trust).
        Emits: certificatePinned(fingerprint); or failed."""
        ctx = self.ctx

        def work() -> str:
            patient = trust.find_patient(ctx, preview.certificate, patient_number, preview.path)
            return trust.pin_certificate(ctx, preview.certificate, patient, replace=replace).fingerprint

        self._run("pin_certificate", work, self.certificatePinned.emit)

    def remove_pin(self, fingerprint: str) -> None:
        """Remove a pinned key (after staff confirmed). Emits: pinRemoved(fingerprint); or failed."""
        ctx = self.ctx

        def work() -> str:
            return trust.remove_pin(ctx, fingerprint).fingerprint

        self._run("remove_pin", work, self.pinRemoved.emit)

    def import_patients(self, path: Path) -> None:
        """Import PMS master data (GDT or CSV). Emits: patientsImported(count); or failed."""
        ctx = self.ctx

        def work() -> int:
            master = read_master_data(path)  # validated completely before anything is stored
            return ctx.store.upsert_patients(master.patients, master.source)

        self._run("import_patients", work, self.patientsImported.emit)

    # -- settings, setup, key backup ---------------------------------------------------

    def load_settings(self) -> None:
        """The settings in force (this home's config file under the policy).
        Emits: settingsLoaded(Config)."""
        self.settingsLoaded.emit(self.config)

    def save_settings(self, changes: dict[str, object]) -> None:
        """Save settings atomically (policy-locked keys are refused by the config layer).
        Emits: settingsSaved(Config); or failed."""
        ctx = self.ctx
        self._run("save_settings", lambda: ctx.update_config(**changes), self.settingsSaved.emit, refresh=False)

    def run_setup(self, params: SetupParams) -> None:
        """The wizard's last step: settings, keys, token, registration (provision()).
        Emits: setupFinished(SetupResult); or failed."""
        ctx = self.ctx

        def work() -> SetupResult:
            return provision(ctx, params)

        self._run("setup", work, self.setupFinished.emit)

    def test_connection(self) -> None:
        """One authenticated, harmless call (the server's copy of an unknown key: 404),
        over the same TLS settings and SPKI pin as every other call.
        Emits: connectionTested(ok, message) - a failure is an answer here, not ``failed``."""
        ctx = self.ctx

        def work() -> str:
            with ctx.platform() as client:
                client.patient_key("0" * 40)
            return ctx.config.server_url

        self.workers.start(
            "test_connection", work,
            lambda url: self.connectionTested.emit(True, str(url)),
            lambda message: self.connectionTested.emit(False, message),
        )

    def write_key_backup(self, path: Path, passphrase: str) -> None:
        """Write the encrypted backup of the practice key. Emits: backupWritten(path); or failed."""
        ctx = self.ctx

        def work() -> str:
            backup.create_backup(ctx, path, passphrase)
            return str(path)

        self._run("key_backup", work, self.backupWritten.emit, refresh=False)

    def export_diagnostics(self, path: Path) -> None:
        """The zip for the IT provider (no patient data, no secrets).
        Emits: diagnosticsExported(DiagnosticsReport); or failed."""
        ctx = self.ctx
        self._run("diagnostics", lambda: export_diagnostics(ctx, path), self.diagnosticsExported.emit, refresh=False)

    # -- the practice service -------------------------------------------------------------

    def pair_service(self, address: str, code: str) -> None:
        """Make this home a workstation of the practice service at ``address`` (the code
        from ``practice-client service pair``). Emits: servicePaired(name); or failed."""
        from practice_client.service.workstation import connect_workstation

        ctx = self.ctx

        def work() -> str:
            import getpass

            return connect_workstation(ctx.home, ctx.secrets, address, code, getpass.getuser()[:64]).name

        self._run("pair_service", work, self.servicePaired.emit, refresh=False)

    def ask_local_code(self, service_home: Path, name: str) -> None:
        """A code from the practice service on this PC (its admin may ask it directly).
        Emits: localCode(code); or failed."""
        from practice_client.service.workstation import local_code

        self._run("local_code", lambda: local_code(service_home, name), self.localCode.emit, refresh=False)

    # -- the agent ---------------------------------------------------------------------

    def start_agent(self) -> None:
        """Run intake, the watched folder and uploads in the agent's own threads (started from a worker).
        Emits: agentStarted or failed("agent", ...); later, per event: documentProgress, newRequests,
        agentFailure, shareQuarantined, connectionChanged."""
        if self.bridge.running:
            return
        ctx, bridge = self.ctx, self.bridge

        def started(agent: Any) -> None:
            bridge.adopt(agent)
            self.agentStarted.emit()

        self._run("agent", lambda: bridge.create_and_start(ctx), started, refresh=False)

    def stop_polling(self) -> None:
        """No more refreshes by the clock (a home about to become a workstation's)."""
        self._poll_timer.stop()

    def shutdown(self, msecs: int = 30000) -> None:
        """Wait for running jobs, then stop the agent politely (never terminate a thread)."""
        self._poll_timer.stop()
        self.workers.wait(msecs)
        self.bridge.stop()
