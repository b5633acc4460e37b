"""Catalog assets: each distributor's products and kits per day, the certification lists, the links between
products and certifications, and the day-to-day price changes.

One step reads a distributor's files for a day (`CatalogSource`) through its adapter and writes products, kits
and kit components, each through the warehouse's write-audit-publish path: a file that lost most of the
distributor's previous snapshot, or whose records mostly cannot be read, is refused and nothing is published.
"""

from datetime import date, timedelta

import dagster as dg
import polars as pl

from ysh_assets.calendar import TIMEZONE
from ysh_assets.catalog.certifications import CERTIFICATION_SCHEMA, EQUIPMENT_TYPES, load_certification_file
from ysh_assets.catalog.distributors import DISTRIBUTORS, read_catalog
from ysh_assets.catalog.matching import match_certifications
from ysh_assets.catalog.records import CatalogBatch, CatalogFormatError
from ysh_assets.catalog.sources import CatalogSource
from ysh_assets.catalog.tables import (
    components_frame,
    kits_frame,
    link_components,
    price_changes,
    products_frame,
    rejected_frame,
)
from ysh_assets.check_results import PartitionCheck, check_output, log_partition_checks, quarantine_share_check
from ysh_assets.io_managers.audit import (
    AuditedLoad,
    AuditPolicy,
    AuditReport,
    AuditResult,
    LoadAuditConfig,
    audit_report,
    count_audits,
)
from ysh_assets.io_managers.frames import STORAGE
from ysh_assets.warehouse.sql import Warehouse

GROUP = "catalog"
PRODUCTS = dg.AssetKey(["catalog", "products"])
SOLAR_KITS = dg.AssetKey(["catalog", "solar_kits"])
KIT_COMPONENTS = dg.AssetKey(["catalog", "kit_components"])
PRICE_CHANGES = dg.AssetKey(["catalog", "price_changes"])
CATALOG_DAYS = dg.DailyPartitionsDefinition(start_date="2026-01-01", timezone=TIMEZONE, end_offset=1)
DISTRIBUTOR_PARTITIONS = dg.StaticPartitionsDefinition(list(DISTRIBUTORS))
CATALOG_PARTITIONS = dg.MultiPartitionsDefinition({"day": CATALOG_DAYS, "distributor": DISTRIBUTOR_PARTITIONS})
CATALOG_PARTITION_EXPR = {"day": "snapshot_date", "distributor": "distributor"}
# The catalog's tables live in the `products` schema (sql/003, sql/009), not in one named after the domain.
CATALOG_TABLE = {"partition_expr": CATALOG_PARTITION_EXPR, "schema": "products", STORAGE: "warehouse"}
BASELINE_DAYS = 31  # how far back the audit looks for the distributor's previous snapshot
MAX_BASELINE_EVENTS = 10_000  # materializations read to find it (re-runs of a day each add one)
PRICE_LOOKBACK_DAYS = 7  # price changes compare with the newest snapshot this many days back at most

# Plausible unit prices in BRL per category (a module below R$ 100 or a kit above R$ 2 million is a parse
# error or a placeholder, not an offer).
PRICE_RANGES: dict[str, tuple[float, float]] = {
    "module": (100, 10_000),
    "inverter": (300, 500_000),
    "microinverter": (200, 20_000),
    "hybrid_inverter": (1_000, 500_000),
    "battery": (300, 500_000),
    "charge_controller": (50, 20_000),
    "structure": (10, 50_000),
    "kit": (1_000, 2_000_000),
    "other": (1, 2_000_000),
}
KWP_TOLERANCE = 0.05  # a kit's stated kWp against the sum of its modules' power
MAX_QUARANTINE_SHARE_CHECK = 0.10  # the check's ERROR threshold per distributor and day


class CatalogLoadConfig(LoadAuditConfig):
    """A distributor's daily snapshot: refused when it lost more than half of the previous snapshot's rows, or
    when more than half of its records cannot be used (its layout changed under the adapter). Below that, the
    `quarantine_share` checks report ERROR past MAX_QUARANTINE_SHARE_CHECK."""

    max_partition_shrink: float = 0.50
    max_quarantine_share: float = 0.50


def _day_and_distributor(context: dg.AssetExecutionContext) -> tuple[date, str]:
    keys = CATALOG_PARTITIONS.get_partition_key_from_str(context.partition_key).keys_by_dimension
    return date.fromisoformat(keys["day"]), keys["distributor"]


