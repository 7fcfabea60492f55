"""Anfragen through the real widgets: accept, override with reason, decline, drop files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from practice_client.context import Context
from practice_client.core.models import Patient, Pin, RequestStatus, Verdict
from practice_client.gui.main_window import MainWindow
from practice_client.intake.mail_file import is_reconstructed
from tests.support.gui_desktop import drag_and_drop
from tests.support.gui_state import add_request, check, good_checks, refresh
from tests.support.outlook import save_as_msg
from tests.support.patients import ERIKA

ERIKA_KEY = "E" * 40


def new_request(ctx: Context, kind: str, status: RequestStatus = RequestStatus.OPEN) -> str:
    checks = good_checks()
    if kind == "review":
        checks = [check("phone", "warn", "Telefonnummer weicht ab", "Phone differs") if c.name == "phone" else c
                  for c in checks]
    elif kind == "rejected":
        checks = [check("dkim", "fail", "Nicht von der Plattform signiert", "Not signed") if c.name == "dkim" else c
                  for c in checks]
        status = RequestStatus.REJECTED
    if ctx.store.get_pin(ERIKA_KEY) is None:  # the key that signed it is Erika's pin (accept checks it)
        ctx.store.pin(Pin(ERIKA_KEY, ERIKA.patient_number, ERIKA.name, ERIKA.birth_date, ERIKA.phone or "",
                          "video", "2026-11-01T10:00:00Z", "2026-11-02T10:00:00Z", "certificate"))
    return add_request(ctx.store, ERIKA, checks, status, datetime.now(UTC), ["Arztbrief"], ERIKA_KEY)


def show(qtbot, window: MainWindow, request_id: str):  # type: ignore[no-untyped-def]
    refresh(qtbot, window.controller)
    page = window.pages["requests"]
    window.show_page("requests")
    page.select(request_id)
    assert page.detail.view is not None and page.detail.view.request_id == request_id
    return page.detail


def test_accept_verified_request(qtbot, window: MainWindow, client: Context) -> None:
    rid = new_request(client, "verified")
    detail = show(qtbot, window, rid)
    assert detail.accept_button.isEnabled() and not detail.files_button.isEnabled()
    with qtbot.waitSignal(window.controller.requestDecided, timeout=30000) as decided:
        qtbot.mouseClick(detail.accept_button, Qt.MouseButton.LeftButton)
    assert decided.args == [rid, "accepted"]
    record = client.store.get_request(rid)
    assert record is not None and record.status is RequestStatus.ACCEPTED and not record.override
    # the pane follows the store: files can now be added, deciding again is not offered
    qtbot.waitUntil(lambda: detail.files_button.isEnabled(), timeout=10000)
    assert not detail.accept_button.isEnabled()


def test_unverified_request_needs_override_with_reason(qtbot, window: MainWindow, client: Context) -> None:
    rid = new_request(client, "review")
    detail = show(qtbot, window, rid)
    qtbot.mouseClick(detail.accept_button, Qt.MouseButton.LeftButton)
    dialog = detail.dialog
    assert dialog is not None and dialog.isVisible()
    assert not dialog.ok.isEnabled()
    qtbot.keyClicks(dialog.reason, "Telefonisch mit der Patientin geklaert")
    assert not dialog.ok.isEnabled(), "a reason alone is not enough: staff must confirm they checked"
    dialog.confirm.setChecked(True)
    assert dialog.ok.isEnabled()
    with qtbot.waitSignal(window.controller.requestDecided, timeout=30000):
        qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    record = client.store.get_request(rid)
    assert record is not None and record.status is RequestStatus.ACCEPTED
    assert record.override and record.decision_reason == "Telefonisch mit der Patientin geklaert"


def test_cancelled_override_changes_nothing(qtbot, window: MainWindow, client: Context) -> None:
    rid = new_request(client, "review")
    detail = show(qtbot, window, rid)
    qtbot.mouseClick(detail.accept_button, Qt.MouseButton.LeftButton)
    detail.dialog.reject()
    record = client.store.get_request(rid)
    assert record is not None and record.status is RequestStatus.OPEN


def test_rejected_request_can_never_be_accepted(qtbot, window: MainWindow, client: Context) -> None:
    rid = new_request(client, "rejected")
    detail = show(qtbot, window, rid)
    assert not detail.accept_button.isEnabled() and not detail.decline_button.isEnabled()
    # even bypassing the disabled button, the domain refuses and the GUI reports it
    with qtbot.waitSignal(window.controller.failed, timeout=30000) as failed:
        window.controller.accept(rid, override=True, reason="trotzdem")
    assert failed.args[0] == "accept" and rid in failed.args[1]
    qtbot.waitUntil(window.message_bar.isVisible, timeout=5000)
    record = client.store.get_request(rid)
    assert record is not None and record.status is RequestStatus.REJECTED


def test_decline_needs_a_reason(qtbot, window: MainWindow, client: Context) -> None:
    rid = new_request(client, "verified")
    detail = show(qtbot, window, rid)
    qtbot.mouseClick(detail.decline_button, Qt.MouseButton.LeftButton)
    dialog = detail.dialog
    assert dialog is not None and not dialog.ok.isEnabled()
    qtbot.keyClicks(dialog.reason, "   ")
    assert not dialog.ok.isEnabled(), "whitespace is not a reason"
    dialog.reason.clear()
    qtbot.keyClicks(dialog.reason, "Unterlagen liegen der Praxis nicht vor")
    with qtbot.waitSignal(window.controller.requestDecided, timeout=30000) as decided:
        qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    assert decided.args == [rid, "declined"]
    record = client.store.get_request(rid)
    assert record is not None and record.status is RequestStatus.DECLINED
    assert record.decision_reason == "Unterlagen liegen der Praxis nicht vor"


def test_drop_files_onto_accepted_request(qtbot, window: MainWindow, client: Context, tmp_path: Path) -> None:
    rid = new_request(client, "verified", RequestStatus.ACCEPTED)
    letter = tmp_path / "1001_Arztbrief.pdf"
    letter.write_bytes(b"%PDF-1.4 Arztbrief\n" * 100)
    detail = show(qtbot, window, rid)
    with qtbot.waitSignal(window.controller.filesAdded, timeout=30000) as added:
        entered, dropped = drag_and_drop(detail.viewport(), [letter])
    assert entered and dropped and added.args == [rid, 1]
    docs = [d for d in client.store.list_documents() if d.request_id == rid]
    assert len(docs) == 1 and docs[0].original_name == "1001_Arztbrief.pdf" and docs[0].size == 1900


def test_drop_refused_on_open_request_and_for_folders(
    qtbot, window: MainWindow, client: Context, tmp_path: Path
) -> None:
    rid = new_request(client, "verified")  # open: not accepted yet
    letter = tmp_path / "brief.pdf"
    letter.write_bytes(b"x")
    detail = show(qtbot, window, rid)
    assert drag_and_drop(detail.viewport(), [letter]) == (False, False)
    accepted = new_request(client, "verified", RequestStatus.ACCEPTED)
    detail = show(qtbot, window, accepted)
    assert drag_and_drop(detail.viewport(), [tmp_path]) == (True, False), "a folder is not a document"
    assert client.store.list_documents() == []


def test_accept_by_keyboard_only(qtbot, window: MainWindow, client: Context) -> None:
    """Ctrl+1 to the page, keys in the list, Tab to the button, Space to accept: no mouse needed."""
    rid = new_request(client, "verified")
    refresh(qtbot, window.controller)
    window.show_page("settings")
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.current_page() == "requests"
    page = window.pages["requests"]
    page.list.setFocus()
    qtbot.keyClick(page.list, Qt.Key.Key_Home)
    assert page.current_request_id() == rid
    # Tab moves from the list into the detail pane and reaches the accept button
    for _ in range(10):
        if page.detail.accept_button.hasFocus():
            break
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    assert page.detail.accept_button.hasFocus(), f"focus stuck on {QApplication.focusWidget()}"
    with qtbot.waitSignal(window.controller.requestDecided, timeout=30000):
        qtbot.keyClick(page.detail.accept_button, Qt.Key.Key_Space)
    record = client.store.get_request(rid)
    assert record is not None and record.status is RequestStatus.ACCEPTED


def test_dropped_symlink_is_refused_by_the_outbox(qtbot, window: MainWindow, client: Context, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the patient")
    link = tmp_path / "1001_Befund.pdf"
    link.symlink_to(secret)
    rid = new_request(client, "verified", RequestStatus.ACCEPTED)
    detail = show(qtbot, window, rid)
    with qtbot.waitSignal(window.controller.failed, timeout=30000) as failed:
        drag_and_drop(detail.viewport(), [link])
    assert failed.args[0] == "add_files" and "1001_Befund.pdf" in failed.args[1]
    assert client.store.list_documents() == []


def test_patient_supplied_text_is_never_rendered_as_markup(qtbot, window: MainWindow, client: Context) -> None:
    hostile = Patient("1001", "<img src='http://tracker.invalid/x.png'><b>Mallory</b>", "1964-08-12", None)
    rid = add_request(client.store, hostile, good_checks(), RequestStatus.OPEN, datetime.now(UTC),
                      ["<a href='http://phish.invalid'>Befund</a>"], None)
    detail = show(qtbot, window, rid)
    for label in (detail.title, detail.documents, detail.consent, detail.claim, detail.certificate):
        assert label.textFormat() == Qt.TextFormat.PlainText
    # the PMS has no such patient: the claim is shown, as a claim, and as text
    assert detail.claim.isVisible() and detail.claim.text().startswith("<img src=")


def test_a_request_claiming_another_name_shows_the_pms_record(qtbot, window: MainWindow, client: Context) -> None:
    """Patient A signs with her own key and phone, but types patient B's name and birth
    date: every screen names A, from the PMS; the claim only beside it, marked."""
    client.store.upsert_patients([ERIKA], "praxis.gdt")
    fingerprint = "AB12" * 10
    client.store.pin(Pin(fingerprint, ERIKA.patient_number, ERIKA.name, ERIKA.birth_date, ERIKA.phone or "",
                         "video", "2026-11-01T10:00:00Z", "2026-11-02T10:00:00Z", "-----BEGIN PGP"))
    claim = Patient(ERIKA.patient_number, "Max Mustermann", "1960-01-31", ERIKA.phone)
    rid = add_request(client.store, claim, good_checks(), RequestStatus.OPEN, datetime.now(UTC), ["Befund"],
                      fingerprint)
    detail = show(qtbot, window, rid)
    page = window.pages["requests"]
    row = page.model.row_of(page.list.current_key())
    shown = [page.model.index(row, c).data() for c in range(page.model.columnCount())]
    assert shown[1].startswith("Erika Mustermann") and "⚠" in shown[1]
    assert shown[2].startswith("12.08.1964") and shown[3] == "1001"
    assert not any("Max" in str(text) for text in shown), "the claimed name is never the row's patient"
    assert "Max Mustermann" in page.model.index(row, 1).data(Qt.ItemDataRole.ToolTipRole)
    assert detail.title.text() == "Erika Mustermann"
    assert detail.birth.text() == "12.08.1964"
    assert detail.claim.isVisible() and detail.claim.text() == "Max Mustermann, geb. 31.01.1960"
    assert "Videoidentifikation" in detail.certificate.text() and "Erika Mustermann" in detail.certificate.text()


def test_a_matching_claim_is_not_repeated(qtbot, window: MainWindow, client: Context) -> None:
    client.store.upsert_patients([ERIKA], "praxis.gdt")
    detail = show(qtbot, window, new_request(client, "verified"))
    assert detail.title.text() == "Erika Mustermann" and not detail.claim.isVisible()


def test_request_emails_dropped_on_the_list_are_recorded_and_checked(
    qtbot, window: MainWindow, client: Context, tmp_path: Path
) -> None:
    """Staff drag a request e-mail out of the mail program onto the requests page: it is
    stored and verified like mail from the mailbox (here: not signed by the platform, so
    recorded as rejected); other files are not taken."""
    mail = tmp_path / "Anfrage.eml"
    mail.write_bytes(b"From: praxis-anfrage@example.org\r\nMessage-ID: <drop-1@example.org>\r\n"
                     b"Subject: Anfrage\r\n\r\nBitte senden Sie mir meinen Befund.\r\n")
    note = tmp_path / "notiz.txt"
    note.write_text("keine E-Mail")
    window.show_page("requests")
    page = window.pages["requests"]
    assert drag_and_drop(page, [note]) == (False, False)
    with qtbot.waitSignal(window.controller.mailsImported, timeout=30000) as imported:
        assert drag_and_drop(page, [mail, note]) == (True, True)
    assert imported.args == [1]
    (record,) = client.store.list_requests()
    assert record.verdict is Verdict.REJECTED
    assert "1" in page.summary.text()
    with qtbot.waitSignal(window.controller.mailsImported, timeout=30000) as again:
        drag_and_drop(page, [mail])
    assert again.args == [0] and len(client.store.list_requests()) == 1, "the same e-mail twice is one request"


def test_an_outlook_msg_dropped_on_the_list_is_recorded_and_checked(
    qtbot, window: MainWindow, client: Context, tmp_path: Path, outlook_writer: Path
) -> None:
    """Outlook's drag and drop gives a .msg (written here by a real .msg writer): recorded
    and checked like the .eml it came from - never verified, since its DKIM cannot be."""
    raw = (b"From: anfragen@platform.test\r\nTo: praxis@example.org\r\nMessage-ID: <drop-msg@platform.test>\r\n"
           b"Subject: Anfrage\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
           b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBitte senden Sie den Befund.\r\n"
           b"--b\r\nContent-Type: application/json\r\nContent-Disposition: attachment; filename=\"request.json\"\r\n"
           b"\r\n{}\r\n--b--\r\n")
    mail = save_as_msg(outlook_writer, raw, tmp_path / "Anfrage.msg")
    window.show_page("requests")
    page = window.pages["requests"]
    with qtbot.waitSignal(window.controller.mailsImported, timeout=30000) as imported:
        assert drag_and_drop(page, [mail]) == (True, True)
    assert imported.args == [1]
    (record,) = client.store.list_requests()
    assert record.verdict is not Verdict.VERIFIED
    assert is_reconstructed(record.source), "recorded as rebuilt from Outlook's copy"
