"""Files picked at a workstation, over real TLS on loopback to a real practice service:
request e-mails are read at the workstation and recorded and verified by the service's
``mails.import`` (DKIM against a DNS server on loopback, the patient's consent, the phone
number, as the local import does); documents are streamed to the service's staging folder
(``PUT /v1/staged/<id>``) and put into the request's delivery by ``files.add`` - once per
idempotency key, audited with the workstation and the OS user - then encrypted and
uploaded to the testbed platform by the service's agent."""

from __future__ import annotations

import http.client
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from practice_client.context import Context
from practice_client.core.models import DocumentState, Verdict
from practice_client.gui.app import make_controller
from practice_client.gui.remote_controller import RemoteController
from practice_client.service.client import NotPaired, ServiceClient, ServiceRefused, ServiceUnavailable
from practice_client.service.staging import Staging
from practice_client.service.tls import client_context
from practice_client.testbed.dns import TxtDnsServer
from practice_client.testbed.mail import DkimKey, platform_request
from tests.support.service import ServiceProcess, audit_entries, b64, open_request, pair_home, service_context
from tests.support.waiting import wait_for
from tests.support.worlds import World

pytestmark = pytest.mark.slow

PRACTICE_ID = "praxis-test"  # tests/support/service.py setup_args
PLATFORM_DOMAIN = "testbed.invalid"


@contextmanager
def workstation(qtbot, practice: ServiceProcess, home: Path) -> Iterator[RemoteController]:  # type: ignore[no-untyped-def]
    """The window's controller of a staff workstation paired with ``practice``, online."""
    pair_home(practice, home, "Sprechzimmer 2", "staff")
    ctx = Context()
    controller = make_controller(ctx)
    assert isinstance(controller, RemoteController)
    try:
        qtbot.waitUntil(lambda: controller.service_state == "online" and controller._practice is not None,
                        timeout=30000)  # online, with the practice's settings
        yield controller
    finally:
        controller.shutdown()
        ctx.close()


@pytest.fixture
def dkim(practice: ServiceProcess) -> Iterator[DkimKey]:
    """The platform's DKIM key, published by a DNS server on loopback the service asks."""
    key = DkimKey.generate(PLATFORM_DOMAIN, "ws2026")
    with TxtDnsServer({key.record_name: key.txt}) as server:
        admin = practice.workstation("admin", "Chefin")
        try:
            assert admin.command("settings.save", {"changes": {"dns_server": server.address}}).applied
        finally:
            admin.close()
        yield key


def staged_files(practice: ServiceProcess) -> list[Path]:
    folder = Staging.of(practice.files.home).folder
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


def accepted(practice: ServiceProcess, world: World, monkeypatch: pytest.MonkeyPatch) -> str:
    request_id = open_request(practice, world, monkeypatch)
    admin = practice.workstation("admin", "Chefin")
    try:
        assert admin.command("accept", {"request_id": request_id}).applied
    finally:
        admin.close()
    return request_id


# -- request e-mails ----------------------------------------------------------------------------


