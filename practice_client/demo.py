"""The end-to-end demo: a local platform, a simulated patient and this client.

Everything runs on loopback in a temporary folder: the testbed platform (HTTPS),
a DNS server publishing the platform's DKIM key, the platform's identity
authority, a patient with a trust certificate, and a client home set up exactly
as a practice would set it up. The steps are methods of :class:`Demo`, so the
headless demo (:func:`run_headless`) prints them and the GUI demo can run the
same scenario with the main window instead (``say`` receives each line).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from practice_client.core.errors import PracticeClientError
from practice_client.core.models import Document, DocumentState, RequestRecord, Share, Verdict
from practice_client.core.paths import Home
from practice_client.core.text import Text
from practice_client.crypto.gpg import group_fingerprint, short_temp_root

if TYPE_CHECKING:
    from practice_client.context import Context
    from practice_client.service.agent import Agent
    from practice_client.testbed.dns import TxtDnsServer
    from practice_client.testbed.identity import IdentityAuthority
    from practice_client.testbed.mail import DkimKey
    from practice_client.testbed.patient import SimulatedPatient
    from practice_client.testbed.platform import TestbedPlatform

Say = Callable[[str], None]

PLATFORM_DOMAIN = "plattform.example"
PRACTICE_ID = "praxis-demo"


@dataclass(frozen=True)
class DemoPatient:
    number: str = "1001"
    name: str = "Erika Mustermann"
    birth_date: str = "1964-08-12"
    phone: str = "+491711234567"


STATUS_MARK = {"pass": "✓", "warn": "!", "fail": "✗"}
RECEIPT_WORDS = {"accepted": "angenommen / accepted", "refused": "abgelehnt / refused"}


def until(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    """``check()``'s first true value, asked until ``timeout``; the demo fails plainly
    (naming ``what``) when it never comes."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        pause.wait(0.05)
    raise PracticeClientError(f"demo: {what} did not happen in time")


