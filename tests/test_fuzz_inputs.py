"""Property tests: malformed CSV, GDT and trust-certificate input never escapes as a
traceback - it is accepted or refused with a one-line InputError naming the file."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import kill_agents, require, short_tmpdir
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_gdt import patient as gdt_patient

from practice_client.core.errors import InputError
from practice_client.core.patients import parse_csv, parse_gdt_patients
from practice_client.crypto.trust import split_certificate, verify_certificate_text
from practice_client.testbed.identity import IdentityAuthority
from practice_client.testbed.patient import SimulatedPatient
from tests.support.trust import ERIKA, one_line_error, run

SOURCE = "/fuzz/input"
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
GOOD_CSV = (
    b"patient_number,name,birth_date,phone\n"
    b'1001,"Mustermann, Erika",1964-08-12,0171 1234567\n1002,Max Muster,01.01.1970,\n'
)


def assert_one_line(error: InputError) -> None:
    message = str(error)
    assert message.startswith(SOURCE + ": ") and "\n" not in message and "\r" not in message


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """A valid input with a few bytes replaced, inserted or cut out."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["replace", "insert", "delete", "truncate"]))
        chunk = draw(st.binary(min_size=1, max_size=6))
        if action == "replace":
            data[position : position + len(chunk)] = chunk
        elif action == "insert":
            data[position:position] = chunk
        elif action == "delete":
            del data[position : position + len(chunk)]
        else:
            del data[position:]
    return bytes(data)


def check_parser(parse: object, data: bytes) -> None:
    try:
        parse(data, SOURCE)  # type: ignore[operator]
    except InputError as error:
        assert_one_line(error)


@FAST
@given(st.binary(max_size=400) | mutated(GOOD_CSV))
def test_csv_never_crashes(data: bytes) -> None:
    check_parser(parse_csv, data)


@FAST
@given(st.lists(st.lists(st.text(max_size=12), min_size=0, max_size=6), max_size=5))
def test_csv_rows_of_any_text(rows: list[list[str]]) -> None:
    body = "\n".join(",".join(cells) for cells in rows)
    check_parser(parse_csv, ("patient_number,name,birth_date,phone\n" + body).encode("utf-8", "surrogatepass"))


@FAST
@given(st.binary(max_size=400) | mutated(gdt_patient() + gdt_patient("1002")))
def test_gdt_never_crashes(data: bytes) -> None:
    check_parser(parse_gdt_patients, data)


@FAST
@given(st.text(max_size=300) | st.text(alphabet="-BEGIN PGP PUBLICKYSNDMATURE\n =", max_size=300))
def test_certificate_structure_never_crashes(text: str) -> None:
    try:
        split_certificate(text, SOURCE)
    except InputError as error:
        assert_one_line(error)


@pytest.fixture(scope="module")
def certificate() -> Iterator[tuple[str, str, str]]:
    require(shutil.which("gpg") is not None, "gpg")
    root = short_tmpdir("pcfz")
    authority = IdentityAuthority.create(root / "auth")
    patient = SimulatedPatient.create(root / "pat", **ERIKA)
    yield patient.trust_certificate(authority), authority.public_key(), authority.fingerprint
    kill_agents(root)
    shutil.rmtree(root, ignore_errors=True)


@st.composite
def mutated_inside(draw: st.DrawFn, text: str) -> bytes:
    """A certificate whose armor lines stay intact while key, JSON or signature change,
    so the input gets past the structure check to gpg and the schema."""
    lines = text.split("\n")
    inner = [i for i, line in enumerate(lines) if line and not line.startswith("-----")]
    for _ in range(draw(st.integers(1, 3))):
        index = draw(st.sampled_from(inner))
        line = lines[index]
        position = draw(st.integers(0, max(0, len(line) - 1)))
        chunk = draw(st.text(alphabet="ABCDEFabcdef0123456789+/=:{}\",  -", min_size=0, max_size=3))
        lines[index] = line[:position] + chunk + line[position + 1 :]
    return "\n".join(lines).encode()


@SLOW
@given(data=st.data())
def test_mutated_certificates_are_refused_in_one_line(certificate: tuple[str, str, str], data: st.DataObject) -> None:
    text, ident_key, ident_fpr = certificate
    raw = data.draw(mutated(text.encode()) | mutated_inside(text))
    try:
        verified = verify_certificate_text(raw.decode("utf-8", "replace"), SOURCE, ident_key, ident_fpr)
    except InputError as error:
        assert_one_line(error)
    else:  # only changes gpg ignores (e.g. in armor headers) may pass, and never change the facts
        assert (verified.name, verified.phone, verified.birth_date) == (
            ERIKA["name"], ERIKA["phone"], ERIKA["birth_date"])


def test_command_line_reports_malformed_files_in_one_line(client_home: Path) -> None:
    samples = {"bad.csv": b"patient_number,name\n\xff\xfe", "bad.gdt": b"0138000630\r\n", "x.trust.asc": b"\x00" * 10}
    for name, content in samples.items():
        path = client_home / name
        path.write_bytes(content)
        command = ("trust", "import", str(path), "--yes") if name.endswith(".asc") else (
            "patients", "import", str(path))
        result = run(*command)
        assert one_line_error(result), result.stderr
        assert name in result.stderr or "setup" in result.stderr
