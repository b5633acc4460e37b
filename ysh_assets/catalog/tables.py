"""Adapter batches as the frames of the catalog tables (`sql/003_products.sql`, `sql/009_catalog.sql`)."""

from __future__ import annotations

from datetime import date

import polars as pl

from ysh_assets.catalog.records import CatalogBatch

PRODUCT_SCHEMA = pl.Schema(
    {
        "snapshot_date": pl.Date,
        "distributor": pl.String,
        "product_id": pl.String,
        "category": pl.String,
        "name": pl.String,
        "manufacturer": pl.String,
        "model": pl.String,
        "power_w": pl.Float64,
        "price_brl": pl.Float64,
        "availability": pl.String,
        "phases": pl.Int16,
        "voltage_v": pl.Int32,
        "efficiency_pct": pl.Float64,
        "url": pl.String,
        "image_url": pl.String,
        "description": pl.String,
        "raw_record": pl.String,
    }
)
KIT_SCHEMA = pl.Schema(
    {
        "snapshot_date": pl.Date,
        "distributor": pl.String,
        "kit_id": pl.String,
        "source_kit_id": pl.String,
        "name": pl.String,
        "kit_type": pl.String,
        "system_power_kwp": pl.Float64,
        "price_brl": pl.Float64,
        "price_per_wp": pl.Float64,
        "mounting_structure": pl.String,
        "distribution_center": pl.String,
        "url": pl.String,
        "raw_record": pl.String,
    }
)
COMPONENT_SCHEMA = pl.Schema(
    {
        "snapshot_date": pl.Date,
        "distributor": pl.String,
        "kit_id": pl.String,
        "component_index": pl.Int16,
        "component_type": pl.String,
        "manufacturer": pl.String,
        "model": pl.String,
        "description": pl.String,
        "quantity": pl.Int32,
        "quantity_derived": pl.Boolean,
        "power_w": pl.Float64,
        "product_id": pl.String,
    }
)
REJECTED_SCHEMA = pl.Schema({"line_number": pl.Int64, "reason": pl.String, "raw_record": pl.String})


def products_frame(batches: list[CatalogBatch], day: date) -> pl.DataFrame:
    rows = [{"snapshot_date": day, **p.as_row()} for b in batches for p in b.products]
    return pl.DataFrame(rows, schema=PRODUCT_SCHEMA)


def kits_frame(batches: list[CatalogBatch], day: date) -> pl.DataFrame:
    rows = [
        {
            "snapshot_date": day,
            "distributor": k.distributor,
            "kit_id": k.kit_id,
            "source_kit_id": k.source_kit_id,
            "name": k.name,
            "kit_type": k.kit_type,
            "system_power_kwp": k.kwp,
            "price_brl": k.price_brl,
            "price_per_wp": round(k.price_brl / (k.kwp * 1000), 4) if k.price_brl and k.kwp else None,
            "mounting_structure": k.mounting_structure,
            "distribution_center": k.distribution_center,
            "url": k.url,
            "raw_record": k.raw_record,
        }
        for b in batches
        for k in b.kits
    ]
    return pl.DataFrame(rows, schema=KIT_SCHEMA)


def components_frame(batches: list[CatalogBatch], day: date) -> pl.DataFrame:
    rows = [
        {
            "snapshot_date": day,
            "distributor": k.distributor,
            "kit_id": k.kit_id,
            "component_index": index,
            "component_type": c.category,
            "manufacturer": c.manufacturer,
            "model": c.model,
            "description": c.description,
            "quantity": c.quantity,
            "quantity_derived": c.quantity_derived,
            "power_w": c.power_w,
            "product_id": None,
        }
        for b in batches
        for k in b.kits
        for index, c in enumerate(k.components, start=1)
    ]
    return pl.DataFrame(rows, schema=COMPONENT_SCHEMA)


def rejected_frame(batches: list[CatalogBatch]) -> pl.DataFrame:
    """Rejected records as quarantine rows; the reason names the file, the line number is the record's."""
    rows = [
        {"line_number": r.record, "reason": f"{b.file}: {r.reason}", "raw_record": r.raw_record}
        for b in batches
        for r in b.rejected
    ]
    return pl.DataFrame(rows, schema=REJECTED_SCHEMA)


def link_components(components: pl.DataFrame, products: pl.DataFrame) -> pl.DataFrame:
    """Each component's product of the same distributor and day, where exactly one matches: the same
    normalized manufacturer and category, and the same model, else the same unit power (modules)."""
    if components.is_empty() or products.is_empty():
        return components
    keyed = products.select(
        "snapshot_date",
        "distributor",
        pl.col("category").alias("component_type"),
        "manufacturer",
        "model",
        "power_w",
        "product_id",
    )
    by_model = (
        keyed.drop_nulls(["manufacturer", "model"])
        .filter(pl.len().over(["snapshot_date", "distributor", "component_type", "manufacturer", "model"]) == 1)
        .select("snapshot_date", "distributor", "component_type", "manufacturer", "model", by_model="product_id")
    )
    by_power = (
        keyed.drop_nulls(["manufacturer", "power_w"])
        .filter(pl.len().over(["snapshot_date", "distributor", "component_type", "manufacturer", "power_w"]) == 1)
        .select("snapshot_date", "distributor", "component_type", "manufacturer", "power_w", by_power="product_id")
    )
    joined = components.drop("product_id").join(
        by_model, on=["snapshot_date", "distributor", "component_type", "manufacturer", "model"], how="left"
    )
    joined = joined.join(
        by_power, on=["snapshot_date", "distributor", "component_type", "manufacturer", "power_w"], how="left"
    )
    return joined.with_columns(product_id=pl.coalesce("by_model", "by_power")).select(COMPONENT_SCHEMA.names())


def price_changes(previous: pl.DataFrame, current: pl.DataFrame) -> pl.DataFrame:
    """Products priced on both snapshots whose price moved, as change-log rows (old and new price and day)."""
    before = previous.select("product_id", old="price_brl", old_day=pl.col("snapshot_date").cast(pl.String))
    after = current.select("product_id", new="price_brl", day=pl.col("snapshot_date").cast(pl.String))
    moved = before.join(after, on="product_id").filter(
        pl.col("old").is_not_null() & pl.col("new").is_not_null() & (pl.col("old") != pl.col("new"))
    )
    return moved.sort("product_id").select(
        entity_id="product_id",
        change_type=pl.lit("update"),
        old_values=pl.struct(price_brl="old", day="old_day").struct.json_encode(),
        new_values=pl.struct(price_brl="new", day="day").struct.json_encode(),
    )