class Demo:
    """One demo world. Call the steps in order; :meth:`close` cleans up (also on errors)."""

    def __init__(self, say: Say = print, root: Path | None = None) -> None:
        self.say = say
        self.root = root or Path(tempfile.mkdtemp(prefix="pcdemo", dir=short_temp_root()))
        self.owns_root = root is None
        self.patient_data = DemoPatient()
        self.platform: TestbedPlatform | None = None
        self.dns: TxtDnsServer | None = None
        self.authority: IdentityAuthority | None = None
        self.patient: SimulatedPatient | None = None
        self.ctx: Context | None = None
        self.agent: Agent | None = None
        self._dkim: DkimKey | None = None
        self._clamd: contextlib.ExitStack = contextlib.ExitStack()
        self.steps = 0  # the last step's number: both acts count on from one

    def step(self, line: str) -> None:
        """Say ``line`` as the next numbered step (the numbers run on through every act,
        whichever methods a scenario calls)."""
        self.steps += 1
        self.say(f"{self.steps}. {line}")

    # -- the world -------------------------------------------------------------------------

    def start_platform(self) -> None:
        from practice_client.testbed.dns import TxtDnsServer
        from practice_client.testbed.identity import IdentityAuthority
        from practice_client.testbed.mail import DkimKey
        from practice_client.testbed.platform import TestbedPlatform

        self.platform = TestbedPlatform(self.root / "platform").start()
        self.step(f"Plattform gestartet / platform started: {self.platform.url} (HTTPS, eigene CA / own CA)")
        self._dkim = DkimKey.generate(PLATFORM_DOMAIN, "demo", "ed25519-sha256")
        self.dns = TxtDnsServer({self._dkim.record_name: self._dkim.txt}).start()
        self.step(f"DNS für DKIM / DNS for DKIM: {self.dns.address} ({self._dkim.record_name})")
        self.authority = IdentityAuthority.create(self.root / "ident")
        (self.root / "ident.asc").write_text(self.authority.public_key(), encoding="ascii")
        self.step("Identitätsprüfung der Plattform bereit / platform identity authority ready: "
                  f"{group_fingerprint(self.authority.fingerprint)}")

    def create_patient(self) -> None:
        """The patient's app runs on a non-GnuPG OpenPGP implementation where this machine
        has one (as real patients' apps do: OpenPGP.js, Sequoia), else on GnuPG - said so."""
        from practice_client.testbed.implementations import PREFERRED_PATIENT_APPS, TOOLS, preferred_implementation
        from practice_client.testbed.patient import SimulatedPatient

        p = self.patient_data
        implementation = preferred_implementation()
        if implementation not in PREFERRED_PATIENT_APPS:
            missing = "; ".join(str(TOOLS[n].missing()) for n in PREFERRED_PATIENT_APPS)
            self.say(f"   Hinweis / note: keine andere OpenPGP-Implementierung als GnuPG verfügbar / no OpenPGP "
                     f"implementation other than GnuPG available ({missing}): die App der Patientin nutzt GnuPG / "
                     "the patient's app uses GnuPG")
        self.patient = SimulatedPatient.create(self.root / "patient", p.name, p.birth_date, p.phone,
                                               implementation=implementation)
        self.step(f"Patientin in der App / patient in the app: {p.name}, Schlüssel / key "
                  f"{group_fingerprint(self.patient.fingerprint)}, App mit / app built on "
                  f"{TOOLS[implementation].version()}")

    def setup_client(self) -> Context:
        from practice_client.context import Context
        from practice_client.provision import SetupParams, provision

        assert self.platform is not None and self.dns is not None
        self.ctx = Context(home=Home(self.root / "client"))
        result = provision(self.ctx, SetupParams(
            server_url=self.platform.url, practice_id=PRACTICE_ID, platform_domain=PLATFORM_DOMAIN,
            ident_key_file=self.root / "ident.asc", dns_server=self.dns.address,
            ca_file=self.platform.ca_file, export_dir=self.root / "export", token=self.platform.token,
        ))
        self.ctx.update_config(stable_seconds=0.3, poll_seconds=2.0, pms_import_dir=str(self._import_dir()),
                               **self._scanner())
        self.step("Praxis-Client eingerichtet / practice client set up: Praxisschlüssel / practice key "
                  f"{group_fingerprint(result.practice_key_fingerprint)}, bei der Plattform registriert / "
                  "registered with the platform")
        return self.ctx

    def _import_dir(self) -> Path:
        folder = self.root / "pvs-import"
        folder.mkdir(exist_ok=True)
        return folder

    def _scanner(self) -> dict[str, str]:
        """ClamAV where it is installed: a clamd of the demo's own (the system's may have no
        database without freshclam); none otherwise - shared documents then wait."""
        from practice_client.testbed.clamd import clamd_binary, start_clamd

        if clamd_binary() is None:
            return {"scanner": "none"}
        try:
            running = self._clamd.enter_context(start_clamd(self.root / "clamd"))
        except (OSError, RuntimeError) as exc:
            self.say(f"   Hinweis / note: ClamAV startet nicht / does not start ({exc})")
            return {"scanner": "none"}
        return {"scanner": "clamd", "clamd_address": str(running.socket)}

    def import_master_data(self) -> None:
        from practice_client.core.patients import read_master_data

        assert self.ctx is not None
        p = self.patient_data
        csv = self.root / "stammdaten.csv"
        csv.write_text(f"patient_number,name,birth_date,phone\n{p.number},{p.name},{p.birth_date},{p.phone}\n",
                       encoding="utf-8")
        master = read_master_data(csv)
        self.ctx.store.upsert_patients(master.patients, master.source)
        self.step(f"PVS-Stammdaten importiert / PMS master data imported: {len(master.patients)} Patient(in)")

    def import_trust_certificate(self) -> None:
        from practice_client.crypto.trust import find_patient, pin_certificate, verify_certificate

        assert self.ctx is not None and self.patient is not None and self.authority is not None
        path = self.root / "erika.trust.asc"
        path.write_text(self.patient.trust_certificate(self.authority), encoding="utf-8")
        cert = verify_certificate(self.ctx, path)
        patient = find_patient(self.ctx, cert, self.patient_data.number, path)
        pin_certificate(self.ctx, cert, patient, replace=False)
        self.step("Vertrauenszertifikat geprüft und gepinnt / trust certificate verified and pinned: "
                  f"{group_fingerprint(cert.fingerprint)} -> Patient {patient.patient_number}")

    # -- the request -------------------------------------------------------------------------

    def patient_sends_request(self, name: str = "0001.eml") -> None:
        from practice_client.testbed.mail import platform_request

        assert self.patient is not None and self.platform is not None and self._dkim is not None
        p = self.patient_data
        raw = platform_request(
            self.patient.sign, self._dkim, practice_id=PRACTICE_ID, name=p.name,
            birth_date=p.birth_date, phone=p.phone, fingerprint=self.patient.fingerprint,
        )
        (self.platform.data_dir / "inbox" / name).write_bytes(raw)
        self.step("Patientin sendet eine Anfrage (von ihr signiert, von der Plattform per DKIM signiert) / "
                  "the patient sends a request (signed by her, DKIM-signed by the platform)")

    def fetch_and_verify(self) -> RequestRecord:
        from practice_client.service.sources import configured_sources

        assert self.ctx is not None
        received = sum(source.poll_once() for source in configured_sources(self.ctx))
        records = self.ctx.store.list_requests()
        if not records:
            raise PracticeClientError("demo: no request arrived")
        record = records[0]
        self.step(f"Anfrage abgeholt und geprüft / request fetched and verified ({received} neu / new): "
                  f"{record.request_id}")
        for check in record.checks:
            self.say(f"   {STATUS_MARK.get(str(check.status), '?')} {check.name}: {check.detail_de} / "
                     f"{check.detail_en}")
        if record.verdict is not Verdict.VERIFIED:
            raise PracticeClientError(f"demo: the request was not verified ({record.verdict})")
        return record

    def accept(self, request_id: str) -> None:
        from practice_client.intake.decisions import accept

        assert self.ctx is not None
        accept(self.ctx, request_id)
        self.step("Anfrage angenommen / request accepted: Exportordner / export folder "
                  f"{Path(self.ctx.config.export_dir) / request_id}")

    # -- delivery --------------------------------------------------------------------------------

    def start_agent(self) -> Agent:
        from practice_client.service.agent import Agent

        assert self.ctx is not None
        self.agent = Agent(self.ctx)
        self.agent.start()
        self.step("Agent läuft: Ordnerüberwachung und Upload / agent running: folder watch and upload")
        return self.agent

    def drop_document(self) -> tuple[Path, bytes]:
        assert self.ctx is not None
        data = ("Arztbrief für Erika Mustermann\n" * 2000).encode("utf-8") + os.urandom(4096)
        p = self.patient_data  # the naming rule: <patient number>_<birth date>_<anything>
        path = Path(self.ctx.config.export_dir) / f"{p.number}_{p.birth_date}_Arztbrief.pdf"
        tmp = path.with_name(path.name + ".part")  # as a careful PMS writes: temp name, then rename
        tmp.write_bytes(data)
        os.replace(tmp, path)
        self.step(f"Das PVS legt eine Datei in den Exportordner / the PMS drops a file: {path.name} "
                  f"({len(data)} Bytes)")
        return path, data

    def wait_delivered(self, timeout: float = 120.0) -> Document:
        assert self.ctx is not None
        deadline = time.monotonic() + timeout
        pause = threading.Event()
        while time.monotonic() < deadline:
            docs = self.ctx.store.list_documents()
            done = [d for d in docs if d.state in (DocumentState.DELIVERED, DocumentState.FAILED,
                                                   DocumentState.UNASSIGNED)]
            if done:
                doc = done[0]
                if doc.state is not DocumentState.DELIVERED:
                    raise PracticeClientError(f"demo: the document is {doc.state}: {Text.decode(doc.error or '')}")
                self.step(f"Zugestellt / delivered: Dokument / document {doc.document_id}, "
                          f"zugeordnet per / matched by {doc.match_method}, "
                          f"SHA-256 {doc.ciphertext_sha256}")
                return doc
            pause.wait(0.1)
        raise PracticeClientError("demo: the document was not delivered in time")

    def patient_opens(self, doc: Document, original: bytes) -> bool:
        from practice_client.platform.api import PlatformClient

        assert self.ctx is not None and self.platform is not None and self.patient is not None
        practice_key = self.ctx.gpg.export_public(self.ctx.config.practice_key_fingerprint)
        with PlatformClient(self.platform.url, self.platform.token, ca_file=self.platform.ca_file) as app:
            ciphertext = app.download(doc.document_id)
            manifest_ct = app.download(doc.document_id, "manifest")
        self.step(f"Die App der Patientin lädt herunter / the patient's app downloads: {len(ciphertext)} "
                  "Bytes, für den Server undurchsichtig / opaque to the server")
        plaintext, name, signed = self.patient.decrypt(ciphertext, None, practice_key)
        manifest, _, manifest_signed = self.patient.decrypt(manifest_ct, None, practice_key)
        identical = plaintext == original
        self.step(f"Entschlüsselt / decrypted: {name}, Signatur der Praxis / practice signature "
                  f"{'gültig / valid' if signed and manifest_signed else 'UNGÜLTIG / INVALID'}, "
                  f"Inhalt / content {'identisch / identical' if identical else 'VERSCHIEDEN / DIFFERENT'}")
        leaked = any(name.encode() in p.read_bytes() for p in (self.platform.data_dir / "documents").iterdir())
        self.step(f"Dateiname auf dem Server sichtbar / file name visible on the server: "
                  f"{'JA / YES' if leaked else 'nein / no'}")
        return identical and signed and manifest_signed and not leaked and bool(manifest)

    # -- a document the patient shares ---------------------------------------------------------

    def patient_shares(self) -> str:
        """The patient's app shares a report with the practice (encrypted to the practice
        key of :attr:`ctx`, whoever holds it now); whoever runs the agent fetches it."""
        from practice_client.testbed.shares import ShareStore

        assert self.ctx is not None and self.platform is not None and self.patient is not None
        practice_key = self.ctx.gpg.export_public(self.ctx.config.practice_key_fingerprint)
        data = ("Befund der Kardiologie für Erika Mustermann\n" * 200).encode("utf-8")
        shared = self.patient.share(data, "Befund Kardiologie.txt", practice_key, PRACTICE_ID,
                                    document_type="Befund", document_date="2026-11-30")
        ShareStore(self.platform.data_dir).publish(shared.document, shared.manifest, shared.share_id)
        self.step("Die Patientin teilt ein Dokument mit der Praxis (signiert, für die Praxis verschlüsselt) / "
                  f"the patient shares a document with the practice (signed, encrypted to the practice): "
                  f"{shared.share_id}")
        return shared.share_id

    def wait_received(self, share_id: str, timeout: float = 120.0) -> Share | None:
        """The share once it reached the PMS import folder, or - the demo having no scanner -
        once it is held for one, as it must be; None otherwise. Read from :attr:`ctx`'s
        store (the practice service's, once it has adopted the home)."""
        from practice_client.shares.states import reason_text

        assert self.ctx is not None
        deadline, pause = time.monotonic() + timeout, threading.Event()
        share: Share | None = None
        while time.monotonic() < deadline:
            share = self.ctx.store.get_share(share_id)
            if share is not None and share.state == "handed_over":
                self.step("Geprüft (Signatur der gepinnten Patientin, Dateityp, Virenscan: ClamAV) und an das PVS "
                          "übergeben / verified (the pinned patient's signature, file type, ClamAV scan) and "
                          f"handed to the PMS: {self.ctx.config.pms_import_dir}")
                return share
            if share is not None and share.state == "waiting" and share.reason == "no_scanner":
                self.step("KEIN VIRENSCANNER / NO VIRUS SCANNER: das geteilte Dokument wird zurückgehalten, "
                          "bis ein Scanner antwortet / the shared document is held until a scanner answers "
                          f"({reason_text(share.reason)} / {reason_text(share.reason, 'en')}; "
                          "ClamAV: Debian-Paket clamav-daemon)")
                return share
            if share is not None and share.state == "quarantined":
                self.step(f"Quarantäne / quarantined: {reason_text(share.reason)} / "
                          f"{reason_text(share.reason, 'en')}")
                return None
            pause.wait(0.1)
        state = f"{share.state}, {reason_text(share.reason)}" if share is not None else "-"
        self.step(f"Das geteilte Dokument kam nicht an / the shared document did not arrive ({state})")
        return None

    def shows_import_folder(self, share: Share) -> bool:
        """What the PMS finds in its import folder: the file and its GDT record, read back
        with the client's own GDT parser (the record names the patient by the PMS's data)."""
        from practice_client.core.gdt import parse_gdt

        folder = Path(str(share.handover["folder"]))
        file, record = folder / str(share.handover["file"]), folder / str(share.handover["record"])
        if not file.is_file() or not record.is_file():
            self.step(f"Im PVS-Importordner fehlt / missing in the PMS import folder: {file.name}, {record.name}")
            return False
        records = parse_gdt(record.read_bytes(), record)
        self.step(f"Im PVS-Importordner / in the PMS import folder: {file.name} ({file.stat().st_size} Bytes) "
                  f"und der GDT-Satz / and the GDT record {record.name} (Feld Inhalt / field content):")
        for _, field, content in records[0].fields:
            self.say(f"   {field} {content}")
        number = records[0].first("3000")
        return len(records) == 1 and number is not None and number[1] == self.patient_data.number

    def receipt_reached_platform(self, share_id: str, timeout: float = 60.0) -> bool:
        """The practice's receipt as the platform recorded it (what the patient's app shows)."""
        from practice_client.testbed.shares import ShareStore

        assert self.platform is not None
        store = ShareStore(self.platform.data_dir)
        receipt = str(until("the receipt at the platform", lambda: store.receipt_of(share_id), timeout))
        self.step("Empfangsbestätigung an die Plattform gesendet / receipt sent to the platform: "
                  f"{RECEIPT_WORDS.get(receipt, receipt)} (die App der Patientin zeigt sie / the patient's app "
                  "shows it)")
        return receipt == "accepted"

    def close(self) -> None:
        if self.agent is not None:
            self.agent.stop()
        if self.ctx is not None:
            self.ctx.close()
        for party in (self.patient, self.authority):
            if party is not None:
                party.close()
        if self.dns is not None:
            self.dns.stop()
        self._clamd.close()
        if self.platform is not None:
            self.platform.stop()
        if self.owns_root:
            shutil.rmtree(self.root, ignore_errors=True)


def prepare(demo: Demo) -> RequestRecord:
    """Steps 1-10: the world, the client set up, a verified and accepted request."""
    demo.start_platform()
    demo.create_patient()
    demo.setup_client()
    demo.import_master_data()
    demo.import_trust_certificate()
    demo.patient_sends_request()
    record = demo.fetch_and_verify()
    demo.accept(record.request_id)
    return record


def run_headless(say: Say = print, second_act: Callable[[Demo], bool] | None = None) -> int:
    """The whole scenario, printed step by step; 0 when the patient got identical bytes
    (and ``second_act``, run on the same demo after the first, succeeded: the practice
    service's act, handed in from above since it reads as the workstations do - it ends
    with the document the patient shares)."""
    demo = Demo(say)
    try:
        prepare(demo)
        demo.start_agent()
        _, original = demo.drop_document()
        doc = demo.wait_delivered()
        ok = demo.patient_opens(doc, original)
        if ok and second_act is not None:
            ok = second_act(demo)
    finally:
        demo.close()
    say("Demo erfolgreich / demo succeeded" if ok else "Demo FEHLGESCHLAGEN / demo FAILED")
    return 0 if ok else 1
