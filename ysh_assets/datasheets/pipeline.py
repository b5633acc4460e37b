"""One PDF from bytes to table rows: inspect (quarantine reasons), extract (rules), enrich (Ollama, optional).

`process_pdf` is what `datasheets/enriched_pdfs` stores and what `ysh extract-pdf` prints, so the two can
never disagree. Extraction runs in a child process with a time limit: a hostile PDF that passed the
inspection must still not hang a run.
"""

import json
import math
import multiprocessing
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from ysh_assets.datasheets.enrich import EnrichmentResult, OllamaResource, enrich
from ysh_assets.datasheets.extract import SPEC_FIELDS, extract_pdf
from ysh_assets.datasheets.inspect import (
    MAX_PARSER_MEMORY_BYTES,
    Inspection,
    crashed_verdict,
    inspect_pdf,
    limit_memory,
)

SPEC_COLUMNS = list(SPEC_FIELDS)
INTEGER_FIELDS = {"mppt_count", "phases"}


class PdfLimits(dg.Config):
    """Limits for untrusted PDFs; anything beyond them is quarantined with the reason."""

    max_bytes: int = 50 * 1024 * 1024
    max_pages: int = 60
    timeout_seconds: float = 60.0
    max_memory_bytes: int = MAX_PARSER_MEMORY_BYTES  # per parsing child (RLIMIT_AS)
    ocr: bool = True  # read pages without a usable text layer by Tesseract; off: such sheets are needs_ocr


@dataclass
class ProcessedPdf:
    sha256: str
    datasheet: dict[str, Any]  # the products.datasheets row
    specs: list[dict[str, Any]] = field(default_factory=list)  # products.datasheet_specs rows
    quarantine_reason: str | None = None
    detail: str = ""
    ocr_pages: list[int] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)  # readings the physics guards refused
    no_specs_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "datasheet": self.datasheet,
            "specs": self.specs,
            "ocr_pages": self.ocr_pages,
            "rejected_by_physics": self.rejected,
            "no_specs_reason": self.no_specs_reason,
        }

    def frames(self) -> list[tuple[str, pl.DataFrame]]:
        """The rows as frames for Warehouse.replace_rows, parent table first."""
        datasheet = pl.DataFrame([self.datasheet], schema=DATASHEET_SCHEMA)
        specs = pl.DataFrame(self.specs, schema=SPEC_SCHEMA) if self.specs else pl.DataFrame(schema=SPEC_SCHEMA)
        return [("products.datasheets", datasheet), ("products.datasheet_specs", specs)]


DATASHEET_SCHEMA = {
    "sha256": pl.String,
    "filename": pl.String,
    "object_key": pl.String,
    "size_bytes": pl.Int64,
    "pages": pl.Int32,
    "has_text_layer": pl.Boolean,
    "status": pl.String,
    "quarantine_reason": pl.String,
    "manufacturer": pl.String,
    "equipment_type": pl.String,
    "certifications": pl.String,  # JSON array
    "models": pl.Int32,
    "extractor": pl.String,
    "llm_status": pl.String,
    "llm_detail": pl.String,
    "processed_at": pl.Datetime("us", "UTC"),
}
SPEC_SCHEMA = {
    "sha256": pl.String,
    "model": pl.String,
    "manufacturer": pl.String,
    "equipment_type": pl.String,
    **{name: (pl.Int32 if name in INTEGER_FIELDS else pl.Float64) for name in SPEC_COLUMNS},
    "provenance": pl.String,  # JSON: field -> {"page", "source"}
    # JSON: field -> {"value", "page", "source": "llm", "status": "filled" | "conflict" | "unverified" | "rejected"}
    "llm_values": pl.String,
}


def _extract_in_child(path: str, max_memory_bytes: int, ocr: bool, conn: Connection) -> None:
    try:
        limit_memory(max_memory_bytes)
        extraction = extract_pdf(path, ocr=ocr)
        conn.send((extraction.to_json(), extraction.page_texts))
    except MemoryError:
        conn.send(MemoryError(f"extraction needed more than {max_memory_bytes} bytes"))
    except Exception as error:  # reported to the parent, which quarantines the file
        conn.send(error)
    finally:
        conn.close()


def extract_with_time_limit(
    path: Path, timeout_seconds: float, max_memory_bytes: int = MAX_PARSER_MEMORY_BYTES, *, ocr: bool = True
) -> tuple[dict[str, Any], list[str]] | None:
    """The rules extraction in a child process under a memory cap; None when it ran out of time (the child is
    killed). A child that dies without an answer raises MemoryError when it hit the cap."""
    context = multiprocessing.get_context("forkserver")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_extract_in_child, args=(str(path), max_memory_bytes, ocr, sender), daemon=True)
    child.start()
    sender.close()
    try:
        if not receiver.poll(timeout_seconds):
            return None
        try:
            result = receiver.recv()
        except EOFError:
            child.join(timeout=5)
            verdict = crashed_verdict(child.exitcode, max_memory_bytes)
            result = (MemoryError if verdict["reason"] == "memory_limit" else RuntimeError)(verdict["detail"])
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join(timeout=5)
    if isinstance(result, Exception):
        raise result
    return result