def _previous_snapshot_rows(instance: dg.DagsterInstance, key: dg.AssetKey, day: date, distributor: str) -> int:
    """Rows of the distributor's newest snapshot before `day` (0 when there is none), from its materialization."""
    partitions = [
        str(dg.MultiPartitionKey({"day": (day - timedelta(days=n)).isoformat(), "distributor": distributor}))
        for n in range(1, BASELINE_DAYS + 1)
    ]
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=partitions), limit=MAX_BASELINE_EVENTS
    ).records
    newest = max(records, key=lambda r: (r.partition_key, r.timestamp), default=None)
    if newest is None:
        return 0
    count = newest.asset_materialization.metadata.get("dagster/partition_row_count")
    return int(count.value) if count is not None else 0


def _read_files(source: CatalogSource, distributor: str, day: date) -> list[CatalogBatch]:
    with source.files(distributor, day) as files:
        if not files:
            raise dg.Failure(f"no {distributor} catalog files for {day}: drop them under catalogs/{distributor}/")
        batches = []
        for file in files:
            try:
                batch = read_catalog(distributor, file.path)
            except CatalogFormatError as error:
                raise dg.Failure(
                    description=f"{file.name}: {error}", metadata={"file": file.name, "sha256": file.sha256}
                ) from None
            batch.file = file.name
            batches.append(batch)
        return batches


def _load(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    key: dg.AssetKey,
    frame: pl.DataFrame,
    rejected: pl.DataFrame,
    config: CatalogLoadConfig,
    unique_key: tuple[str, ...],
    source: str,
) -> tuple[AuditedLoad, list[AuditResult]]:
    """The frame as an audited load, its rejected records staged in the quarantine, and the count audits it
    already fails: products and kits are checked together before either is written, so a refused snapshot
    publishes neither (each is audited again, on what was staged, when it is written)."""
    day, distributor = _day_and_distributor(context)
    with warehouse.quarantine_writer(key, context.run.run_id, source) as sink:
        sink.write(rejected, context.partition_key)
    previous = _previous_snapshot_rows(context.instance, key, day, distributor)
    baseline = {context.partition_key: previous} if previous else {}
    if frame.is_empty() and rejected.is_empty():  # the distributor publishes none of these (kits, or products)
        config = config.model_copy(update={"allow_empty_source": True})  # the shrink audit still guards
    load = AuditedLoad(
        frame,
        policy=AuditPolicy(thresholds=config, unique_key=unique_key),
        source_rows=lambda: frame.height + rejected.height,
        source=source,
        baseline_rows=lambda: baseline,
    )
    audits = count_audits(
        config, frame.height + rejected.height, {context.partition_key: frame.height}, baseline, rejected.height
    )
    return load, [audit for audit in audits if not audit.passed]


def _catalog_check(asset: dg.AssetKey, name: str, description: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name, asset=asset, partitions_def=CATALOG_PARTITIONS, description=description)


PRODUCT_CHECKS = [
    _catalog_check(
        PRODUCTS, "price_plausible", "Every priced product costs more than 0 and within its category's range."
    ),
    _catalog_check(
        PRODUCTS,
        "unique_source_ids",
        "WARN when a day's files repeat a (distributor, source id): the load keeps one copy, quarantines the rest.",
    ),
    _catalog_check(
        PRODUCTS,
        "quarantine_share",
        f"ERROR when more than {MAX_QUARANTINE_SHARE_CHECK:.0%} of the distributor's product records were rejected.",
    ),
]
KIT_CHECKS = [
    _catalog_check(
        SOLAR_KITS, "kwp_matches_modules", f"A kit's kWp is the sum of its modules within {KWP_TOLERANCE:.0%}."
    ),
    _catalog_check(
        SOLAR_KITS,
        "unique_source_ids",
        "WARN when a day's files repeat a kit id: the load keeps one copy, quarantines the rest.",
    ),
    _catalog_check(
        SOLAR_KITS,
        "quarantine_share",
        f"ERROR when more than {MAX_QUARANTINE_SHARE_CHECK:.0%} of the distributor's kit records were rejected.",
    ),
]


