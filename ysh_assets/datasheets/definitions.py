"""The datasheet domain: PDFs in, specs with provenance out; the `pdf_processing` job and its sensor."""

import dagster as dg

from ysh_assets.datasheets.assets import ENRICHED_PDFS, PDF_DOCUMENTS, enriched_pdfs, pdf_documents
from ysh_assets.datasheets.checks import datasheet_checks
from ysh_assets.datasheets.sensors import build_new_pdf_sensor

pdf_processing = dg.define_asset_job(
    "pdf_processing",
    selection=dg.AssetSelection.assets(PDF_DOCUMENTS, ENRICHED_PDFS),
    description="One uploaded PDF (partition = its sha256): store, inspect, extract, enrich.",
)

new_pdf_sensor = build_new_pdf_sensor(pdf_processing)

defs = dg.Definitions(
    assets=[pdf_documents, enriched_pdfs],
    asset_checks=datasheet_checks,
    jobs=[pdf_processing],
    sensors=[new_pdf_sensor],
)
