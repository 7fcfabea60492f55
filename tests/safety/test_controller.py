"""The ambiguity suite through the GUI's controller: the agent runs inside it (as in the
desktop app), staff decide through its methods, the answers come back as its signals."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QLabel

from practice_client.core.models import DocumentState
from practice_client.gui.controller import Controller
from tests.support.gui_desktop import garbage_in_the_gui_thread, gui_app  # noqa: F401 - fixtures
from tests.support.waiting import wait_for

from .conftest import Practice, never_delivered
from .test_ambiguity import delivered_to

pytestmark = pytest.mark.slow


@pytest.fixture
def controller(qtbot, practice: Practice) -> Iterator[Controller]:  # type: ignore[no-untyped-def]
    ctl = Controller(practice.ctx)
    with qtbot.waitSignal(ctl.agentStarted, timeout=60000):
        ctl.start_agent()
    yield ctl
    ctl.shutdown()


def state_of(practice: Practice, document_id: str) -> DocumentState:
    doc = practice.ctx.store.get_document(document_id)
    assert doc is not None
    return doc.state


def test_twins_go_to_staff_who_confirm_the_birth_date(qtbot, practice: Practice, controller: Controller) -> None:
    anna = practice.accepted("anna")
    practice.accepted("anna_twin")
    practice.drop("2001_03031990_befund.pdf", b"Befund " * 50)
    (doc,) = practice.settled()
    never_delivered(practice, doc, "2001 Anna Zwilling", "2002 Anna Zwilling")
    with qtbot.waitSignal(controller.assignCandidatesLoaded, timeout=30000) as loaded:
        controller.load_assign_candidates()
    offered = {c.request_id: c.identity for c in loaded.args[0]}
    assert anna in offered and {i.pms.name for i in offered.values() if i.pms} == {"Anna Zwilling"}
    assert {i.patient_number for i in offered.values()} == {"2001", "2002"}  # the number tells them apart
    with qtbot.waitSignal(controller.failed, timeout=30000) as refused:
        controller.assign(doc.document_id, anna, "04.03.1990")
    assert refused.args[0] == "assign" and "passt nicht" in refused.args[1]  # the German GUI, in German only
    assert state_of(practice, doc.document_id) is DocumentState.UNASSIGNED
    with qtbot.waitSignal(controller.documentAssigned, timeout=30000):
        controller.assign(doc.document_id, anna, "03.03.1990")
    wait_for(lambda: state_of(practice, doc.document_id) is DocumentState.DELIVERED, timeout=90, what="delivery")
    assert delivered_to(practice, doc.document_id, "anna") and not delivered_to(practice, doc.document_id, "anna_twin")


def test_a_held_document_goes_to_the_new_key_only_by_staffs_decision(
        qtbot, practice: Practice, controller: Controller) -> None:
    new = practice.world.people["erika_new"].fingerprint
    practice.accepted("erika")
    practice.pin("erika_new", replace=True)
    practice.drop("1001_12081964_brief.pdf", b"Brief " * 50)
    practice.drop("1001_12081964_labor.pdf", b"Labor " * 50)
    first, second = practice.settled(2)
    for doc in (first, second):
        assert doc.state is DocumentState.HELD and not practice.uploaded(doc.document_id)
    with qtbot.waitSignal(controller.failed, timeout=30000) as refused:
        controller.release_held(first.document_id, practice.world.people["erika"].fingerprint)
    assert refused.args[0] == "release_held"
    with qtbot.waitSignal(controller.documentReleased, timeout=30000):
        controller.release_held(first.document_id, new)
    with qtbot.waitSignal(controller.documentWithheld, timeout=30000):
        controller.withhold(second.document_id)
    wait_for(lambda: state_of(practice, first.document_id) is DocumentState.DELIVERED, timeout=90, what="delivery")
    assert delivered_to(practice, first.document_id, "erika_new")
    assert not delivered_to(practice, first.document_id, "erika")
    assert state_of(practice, second.document_id) is DocumentState.FAILED and not practice.uploaded(second.document_id)


def test_a_request_claiming_another_patient_is_never_offered(
        qtbot, practice: Practice, controller: Controller) -> None:
    erika = practice.world.people["erika"]
    claiming = practice.request("max", name=erika.name, birth_date=erika.birth_date)
    practice.received(claiming)
    honest = practice.accepted("gisela")
    with qtbot.waitSignal(controller.assignCandidatesLoaded, timeout=30000) as loaded:
        controller.load_assign_candidates()
    assert [c.request_id for c in loaded.args[0]] == [honest]


def test_staff_decide_a_held_document_in_the_window(qtbot, practice: Practice, controller: Controller) -> None:
    """The deliveries page: a held file counts as needing staff, its dialog shows the PMS
    patient and both fingerprints, and sends only after staff confirmed the new key."""
    from practice_client.gui.formatting import fingerprint_groups
    from practice_client.gui.main_window import MainWindow
    from practice_client.gui.tray import Tray
    from tests.support.gui_state import refresh, settle

    old, new = (practice.world.people[key].fingerprint for key in ("erika", "erika_new"))
    practice.accepted("erika")
    practice.pin("erika_new", replace=True)
    practice.drop("1001_12081964_brief.pdf", b"Brief " * 50)
    (doc,) = practice.settled()
    assert doc.state is DocumentState.HELD
    window = MainWindow(controller, Tray(controller))
    qtbot.addWidget(window)
    window.show()
    refresh(qtbot, controller)
    assert controller.overview.stuck_documents == 1, "a held file needs staff"
    window.show_page("deliveries")
    settle(qtbot, controller)
    page = window.pages["deliveries"]
    assert page.select(doc.document_id)
    assert page.held_button.isEnabled() and not page.assign_button.isEnabled()
    page.held_clicked()
    dialog = page.dialog
    assert dialog is not None and dialog.isVisible()
    shown = " ".join(label.text() for label in dialog.findChildren(QLabel))
    assert "Erika Mustermann" in shown and "12.08.1964" in shown
    assert " ".join(fingerprint_groups(old)) in shown and " ".join(fingerprint_groups(new)) in shown
    assert not dialog.send.isEnabled(), "staff confirm the new key first"
    dialog.confirmed.setChecked(True)
    with qtbot.waitSignal(controller.documentReleased, timeout=30000):
        dialog.send.click()
    wait_for(lambda: state_of(practice, doc.document_id) is DocumentState.DELIVERED, timeout=90, what="delivery")
    assert delivered_to(practice, doc.document_id, "erika_new")
