"""End to end: a file dropped into the export folder reaches the right patient.

Real gpg, real HTTPS to the testbed platform, real watchdog events; the patient's
side (simulated app) downloads, decrypts and checks the practice signature."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from practice_client.context import Context
from practice_client.core.models import DocumentState
from practice_client.delivery.agent import Agent
from practice_client.delivery.events import Event
from tests.delivery.conftest import (
    World,
    accepted_request,
    documents,
    pin_patient,
    sha256,
    wait_state,
    write_file,
)

pytestmark = pytest.mark.slow

GDT_SIDECAR = (
    "01380006310\r\n"
    "0143000{number}\r\n"
    "0183101Mustermann\r\n"
    "0143102Erika\r\n"
    "017310312081964\r\n"
)


def gdt_line(field: str, content: str) -> bytes:
    body = f"{field}{content}".encode("cp437")
    return f"{len(body) + 5:03d}".encode() + body + b"\r\n"


def gdt(fields: list[tuple[str, str]]) -> bytes:
    return b"".join(gdt_line(f, c) for f, c in [("8000", "6310"), *fields])


@pytest.fixture
def agent(client: Context) -> Iterator[tuple[Agent, list[Event]]]:
    events: list[Event] = []
    running = Agent(client, on_event=events.append, sources=[])
    running.start()
    yield running, events
    running.stop()


def export(ctx: Context) -> Path:
    return Path(ctx.config.export_dir)


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


def test_pattern_match_delivers_and_patient_decrypts(world: World, client: Context, agent) -> None:
    patient = pin_patient(client, world, "1001")
    request_id = accepted_request(client, patient.fingerprint, "1001")
    content = os.urandom(300_000)
    write_file(export(client) / "1001_Arztbrief März.pdf", content)

    (doc,) = wait_state(client, DocumentState.DELIVERED)
    assert doc.request_id == request_id and doc.match_method == "pattern"
    stored = world.platform.data_dir / "documents" / f"{doc.document_id}.pgp"
    assert sha256(stored.read_bytes()) == doc.ciphertext_sha256  # the receipt names these bytes

    data, name, signed, manifest = patient_reads(world, doc.document_id)
    assert data == content and signed and name == "1001_Arztbrief März.pdf"
    assert manifest["request_id"] == request_id and manifest["sha256"] == sha256(content)
    assert manifest["file_name"] == "1001_Arztbrief März.pdf" and manifest["size"] == len(content)
    # the original moved to processed/, the spool is empty again
    assert (export(client) / "processed" / "1001_Arztbrief März.pdf").read_bytes() == content
    assert not (client.home.spool / doc.document_id).exists()
    # nothing the server stored shows the file name or the patient
    for path in world.platform.data_dir.rglob("*"):
        if path.is_file() and path.suffix != ".asc":
            raw = path.read_bytes()
            for secret in ("Arztbrief", "1001_", "Mustermann"):
                assert secret.encode() not in raw, path
                assert secret.encode("utf-16-le") not in raw, path
