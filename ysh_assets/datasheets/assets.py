"""Datasheet assets, one dynamic partition per PDF (its content sha256), added by the new-PDF sensor.

`datasheets/pdf_documents` keeps the original, content-addressed, with what the intake inspection found;
`datasheets/enriched_pdfs` turns it into `products.datasheets` / `products.datasheet_specs` rows. Bad input
is quarantined with its reason (in `pipeline.quarantine` and in metadata) and the run stays green.
"""

import dataclasses
import json
import tempfile
from pathlib import Path, PurePosixPath

import dagster as dg
import polars as pl

from ysh_assets.datasheets.enrich import OllamaResource
from ysh_assets.datasheets.extract import EXTRACTOR_VERSION
from ysh_assets.datasheets.inspect import Inspection, inspect_pdf, safe_filename
from ysh_assets.datasheets.pipeline import PdfLimits, process_pdf
from ysh_assets.datasheets.sensors import OBJECT_KEY_TAG, PDF_PARTITIONS
from ysh_assets.io_managers.frames import STORAGE
from ysh_assets.io_managers.object_store import ObjectStore, RawFile, StoredObject, sha256_of_file
from ysh_assets.warehouse.sql import Warehouse

PDF_DOCUMENTS = dg.AssetKey(["datasheets", "pdf_documents"])
ENRICHED_PDFS = dg.AssetKey(["datasheets", "enriched_pdfs"])


def _file_quarantine(
    warehouse: Warehouse, context: dg.AssetExecutionContext, source: str, reason: str | None, detail: str = ""
) -> None:
    """Replaces this asset's pipeline.quarantine verdict for the PDF: one row with the reason, or none when
    the file passed (a re-run with raised limits clears an earlier verdict)."""
    rows = [{"line_number": None, "reason": reason, "raw_record": detail}] if reason else []
    frame = pl.DataFrame(rows, schema={"line_number": pl.Int64, "reason": pl.String, "raw_record": pl.String})
    warehouse.replace_quarantine(context.asset_key, context.partition_key, context.run.run_id, source, frame)


@dg.asset(
    key=PDF_DOCUMENTS,
    partitions_def=PDF_PARTITIONS,
    io_manager_key="object_store_io_manager",
    group_name="datasheets",
    kinds={"pdf"},
    metadata={STORAGE: "objects"},
    owners=["team:data-platform"],
)
def pdf_documents(
    context: dg.AssetExecutionContext, config: PdfLimits, object_store: ObjectStore, warehouse: Warehouse
) -> RawFile:
    """The uploaded PDF, stored by content sha256, with its size, page count and text-layer presence."""
    sha256 = context.partition_key
    key = context.run.tags.get(OBJECT_KEY_TAG)
    if key is None:
        raise dg.Failure(f"run has no {OBJECT_KEY_TAG} tag: PDF partitions are launched by the new_pdf_sensor")
    with tempfile.NamedTemporaryFile(prefix="ysh-pdf-", suffix=".pdf", delete=False) as handle:
        spool = Path(handle.name)
    try:
        object_store.download(key, spool)
        actual, _ = sha256_of_file(spool)
        if actual != sha256:
            raise dg.Failure(f"{key} changed since it was detected (sha256 {actual[:12]} != {sha256[:12]})")
        inspection = inspect_pdf(
            spool,
            max_bytes=config.max_bytes,
            max_pages=config.max_pages,
            timeout_seconds=config.timeout_seconds,
            max_memory_bytes=config.max_memory_bytes,
        )
    except BaseException:
        spool.unlink(missing_ok=True)  # on success the IO manager removes it once stored
        raise
    if inspection.status != "ok":
        context.log.warning(f"{key} quarantined: {inspection.reason} ({inspection.detail})")
    _file_quarantine(warehouse, context, key, inspection.reason, inspection.detail)
    context.add_output_metadata(
        {
            "status": inspection.status,
            "quarantine_reason": inspection.reason or "",
            "pages": inspection.pages if inspection.pages is not None else -1,
            "has_text_layer": bool(inspection.has_text_layer),
            "object_key": key,
        }
    )
    return RawFile(
        path=spool,
        filename=safe_filename(PurePosixPath(key).name),
        content_type="application/pdf",
        sha256=sha256,
        temporary=True,
        source={
            "object_key": key,
            "status": inspection.status,
            "reason": inspection.reason or "",
            "inspection": dataclasses.asdict(inspection),
        },  # read once: enriched_pdfs reuses it
    )


@dg.asset(
    key=ENRICHED_PDFS,
    partitions_def=PDF_PARTITIONS,
    code_version=EXTRACTOR_VERSION,
    ins={"document": dg.AssetIn(key=PDF_DOCUMENTS)},
    group_name="datasheets",
    kinds={"pdf", "ollama"},
    metadata={STORAGE: "warehouse"},
    owners=["team:data-platform"],
)
def enriched_pdfs(
    context: dg.AssetExecutionContext,
    config: PdfLimits,
    document: StoredObject,
    warehouse: Warehouse,
    ollama: OllamaResource,
) -> dg.MaterializeResult:
    """Specs per model with the page each value came from: rules first, Ollama to fill gaps (never to
    overwrite), rows in products.datasheets and products.datasheet_specs."""
    object_key = document.source.get("object_key")
    inspection = Inspection(**document.source["inspection"]) if "inspection" in document.source else None
    with document.local_path() as path:
        processed = process_pdf(
            path,
            filename=document.filename,
            object_key=object_key,
            limits=config,
            ollama=ollama,
            inspection=inspection,
        )
    found_here = processed.quarantine_reason if document.source.get("status") == "ok" else None  # not at intake
    _file_quarantine(warehouse, context, object_key or document.key, found_here, processed.detail)
    warehouse.replace_rows("sha256", processed.sha256, processed.frames())
    row = processed.datasheet
    llm_entries = [entry for spec in processed.specs for entry in json.loads(spec["llm_values"]).values()]
    return dg.MaterializeResult(
        metadata={
            "status": row["status"],
            "quarantine_reason": row["quarantine_reason"] or "",
            "manufacturer": row["manufacturer"] or "",
            "equipment_type": row["equipment_type"] or "",
            "models": row["models"],
            "extractor": row["extractor"],
            "llm_status": row["llm_status"] or "not run",
            "llm_detail": row["llm_detail"] or processed.detail,
            "llm_fields_filled": sum(entry["status"] == "filled" for entry in llm_entries),
            "llm_conflicts_with_rules": sum(entry["status"] == "conflict" for entry in llm_entries),
            "llm_values_unverified": sum(entry["status"] == "unverified" for entry in llm_entries),
            "ocr_pages": dg.MetadataValue.json(processed.ocr_pages),
            "rejected_by_physics": dg.MetadataValue.json(processed.rejected),
            "no_specs_reason": processed.no_specs_reason or "",
            "dagster/row_count": row["models"],
        }
    )
