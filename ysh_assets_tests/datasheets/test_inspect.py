"""Intake inspection: every quarantine reason from a real file made here, and the good path on real sheets."""

from __future__ import annotations

import hashlib
import multiprocessing
import time
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from ysh_assets.datasheets.inspect import QUARANTINE_REASONS, Inspection, inspect_pdf, safe_filename

PDFS = Path(__file__).parent.parent / "fixtures" / "pdfs"
BYD = PDFS / "BYD_Battery-Box_Premium_HVS_HVM_Datasheet_V1.5_EN.pdf"
SOFAR_SCANNED = PDFS / "SOFAR_3.3-12KTL-X_scanned.pdf"
JINKO = PDFS / "JKM550-570M-72HL4-V-F4C1-EN.pdf"
QCELLS = PDFS / "Q_CELLS_Q.PEAK_DUO_L-G5.2_395.pdf"
LIMITS = {"max_bytes": 20_000_000, "max_pages": 20, "timeout_seconds": 20.0}

# PDF 1.7 standard security handler, revision 2 (RC4, 40-bit key): simple enough to write by hand.
PASSWORD_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def rc4(key: bytes, data: bytes) -> bytes:
    state, j = list(range(256)), 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    out, i, j = bytearray(), 0, 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        out.append(byte ^ state[(state[i] + state[j]) % 256])
    return bytes(out)


def write_pdf(path: Path, objects: list[bytes], trailer: bytes) -> Path:
    """Objects numbered from 1, with a correct xref table."""
    out, offsets = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R %s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, trailer, xref)
    path.write_bytes(bytes(out))
    return path


def encrypted_pdf(path: Path, user_password: bytes, owner_password: bytes) -> Path:
    """A one-page PDF whose content stream is really RC4-encrypted (Algorithms 2-4 of ISO 32000-1, 7.6.3)."""
    file_id, permissions = bytes(range(16)), -44  # MD5 and RC4: what revision 2 of the handler prescribes
    owner_key = hashlib.md5((owner_password + PASSWORD_PAD)[:32]).digest()[:5]
    owner_entry = rc4(owner_key, (user_password + PASSWORD_PAD)[:32])
    seed = (user_password + PASSWORD_PAD)[:32] + owner_entry + (permissions & 0xFFFFFFFF).to_bytes(4, "little")
    file_key = hashlib.md5(seed + file_id).digest()[:5]
    user_entry = rc4(file_key, PASSWORD_PAD)
    object_key = hashlib.md5(file_key + (4).to_bytes(3, "little") + (0).to_bytes(2, "little")).digest()[:10]
    content = rc4(object_key, b"BT /F1 24 Tf 20 100 Td (Secret) Tj ET")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Filter /Standard /V 1 /R 2 /Length 40 /O <%s> /U <%s> /P %d >>"
        % (owner_entry.hex().encode(), user_entry.hex().encode(), permissions),
    ]
    return write_pdf(
        path, objects, b"/Encrypt 6 0 R /ID [<%s> <%s>]" % (file_id.hex().encode(), file_id.hex().encode())
    )


def blank_pdf(path: Path, pages: int) -> Path:
    pdf = pdfium.PdfDocument.new()
    for _ in range(pages):
        pdf.new_page(200, 200)
    pdf.save(path)
    pdf.close()
    return path


def quarantined(result: Inspection, reason: str) -> bool:
    assert reason in QUARANTINE_REASONS
    return result.status == "quarantined" and result.reason == reason


def test_text_pdf_is_ok_with_hash_pages_and_text_layer() -> None:
    result = inspect_pdf(BYD, **LIMITS)
    assert result.status == "ok" and result.reason is None
    assert result.sha256 == hashlib.sha256(BYD.read_bytes()).hexdigest()
    assert result.size_bytes == BYD.stat().st_size
    assert (result.pages, result.has_text_layer) == (2, True)


def test_permissions_only_encryption_is_readable_so_ok() -> None:
    """Q CELLS ships its sheet encrypted with an empty user password: any reader opens it."""
    result = inspect_pdf(QCELLS, **LIMITS)
    assert result.status == "ok" and result.has_text_layer
    assert "empty user password" in result.detail


