"""Patient master data: CSV parsing and validation, and ``patients import|list``
through the real command line (a bad row anywhere imports nothing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_gdt import patient as gdt_patient

from practice_client.core.errors import InputError
from practice_client.core.patients import parse_csv
from practice_client.core.phone import is_e164, normalize_phone
from tests.support.trust import audit_ok, one_line_error, run

SOURCE = Path("/pms/patients.csv")
HEADER = "patient_number,name,birth_date,phone\n"


def test_csv_normalises_dates_and_phones() -> None:
    data = (
        "\ufeff" + HEADER
        + '1001,"Mustermann, Erika",12.08.1964,+49 (0)171 1234567\n'
        + "\n"
        + "1002,Max   Muster,1970-01-01,\n"
        + "A-17.3,Jürgen Müller,1955-12-31,0049 30 1234567\n"
    ).encode("utf-8")
    patients = parse_csv(data, SOURCE)
    assert [(p.patient_number, p.name, p.birth_date, p.phone) for p in patients] == [
        ("1001", "Mustermann, Erika", "1964-08-12", "+491711234567"),
        ("1002", "Max Muster", "1970-01-01", None),
        ("A-17.3", "Jürgen Müller", "1955-12-31", "+49301234567"),
    ]


def test_csv_semicolon_export() -> None:
    data = b"patient_number;name;birth_date;phone\r\n1001;Erika Mustermann;12.08.1964;0171/1234567\r\n"
    assert parse_csv(data, SOURCE)[0].phone == "+491711234567"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("", "header"),
        ("number,name,birth,phone\n1,A,1970-01-01,\n", "header"),
        (HEADER, "no patients"),
        (HEADER + "1001,Erika,1964-08-12\n", "line 2: expected 4 columns"),
        (HEADER + "1001,Erika,1964-08-12,0171,x\n", "line 2: expected 4 columns"),
        (HEADER + "1,A,1970-01-01,\n1001,Erika,1964-13-12,\n", "line 3: the birth date"),
        (HEADER + "1001,Erika,2999-01-01,\n", "birth date"),
        (HEADER + "1001,Erika,1964-08-12,0171 123\n", "line 2: the phone"),
        (HEADER + "1001,,1964-08-12,\n", "line 2: the name"),
        (HEADER + "1001,Eri\x07ka,1964-08-12,\n", "the name"),
        (HEADER + ",Erika,1964-08-12,\n", "the patient number"),
        (HEADER + "10_01,Erika,1964-08-12,\n", "the patient number"),
        (HEADER + "1001,Erika,1964-08-12,\n1001,Max,1970-01-01,\n", "line 3: patient number 1001 appears twice"),
        (HEADER + '1001,"Erika,1964-08-12,\n', "not valid CSV"),
    ],
    ids=["empty", "wrong-header", "no-rows", "too-few", "too-many", "bad-date", "future-date", "bad-phone",
         "empty-name", "control-char", "empty-number", "number-with-underscore", "duplicate", "open-quote"],
)
def test_csv_refusals_name_file_and_line(body: str, needle: str) -> None:
    with pytest.raises(InputError) as info:
        parse_csv(body.encode("utf-8"), SOURCE)
    message = str(info.value)
    assert message.startswith(f"{SOURCE}: ") and "\n" not in message
    assert needle in message


def test_csv_not_utf8() -> None:
    with pytest.raises(InputError, match="not UTF-8"):
        parse_csv((HEADER + "1001,Müller,1964-08-12,\n").encode("cp1252"), SOURCE)


def test_phone_helpers() -> None:
    assert normalize_phone("0171/1234567") == "+491711234567"
    assert normalize_phone("0171 123") is None and normalize_phone("x" * 100) is None
    assert is_e164("+491711234567") and not is_e164("01711234567")
    assert normalize_phone("0171 1234567") == normalize_phone("+49 171 1234567")


# -- the command line --------------------------------------------------------------


def listed() -> list[dict[str, str]]:
    result = run("patients", "list", "--json")
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout)["patients"])


def test_import_csv_and_gdt_then_list(client_home: Path) -> None:
    csv = client_home / "pms.csv"
    csv.write_text(HEADER + "1001,Erika Mustermann,1964-08-12,0171 1234567\n")
    assert run("patients", "import", str(csv)).returncode == 0
    gdt = client_home / "PRAXPCLI.GDT"
    gdt.write_bytes(gdt_patient("1002"))
    imported = run("patients", "import", str(gdt))
    assert imported.returncode == 0, imported.stderr
    assert "1" in imported.stdout
    assert [(p["patient_number"], p["name"], p["phone"]) for p in listed()] == [
        ("1001", "Erika Mustermann", "+491711234567"), ("1002", "Jürgen Müller", "+491711234567"),
    ]
    # a later export updates the record
    csv.write_text(HEADER + "1001,Erika Mustermann,1964-08-12,0151 23456789\n")
    assert run("patients", "import", str(csv)).returncode == 0
    assert listed()[0]["phone"] == "+4915123456789"
    assert audit_ok()
    events = [json.loads(x) for x in (client_home / "audit.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events] == ["patients.imported"] * 3
    assert all("pms.csv" not in json.dumps(e) and "PRAXPCLI" not in json.dumps(e) for e in events)


def test_a_bad_row_anywhere_imports_nothing(client_home: Path) -> None:
    csv = client_home / "pms.csv"
    rows = "".join(f"{1000 + i},Patient {i},1970-01-01,\n" for i in range(50))
    csv.write_text(HEADER + rows + "2000,Broken,1970-02-30,\n")
    result = run("patients", "import", str(csv))
    assert one_line_error(result) and "pms.csv: line 52" in result.stderr
    assert listed() == [] and audit_ok()


def test_missing_file_and_text_output(client_home: Path) -> None:
    result = run("patients", "import", str(client_home / "nope.csv"))
    assert one_line_error(result) and "nope.csv" in result.stderr
    assert "no patients" in run("patients", "list").stdout
