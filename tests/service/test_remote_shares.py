"""Eingang at a workstation: documents patients shared are released and discarded by the
practice service's ``share.release`` (admin workstations only) and ``share.discard``
(staff too, as the shares domain lets them) over real TLS on loopback, applied to the
service's shares by the same domain functions as ``practice-client shares``, once per
idempotency key, audited with the workstation and the OS user. The shares are real: a
patient's app signs and encrypts them to the service's practice key, the testbed
platform lists them, the service's own shares job fetches and checks them."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication

from practice_client.context import Context
from practice_client.gui.app import make_controller
from practice_client.gui.i18n import install_translators
from practice_client.gui.pages.inbox import InboxPage
from practice_client.gui.remote_controller import RemoteController
from practice_client.gui.remote_source import RemoteSource
from practice_client.gui.viewmodels import ListKind, Query, ShareView
from practice_client.service.client import ServiceClient, ServiceRefused
from practice_client.testbed.shares import ShareStore
from tests.support import pdfs
from tests.support.service import ServiceProcess, audit_entries, pair_home, service_context
from tests.support.shares import share
from tests.support.waiting import wait_for
from tests.support.worlds import World, pin_patient

pytestmark = pytest.mark.slow

IMPORT_DIR = "pvs-import"


@pytest.fixture
def sharing(practice: ServiceProcess, world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    """The service's practice takes shares (a PMS import folder in its home, no virus
    scanner: a released content finding goes straight to the PMS, anything else that
    needs a scan waits), Erika (1001) pinned there; the world its patients share in,
    encrypting to the service's practice key."""
    (practice.home / IMPORT_DIR).mkdir()
    admin = practice.workstation("admin", "Chefin")
    try:
        assert admin.command("settings.save", {"changes": {
            "pms_import_dir": str(practice.home / IMPORT_DIR), "scanner": "none"}}).applied
    finally:
        admin.close()
    ctx = service_context(practice, monkeypatch)
    try:
        pin_patient(ctx, world, "1001")
        key = ctx.gpg.export_public(ctx.config.practice_key_fingerprint)
    finally:
        ctx.close()
    return dataclasses.replace(world, practice_key=key)


def shared(world: World, client: ServiceClient, data: bytes, name: str, reason: str, **options: object) -> str:
    """Erika shares ``data``; the service fetches it (kicked by ``poll``) and quarantines it
    for ``reason``; its id."""
    share_id = share(world, world.patients["1001"], data, name, **options)
    client.command("poll", {})
    found = wait_for(lambda: _quarantined(client, share_id), 90, f"the service to quarantine {share_id}")
    assert found.share.reason == reason, (found.share.reason, found.share.detail)
    return share_id


def view(client: ServiceClient, share_id: str) -> ShareView | None:
    """The share as the service's views show it to a workstation."""
    rows = RemoteSource(client).page(Query(ListKind.SHARES, search=share_id)).rows
    return next((r for r in rows if isinstance(r, ShareView) and r.share_id == share_id), None)


def _quarantined(client: ServiceClient, share_id: str) -> ShareView | None:
    found = view(client, share_id)
    return found if found is not None and found.state == "quarantined" else None


def state(client: ServiceClient, share_id: str) -> str:
    found = view(client, share_id)
    assert found is not None
    return found.state


def of_share(practice: ServiceProcess, event: str, share_id: str) -> list[dict[str, Any]]:
    return [e["details"] for e in audit_entries(practice, event) if e["details"].get("share_id") == share_id]


def release(client: ServiceClient, share_id: str, reason: str, key: str | None = None, **patient: str) -> Any:
    return client.command("share.release", {"share_id": share_id, "reason": reason, **patient}, key=key)


