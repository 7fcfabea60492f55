"""What delivery tests do to documents and patients: write GDT, read what a patient's app
gets, run the agent (in this process or as the real subprocess), read the outbox from
outside. Used by several test modules, so defined here once."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from practice_client.context import Context
from practice_client.core.models import DocumentState
from practice_client.delivery import outbox
from practice_client.delivery.events import Event
from practice_client.service.agent import Agent
from tests.support.waiting import wait_for
from tests.support.worlds import World, accepted_request, pin_patient, wait_state, write_file


def gdt_line(field: str, content: str) -> bytes:
    body = f"{field}{content}".encode("cp437")
    return f"{len(body) + 5:03d}".encode() + body + b"\r\n"


def gdt(fields: list[tuple[str, str]]) -> bytes:
    return b"".join(gdt_line(f, c) for f, c in [("8000", "6310"), *fields])


def patient_reads(world: World, document_id: str) -> tuple[bytes, str, bool, dict[str, object]]:
    """What the patient's app gets from the platform: plaintext, file name, signature ok, manifest."""
    stored = world.platform.data_dir / "documents"
    patient = next(p for p in world.patients.values())
    for candidate in world.patients.values():
        try:
            data, name, ok = candidate.decrypt(stored / f"{document_id}.pgp", None, world.practice_key)
        except Exception:  # noqa: BLE001 - not this patient's document
            continue
        patient = candidate
        manifest, _, manifest_ok = patient.decrypt(
            stored / f"{document_id}.manifest.pgp", None, world.practice_key)
        assert manifest_ok
        return data, name, ok, json.loads(manifest)
    raise AssertionError("no patient can decrypt the document")


@pytest.fixture
def agent(client: Context, world: World) -> Iterator[Agent]:
    """A running agent without request sources; the platform's faults cleared before and after."""
    world.platform.faults.clear()
    world.platform.stats.reset()
    events: list[Event] = []
    running = Agent(client, on_event=events.append, sources=[])
    running.start()
    yield running
    running.stop()
    world.platform.faults.clear()


def export(ctx: Context) -> Path:
    return Path(ctx.config.export_dir)


def ready_patient(client: Context, world: World, number: str = "1001") -> str:
    patient = pin_patient(client, world, number)
    return accepted_request(client, patient.fingerprint, number)


def assert_refused(ctx: Context, name: str, word: str) -> None:
    (doc,) = wait_state(ctx, DocumentState.FAILED)
    assert word in (doc.error or ""), doc.error
    reason = export(ctx) / "failed" / f"{name}.reason.txt"
    wait_for(reason.exists, what="the reason file")  # written right after the state change
    assert os.path.lexists(export(ctx) / "failed" / name)
    assert word in reason.read_text("utf-8")


def start_agent(ctx: Context) -> subprocess.Popen[bytes]:
    """The real ``practice-client agent`` in a subprocess, returned once it said it runs.
    Its stderr goes to a file of the home (a pipe nobody reads would block the agent once
    full); ``-X faulthandler`` lets :func:`stop_agent` show every thread of a hung agent."""
    env = {**os.environ, "PRACTICE_CLIENT_HOME": str(ctx.home.root)}
    ctx.home.logs.mkdir(parents=True, exist_ok=True)
    with (ctx.home.logs / "agent-stderr.txt").open("ab") as stderr:
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-X", "faulthandler", "-m", "practice_client", "agent"], env=env,
            stdout=subprocess.PIPE, stderr=stderr,
        )
    assert process.stdout is not None
    line = process.stdout.readline()  # "agent running": resume done, watcher started
    if b"agent" not in line.lower():
        process.wait(timeout=30)
        raise AssertionError(f"the agent did not start: {line!r}\n{agent_output(ctx)}")
    return process


def stop_agent(process: subprocess.Popen[bytes], ctx: Context, timeout: float = 60.0) -> None:
    """SIGTERM, as a service manager stops it: the agent must exit cleanly (0) within
    ``timeout``. A hung agent is aborted so that its threads' stacks and its log tail
    end up in the failure."""
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)  # faulthandler: every thread's stack to stderr
        process.wait(timeout=30)
        raise AssertionError(f"the agent did not stop within {timeout:.0f} s\n{agent_output(ctx)}") from None
    assert code == 0, f"the agent exited with {code}\n{agent_output(ctx)}"


def agent_output(ctx: Context) -> str:
    """The end of the agent's stderr and of its log: what a failure needs to be understood."""
    parts = []
    for name in ("agent-stderr.txt", "practice-client.log"):
        path = ctx.home.logs / name
        if path.exists():
            parts.append(f"--- {name}\n" + path.read_text("utf-8", "replace")[-6000:])
    return "\n".join(parts)


def states(database: Path) -> dict[str, str]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as db:
        return dict(db.execute("SELECT document_id, state FROM documents").fetchall())


def unassigned_document(ctx: Context) -> str:
    """A file the PMS dropped that matches no request: the real intake path (ingest)."""
    path = write_file(Path(ctx.config.export_dir) / "scan_0815.pdf", b"scan" * 100)
    doc = outbox.ingest(ctx, path)
    assert doc.state is DocumentState.UNASSIGNED
    return doc.document_id