def process_pdf(
    path: Path,
    *,
    filename: str,
    object_key: str | None = None,
    limits: PdfLimits | None = None,
    ollama: OllamaResource | None = None,
    inspection: Inspection | None = None,
) -> ProcessedPdf:
    """Inspect (unless the intake already did: `inspection`), extract by rules, enrich with Ollama."""
    limits = limits or PdfLimits()
    started = time.monotonic()  # one time limit for the file: parsing at intake and extraction share it
    inspection = inspection or inspect_pdf(
        path,
        max_bytes=limits.max_bytes,
        max_pages=limits.max_pages,
        timeout_seconds=limits.timeout_seconds,
        max_memory_bytes=limits.max_memory_bytes,
    )
    base = _datasheet_row(inspection, filename, object_key)
    if inspection.status != "ok":
        return _quarantined(inspection.sha256, base, inspection.reason or "corrupt", inspection.detail)
    remaining = limits.timeout_seconds - (time.monotonic() - started)
    try:
        extracted = (
            extract_with_time_limit(path, remaining, limits.max_memory_bytes, ocr=limits.ocr) if remaining > 0 else None
        )
    except MemoryError as error:
        return _quarantined(inspection.sha256, base, "memory_limit", str(error))
    except Exception as error:  # the parser choked on a file the intake accepted
        return _quarantined(inspection.sha256, base, "corrupt", f"extraction failed: {error}")
    if extracted is None:
        detail = f"parsing and extraction exceeded {limits.timeout_seconds:g} s; extractor killed"
        return _quarantined(inspection.sha256, base, "timeout", detail)
    document, texts = extracted
    if document["unreadable_pages"] and not document["specs"]:
        detail = f"pages {document['unreadable_pages']} have no usable text layer; {document['ocr_unavailable']}"
        return _quarantined(inspection.sha256, base, "needs_ocr", detail)
    rules = document["specs"]
    enrichment = (
        enrich(ollama, "\n\f".join(texts), rules)
        if ollama is not None
        else EnrichmentResult("unavailable", "no Ollama configured: rules only", rules)
    )
    records = enrichment.records if enrichment.status == "ok" else rules
    specs = _spec_rows(inspection.sha256, records, document)
    datasheet = {
        **base,
        "status": "extracted",
        "manufacturer": document["manufacturer"],
        "equipment_type": document["equipment_type"],
        "certifications": json.dumps(document["certifications"]),
        "models": len(specs),
        "extractor": "+".join(
            ["rules"] + (["ocr"] if document["ocr_pages"] else []) + (["llm"] if enrichment.status == "ok" else [])
        ),
        "llm_status": enrichment.status,
        "llm_detail": enrichment.detail,
    }
    return ProcessedPdf(
        inspection.sha256,
        datasheet,
        specs,
        detail=document["no_specs_reason"] or enrichment.detail,
        ocr_pages=document["ocr_pages"],
        rejected=document["rejected"],
        no_specs_reason=document["no_specs_reason"],
    )


def _datasheet_row(inspection: Inspection, filename: str, object_key: str | None) -> dict[str, Any]:
    return {
        "sha256": inspection.sha256,
        "filename": filename,
        "object_key": object_key,
        "size_bytes": inspection.size_bytes,
        "pages": inspection.pages,
        "has_text_layer": inspection.has_text_layer,
        "status": "extracted",
        "quarantine_reason": None,
        "manufacturer": None,
        "equipment_type": None,
        "certifications": "[]",
        "models": 0,
        "extractor": "rules",
        "llm_status": None,
        "llm_detail": None,
        "processed_at": datetime.now(UTC),
    }


def _quarantined(sha256: str, base: dict[str, Any], reason: str, detail: str) -> ProcessedPdf:
    row = {**base, "status": "quarantined", "quarantine_reason": reason}
    return ProcessedPdf(sha256, row, [], quarantine_reason=reason, detail=detail)


def _column_value(name: str, value: Any) -> float | int | None:
    """A value fit for its typed column, or None: counts must be whole and small, measures finite and sane.
    The rules only emit such values; this guards against what a language model may return."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    if name in INTEGER_FIELDS:
        return int(value) if float(value).is_integer() and 0 <= value <= 1000 else None
    return float(value) if abs(value) < 1e9 else None


def _spec_rows(sha256: str, records: list[dict[str, Any]], document: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per model; a model named twice (a language model may repeat one) keeps its first record."""
    rows: dict[str, dict[str, Any]] = {}
    for record in records:
        model = record.get("model")
        if model and model not in rows:
            rows[model] = _spec_row(sha256, record, document)
    return list(rows.values())


def _spec_row(sha256: str, record: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    fields = record.get("fields", {})
    llm_values = {name: {**value, "status": "conflict"} for name, value in record.get("conflicts", {}).items()}
    llm_values |= {name: {**value, "status": "unverified"} for name, value in record.get("unverified", {}).items()}
    values: dict[str, Any] = {}
    for name in SPEC_COLUMNS:
        field_value = fields.get(name)
        if field_value is None:
            values[name] = None
            continue
        values[name] = _column_value(name, field_value["value"])
        if field_value["source"] == "llm":
            llm_values[name] = {**field_value, "status": "filled" if values[name] is not None else "rejected"}
    kept = {name: v for name, v in fields.items() if values.get(name) is not None}
    return {
        "sha256": sha256,
        "model": record["model"],
        "manufacturer": record.get("manufacturer") or document["manufacturer"],
        "equipment_type": record.get("equipment_type") or document["equipment_type"],
        **values,
        "provenance": json.dumps({name: {"page": v.get("page"), "source": v["source"]} for name, v in kept.items()}),
        "llm_values": json.dumps(llm_values),
    }