@dg.multi_asset(
    outs={
        PRODUCTS.to_python_identifier(): dg.AssetOut(
            key=PRODUCTS,
            description="Distributor products (modules, inverters, batteries, ...) with normalized brands and BRL "
            "prices, one snapshot per day and distributor: prices have history.",
            metadata=CATALOG_TABLE,
            kinds={"polars"},
        ),
        SOLAR_KITS.to_python_identifier(): dg.AssetOut(
            key=SOLAR_KITS,
            description="Solar kits with kWp, price and structure; stable kit ids where a source reuses its own.",
            metadata=CATALOG_TABLE,
            kinds={"polars"},
        ),
        KIT_COMPONENTS.to_python_identifier(): dg.AssetOut(
            key=KIT_COMPONENTS,
            description="Each kit's components (modules, inverters, batteries, ...), linked to matching products.",
            metadata=CATALOG_TABLE,
            kinds={"polars"},
        ),
    },
    internal_asset_deps={
        PRODUCTS.to_python_identifier(): set(),
        SOLAR_KITS.to_python_identifier(): {PRODUCTS},
        KIT_COMPONENTS.to_python_identifier(): {SOLAR_KITS, PRODUCTS},
    },
    check_specs=[*PRODUCT_CHECKS, *KIT_CHECKS],
    partitions_def=CATALOG_PARTITIONS,
    group_name=GROUP,
)
def catalog_snapshot(
    context: dg.AssetExecutionContext, config: CatalogLoadConfig, catalog_source: CatalogSource, warehouse: Warehouse
):
    """One distributor's files for one day, read by its adapter into products, kits and kit components."""
    day, distributor = _day_and_distributor(context)
    batches = _read_files(catalog_source, distributor, day)
    source = ", ".join(b.file for b in batches)
    product_batches = [b for b in batches if b.holds != "kits"]  # a file's rejected records go with its layout
    kit_batches = [b for b in batches if b.holds == "kits"]
    products = products_frame(batches, day)
    kits = kits_frame(batches, day)
    components = link_components(components_frame(batches, day), products)

    product_load, product_refusals = _load(
        context, warehouse, PRODUCTS, products, rejected_frame(product_batches), config,
        ("snapshot_date", "distributor", "product_id"), source,
    )  # fmt: skip
    kit_load, kit_refusals = _load(
        context, warehouse, SOLAR_KITS, kits, rejected_frame(kit_batches), config,
        ("snapshot_date", "distributor", "kit_id"), source,
    )  # fmt: skip
    refusals = {PRODUCTS: product_refusals, SOLAR_KITS: kit_refusals}
    if any(refusals.values()):
        for key in refusals:
            warehouse.reject_quarantine(key, context.run.run_id)
        reasons = "; ".join(
            f"{key.to_user_string()} {a.name}: {a.figures.get('reason')}"
            for key, found in refusals.items()
            for a in found
        )
        raise dg.Failure(
            description=f"{distributor} snapshot of {day} refused, nothing published: {reasons}",
            metadata={key.to_user_string(): {a.name: a.figures for a in found} for key, found in refusals.items()},
        )
    repeated = {"repeated_records": sum(b.repeated for b in product_batches)}  # identical copies, counted
    yield dg.Output(product_load, output_name=PRODUCTS.to_python_identifier(), metadata=repeated)
    repeated = {"repeated_records": sum(b.repeated for b in kit_batches)}
    yield dg.Output(kit_load, output_name=SOLAR_KITS.to_python_identifier(), metadata=repeated)
    component_load = AuditedLoad(  # kits without components publish none; a distributor without kits, no rows
        components,
        policy=AuditPolicy(
            thresholds=LoadAuditConfig(allow_empty_source=True),
            unique_key=("snapshot_date", "distributor", "kit_id", "component_index"),
        ),
        source=source,
    )
    yield dg.Output(component_load, output_name=KIT_COMPONENTS.to_python_identifier())

    partition = context.partition_key
    product_report, kit_report = audit_report(product_load), audit_report(kit_load)
    log_partition_checks(
        context,
        PRODUCTS,
        {
            "price_plausible": ({partition: price_plausible(products)}, dg.AssetCheckSeverity.ERROR),
            "unique_source_ids": ({partition: _unique(product_report, partition)}, dg.AssetCheckSeverity.WARN),
            "quarantine_share": (
                {partition: quarantine_share_check(product_report, partition, MAX_QUARANTINE_SHARE_CHECK)},
                dg.AssetCheckSeverity.ERROR,
            ),
        },
    )
    log_partition_checks(
        context,
        SOLAR_KITS,
        {
            "kwp_matches_modules": ({partition: kwp_matches_modules(kits, components)}, dg.AssetCheckSeverity.WARN),
            "unique_source_ids": ({partition: _unique(kit_report, partition)}, dg.AssetCheckSeverity.WARN),
            "quarantine_share": (
                {partition: quarantine_share_check(kit_report, partition, MAX_QUARANTINE_SHARE_CHECK)},
                dg.AssetCheckSeverity.ERROR,
            ),
        },
    )
    for spec in [*PRODUCT_CHECKS, *KIT_CHECKS]:
        yield check_output(spec.asset_key, spec.name)


