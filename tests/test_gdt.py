"""The byte-based GDT reader: lengths in bytes, the character set from 9206, several
records per file, and one-line refusals naming the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from practice_client.core.errors import InputError
from practice_client.core.gdt import parse_gdt
from practice_client.core.patients import parse_gdt_patients, read_master_data

SOURCE = Path("/pms/PRAXPCLI.GDT")


def line(field: str, content: bytes | str, charset: str = "cp437") -> bytes:
    body = field.encode("ascii") + (content if isinstance(content, bytes) else content.encode(charset))
    return b"%03d" % (len(body) + 5) + body + b"\r\n"


def record(*fields: tuple[str, bytes | str], charset: str = "cp437", kind: str = "6301",
           with_length: bool = True) -> bytes:
    body = b"".join(line(f, c, charset) for f, c in fields)
    head = line("8000", kind)
    if not with_length:
        return head + body
    length_line_size = 9 + 5
    total = len(head) + length_line_size + len(body)
    return head + line("8100", f"{total:05d}") + body


def patient(number: str = "1001", surname: str = "Müller", first: str = "Jürgen",
            birth: str = "01021970", phone: str | None = "0171 1234567", charset_code: str | None = "2",
            charset: str = "cp437", phone_field: str = "3618") -> bytes:
    fields: list[tuple[str, bytes | str]] = []
    if charset_code is not None:
        fields.append(("9206", charset_code))
    fields += [("3000", number), ("3101", surname), ("3102", first), ("3103", birth)]
    if phone is not None:
        fields.append((phone_field, phone))
    return record(*fields, charset=charset)


def test_cp437_patient_record() -> None:
    [p] = parse_gdt_patients(patient(), SOURCE)
    assert (p.patient_number, p.name, p.birth_date, p.phone) == ("1001", "Jürgen Müller", "1970-02-01", "+491711234567")


@pytest.mark.parametrize(
    ("code", "charset", "surname", "encoded"),
    [
        ("3", "iso8859-1", "Müller", None),
        ("4", "iso8859-15", "Strauß", None),
        ("5", "utf-8", "Łukasz-Müller", None),
        ("1", "ascii", "Müller", b"M}ller"),  # DIN 66003: } is ü
    ],
)
def test_charsets_from_field_9206(code: str, charset: str, surname: str, encoded: bytes | None) -> None:
    data = record(("9206", code), ("3000", "7"), ("3101", encoded or surname.encode(charset)),
                  ("3103", "24121950"))
    [p] = parse_gdt_patients(data, SOURCE)
    assert p.name == surname and p.phone is None


def test_default_charset_is_cp437() -> None:
    data = patient(charset_code=None)
    assert "\x81" not in parse_gdt_patients(data, SOURCE)[0].name
    assert parse_gdt_patients(data, SOURCE)[0].name == "Jürgen Müller"


def test_several_records_and_3626_fallback() -> None:
    data = (
        patient("1001")
        + record(("3000", "1002"), ("3101", "Schmidt"), ("3103", "02031980"), ("3626", "030 1234567"))
        + record(("8402", "EKG01"), kind="6302")  # a request record without a patient
        + patient("1001")  # the same patient again, same data: not a conflict
    )
    patients = parse_gdt_patients(data, SOURCE)
    assert [(p.patient_number, p.name, p.phone) for p in patients] == [
        ("1001", "Jürgen Müller", "+491711234567"), ("1002", "Schmidt", "+49301234567"),
    ]


def test_read_master_data_detects_gdt_by_content_and_counter_extension(tmp_path: Path) -> None:
    for name in ("export.txt", "PRAXEDV0.001", "x.GDT"):
        path = tmp_path / name
        path.write_bytes(patient())
        master = read_master_data(path)
        assert master.source.startswith("gdt:sha256:") and len(master.patients) == 1


def refusal(data: bytes) -> str:
    with pytest.raises(InputError) as info:
        parse_gdt_patients(data, SOURCE)
    message = str(info.value)
    assert message.startswith(str(SOURCE) + ": ") and "\n" not in message
    return message


def test_length_counts_bytes_not_characters() -> None:
    # a writer that counts characters declares one byte short for a two-byte UTF-8 umlaut
    utf8 = record(("9206", "5"), ("3000", "1"), ("3101", "Müller"), ("3103", "01011970"),
                  charset="utf-8", with_length=False)
    wrong = utf8.replace(b"0163101M\xc3\xbcller", b"0153101M\xc3\xbcller")
    assert wrong != utf8
    assert parse_gdt_patients(utf8, SOURCE)[0].name == "Müller"
    assert "line 4" in refusal(wrong) and "length" in refusal(wrong)


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"", "empty"),
        (patient()[:-2], "CR LF"),
        (patient().replace(b"\r\n", b"\n"), "CR LF"),
        (patient()[:-5] + b"\r\n", "length"),
        (line("3000", "1") + patient(), "8000"),
        (patient(charset_code="9"), "character set"),
        (patient(charset_code="1", surname="Müller"), "not valid"),
        (patient(birth="1970-02-01"), "TTMMJJJJ"),
        (patient(birth="31021970"), "birth date"),
        (patient(phone="0171 123"), "phone"),
        (patient(number=""), "patient number"),
        (record(("3000", "5"), ("3103", "01011970")), "3101"),
        (patient() + patient(surname="Other"), "appears twice"),
        (record(("8402", "EKG01"), kind="6302"), "no patients"),
        (patient().replace(b"J\x81rgen", b"J\x07rgen"), "control"),
        (patient() + b"0128000630", "CR LF"),
        (b"hello world\r\n", "not a GDT line"),
        (patient()[:40] + patient()[60:], "length"),
    ],
    ids=["empty", "no-final-crlf", "lf-only", "short-line", "no-8000-first", "unknown-charset",
         "8bit-in-7bit", "iso-birth-date", "impossible-date", "invalid-phone", "empty-number",
         "no-surname", "conflicting-duplicate", "no-patients", "control-char", "truncated-tail",
         "not-gdt", "cut-in-the-middle"],
)
def test_refusals_name_file_and_problem(data: bytes, needle: str) -> None:
    assert needle in refusal(data)


def test_record_length_field_catches_a_cut_record() -> None:
    data = patient()
    lines = data.split(b"\r\n")
    cut = b"\r\n".join(lines[:-3] + [b""])  # lose the last two lines, each still well-formed
    assert "8100" in refusal(cut)


def test_parse_gdt_keeps_line_numbers() -> None:
    records = parse_gdt(patient() + patient("1002"), SOURCE)
    assert [r.line for r in records] == [1, 9]
    assert records[1].first("3000") == (12, "1002")


def test_a_record_written_reads_back_byte_for_byte() -> None:
    from practice_client.core.gdt import build_record

    data = build_record("6310", [("3000", "1001"), ("3101", "Müller"), ("3102", "Jürgen"), ("3103", "01021970"),
                                 ("6220", "Yılmaz\x07 ok")])  # ı is not in CP437, a control byte never
    [parsed] = parse_gdt(data, SOURCE)  # the reader checks every line length and 8100
    fields = {f: c for _, f, c in parsed.fields}
    assert fields["8000"] == "6310" and fields["9206"] == "2" and fields["3101"] == "Müller"
    assert fields["6220"] == "Y?lmaz  ok" and int(fields["8100"]) == len(data)