def test_an_admin_workstation_releases_a_share_into_the_pms_import_folder_once_per_key(
        practice: ServiceProcess, sharing: World) -> None:
    admin = practice.workstation("admin", "Chefin", os_user="dr.chefin")
    share_id = shared(sharing, admin, pdfs.javascript_open_action(), "Befund.pdf", "pdf_active_content")
    key = str(uuid.uuid4())
    first = release(admin, share_id, "Fehlalarm, mit der Patientin geklärt", key)
    again = release(admin, share_id, "Fehlalarm, mit der Patientin geklärt", key)  # the answer was lost: resent
    assert first.applied and not first.replayed and first.result == {"share_id": share_id, "state": "clean"}
    assert again.applied and again.replayed and again.result == first.result
    placed = practice.home / IMPORT_DIR / f"1001_20261130_{share_id[:8]}.pdf"
    wait_for(placed.is_file, 60, "the released share in the service's PMS import folder")
    assert placed.read_bytes() == pdfs.javascript_open_action()
    wait_for(lambda: state(admin, share_id) == "handed_over", 60, "the hand-over to finish")
    [entry] = of_share(practice, "share.clean", share_id)  # applied once
    assert entry["input"] == "released_content" and entry["released"] == "pdf_active_content"
    assert entry["role"] == "admin" and entry["actor"] == "dr.chefin@Chefin" and entry["has_reason"] is True
    assert entry["by"] == {"workstation_id": admin.connection.workstation_id, "workstation": "Chefin",
                           "os_user": "dr.chefin"}
    assert "Fehlalarm" not in (practice.home / "audit.jsonl").read_text("utf-8"), "staff's words stay sealed"
    receipts = ShareStore(sharing.platform.data_dir)
    wait_for(lambda: receipts.receipt_of(share_id) == "accepted", 60, "the patient's app to be told")


def test_a_staff_workstation_may_discard_but_not_release(practice: ServiceProcess, sharing: World) -> None:
    staff = practice.workstation("staff", "Empfang", os_user="mfa1")
    share_id = shared(sharing, staff, b"Impfpass\n", "impfpass.txt", "unsigned", signed=False)
    with pytest.raises(ServiceRefused) as refused:
        release(staff, share_id, "Patientin angerufen", patient_number="1001", birth_date="12.08.1964")
    assert refused.value.text.de == "share.release: das darf nur ein Admin-Arbeitsplatz"
    with pytest.raises(ServiceRefused, match="reason"):  # the domain's rule: a discard needs a reason
        staff.command("share.discard", {"share_id": share_id, "reason": "   "})
    assert state(staff, share_id) == "quarantined" and not of_share(practice, "share.verified", share_id)
    done = staff.command("share.discard", {"share_id": share_id, "reason": "nicht von der Patientin"})
    assert done.result == {"share_id": share_id, "state": "discarded"}
    [entry] = of_share(practice, "share.discarded", share_id)
    assert entry["role"] == "staff" and entry["actor"] == "mfa1@Empfang" and entry["was"] == "unsigned"
    assert entry["by"]["workstation"] == "Empfang" and entry["by"]["os_user"] == "mfa1"
    assert not (practice.home / "shares" / share_id).exists(), "its kept files go"
    receipts = ShareStore(sharing.platform.data_dir)
    wait_for(lambda: receipts.receipt_of(share_id) == "refused", 60, "the patient's app to be told")


def test_a_share_without_a_verified_patient_needs_the_pms_number_and_birth_date(
        practice: ServiceProcess, sharing: World) -> None:
    admin = practice.workstation("admin", "Chefin")
    share_id = shared(sharing, admin, b"Impfpass\n", "impfpass.txt", "unsigned", signed=False)
    with pytest.raises(ServiceRefused) as refused:
        release(admin, share_id, "Patientin angerufen")
    line = str(refused.value.text)
    assert "\n" not in line and refused.value.text.de.startswith(f"{share_id}: ohne geprüfte Patientin")
    assert "Patientennummer und Geburtsdatum" in refused.value.text.de
    with pytest.raises(ServiceRefused, match="does not match the PMS record"):
        release(admin, share_id, "Patientin angerufen", patient_number="1001", birth_date="13.08.1964")
    assert state(admin, share_id) == "quarantined"
    done = release(admin, share_id, "Patientin angerufen", patient_number="1001", birth_date="12.08.1964")
    assert done.result == {"share_id": share_id, "state": "verified"}
    found = view(admin, share_id)
    assert found is not None and found.patient_number == "1001"  # then checked; no scanner here: it waits
    [entry] = of_share(practice, "share.verified", share_id)
    assert entry["input"] == "released_signature" and entry["patient_number"] == "1001"