def test_zero_byte(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    result = inspect_pdf(empty, **LIMITS)
    assert quarantined(result, "zero_byte")
    assert (result.size_bytes, result.sha256) == (0, hashlib.sha256(b"").hexdigest())


@pytest.mark.parametrize(
    "content", [b"Module datasheet: 550 W, 41.9 V\n" * 10, b"x" * 1024 + b"%PDF-1.4\n" + BYD.read_bytes()[9:]]
)
def test_not_pdf(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "datasheet.pdf"
    path.write_bytes(content)
    assert quarantined(inspect_pdf(path, **LIMITS), "not_pdf")


def test_header_after_some_junk_is_still_a_pdf(tmp_path: Path) -> None:
    path = tmp_path / "junk_prefix.pdf"
    path.write_bytes(b"\r\n" * 10 + BYD.read_bytes())
    assert inspect_pdf(path, **LIMITS).status == "ok"


def test_too_large_is_checked_before_parsing(tmp_path: Path) -> None:
    result = inspect_pdf(BYD, **{**LIMITS, "max_bytes": 100_000})
    assert quarantined(result, "too_large")
    assert result.pages is None  # never reached the parser
    assert "123743" in result.detail


@pytest.mark.parametrize("keep", [200, 60_000])
def test_truncated_pdf_is_corrupt(tmp_path: Path, keep: int) -> None:
    path = tmp_path / "truncated.pdf"
    path.write_bytes(BYD.read_bytes()[:keep])
    result = inspect_pdf(path, **LIMITS)
    assert quarantined(result, "corrupt")
    assert "PDFium" in result.detail


def test_password_protected_pdf_is_encrypted(tmp_path: Path) -> None:
    path = encrypted_pdf(tmp_path / "locked.pdf", user_password=b"user", owner_password=b"owner")
    # The fixture is really encrypted: PDFium wants the password, and reads the text with it.
    with pytest.raises(pdfium.PdfiumError) as opened:
        pdfium.PdfDocument(path)
    assert opened.value.err_code == pdfium.raw.FPDF_ERR_PASSWORD
    unlocked = pdfium.PdfDocument(path, password="user")
    assert unlocked[0].get_textpage().get_text_range().strip() == "Secret"
    unlocked.close()

    result = inspect_pdf(path, **LIMITS)
    assert quarantined(result, "encrypted")
    assert result.pages is None and result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_too_many_pages(tmp_path: Path) -> None:
    path = blank_pdf(tmp_path / "long.pdf", pages=6)
    result = inspect_pdf(path, **{**LIMITS, "max_pages": 5})
    assert quarantined(result, "too_many_pages")
    assert result.pages == 6


def test_scanned_sheet_is_accepted_without_a_usable_text_layer() -> None:
    """The SOFAR sheet has a few stray labels in its text layer, far too few to carry a spec table: the intake
    accepts it and says so, and the extractor reads it by OCR."""
    result = inspect_pdf(SOFAR_SCANNED, **LIMITS)
    assert result.status == "ok"
    assert (result.pages, result.has_text_layer) == (1, False)
    assert "0 of 1 page(s) with a usable text layer" in result.detail


def test_blank_pages_have_no_usable_text_layer(tmp_path: Path) -> None:
    result = inspect_pdf(blank_pdf(tmp_path / "blank.pdf", pages=2), **LIMITS)
    assert (result.status, result.has_text_layer) == ("ok", False)


def test_slow_parse_times_out_and_the_parser_is_killed() -> None:
    started = time.monotonic()
    result = inspect_pdf(JINKO, **{**LIMITS, "timeout_seconds": 0.001})
    assert quarantined(result, "timeout")
    assert result.sha256 == hashlib.sha256(JINKO.read_bytes()).hexdigest()
    assert time.monotonic() - started < 30  # killed, not waited for
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("JKM550-570M-72HL4-V-F4C1-EN.pdf", "JKM550-570M-72HL4-V-F4C1-EN.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\..\\datasheet.PDF", "datasheet.PDF"),
        ("..", "file"),
        ("Módulo Solar 550W (v2).pdf", "Modulo_Solar_550W_v2.pdf"),
        ("evil\x00name\r\n.pdf", "evil_name.pdf"),
        ("a..b...pdf", "a.b.pdf"),
        (".hidden.pdf", "hidden.pdf"),
        ("数据表.pdf", "file.pdf"),
        ("con.pdf", "_con.pdf"),
        ("report", "report"),
    ],
)
def test_safe_filename(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


def test_safe_filename_bounds_length_and_keeps_extension() -> None:
    name = safe_filename("x" * 500 + ".pdf", max_length=50)
    assert len(name) == 50 and name.endswith(".pdf")


def test_the_parsing_child_runs_under_its_memory_limit():
    """A file that needs more memory than the child may have is quarantined, never grows the host."""
    starved = inspect_pdf(JINKO, **LIMITS, max_memory_bytes=20 << 20)
    assert quarantined(starved, "memory_limit") and "20971520-byte memory limit" in starved.detail
    assert inspect_pdf(JINKO, **LIMITS).status == "ok"  # the default limit leaves room for real datasheets


def test_extraction_child_has_the_same_memory_limit():
    from ysh_assets.datasheets.pipeline import extract_with_time_limit

    with pytest.raises(MemoryError, match="memory limit"):
        extract_with_time_limit(JINKO, 30, max_memory_bytes=20 << 20)
