"""A crash (SIGKILL) at any state of the outbox never loses a document and never
delivers one twice. The agent runs as a real subprocess; the test watches the
outbox in the database (read-only), freezes the agent (SIGSTOP) the moment the
document reaches the wanted state, confirms the state, and kills it (SIGKILL).
A restarted agent must then deliver exactly once: one document on the server,
one ``document.delivered`` audit entry, the original in ``processed/``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from practice_client.context import Context
from tests.support.delivery import start_agent, states, stop_agent
from tests.support.waiting import poll, wait_for
from tests.support.worlds import World, accepted_request, pin_patient, write_file

pytestmark = pytest.mark.slow

ORDER = ["detected", "matched", "encrypted", "uploading", "delivered"]
ATTEMPTS = 8


def kill_at(process: subprocess.Popen[bytes], database: Path, known: set[str], target: str) -> str:
    """Freeze the agent as soon as the new document reaches ``target`` (or later), kill it.
    Returns the state the document was in when the agent died."""
    def reached() -> bool:
        current = {k: v for k, v in states(database).items() if k not in known}
        if not current:
            return False
        (state,) = current.values()
        return ORDER.index(state) >= ORDER.index(target)

    if not poll(reached, timeout=60, interval=0):  # no pause: some states last milliseconds
        process.kill()
        raise AssertionError(f"the document never reached {target}")
    process.send_signal(signal.SIGSTOP)
    (state,) = (v for k, v in states(database).items() if k not in known)
    process.kill()
    process.wait(timeout=30)
    return state


def delivered_entries(ctx: Context, document_id: str) -> int:
    return sum(1 for e in ctx.store.audit.entries()
               if e["event"] == "document.delivered" and e["details"]["document_id"] == document_id)


@pytest.mark.parametrize("target", ["detected", "matched", "encrypted", "uploading"])
def test_sigkill_at_each_state_delivers_exactly_once(world: World, client: Context, target: str) -> None:
    patient = pin_patient(client, world, "1002")
    request_id = accepted_request(client, patient.fingerprint, "1002")
    client.update_config(stable_seconds=0.05)
    export = Path(client.config.export_dir)
    known: set[str] = set()
    killed_in = ""
    # Some states last only milliseconds: try again (a new file each time) until the
    # kill lands exactly in the wanted one. Every attempt must still deliver once.
    for attempt in range(ATTEMPTS):
        world.platform.faults.clear()
        if target == "uploading":
            world.platform.faults.delay_next("upload.patch", 30.0)
        content = os.urandom(8 * 1024 * 1024 + attempt)
        agent = start_agent(client)
        write_file(export / f"1002_31011960_crash{attempt}.pdf", content)
        killed_in = kill_at(agent, client.home.database, known, target)
        (document_id,) = set(states(client.home.database)) - known
        known.add(document_id)
        world.platform.faults.clear()
        restarted = start_agent(client)
        try:
            wait_for(lambda: states(client.home.database)[document_id] == "delivered",  # noqa: B023
                     timeout=120, what="delivery after the restart")
            wait_for(lambda: (export / "processed" / f"1002_31011960_crash{attempt}.pdf").exists(),  # noqa: B023
                     what="the original in processed/")
        finally:
            stop_agent(restarted, client)  # a clean shutdown
        stored = world.platform.data_dir / "documents"
        on_server = [p for p in stored.glob("*.json")
                     if json.loads(p.read_text())["request_id"] == request_id]
        assert len(on_server) == attempt + 1  # one document per file, never two
        assert delivered_entries(client, document_id) == 1
        assert (export / "processed" / f"1002_31011960_crash{attempt}.pdf").read_bytes() == content
        data, _, signed = patient.decrypt(stored / f"{document_id}.pgp", None, world.practice_key)
        assert data == content and signed
        if killed_in == target:
            break
    assert killed_in == target, f"the kill never landed in {target} (last: {killed_in})"
    assert client.store.verify_audit().ok
