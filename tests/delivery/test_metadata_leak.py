"""The platform learns ids and sizes, nothing else: an attack by a curious platform.

Real documents with a recognisable file name, document type, patient name and birth date go
through the real delivery (watched folder, GnuPG, tus over HTTPS) to the testbed platform,
behind a :class:`~tests.support.relay.PlatformRecorder` that keeps every plain byte the
platform receives. None of those words may appear in any request (line, URL, headers, body)
nor in anything the platform stored for these deliveries - in UTF-8, lower case, UTF-16,
JSON-escaped, URL-encoded or base64 (tus metadata is base64). The patient's app still
decrypts and reads them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from practice_client.context import Context
from practice_client.core.models import DocumentState
from practice_client.service.agent import Agent
from tests.support.delivery import export, gdt, patient_reads
from tests.support.patients import ERIKA
from tests.support.relay import PlatformRecorder
from tests.support.worlds import World, accepted_request, pin_patient, wait_state, write_file

pytestmark = pytest.mark.slow

LETTER = "1001_12081964_Entlassbrief Erika Mustermann Kardiologie.pdf"
LAB, LAB_TYPE = "Schilddrüse Mustermann.pdf", "Schilddrüsenwerte"


@pytest.fixture
def recorder(world: World, client: Context) -> Iterator[PlatformRecorder]:
    """The client talks to the platform only through the recorder."""
    recording = PlatformRecorder(world.platform)
    client.update_config(server_url=recording.url)
    yield recording
    recording.close()


@pytest.fixture
def agent(client: Context, recorder: PlatformRecorder) -> Iterator[Agent]:
    running = Agent(client, sources=[])
    running.start()
    yield running
    running.stop()


def forms(secret: str) -> set[bytes]:
    """The ways ``secret`` could travel in the clear; base64 at each of the three offsets
    (only the characters that depend on the secret alone, when at least six)."""
    found: set[bytes] = set()
    for text in (secret, secret.lower(), secret.upper()):
        found |= {text.encode(), text.encode("utf-16-le"), text.encode("utf-16-be"),
                  json.dumps(text)[1:-1].encode(), quote(text).encode(), quote_plus(text).encode()}
        for offset in range(3):
            encoded = base64.b64encode(b"\0" * offset + text.encode())
            fragment = encoded[4 if offset else 0:(offset + len(text.encode())) // 3 * 4]
            if len(fragment) >= 6:
                found.add(fragment)
    return found


def stored_since(folder: Path, before: dict[Path, tuple[int, int]]) -> dict[Path, bytes]:
    """The platform's files that are new or changed since ``before`` (its snapshot)."""
    return {path: path.read_bytes() for path in folder.rglob("*")
            if path.is_file() and before.get(path) != (path.stat().st_mtime_ns, path.stat().st_size)}


def snapshot(folder: Path) -> dict[Path, tuple[int, int]]:
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.rglob("*") if p.is_file()}


def test_the_platform_sees_no_file_name_patient_or_date(
        world: World, client: Context, recorder: PlatformRecorder, agent: Agent) -> None:
    before = snapshot(world.platform.data_dir)
    patient = pin_patient(client, world, "1001")
    accepted_request(client, patient.fingerprint, "1001")
    letter = f"Entlassbrief\nPatientin: {ERIKA.name}, geb. 12.08.1964\n".encode() * 200
    write_file(export(client) / LETTER, letter)
    (first,) = wait_state(client, DocumentState.DELIVERED)  # the request stays open for more
    write_file(export(client) / f"{LAB}.gdt", gdt([("3000", "1001"), ("3101", "Mustermann"), ("3102", "Erika"),
                                                   ("3103", "12081964"), ("6304", LAB_TYPE)]))
    write_file(export(client) / LAB, b"TSH 2,1 mU/l " * 300)
    delivered = wait_state(client, DocumentState.DELIVERED, count=2)
    (second,) = [d for d in delivered if d.document_id != first.document_id]

    received = recorder.received()
    assert any(b"PATCH /v1/uploads/" in stream for stream in received)  # the uploads went through it
    stored = stored_since(world.platform.data_dir, before)
    assert any(path.name == f"{first.document_id}.pgp" for path in stored)
    secrets = [LETTER, LAB, LAB_TYPE, "Entlassbrief", "Kardiologie", ERIKA.name, "Erika", "Mustermann",
               "12081964", "12.08.1964", ERIKA.birth_date, ERIKA.phone]
    for secret in secrets:
        for form in forms(secret):
            for stream in received:
                assert form not in stream, f"the platform received {secret!r} as {form!r}"
            for path, content in stored.items():
                assert form not in content, f"the platform stored {secret!r} as {form!r} in {path}"

    data, name, signed, manifest = patient_reads(world, first.document_id)  # the patient reads it all
    assert signed and data == letter and name == LETTER and manifest["file_name"] == LETTER
    _, _, signed, manifest = patient_reads(world, second.document_id)
    assert signed and manifest["file_name"] == LAB and manifest["document_type"] == LAB_TYPE


def test_the_search_finds_each_form() -> None:
    """The search itself: base64 at any offset (tus metadata), UTF-16, JSON escapes."""
    for prefix in (b"", b"x", b"xy"):
        encoded = base64.b64encode(prefix + LAB.encode())
        assert any(form in encoded for form in forms(LAB))
    assert any(form in json.dumps({"t": LAB_TYPE}).encode() for form in forms(LAB_TYPE))
    assert any(form in f"n={LETTER}".encode("utf-16-le") for form in forms(LETTER))