@pytest.fixture
def german(qapp: QApplication) -> Iterator[None]:
    """The workstation's window in German (the app's default language) for one test."""
    translators = install_translators(qapp, "de")
    yield
    for translator in translators:
        qapp.removeTranslator(translator)


@contextmanager
def eingang(qtbot, practice: ServiceProcess, home: Path, role: str) -> Iterator[InboxPage]:  # type: ignore[no-untyped-def]
    """The Eingang page of a workstation paired with ``role``, its list read from the service."""
    pair_home(practice, home, "Sprechzimmer", role)
    ctx = Context()
    controller = make_controller(ctx)
    assert isinstance(controller, RemoteController)
    try:
        page = InboxPage(controller)
        qtbot.addWidget(page)
        page.show()
        yield page
    finally:
        controller.shutdown()
        ctx.close()


def selected(qtbot, page: InboxPage, share_id: str) -> None:  # type: ignore[no-untyped-def]
    def listed() -> bool:
        page.controller.refresh()
        return page.model.row_of(share_id) is not None

    qtbot.waitUntil(listed, timeout=30000)
    assert page.select(share_id)


def test_the_eingang_page_of_a_staff_workstation_discards_and_says_why_it_cannot_release(
        qtbot, german: None, practice: ServiceProcess, sharing: World,  # type: ignore[no-untyped-def]
        client_home: Path) -> None:
    staff = practice.workstation("staff", "Labor")
    share_id = shared(sharing, staff, b"Impfpass\n", "impfpass.txt", "unsigned", signed=False)
    with eingang(qtbot, practice, client_home, "staff") as page:
        selected(qtbot, page, share_id)
        assert not page.release_button.isEnabled() and page.discard_button.isEnabled()
        assert page.release_note.isVisibleTo(page)
        assert page.release_note.text() == "Nur ein Admin-Arbeitsplatz gibt aus der Quarantäne frei."
        assert page.release_button.toolTip() == page.release_note.text()
        with qtbot.waitSignal(page.controller.shareDiscarded, timeout=30000) as discarded:
            page.controller.discard_share(share_id, "doppelt geschickt")
        assert discarded.args == [share_id]
    assert state(staff, share_id) == "discarded"
    assert of_share(practice, "share.discarded", share_id)[0]["by"]["workstation"] == "Sprechzimmer"
    assert not (client_home / "state.sqlite3").exists(), "the workstation's own home holds no shares"


def test_the_eingang_page_of_an_admin_workstation_releases_through_the_service(
        qtbot, practice: ServiceProcess, sharing: World, client_home: Path) -> None:  # type: ignore[no-untyped-def]
    admin = practice.workstation("admin", "Chefin")
    share_id = shared(sharing, admin, pdfs.javascript_open_action(), "Befund.pdf", "pdf_active_content")
    with eingang(qtbot, practice, client_home, "admin") as page:
        selected(qtbot, page, share_id)
        assert page.release_button.isEnabled() and not page.release_note.isVisibleTo(page)
        with qtbot.waitSignal(page.controller.failed, timeout=30000) as failed:  # the service's refusal, one line
            page.controller.release_share(share_id, "  ")
        assert failed.args[0] == "release_share" and "reason" in failed.args[1]
        with qtbot.waitSignal(page.controller.shareReleased, timeout=30000) as released:
            page.controller.release_share(share_id, "Fehlalarm")
        assert released.args == [share_id]
    placed = practice.home / IMPORT_DIR / f"1001_20261130_{share_id[:8]}.pdf"
    wait_for(placed.is_file, 60, "the released share in the service's PMS import folder")
    assert of_share(practice, "share.clean", share_id)[0]["by"]["workstation"] == "Sprechzimmer"
