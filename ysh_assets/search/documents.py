"""What the search index holds: one document per product (latest day per distributor), per kit and per
datasheet model, each with a stable point id, the text that is embedded and the payload people filter by.

The builders take frames with the catalog and datasheet tables' columns, so the asset (reading the warehouse)
and the benchmark (reading bundled files through the same adapters) index the same documents.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import polars as pl

POINT_NAMESPACE = uuid.UUID("8f5b3f0e-9d62-4f43-9a53-1c0b3d7a2e11")
KINDS = ("product", "kit", "spec")
_CATEGORY_WORDS = {  # words a customer uses for each category, in Portuguese and English
    "module": "painel solar módulo fotovoltaico solar panel module",
    "inverter": "inversor solar on-grid inverter",
    "hybrid_inverter": "inversor híbrido hybrid inverter",
    "microinverter": "microinversor microinverter",
    "battery": "bateria battery armazenamento storage",
    "inverter_string": "inversor solar string inverter",
    "inverter_hybrid": "inversor híbrido hybrid inverter",
    "inverter_micro": "microinversor microinverter",
    "kit": "kit gerador solar solar kit",
}


@dataclass(frozen=True)
class Document:
    kind: str
    key: str  # natural key within its kind: '<distributor>:<product_id>', '<distributor>:<kit_id>', '<sha>:<model>'
    title: str
    text: str
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def point_id(self) -> str:
        """Derived from (kind, natural key): a re-run upserts the same point instead of adding one."""
        return str(uuid.uuid5(POINT_NAMESPACE, f"{self.kind}:{self.key}"))

    @property
    def content_hash(self) -> str:
        """What decides whether a source changed: only changed documents are embedded again."""
        body = json.dumps({"text": self.text, "payload": self.payload}, sort_keys=True, default=str)
        return hashlib.sha256(body.encode()).hexdigest()

    def full_payload(self) -> dict[str, Any]:
        return {
            **self.payload,
            "kind": self.kind,
            "key": self.key,
            "title": self.title,
            "content_hash": self.content_hash,
        }


def _clean(value: Any) -> Any:
    """None for missing and NaN; warehouse decimals as floats (a JSON payload has no decimal type)."""
    if isinstance(value, Decimal):
        return float(value)
    return None if value is None or (isinstance(value, float) and value != value) else value


def _join(*parts: Any) -> str:
    return " ".join(str(p) for p in parts if p not in (None, ""))


def _power_text(watts: float | None) -> str:
    if not watts:
        return ""
    return f"{watts / 1000:g} kW" if watts >= 1000 else f"{watts:g} W"


def product_documents(products: pl.DataFrame) -> list[Document]:
    """Columns of products.products, plus `certified` and `match_confidence` from the certification links."""
    documents = []
    for row in products.iter_rows(named=True):
        category = row["category"]
        power = _clean(row.get("power_w"))
        text = _join(
            row["name"],
            row.get("manufacturer"),
            row.get("model"),
            _power_text(power),
            _CATEGORY_WORDS.get(category, category),
            (row.get("description") or "")[:300],
        )
        payload = {
            "distributor": row["distributor"],
            "category": category,
            "manufacturer": _clean(row.get("manufacturer")),
            "model": _clean(row.get("model")),
            "power_w": float(power) if power is not None else None,
            "price_brl": _clean(row.get("price_brl")),
            "certified": bool(row.get("certified")),
            "match_confidence": _clean(row.get("match_confidence")),
            "source_url": _clean(row.get("url")),
            "snapshot_date": str(row["snapshot_date"]),
        }
        documents.append(Document("product", f"{row['distributor']}:{row['product_id']}", row["name"], text, payload))
    return documents


def kit_documents(kits: pl.DataFrame, components: pl.DataFrame) -> list[Document]:
    """Columns of products.solar_kits; each kit's text names its components (products.kit_components)."""
    parts: dict[tuple[str, str], list[str]] = {}
    for row in components.sort("component_index").iter_rows(named=True):
        parts.setdefault((row["distributor"], row["kit_id"]), []).append(
            _join(row.get("quantity") and f"{row['quantity']}x", row.get("manufacturer"), row.get("model"))
        )
    documents = []
    for row in kits.iter_rows(named=True):
        kwp = _clean(row.get("system_power_kwp"))
        text = _join(
            row["name"],
            kwp and f"{kwp:g} kWp",
            (row.get("kit_type") or "").replace("_", " "),
            _CATEGORY_WORDS["kit"],
            "; ".join(parts.get((row["distributor"], row["kit_id"]), [])),
        )
        payload = {
            "distributor": row["distributor"],
            "category": "kit",
            "kit_type": _clean(row.get("kit_type")),
            "manufacturer": None,
            "model": None,
            "power_w": float(kwp) * 1000 if kwp else None,
            "price_brl": _clean(row.get("price_brl")),
            "certified": False,
            "match_confidence": None,
            "source_url": _clean(row.get("url")),
            "snapshot_date": str(row["snapshot_date"]),
        }
        documents.append(Document("kit", f"{row['distributor']}:{row['kit_id']}", row["name"], text, payload))
    return documents


def spec_documents(specs: pl.DataFrame) -> list[Document]:
    """Columns of products.datasheet_specs, plus the datasheet's `filename` and `object_key`."""
    documents = []
    for row in specs.iter_rows(named=True):
        kind = row.get("equipment_type") or "datasheet"
        power = _clean(row.get("pmax_w")) or _clean(row.get("ac_power_w"))
        usable = _clean(row.get("usable_kwh"))
        provenance = row.get("provenance") or {}
        if isinstance(provenance, str):  # JSON text from DuckDB; PostgreSQL's jsonb arrives decoded
            provenance = json.loads(provenance)
        title = _join(row.get("manufacturer"), row["model"])
        text = _join(
            title,
            _power_text(power),
            usable and f"{usable:g} kWh",
            _CATEGORY_WORDS.get(kind, kind),
            row.get("efficiency_pct") and f"{row['efficiency_pct']:g}%",
            row.get("filename"),
        )
        pages = sorted({v["page"] for v in provenance.values() if v and v.get("page")})  # absent: None in a struct
        payload = {
            "distributor": None,
            "category": kind,
            "manufacturer": _clean(row.get("manufacturer")),
            "model": row["model"],
            "power_w": float(power) if power else None,
            "price_brl": None,
            "certified": False,
            "match_confidence": None,
            "source_url": _clean(row.get("object_key")) or _clean(row.get("filename")),
            "datasheet_sha256": row["sha256"],
            "pages": pages,
        }
        documents.append(Document("spec", f"{row['sha256']}:{row['model']}", title, text, payload))
    return documents
