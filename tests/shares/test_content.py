"""The type by content against the allowlist, with real files (ImageMagick, dcmtk, pypdf)
and crafted PDFs whose active content hides the way malicious PDFs hide it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from practice_client.shares.content import check_content, detect_type
from tests.conftest import require
from tests.support import pdfs

CONVERT = shutil.which("convert", path="/usr/bin:/bin")  # /usr/local/bin may hold a stand-in


def real_image(tmp_path: Path, suffix: str) -> Path:
    require(CONVERT is not None, "ImageMagick's convert (scripts/install-system-packages)")
    assert CONVERT is not None
    target = tmp_path / f"scan.{suffix}"
    subprocess.run([CONVERT, "-size", "32x16", "gradient:white-blue", str(target)], check=True)
    return target


@pytest.mark.parametrize(("suffix", "kind"), [("jpg", "jpeg"), ("png", "png"), ("tif", "tiff")])
def test_real_images_by_their_content(tmp_path: Path, suffix: str, kind: str) -> None:
    image = real_image(tmp_path, suffix)
    renamed = image.rename(tmp_path / "brief.pdf")  # the name says nothing
    assert detect_type(renamed) == kind
    assert check_content(renamed).allowed


def test_a_real_dicom_file(tmp_path: Path) -> None:
    img2dcm = shutil.which("img2dcm")
    require(img2dcm is not None, "dcmtk's img2dcm (scripts/install-system-packages)")
    assert img2dcm is not None
    target = tmp_path / "ct.dcm"
    subprocess.run([img2dcm, str(real_image(tmp_path, "jpg")), str(target)], check=True, capture_output=True)
    assert detect_type(target) == "dicom"


def test_text_pdf_and_what_is_not_allowed(tmp_path: Path) -> None:
    cases = {
        "Befund vom 1.12.: alles gut.\r\nÄrztin: Dr. Müller\n": "text",
        b"MZ\x90\x00\x03\x00\x00\x00": None,  # a Windows program named .pdf
        b"PK\x03\x04\x14\x00": None,  # a zip (an Office document, an archive)
        b"#!/bin/sh\nrm -rf /\x00": None,  # NUL: not text
        b"\xff\xfe\x00 not utf-8": None,
        b"<html><script>alert(1)</script>\x1b[31m": None,  # an escape sequence
    }
    for index, (data, kind) in enumerate(cases.items()):
        path = tmp_path / f"f{index}.pdf"
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        assert detect_type(path) == kind, data
        verdict = check_content(path)
        assert verdict.allowed is (kind is not None)
        if kind is None:
            assert verdict.reason == "type_not_allowed"
    clean = tmp_path / "clean.pdf"
    clean.write_bytes(pdfs.clean_pdf())
    assert check_content(clean).allowed and check_content(clean).file_type == "pdf"


@pytest.mark.parametrize(("make", "found"), [
    (pdfs.javascript_open_action, "OpenAction → JavaScript"),
    (pdfs.escaped_javascript, "OpenAction → JavaScript"),
    (pdfs.javascript_in_object_stream, "OpenAction → JavaScript"),
    (pdfs.launch_action, "Launch"),
    (pdfs.page_aa_javascript, "JavaScript"),
    (pdfs.embedded_file, "embedded files"),
])
def test_active_pdf_content_is_found_however_hidden(tmp_path: Path, make: object, found: str) -> None:
    path = tmp_path / "doc.pdf"
    path.write_bytes(make())  # type: ignore[operator]
    raw = path.read_bytes()
    if make in (pdfs.escaped_javascript, pdfs.javascript_in_object_stream):
        assert b"/JavaScript" not in raw  # a byte search would miss it
    verdict = check_content(path)
    assert verdict.reason == "pdf_active_content"
    assert found in verdict.detail


def test_a_damaged_or_encrypted_pdf_cannot_be_checked(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    damaged = tmp_path / "cut.pdf"
    damaged.write_bytes(pdfs.javascript_open_action()[:-60])  # no xref, no trailer: a viewer would repair
    assert check_content(damaged).reason == "pdf_unreadable"
    writer = PdfWriter(clone_from=PdfReader(_write(tmp_path / "c.pdf", pdfs.clean_pdf())))
    writer.encrypt("geheim", algorithm="AES-256")
    locked = tmp_path / "locked.pdf"
    with locked.open("wb") as handle:
        writer.write(handle)
    assert check_content(locked).reason == "pdf_unreadable"


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