def price_plausible(products: pl.DataFrame) -> PartitionCheck:
    low = pl.col("category").replace_strict({k: v[0] for k, v in PRICE_RANGES.items()}, default=1.0)
    high = pl.col("category").replace_strict({k: v[1] for k, v in PRICE_RANGES.items()}, default=2_000_000.0)
    offending = products.filter(pl.col("price_brl").is_not_null() & ~pl.col("price_brl").is_between(low, high))
    sample = offending.select("product_id", "category", "name", "price_brl").head(10).to_dicts()
    return PartitionCheck(
        offending.is_empty(),
        {"offending_rows": offending.height, "priced_rows": products["price_brl"].count(), "sample": sample,
         "ranges_brl": dg.MetadataValue.json(PRICE_RANGES)},
    )  # fmt: skip


def kwp_matches_modules(kits: pl.DataFrame, components: pl.DataFrame) -> PartitionCheck:
    """Kits whose modules (quantity x unit power, all known) sum to more than the tolerance away from the kWp."""
    modules = (
        components.filter(pl.col("component_type") == "module")
        .group_by("kit_id")
        .agg(
            module_kwp=(pl.col("quantity") * pl.col("power_w")).sum() / 1000,
            complete=pl.col("quantity").is_not_null().all() & pl.col("power_w").is_not_null().all(),
        )
    )
    compared = kits.join(modules, on="kit_id", how="inner").filter(
        pl.col("complete") & pl.col("system_power_kwp").is_not_null()
    )
    off = compared.filter(
        ((pl.col("module_kwp") - pl.col("system_power_kwp")).abs() / pl.col("system_power_kwp")) > KWP_TOLERANCE
    )
    sample = off.select("kit_id", "name", "system_power_kwp", "module_kwp").head(10).to_dicts()
    return PartitionCheck(
        off.is_empty(),
        {"kits_compared": compared.height, "kits_off": off.height, "tolerance": KWP_TOLERANCE, "sample": sample},
    )


def _unique(report: AuditReport, partition: str) -> PartitionCheck:
    """Ids the day's records repeated: the load resolved them (one copy kept, the others quarantined)."""
    repeated = report.repeated_keys.get(partition, 0)
    return PartitionCheck(repeated == 0, {"repeated_ids_resolved": repeated})


# The same distributor's snapshots of the day and of the week before it (none before the first day).
DAY_AND_WEEK_BEFORE = dg.MultiPartitionMapping(
    {
        "day": dg.DimensionPartitionMapping(
            "day",
            dg.TimeWindowPartitionMapping(
                start_offset=-PRICE_LOOKBACK_DAYS, end_offset=0, allow_nonexistent_upstream_partitions=True
            ),
        ),
        "distributor": dg.DimensionPartitionMapping("distributor", dg.IdentityPartitionMapping()),
    }
)


