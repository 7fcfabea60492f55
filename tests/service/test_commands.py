"""Staff commands: validated, applied once per idempotency key (also across a ``kill -9`` of
the service and a lost answer), audited with the workstation and the OS user, admin-only
where they must be; the change feed reports every change and the service's absence."""

from __future__ import annotations

import queue
import signal
import sqlite3
import threading
import uuid
from dataclasses import replace
from typing import Any

import pytest

from practice_client.service.client import Outcome, ServiceClient, ServiceRefused, ServiceUnavailable
from tests.support.relay import TcpRelay
from tests.support.service import ServiceProcess, audit_entries, b64
from tests.support.waiting import wait_for

CSV = b"patient_number,name,birth_date,phone\n1001,Erika Mustermann,1964-08-12,+491711234567\n"


def patients_import(client: ServiceClient, key: str, data: bytes = CSV, **kw: Any) -> Outcome:
    return client.command("patients.import", {"name": "stamm.csv", "data": b64(data)}, key=key, **kw)


def stored_key(service: ServiceProcess, key: str) -> bool:
    db = sqlite3.connect(service.home / "state.sqlite3")
    try:
        return db.execute("SELECT 1 FROM commands WHERE idempotency_key=?", (key,)).fetchone() is not None
    finally:
        db.close()


def test_a_retried_command_is_applied_once_and_names_workstation_and_user(service: ServiceProcess) -> None:
    client = service.workstation(name="Empfang", os_user="mfa.schmidt")
    key = str(uuid.uuid4())
    first = patients_import(client, key)
    again = patients_import(client, key)
    assert first.applied and not first.replayed and first.result == {"count": 1}
    assert again.applied and again.replayed and again.result == first.result
    [entry] = audit_entries(service, "patients.imported")
    assert entry["details"]["by"] == {"workstation_id": client.connection.workstation_id,
                                      "workstation": "Empfang", "os_user": "mfa.schmidt"}
    with pytest.raises(ServiceRefused, match="another command"):  # the key, reused for other arguments
        patients_import(client, key, CSV.replace(b"1001", b"1002"))


def test_a_refused_command_stays_refused_for_its_key(service: ServiceProcess) -> None:
    client = service.workstation()
    key = str(uuid.uuid4())
    with pytest.raises(ServiceRefused, match="no such request"):
        client.command("accept", {"request_id": "7d1f3c2a-0000-4000-8000-000000000000"}, key=key)
    with pytest.raises(ServiceRefused, match="no such request"):
        client.command("accept", {"request_id": "7d1f3c2a-0000-4000-8000-000000000000"}, key=key)
    answer = client._request("POST", "/v1/commands/accept", {"args": {}}, stream=True)  # no key
    assert answer.status_code == 409 and "Idempotency-Key" in client._json(answer)["error"]


def test_a_refusal_reaches_the_workstation_in_both_languages_apart(service: ServiceProcess) -> None:
    """Each workstation shows the service's text in its own language: the answer carries
    German and English apart (also when replayed from the record), not one joined line."""
    client = service.workstation()
    key = str(uuid.uuid4())
    request_id = "7d1f3c2a-0000-4000-8000-000000000000"
    texts = []
    for _attempt in range(2):  # the second answer is the record's
        with pytest.raises(ServiceRefused) as refused:
            client.command("accept", {"request_id": request_id}, key=key)
        texts.append(refused.value.text)
    assert texts[0] == texts[1]
    assert texts[0].de == f"{request_id}: keine solche Anfrage" and texts[0].en == f"{request_id}: no such request"
    staff = service.workstation("staff", "Labor")
    with pytest.raises(ServiceRefused) as refused:
        staff.command("key.backup", {"passphrase": "x" * 20})
    assert "nur ein Admin-Arbeitsplatz" in refused.value.text.de and "only" not in refused.value.text.de
    assert "only an admin workstation" in refused.value.text.en and "Arbeitsplatz" not in refused.value.text.en


