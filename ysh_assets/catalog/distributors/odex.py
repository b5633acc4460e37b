"""ODEX (plataforma.odex.com.br): the processed JSON lists (`odex-inverters.json`, `odex-panels.json`).

One layout, recognised by its keys: `id, name, manufacturer, model, category, price, image, source, availability,
description, pricing{price, currency}` — the same exporter's shape as Solfácil's processed files, so the records
are read by the shared `fields.read_processed_json` (its rules: see the Solfácil adapter). ODEX specifics:

* `model` is empty in the inverter file and repeats the manufacturer in the panel file (`"model": "Odex"`): such a
  model is ignored and the model code is taken from the title after the brand
  (`Inversor Grid-Tie SAJ R5-3K-T2 BRL 3kW …` -> `R5-3K-T2`), None when the title has none (`Painel Solar Jinko
  610W`).
* `Odex` as manufacturer is kept (ODEX sells panels under its own brand, and the title names it).
* Bifásico (split-phase 220 V) is neither 1 nor 3 phases: phases None.
* A file whose records all name another `source` domain is refused, so a Solfácil file is not read as ODEX.
"""

from __future__ import annotations

from pathlib import Path

from ysh_assets.catalog.fields import csv_rows, read_processed_text, read_text
from ysh_assets.catalog.records import CatalogBatch, CatalogFormatError

DISTRIBUTOR = "odex"
LABEL = "ODEX"
DOMAIN = "odex"  # what the records' `source` (plataforma.odex.com.br) names
LAYOUTS = ("processed JSON list (id, name, manufacturer, model, category, price, ...)",)


def read(path: Path) -> CatalogBatch:
    path = Path(path)
    text = read_text(path, LABEL, LAYOUTS)
    if text.lstrip().startswith(("[", "{")):
        return read_processed_text(path, text, distributor=DISTRIBUTOR, label=LABEL, domain=DOMAIN, layouts=LAYOUTS)
    rows = csv_rows(path, text, LABEL, LAYOUTS)
    found = f"header {rows[0]}" if rows else "an empty file"
    raise CatalogFormatError(f"{path.name}: not a {LABEL} catalog: expected one of {LAYOUTS}; found {found}")
