"""The ambiguity suite's world: patients who can be mixed up, end to end.

One testbed platform (real HTTPS), a loopback DNS server with the platform's DKIM key,
the platform's identity authority and simulated patients with their own OpenPGP keys -
twins with the same name and birth date, two patients of the same name born on other
days, a patient whose key is replaced. Every test gets a fresh client home, set up
once against that platform, with every patient in the PMS master data and pinned.
Requests come in as the platform sends them (DKIM-signed, signed by the patient) and
go through the real intake; files go through the real watcher, gpg and upload.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

import pytest

from practice_client.cli import main
from practice_client.context import Context
from practice_client.core.models import Document, DocumentState, Patient, RequestRecord
from practice_client.crypto.trust import pin_certificate, verify_certificate_text
from practice_client.provision import SetupParams
from practice_client.service.agent import Agent
from practice_client.testbed.dns import TxtDnsServer
from practice_client.testbed.identity import IdentityAuthority
from practice_client.testbed.mail import DkimKey, platform_request
from practice_client.testbed.patient import SimulatedPatient
from practice_client.testbed.platform import TestbedPlatform
from tests.conftest import require, short_tmpdir
from tests.support.patients import ERIKA, GISELA
from tests.support.waiting import wait_for
from tests.support.worlds import fresh_home, keyring_ok, provisioned_template, publish_server_copies, tear_down

DOMAIN = "plattform.test"
PRACTICE_ID = "praxis-sicher"

# key -> (patient number, name, birth date, phone). "erika_new" is Erika with a new key (re-pin).
PEOPLE = {
    "erika": astuple(ERIKA),
    "gisela": astuple(GISELA),
    "anna": ("2001", "Anna Zwilling", "1990-03-03", "+491721110001"),
    "anna_twin": ("2002", "Anna Zwilling", "1990-03-03", "+491721110002"),
    "max": ("3001", "Max Mustermann", "1960-01-31", "+491731110001"),
    "max_other": ("3002", "Max Mustermann", "1971-07-07", "+491731110002"),
    "erika_new": astuple(ERIKA),
}
PINNED = ("erika", "gisela", "anna", "anna_twin", "max", "max_other")
UNSETTLED = (DocumentState.DETECTED, DocumentState.MATCHED, DocumentState.ENCRYPTED, DocumentState.UPLOADING)


@dataclass
class SafetyWorld:
    root: Path
    platform: TestbedPlatform
    dkim: DkimKey
    authority: IdentityAuthority
    people: dict[str, SimulatedPatient]
    certificates: dict[str, str]
    template: Path
    practice_key: str


@pytest.fixture(scope="session")
def safety_world() -> Iterator[SafetyWorld]:
    keyring_ok()
    try:
        import dnslib  # noqa: F401
    except ImportError:
        require(False, "dnslib (DNS server on loopback)")
    root = short_tmpdir("psw")
    os.environ["PRACTICE_CLIENT_POLICY"] = str(Path(__file__).parent.parent / "data" / "empty-policy.toml")
    platform = TestbedPlatform(root / "platform").start()
    dkim = DkimKey.generate(DOMAIN, "sicher", "ed25519-sha256")
    dns = TxtDnsServer({dkim.record_name: dkim.txt}).start()
    with ThreadPoolExecutor(4) as pool:  # key generation mostly waits for gpg: side by side
        authority_f = pool.submit(IdentityAuthority.create, root / "ident")
        futures = {key: pool.submit(SimulatedPatient.create, root / key, name, birth, phone)
                   for key, (_, name, birth, phone) in PEOPLE.items()}
        authority = authority_f.result()
        people = {key: f.result() for key, f in futures.items()}
    (root / "ident.asc").write_text(authority.public_key(), encoding="ascii")
    template = root / "home"
    practice_key = provisioned_template(template, SetupParams(
        server_url=platform.url, practice_id=PRACTICE_ID, platform_domain=DOMAIN,
        ident_key_file=root / "ident.asc", dns_server=dns.address, ca_file=platform.ca_file,
        token=platform.token, export_dir=template / "export",
    ))
    publish_server_copies(platform, people.values())
    certificates = {key: person.trust_certificate(authority) for key, person in people.items()}
    yield SafetyWorld(root, platform, dkim, authority, people, certificates, template, practice_key)
    dns.stop()
    tear_down(root, platform, authority, people.values())


class Practice:
    """One practice's client home, its agent, and what staff and the PMS do with it."""

    def __init__(self, world: SafetyWorld, ctx: Context) -> None:
        self.world, self.ctx = world, ctx
        self.export = Path(ctx.config.export_dir)
        self.eml = Path(ctx.config.eml_dir)
        self.agent: Agent | None = None

    # -- the patients' side -------------------------------------------------------------

    def message(self, signer: str, request_id: str | None = None, **claims: str) -> bytes:
        """What the platform sends when the patient ``signer`` asks: signed with her own key,
        her own phone; ``claims`` (name, birth_date) replace what she says about who she is."""
        person = self.world.people[signer]
        return platform_request(
            person.sign, self.world.dkim, practice_id=PRACTICE_ID, name=claims.get("name", person.name),
            birth_date=claims.get("birth_date", person.birth_date), phone=person.phone,
            fingerprint=person.fingerprint, request_id=request_id or str(uuid.uuid4()),
        )

    def request(self, signer: str, **claims: str) -> str:
        """The message of :meth:`message` arrives (a mail program saves it); its request id."""
        request_id = str(uuid.uuid4())
        raw = self.message(signer, request_id, **claims)
        path = self.eml / f"{request_id}.eml"
        (self.eml / f".{request_id}.part").write_bytes(raw)
        os.replace(self.eml / f".{request_id}.part", path)  # as a mail program saves it
        return request_id

    def received(self, request_id: str) -> RequestRecord:
        if self.agent is not None:
            self.agent.poll_now()
        found = wait_for(lambda: self.ctx.store.get_request(request_id), what=f"request {request_id}")
        assert isinstance(found, RequestRecord)
        return found

    def accepted(self, signer: str, **claims: str) -> str:
        """A request that went through intake, verified, accepted by staff on the command line."""
        request_id = self.request(signer, **claims)
        record = self.received(request_id)
        assert record.verdict == "verified", record.checks
        assert self.cli("request", "accept", request_id)[0] == 0
        return request_id

    # -- staff and the PMS ------------------------------------------------------------------

    def cli(self, *args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
        return code, out.getvalue(), err.getvalue()

    def outbox(self) -> dict[str, Any]:
        code, out, _ = self.cli("outbox", "--json")
        assert code == 0
        return dict(json.loads(out))

    def pin(self, key: str, replace: bool = False) -> None:
        number, name, birth, phone = PEOPLE[key]
        cert = verify_certificate_text(self.world.certificates[key], f"{key}.trust.asc",
                                       self.world.authority.public_key(), self.world.authority.fingerprint)
        pin_certificate(self.ctx, cert, Patient(number, name, birth, phone), replace=replace)

    def drop(self, name: str, data: bytes, folder: str | None = None) -> Path:
        """The PMS exports a file (written and closed, as the watcher sees it)."""
        target = (self.export / folder if folder else self.export) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as handle:
            handle.write(data)
        return target

    def settled(self, count: int = 1) -> list[Document]:
        """Wait until ``count`` documents came to rest (unassigned, held, delivered, failed)."""
        def done() -> list[Document] | None:
            docs = self.ctx.store.list_documents()
            rest = [d for d in docs if d.state not in UNSETTLED]
            return rest if len(rest) >= count and len(rest) == len(docs) else None

        found = wait_for(done, timeout=90, what=f"{count} settled document(s)")
        assert isinstance(found, list)
        return found

    def uploaded(self, document_id: str) -> bool:
        """Did any byte of this document reach the platform?"""
        stored = self.world.platform.data_dir  # uploads/<id>.<part>.bin, documents/<id>.pgp
        return any(document_id in p.name for p in stored.rglob("*"))

    def start(self) -> Agent:
        self.agent = Agent(self.ctx)
        self.agent.start()
        return self.agent

    def stop(self) -> None:
        if self.agent is not None:
            self.agent.stop()
            self.agent = None


def never_delivered(practice: Practice, doc: Document, *shown: str) -> None:
    """The suite's one promise: to staff (unassigned or held), with both sides shown, and
    not a byte on the platform."""
    assert doc.state in (DocumentState.UNASSIGNED, DocumentState.HELD), (doc.state, doc.error)
    assert not practice.uploaded(doc.document_id)
    for text in shown:
        assert text in (doc.error or ""), (text, doc.error)


@pytest.fixture
def practice(safety_world: SafetyWorld, monkeypatch: pytest.MonkeyPatch) -> Iterator[Practice]:
    """A fresh client home: every patient of the suite in the PMS master data and pinned;
    requests arrive as .eml files (the real intake), files in the export folder."""
    with fresh_home(safety_world.template, monkeypatch) as ctx:
        eml = ctx.home.root / "eml"
        eml.mkdir()
        ctx.update_config(eml_dir=str(eml))
        ctx.store.upsert_patients([Patient(*PEOPLE[key]) for key in PINNED], "test")
        result = Practice(safety_world, ctx)
        for key in PINNED:
            result.pin(key)
        try:
            yield result
        finally:
            result.stop()