def test_a_request_email_imported_at_a_workstation_is_verified_at_the_service(
        qtbot, practice: ServiceProcess, world: World, dkim: DkimKey, client_home: Path,  # type: ignore[no-untyped-def]
        monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.worlds import pin_patient

    ctx = service_context(practice, monkeypatch)
    try:
        erika = pin_patient(ctx, world, "1001")
    finally:
        ctx.close()
    request_id = str(uuid.uuid4())
    raw = platform_request(erika.sign, dkim, practice_id=PRACTICE_ID, name=erika.name,
                           birth_date=erika.birth_date, phone=erika.phone, fingerprint=erika.fingerprint,
                           request_id=request_id)
    mail = client_home / "Anfrage Erika.eml"
    mail.write_bytes(raw)
    with workstation(qtbot, practice, client_home) as controller:
        with qtbot.waitSignal(controller.mailsImported, timeout=60000) as imported:
            controller.import_mails([mail])
        assert imported.args == [1]
        with qtbot.waitSignal(controller.mailsImported, timeout=60000) as again:
            controller.import_mails([mail])  # the same e-mail twice is one request
        assert again.args == [0]
    ctx = service_context(practice, monkeypatch)
    try:
        [record] = ctx.store.list_requests()
        assert record.request_id == request_id and record.verdict is Verdict.VERIFIED, record
    finally:
        ctx.close()
    [received] = [e for e in audit_entries(practice, "request.received")
                  if e["details"].get("request_id") == request_id]
    assert received["details"]["by"]["workstation"] == "Sprechzimmer 2"
    assert received["details"]["by"]["os_user"]
    assert mail.read_bytes() == raw, "the workstation's file stays as it was"


def test_a_bad_mail_file_is_refused_in_one_line_naming_it_and_nothing_is_recorded(
        qtbot, practice: ServiceProcess, client_home: Path,  # type: ignore[no-untyped-def]
        monkeypatch: pytest.MonkeyPatch) -> None:
    good = (b"From: anfragen@testbed.invalid\r\nMessage-ID: <ws-1@testbed.invalid>\r\nSubject: Anfrage\r\n\r\n"
            b"Bitte senden Sie mir meinen Befund.\r\n")
    staff = practice.workstation("staff", "Empfang")
    try:
        with pytest.raises(ServiceRefused) as refused:
            staff.command("mails.import", {"files": [{"name": "gut.eml", "data": b64(good)},
                                                     {"name": "C:\\Mails\\kaputt.msg", "data": b64(b"kein OLE")}]})
    finally:
        staff.close()
    line = str(refused.value.text)
    assert "\n" not in line and refused.value.text.en.startswith("kaputt.msg: "), line
    big = client_home / "riesig.eml"
    big.write_bytes(good + b"x" * (8 * 1024 * 1024))
    with workstation(qtbot, practice, client_home) as controller:
        with qtbot.waitSignal(controller.failed, timeout=60000) as failed:
            controller.import_mails([client_home / "fehlt.eml"])
        assert failed.args[0] == "import_mails" and "fehlt.eml" in failed.args[1]
        with qtbot.waitSignal(controller.failed, timeout=60000) as failed:
            controller.import_mails([big])  # the local import's limit, before anything is sent
        assert "riesig.eml" in failed.args[1] and "\n" not in failed.args[1]
    ctx = service_context(practice, monkeypatch)
    try:
        assert ctx.store.list_requests() == [] and ctx.store.unprocessed_messages() == []
    finally:
        ctx.close()
    assert audit_entries(practice, "message.received") == [], "the good file was not recorded either"


# -- documents for a request ------------------------------------------------------------------


def test_files_added_at_a_workstation_are_delivered_encrypted(
        qtbot, practice: ServiceProcess, world: World, client_home: Path,  # type: ignore[no-untyped-def]
        monkeypatch: pytest.MonkeyPatch) -> None:
    request_id = accepted(practice, world, monkeypatch)
    content = b"%PDF-1.7 Befund vom Sprechzimmer " + os.urandom(3 * 1024 * 1024)
    befund = client_home / "Befund Erika.pdf"
    befund.write_bytes(content)
    with workstation(qtbot, practice, client_home) as controller:
        with qtbot.waitSignal(controller.filesAdded, timeout=60000) as added:
            controller.add_files(request_id, [befund])
        assert added.args == [request_id, 1]
    assert staged_files(practice) == [], "the upload was used once"
    ctx = service_context(practice, monkeypatch)
    try:
        [doc] = wait_for(lambda: ctx.store.list_documents([DocumentState.DELIVERED]), 120, "the delivery")
        assert doc.request_id == request_id and doc.original_name == "Befund Erika.pdf"
        practice_key = ctx.gpg.export_public(ctx.config.practice_key_fingerprint)
    finally:
        ctx.close()
    sent = world.platform.data_dir / "documents" / f"{doc.document_id}.pgp"
    assert content[:40] not in sent.read_bytes()
    plain, name, signed = world.patients["1001"].decrypt(sent, None, practice_key)
    assert plain == content and signed and name.endswith("Befund Erika.pdf")
    [entry] = [e for e in audit_entries(practice, "document.matched") if e["details"].get("document_id")
               == doc.document_id] or [e for e in audit_entries(practice, "document.created")
                                       if e["details"].get("document_id") == doc.document_id]
    assert entry["details"]["by"]["workstation"] == "Sprechzimmer 2"
    assert befund.read_bytes() == content, "the workstation's file stays where it is"


def test_a_replayed_files_add_applies_once_and_uploads_are_each_workstations_own(
        practice: ServiceProcess, world: World, client_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    request_id = accepted(practice, world, monkeypatch)
    letter = client_home / "arztbrief.pdf"
    letter.write_bytes(b"%PDF-1.7 Arztbrief " + os.urandom(5000))
    staff, other = practice.workstation("staff", "Empfang"), practice.workstation("staff", "Labor")
    try:
        theirs = other.stage(letter)
        with pytest.raises(ServiceRefused, match="arztbrief.pdf: the practice service has no such upload"):
            staff.command("files.add", {"request_id": request_id,
                                        "files": [{"staged_id": theirs, "name": "arztbrief.pdf"}]})
        assert len(staged_files(practice)) == 1, "another workstation's upload is not touched"
        args = {"request_id": request_id, "files": [{"staged_id": staff.stage(letter), "name": "../../arztbrief.pdf"}]}
        key = str(uuid.uuid4())
        first = staff.command("files.add", args, key=key)
        again = staff.command("files.add", args, key=key)  # the answer was lost: resent with its key
    finally:
        staff.close()
        other.close()
    assert first.applied and not first.replayed and again.replayed and again.result == first.result
    ctx = service_context(practice, monkeypatch)
    try:
        [doc] = ctx.store.list_documents()
        assert doc.original_name == "arztbrief.pdf" and [d["document_id"] for d in first.result["documents"]] \
            == [doc.document_id]
    finally:
        ctx.close()


def test_an_unpaired_or_unpaired_since_client_cannot_stage_files(
        practice: ServiceProcess, client_home: Path) -> None:
    letter = client_home / "brief.pdf"
    letter.write_bytes(b"%PDF-1.7 " + os.urandom(1000))
    staff = practice.workstation("staff", "Empfang")
    stranger = ServiceClient(staff.connection, "nicht-das-geheimnis", os_user="eve")
    try:
        with pytest.raises(NotPaired):
            stranger.stage(letter)
        practice.control("POST", "/v1/control/unpair", {"workstation_id": staff.connection.workstation_id})
        with pytest.raises(NotPaired):
            staff.stage(letter)
    finally:
        stranger.close()
        staff.close()
    assert staged_files(practice) == []


def _raw_put(practice: ServiceProcess, client: ServiceClient, path: str, headers: dict[str, str],
             body: bytes = b"") -> tuple[int, bytes]:
    """A PUT as a hostile (paired) program sends it: headers and body exactly as given."""
    context = client_context(client.connection.cert_pem)  # the pinned certificate, as the client trusts it
    connection = http.client.HTTPSConnection("127.0.0.1", practice.port, context=context, timeout=30)
    auth = client._session.headers["Authorization"]
    try:
        connection.putrequest("PUT", path, skip_accept_encoding=True)
        for name, value in {"Authorization": str(auth), **headers}.items():
            connection.putheader(name, value)
        connection.endheaders(body or None)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def test_uploads_over_the_cap_and_odd_ids_are_refused_and_leave_nothing(
        practice: ServiceProcess, client_home: Path) -> None:
    admin = practice.workstation("admin", "Chefin")
    try:
        assert admin.command("settings.save", {"changes": {"max_document_mb": 1}}).applied
        good = "0123456789abcdef0123456789abcdef"
        status, body = _raw_put(practice, admin, f"/v1/staged/{good}", {"Content-Length": str(2 * 1024 * 1024)})
        assert status == 413 and b"1 MB" in body  # the declared length: refused before a byte is read
        over = b"x" * (1024 * 1024 + 1)
        status, body = _raw_put(practice, admin, f"/v1/staged/{good}", {"Transfer-Encoding": "chunked"},
                                b"%x\r\n%s\r\n0\r\n\r\n" % (len(over), over))
        assert status == 413, body  # no length declared: counted, refused when it passes the cap
        for odd in ("..%2F..%2Fvault", "%2e%2e", "0123456789ABCDEF0123456789ABCDEF", good[:-1], good + "0",
                    "0123456789abcdef0123456789abcde%00", "con"):
            status, body = _raw_put(practice, admin, f"/v1/staged/{odd}", {"Content-Length": "4"}, b"data")
            assert status in (400, 404), (odd, status, body)
        status, _body = _raw_put(practice, admin, f"/v1/staged/{good}", {"Content-Length": "4"}, b"data")
        assert status == 200  # the same connection rules, a proper id: kept
    finally:
        admin.close()
    assert [p.name for p in staged_files(practice)] == [good], "nothing but the one proper upload"
    assert not any(p.name.endswith(".part") for p in Staging.of(practice.files.home).folder.rglob("*"))


def test_a_file_over_the_document_limit_is_refused_at_the_workstation_before_any_upload(
        qtbot, practice: ServiceProcess, world: World, client_home: Path,  # type: ignore[no-untyped-def]
        monkeypatch: pytest.MonkeyPatch) -> None:
    request_id = accepted(practice, world, monkeypatch)
    admin = practice.workstation("admin", "Chefin")
    try:
        assert admin.command("settings.save", {"changes": {"max_document_mb": 1}}).applied
    finally:
        admin.close()
    small, large = client_home / "klein.pdf", client_home / "gross.pdf"
    small.write_bytes(b"%PDF-1.7 " + os.urandom(1000))
    large.write_bytes(b"%PDF-1.7 " + os.urandom(1024 * 1024 + 1))
    with workstation(qtbot, practice, client_home) as controller, \
            qtbot.waitSignal(controller.failed, timeout=60000) as failed:
        controller.add_files(request_id, [small, large])
    assert failed.args[0] == "add_files" and "gross.pdf" in failed.args[1] and "1 MB" in failed.args[1]
    assert staged_files(practice) == [], "not even the small one was sent"
    staff = practice.workstation("staff", "Empfang")
    try:  # a workstation that does not check: the service's cap refuses the upload
        with pytest.raises((ServiceRefused, ServiceUnavailable)):
            staff.stage(large)
    finally:
        staff.close()
    wait_for(lambda: staged_files(practice) == [], 30, "the refused upload's partial file to go")


def test_the_service_sweeps_uploads_no_command_claimed(practice: ServiceProcess, client_home: Path) -> None:
    letter = client_home / "brief.pdf"
    letter.write_bytes(b"%PDF-1.7 " + os.urandom(1000))
    staff = practice.workstation("staff", "Empfang")
    try:
        stale, fresh = staff.stage(letter), staff.stage(letter)
    finally:
        staff.close()
    [old] = [p for p in staged_files(practice) if p.name == stale]
    hours_ago = time.time() - 2 * 3600
    os.utime(old, (hours_ago, hours_ago))
    practice.stop()
    practice.start()  # the service sweeps at start (and every few minutes while it runs)
    wait_for(lambda: [p.name for p in staged_files(practice)] == [fresh], 30, "the stale upload to be swept")
