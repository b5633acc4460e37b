"""Intake checks for uploaded PDFs, which are untrusted input.

Cheap checks on the bytes come first (empty, not a PDF, too large). Only then is the file handed to a
parser, and always in a child process that is killed when it overruns `timeout_seconds`: a hostile or
broken PDF can hang or crash PDFium, and neither may take the caller (a Dagster step or sensor) with it.
A file that fails a check is quarantined with one of the reasons in `QUARANTINE_REASONS`.
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import re
import resource
import signal
import unicodedata
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal

import pypdfium2 as pdfium

from ysh_assets.datasheets.layout import usable_text

QUARANTINE_REASONS = (
    "zero_byte",
    "not_pdf",
    "too_large",
    "corrupt",
    "encrypted",
    "too_many_pages",
    "timeout",
    "memory_limit",
    "needs_ocr",
)
HEADER_WINDOW = 1024  # readers accept %PDF- anywhere in the first KiB (junk before it is common)
# The address space a parsing child may use: a real datasheet parses in ~150 MB; a crafted one (nested form
# objects, a text bomb) would otherwise grow until the host runs out of memory.
MAX_PARSER_MEMORY_BYTES = 1 << 30
WORKER_START_SECONDS = 60.0  # generous: a loaded host can be slow to fork; the file is not on trial yet
_STARTED = "started"


@dataclass(frozen=True)
class Inspection:
    status: Literal["ok", "quarantined"]
    reason: str | None  # one of QUARANTINE_REASONS when quarantined
    detail: str
    sha256: str
    size_bytes: int
    pages: int | None
    has_text_layer: bool | None


def limit_memory(max_bytes: int) -> None:
    """In a parsing child: cap its address space, so a hostile file ends in MemoryError (or the child's death),
    never in the host swapping."""
    resource.setrlimit(resource.RLIMIT_AS, (max_bytes, max_bytes))


def inspect_pdf(
    path: str | Path,
    *,
    max_bytes: int,
    max_pages: int,
    timeout_seconds: float,
    max_memory_bytes: int = MAX_PARSER_MEMORY_BYTES,
) -> Inspection:
    """Check one file. Whatever is wrong with the file comes back as a quarantined `Inspection`; only what is
    not the file's fault raises (a path that cannot be read: OSError; a worker that cannot start: RuntimeError).
    """
    path = Path(path)
    size, sha256, head = _read(path)

    def verdict(reason: str | None, detail: str, pages: int | None = None, text: bool | None = None) -> Inspection:
        status: Literal["ok", "quarantined"] = "ok" if reason is None else "quarantined"
        return Inspection(status, reason, detail, sha256, size, pages, text)

    if size == 0:
        return verdict("zero_byte", "the file is empty")
    if b"%PDF-" not in head:
        return verdict("not_pdf", f"no %PDF- header in the first {HEADER_WINDOW} bytes (starts {head[:16]!r})")
    if size > max_bytes:
        return verdict("too_large", f"{size} bytes is over the {max_bytes}-byte limit")
    probe = _probe_in_child(path, max_pages, timeout_seconds, max_memory_bytes)
    return verdict(probe["reason"], probe["detail"], probe.get("pages"), probe.get("has_text_layer"))


def _read(path: Path) -> tuple[int, str, bytes]:
    """Size, sha256 and first bytes in one streaming pass: the hash names the file even when it is refused."""
    digest, head, size = hashlib.sha256(), b"", 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            if size < HEADER_WINDOW:
                head = (head + chunk)[:HEADER_WINDOW]
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest(), head


def _probe_in_child(path: Path, max_pages: int, timeout_seconds: float, max_memory_bytes: int) -> dict[str, Any]:
    # forkserver: children fork from a clean, single-threaded server with PDFium already imported, so they
    # start in milliseconds and inherit none of the caller's threads or open handles.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_probe, args=(str(path), max_pages, max_memory_bytes, sender), daemon=True)
    child.start()
    sender.close()
    try:
        _await_start(receiver, child)
        if not receiver.poll(timeout_seconds):
            return {"reason": "timeout", "detail": f"parsing took longer than {timeout_seconds:g} s; parser killed"}
        try:
            return receiver.recv()
        except EOFError:  # the child died mid-parse without an answer: PDFium crashed on this file
            child.join(timeout=5)
            return crashed_verdict(child.exitcode, max_memory_bytes)
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join(timeout=5)


def _await_start(receiver: Connection, child: Any) -> None:
    """The clock starts once the child is up: a slow or failed process start is no fault of the file."""
    with contextlib.suppress(EOFError):
        if receiver.poll(WORKER_START_SECONDS) and receiver.recv() == _STARTED:
            return
    child.join(timeout=1)
    raise RuntimeError(f"PDF inspection worker did not start (exit code {child.exitcode})")


def crashed_verdict(exit_code: int | None, max_memory_bytes: int) -> dict[str, Any]:
    """A parsing child that died without an answer. PDFium aborts (SIGABRT) when an allocation fails under
    the memory cap; any other death is a parser crash on a corrupt file."""
    out_of_memory = exit_code == -signal.SIGABRT
    return {
        "reason": "memory_limit" if out_of_memory else "corrupt",
        "detail": f"the PDF parser died (exit code {exit_code}) under its {max_memory_bytes}-byte memory limit",
    }


def _probe(path: str, max_pages: int, max_memory_bytes: int, conn: Connection) -> None:
    """Child-process entry point: open, count pages, measure the text layer, send the findings back."""
    try:
        conn.send(_STARTED)
        limit_memory(max_memory_bytes)
        try:
            conn.send(_parse(path, max_pages))
        except MemoryError:
            conn.send({"reason": "memory_limit", "detail": f"parsing needed more than {max_memory_bytes} bytes"})
    finally:
        conn.close()


def _parse(path: str, max_pages: int) -> dict[str, Any]:
    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as error:
        if getattr(error, "err_code", None) == pdfium.raw.FPDF_ERR_PASSWORD:
            return {"reason": "encrypted", "detail": "the PDF is password-protected"}
        return {"reason": "corrupt", "detail": f"PDFium cannot open it: {error}"}
    try:
        pages = len(pdf)
        if pages == 0:
            return {"reason": "corrupt", "detail": "the PDF has no pages", "pages": 0}
        if pages > max_pages:
            detail = f"{pages} pages is over the {max_pages}-page limit"
            return {"reason": "too_many_pages", "detail": detail, "pages": pages}
        texts = [_page_text(pdf[index]) for index in range(pages)]
        # Opened without a password yet encrypted: permissions only (no copying...), readable, worth a note.
        permissions_only = pdfium.raw.FPDF_GetSecurityHandlerRevision(pdf.raw) != -1
    except Exception as error:  # any parser failure past opening means a damaged file
        return {"reason": "corrupt", "detail": f"reading pages failed: {type(error).__name__}: {error}"}
    finally:
        pdf.close()
    alnum = sum(ch.isalnum() for text in texts for ch in text)
    usable = sum(usable_text(text) for text in texts)
    found = f"{alnum} letters/digits, {usable} of {pages} page(s) with a usable text layer" + (
        "; encrypted, empty user password" if permissions_only else ""
    )
    # A sheet without a usable text layer is not refused here: the extractor reads those pages by OCR, and
    # quarantines the sheet as needs_ocr only when OCR cannot run.
    return {"reason": None, "detail": found, "pages": pages, "has_text_layer": usable > 0}


def _page_text(page: Any) -> str:
    textpage = page.get_textpage()
    try:
        return textpage.get_text_range()
    finally:
        textpage.close()
        page.close()


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_WINDOWS_RESERVED = re.compile(r"(?i)^(con|prn|aux|nul|com\d|lpt\d)$")


def safe_filename(name: str, *, max_length: int = 120) -> str:
    """A filename or object-key segment from an untrusted name: ASCII letters, digits, `._-` only.

    The last path component is kept (no separators, no `..`, no control characters, no leading dot),
    accents are folded ("Módulo" -> "Modulo"), the length is bounded and the extension survives.
    """
    base = re.split(r"[/\\]", name)[-1]
    ascii_name = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"\.{2,}", ".", _UNSAFE.sub("_", ascii_name))
    stem, dot, extension = cleaned.rpartition(".")
    extension = extension.strip("_-")
    if not dot or not extension or len(extension) > 10:
        stem, extension = cleaned, ""
    stem = stem.strip("._-") or "file"
    if _WINDOWS_RESERVED.match(stem):
        stem = f"_{stem}"
    suffix = f".{extension}" if extension else ""
    return (stem[: max(1, max_length - len(suffix))].rstrip("._-") or "file") + suffix