def test_admin_actions_need_the_admin_role(service: ServiceProcess) -> None:
    staff, admin = service.workstation("staff", "Labor"), service.workstation("admin", "Chefin")
    with pytest.raises(ServiceRefused, match="admin"):
        staff.command("settings.save", {"changes": {"poll_seconds": 120.0}})
    with pytest.raises(ServiceRefused, match="admin"):
        staff.command("key.backup", {"passphrase": "x" * 20})
    assert admin.command("settings.save", {"changes": {"poll_seconds": 120.0}}).applied
    [entry] = audit_entries(service, "settings.changed")
    assert entry["details"]["by"]["workstation"] == "Chefin"


def test_kill_9_before_the_command_arrived_then_applied_once_after_the_restart(service: ServiceProcess) -> None:
    relay = TcpRelay(service.port)
    client = service.workstation()
    via = ServiceClient(replace(client.connection, port=relay.port), _credential(client))
    key = str(uuid.uuid4())
    answers: queue.Queue[object] = queue.Queue()
    assert service.process is not None
    service.process.send_signal(signal.SIGSTOP)  # the service hangs: the command cannot be applied
    threading.Thread(target=lambda: answers.put(_catch(lambda: patients_import(via, key, deadline=120))),
                     daemon=True).start()
    wait_for(lambda: relay.client_bytes > 0, what="the workstation to send")
    service.kill9()
    relay.cut()
    assert not stored_key(service, key)
    service.start()
    outcome = answers.get(timeout=120)
    assert isinstance(outcome, Outcome) and outcome.applied, outcome
    assert len(audit_entries(service, "patients.imported")) == 1
    relay.close()


def test_kill_9_after_applying_with_the_answer_lost_is_answered_from_the_record(service: ServiceProcess) -> None:
    relay = TcpRelay(service.port)
    client = service.workstation()
    via = ServiceClient(replace(client.connection, port=relay.port), _credential(client))
    key = str(uuid.uuid4())
    via.me()  # a connection through the relay, its TLS handshake done (kept in the pool)
    relay.hold.set()  # from now on the service's answers never reach the workstation
    answers: queue.Queue[object] = queue.Queue()
    threading.Thread(target=lambda: answers.put(_catch(lambda: patients_import(via, key, deadline=120))),
                     daemon=True).start()
    wait_for(lambda: stored_key(service, key), what="the command to be applied")
    service.kill9()
    relay.cut()
    relay.hold.clear()
    service.start()
    outcome = answers.get(timeout=120)
    assert isinstance(outcome, Outcome) and outcome.applied and outcome.replayed, outcome
    assert len(audit_entries(service, "patients.imported")) == 1
    relay.close()


def test_a_command_given_up_on_is_settled_as_not_applied(service: ServiceProcess) -> None:
    client = service.workstation()
    key = str(uuid.uuid4())
    service.stop()
    with pytest.raises(ServiceUnavailable) as raised:
        patients_import(client, key, deadline=0.5)
    assert raised.value.key == key
    service.start()
    with pytest.raises(ServiceRefused, match="not applied"):
        client.settle(key)
    with pytest.raises(ServiceRefused, match="not applied"):  # a late copy is refused too
        patients_import(client, key)
    assert audit_entries(service, "patients.imported") == []


def test_the_feed_reports_changes_and_the_service_going_away_and_coming_back(service: ServiceProcess) -> None:
    client = service.workstation()
    states: queue.Queue[str] = queue.Queue()
    changes: queue.Queue[int] = queue.Queue()
    stop = threading.Event()
    thread = threading.Thread(target=client.follow, daemon=True, args=(
        lambda name, data: changes.put(int(data["cursor"])) if name == "change" else None,
        lambda state, message: states.put(state), stop))
    thread.start()
    assert states.get(timeout=30) == "online"
    first = changes.get(timeout=30)
    patients_import(client, str(uuid.uuid4()))
    assert changes.get(timeout=5) > first
    service.kill9()
    assert states.get(timeout=30) == "offline"
    service.start()
    assert states.get(timeout=60) == "online"
    stop.set()


def _credential(client: ServiceClient) -> str:
    return str(client._session.headers["Authorization"]).rsplit(".", 1)[1]


def _catch(fn: Any) -> object:
    try:
        return fn()
    except Exception as exc:
        return exc


@pytest.fixture(autouse=True)
def _resume_if_stopped(service: ServiceProcess) -> Any:
    yield
    if service.process is not None and service.process.poll() is None:
        service.process.send_signal(signal.SIGCONT)