@dg.asset(
    key=PRICE_CHANGES,
    partitions_def=CATALOG_PARTITIONS,
    ins={"snapshots": dg.AssetIn(PRODUCTS, partition_mapping=DAY_AND_WEEK_BEFORE)},
    group_name=GROUP,
    kinds={"polars"},
    metadata={STORAGE: "warehouse"},
    description="A distributor's price changes since its previous snapshot (at most a week back), written to "
    "audit.change_log.",
)
def catalog_price_changes(
    context: dg.AssetExecutionContext, snapshots: pl.DataFrame, warehouse: Warehouse
) -> dg.MaterializeResult:
    day, _ = _day_and_distributor(context)
    today = snapshots.filter(pl.col("snapshot_date") == day)
    earlier = snapshots.filter(pl.col("snapshot_date") < day)["snapshot_date"].max()
    yesterday = snapshots.filter(pl.col("snapshot_date") == earlier)  # the previous snapshot, skipped days aside
    changes = price_changes(yesterday, today)
    warehouse.replace_changes(PRICE_CHANGES, context.partition_key, context.run.run_id, changes)
    before, after = set(yesterday["product_id"]), set(today["product_id"])
    return dg.MaterializeResult(
        metadata={
            "dagster/partition_row_count": changes.height,
            "price_changes": changes.height,
            "new_products": len(after - before),
            "gone_products": len(before - after),
            "previous_snapshot_rows": yesterday.height,
        }
    )


CERTIFICATIONS = dg.AssetKey(["catalog", "certifications"])
CERTIFICATION_LINKS = dg.AssetKey(["catalog", "certification_links"])
EQUIPMENT_PARTITIONS = dg.StaticPartitionsDefinition(list(EQUIPMENT_TYPES))


@dg.asset(
    key=CERTIFICATIONS,
    partitions_def=EQUIPMENT_PARTITIONS,
    metadata={"partition_expr": "equipment_type", "schema": "aneel", STORAGE: "warehouse"},
    group_name=GROUP,
    kinds={"polars"},
    description="Certified equipment of one type: the CEC module and inverter lists and INMETRO registrations.",
)
def certifications(
    context: dg.AssetExecutionContext, config: LoadAuditConfig, catalog_source: CatalogSource, warehouse: Warehouse
) -> dg.Output:
    equipment_type = context.partition_key
    with catalog_source.certification_files() as files:
        loaded = [load_certification_file(file.path, file.name, equipment_type) for file in files]
        names = [file.name for file in files]
    batches = [b for b in loaded if b is not None]  # the lists of this type, with their rejected records
    if not batches:
        raise dg.Failure(f"no {equipment_type} certification list among {names}")
    frames = [b.certifications.filter(pl.col("equipment_type") == equipment_type) for b in batches]
    rows = pl.concat(
        [pl.DataFrame(schema=CERTIFICATION_SCHEMA), *(f.select(CERTIFICATION_SCHEMA.names()) for f in frames)]
    )
    rejected = pl.concat([b.rejected for b in batches]).select(
        line_number="record", reason="reason", raw_record="raw_record"
    )
    source = ", ".join(b.file for b in batches)
    with warehouse.quarantine_writer(CERTIFICATIONS, context.run.run_id, source) as sink:
        sink.write(rejected, equipment_type)
    load = AuditedLoad(
        rows,
        policy=AuditPolicy(thresholds=config, unique_key=("equipment_type", "certifier", "manufacturer", "model")),
        source_rows=lambda: rows.height + rejected.height,
        source=source,
    )
    by_certifier = dict(rows.group_by("certifier").len().iter_rows()) if rows.height else {}
    duplicates = sum(b.duplicates_resolved for b in batches)
    return dg.Output(load, metadata={"rows_by_certifier": by_certifier, "duplicates_resolved_in_lists": duplicates})


@dg.asset(
    key=CERTIFICATION_LINKS,
    partitions_def=CATALOG_PARTITIONS,
    ins={
        "products": dg.AssetIn(PRODUCTS),
        "certified": dg.AssetIn(CERTIFICATIONS, partition_mapping=dg.AllPartitionMapping()),
    },
    metadata=CATALOG_TABLE,
    group_name=GROUP,
    kinds={"polars"},
    description="Each product's best certification (exact, family or fuzzy match by manufacturer, model and power "
    "class), with a confidence; products that match none are listed by the check.",
)
def certification_links(products: pl.DataFrame, certified: pl.DataFrame) -> AuditedLoad:
    columns = ["snapshot_date", "distributor", "product_id", "category", "manufacturer", "model", "power_w"]
    links = match_certifications(products.select(columns), certified)
    return AuditedLoad(  # a distributor that sells only kits has no products to link
        links,
        policy=AuditPolicy(
            thresholds=LoadAuditConfig(allow_empty_source=products.is_empty()),
            unique_key=("snapshot_date", "distributor", "product_id"),
        ),
    )
