"""PDFs made for the tests: a clean one written by pypdf, and crafted ones with active
content - hidden in the ways malicious PDFs hide it (name escapes, object streams,
/OpenAction and /AA chains)."""

from __future__ import annotations

import io
import zlib


def clean_pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.add_metadata({"/Title": "Befund"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def build(objects: list[bytes], root: int = 1) -> bytes:
    """A PDF of ``objects`` (object n is objects[n-1]) with a correct xref table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, xref)
    return bytes(out)


PAGES = [b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
         b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"]


def with_catalog(extra: bytes, more: list[bytes] | None = None) -> bytes:
    return build([b"<< /Type /Catalog /Pages 2 0 R " + extra + b" >>", *PAGES, *(more or [])])


def javascript_open_action() -> bytes:
    return with_catalog(b"/OpenAction 4 0 R", [b"<< /Type /Action /S /JavaScript /JS (app.alert\\(1\\)) >>"])


def escaped_javascript() -> bytes:
    """/J#61vaScript and /J#53: the same names written with hex escapes."""
    return with_catalog(b"/OpenAction 4 0 R", [b"<< /S /J#61vaScript /J#53 (this.print\\(\\)) >>"])


def launch_action() -> bytes:
    return with_catalog(b"/OpenAction << /S /Launch /F (cmd.exe) >>")


def page_aa_javascript() -> bytes:
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", PAGES[0],
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /AA << /O 4 0 R >> >>",
               b"<< /S /GoTo /D [3 0 R /Fit] /Next << /S /JavaScript /JS 5 0 R >> >>",
               b"<< /Length 9 >>\nstream\napp.beep\nendstream"]
    return build(objects)


def embedded_file() -> bytes:
    return with_catalog(b"/Names << /EmbeddedFiles << /Names [(a.exe) 4 0 R] >> >>",
                        [b"<< /Type /Filespec /F (a.exe) /EF << /F 5 0 R >> >>",
                         b"<< /Type /EmbeddedFile /Length 2 >>\nstream\nMZ\nendstream"])


def javascript_in_object_stream() -> bytes:
    """The action lives in a compressed object stream, found only through an xref stream."""
    inner = b"<< /S /JavaScript /JS (app.alert\\(2\\)) >>"
    header = b"4 0 "
    objstm = zlib.compress(header + inner)
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    stream_head = b"<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>" % (len(header), len(objstm))
    bodies = [b"<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>", *PAGES,
              None,  # 4: in the object stream
              stream_head + b"\nstream\n" + objstm + b"\nendstream"]
    offsets: dict[int, int] = {}
    for number, body in enumerate(bodies, 1):
        if body is None:
            continue
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    rows = [b"\x00\x00\x00\x00\xff\xff"]
    for number in range(1, 7):
        if number == 4:
            rows.append(b"\x02" + (5).to_bytes(4, "big") + b"\x00")
        elif number == 6:
            rows.append(b"\x01" + xref_at.to_bytes(4, "big") + b"\x00")
        else:
            rows.append(b"\x01" + offsets[number].to_bytes(4, "big") + b"\x00")
    data = b"".join(rows)
    out += (b"6 0 obj\n<< /Type /XRef /Size 7 /W [1 4 1] /Root 1 0 R /Length %d >>\nstream\n" % len(data)
            + data + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref_at)
    return bytes(out)
