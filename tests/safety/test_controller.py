"""The ambiguity suite through the GUI's controller: the agent runs inside it (as in the
desktop app), staff decide through its methods, the answers come back as its signals."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
    assert refused.args[0] == "assign" and "does not match" in refused.args[1]
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
