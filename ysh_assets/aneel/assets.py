"""ANEEL assets: the dataset catalog, the raw published files, generation units and tariffs.

Raw files are downloaded conditionally (ETag / Last-Modified of the last stored snapshot) into the object
store; when the portal fails for good, the last good snapshot is kept and the materialization says since
when it is stale. Parsed assets always read the latest stored snapshot, stream it through the parser
and the warehouse IO manager, and quarantine what cannot be typed.
"""

import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import polars as pl

from ysh_assets.aneel.ckan import CkanError, CkanResource
from ysh_assets.aneel.parsing import UFS, GdUnitsReader, HeaderReport, read_tariffs
from ysh_assets.aneel.portal import AneelPortal
from ysh_assets.io_managers.frames import FrameStream
from ysh_assets.io_managers.object_store import ObjectStore, RawFile, StoredObject, latest_stored
from ysh_assets.io_managers.redis_cache import TTL_METADATA_KEY
from ysh_assets.warehouse.sql import Warehouse

TIMEZONE = "America/Sao_Paulo"
# end_offset=1: today's snapshot is a partition of its own, named by the day it was taken.
SNAPSHOT_DAYS = dg.DailyPartitionsDefinition(start_date="2026-01-01", timezone=TIMEZONE, end_offset=1)
UF_PARTITIONS = dg.StaticPartitionsDefinition(list(UFS))
TARIFF_YEARS = dg.TimeWindowPartitionsDefinition(
    cron_schedule="0 0 1 1 *", start="2010", fmt="%Y", timezone=TIMEZONE, end_offset=1
)

DATASETS = dg.AssetKey(["aneel", "datasets"])
GD_UNITS_RAW = dg.AssetKey(["aneel", "gd_units_raw"])
TARIFFS_RAW = dg.AssetKey(["aneel", "tariffs_raw"])
GENERATION_UNITS = dg.AssetKey(["aneel", "generation_units"])
TARIFFS = dg.AssetKey(["aneel", "tariffs"])

PORTAL_RETRY = dg.RetryPolicy(max_retries=2, delay=60, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


def today_in_brazil() -> date:
    return datetime.now(ZoneInfo(TIMEZONE)).date()


@dg.asset(
    key=DATASETS,
    partitions_def=SNAPSHOT_DAYS,
    metadata={"partition_expr": "snapshot_date"},
    kinds={"python", "postgres"},
    owners=["team:data-platform"],
    pool="aneel_portal",
    retry_policy=PORTAL_RETRY,
)
def datasets(context: dg.AssetExecutionContext, aneel_portal: AneelPortal) -> pl.DataFrame:
    """One row per tracked CKAN resource: the catalog as the portal describes it today."""
    rows = []
    with aneel_portal.client() as client:
        for tracked in aneel_portal.tracked().values():
            resource = client.resource(tracked.package, tracked.resource_id)
            rows.append(_catalog_row(resource, date.fromisoformat(context.partition_key)))
    return pl.DataFrame(
        rows,
        schema={
            "snapshot_date": pl.Date,
            "package_id": pl.String,
            "package_name": pl.String,
            "resource_id": pl.String,
            "name": pl.String,
            "format": pl.String,
            "size_bytes": pl.Int64,
            "last_modified": pl.Datetime("us", "UTC"),
            "ckan_hash": pl.String,
            "url": pl.String,
        },
        orient="row",
    )


def _catalog_row(resource: CkanResource, snapshot: date) -> tuple:
    return (
        snapshot,
        resource.package_id,
        resource.package_name,
        resource.resource_id,
        resource.name,
        resource.format,
        resource.size,
        resource.last_modified,
        resource.hash,
        resource.url,
    )


def _raw_snapshot_asset(tracked_name: str, description: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=["aneel", f"{tracked_name}_raw"],
        partitions_def=SNAPSHOT_DAYS,
        deps=[DATASETS],
        io_manager_key="object_store_io_manager",
        kinds={"python", "s3"},
        owners=["team:data-platform"],
        pool="aneel_portal",
        description=description,
    )
    def raw_snapshot(context: dg.AssetExecutionContext, aneel_portal: AneelPortal, object_store: ObjectStore):
        previous = latest_stored(object_store, context.asset_key)
        tracked = aneel_portal.tracked()[tracked_name]
        known = previous.source if previous else {}
        spool = tempfile.NamedTemporaryFile(prefix=f"ysh-{tracked_name}-", delete=False)  # noqa: SIM115
        try:
            with spool, aneel_portal.client() as client:
                resource = client.resource(tracked.package, tracked.resource_id)
                result = client.download(
                    resource.url, spool, etag=known.get("etag"), last_modified=known.get("http_last_modified")
                )
        except CkanError as error:
            os.unlink(spool.name)
            if previous is None:
                raise
            stale_since = known.get("downloaded_at", previous.stored_at)
            context.log.warning(f"ANEEL portal failed ({error}); keeping the snapshot downloaded at {stale_since}")
            context.add_output_metadata({"stale": True, "stale_since": stale_since, "error": str(error)})
            return previous
        except BaseException:
            os.unlink(spool.name)
            raise
        if result.status == "not_modified" and previous is not None:
            os.unlink(spool.name)
            context.add_output_metadata({"stale": False, "unchanged": True, "reason": "304 Not Modified"})
            return previous
        context.add_output_metadata({"stale": False, "unchanged": False, "is_zip": result.is_zip})
        return RawFile(
            path=Path(spool.name),
            filename=resource.name,
            sha256=result.sha256,
            temporary=True,
            source={
                "url": resource.url,
                "package_id": resource.package_id,
                "resource_id": resource.resource_id,
                "last_modified": resource.last_modified.isoformat() if resource.last_modified else None,
                "etag": result.etag,
                "http_last_modified": result.last_modified,
                "downloaded_at": datetime.now(UTC).isoformat(),
            },
        )

    return raw_snapshot


gd_units_raw = _raw_snapshot_asset(
    "gd_units", "The published GD units file (a ZIP behind a .csv URL), as downloaded, content-addressed."
)
tariffs_raw = _raw_snapshot_asset("tariffs", "The published homologated-tariffs CSV, as downloaded, content-addressed.")


def _latest_snapshot(object_store: ObjectStore, key: dg.AssetKey) -> StoredObject:
    stored = latest_stored(object_store, key)
    if stored is None:
        raise dg.Failure(f"no snapshot of {key.to_user_string()} is stored yet: materialize it first")
    return stored


def _header_metadata(header: HeaderReport | None) -> dict:
    if header is None:
        return {}
    return {
        "source_encoding": header.encoding,
        "header_variant": header.variant,
        "unknown_columns": header.unknown_columns,
        "missing_columns": header.missing_columns,
    }


def _source_metadata(snapshot: StoredObject) -> dict:
    return {
        "source_sha256": snapshot.sha256,
        "source_key": snapshot.key,
        "source_downloaded_at": str(snapshot.source.get("downloaded_at", snapshot.stored_at)),
    }


def _field_of_raw_line(index: int) -> pl.Expr:
    """A field of the raw published line (`;`-separated, quoted), to file quarantine rows under a partition."""
    return pl.col("raw_record").str.split(";").list.get(index, null_on_oob=True).str.strip_chars('" ')


class GenerationUnitsConfig(dg.Config):
    row_count_tolerance: float = 0.10  # WARN when a UF's row count moves more than this share since last load
    max_quarantine_share: float = 0.001  # ERROR (blocking) above this share of quarantined rows


@dg.asset(
    key=GENERATION_UNITS,
    partitions_def=UF_PARTITIONS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[dg.AssetDep(GD_UNITS_RAW, partition_mapping=dg.LastPartitionMapping())],
    metadata={"partition_expr": "sig_uf"},
    kinds={"polars", "postgres"},
    owners=["team:data-platform"],
    pool="heavy_load",
    check_specs=[
        dg.AssetCheckSpec("quarantine_share", asset=GENERATION_UNITS, blocking=True),
        dg.AssetCheckSpec("row_count_change", asset=GENERATION_UNITS),
        dg.AssetCheckSpec("schema_drift", asset=GENERATION_UNITS),
    ],
)
def generation_units(
    context: dg.AssetExecutionContext, config: GenerationUnitsConfig, object_store: ObjectStore, warehouse: Warehouse
) -> Iterator:
    """Distributed-generation units, typed, one partition per UF. A single-run backfill of all UFs reads the
    file once; one UF can be re-run alone. Rows that fail typing are quarantined with the raw line."""
    snapshot = _latest_snapshot(object_store, GD_UNITS_RAW)
    ufs = sorted(context.partition_keys)
    outcome: dict = {}

    def batches() -> Iterator[pl.DataFrame]:
        per_uf: Counter[str] = Counter()
        with (
            snapshot.local_path() as path,
            warehouse.quarantine_writer(context.asset_key, ufs, context.run.run_id, snapshot.key) as quarantine,
        ):
            reader = GdUnitsReader(path, ufs=ufs)
            uf_field = _field_of_raw_line(reader.open_header().columns.index("SigUF"))
            for batch in reader:
                quarantine.write(batch.quarantine, pl.when(uf_field.is_in(ufs)).then(uf_field))
                per_uf.update(dict(batch.rows["sig_uf"].value_counts().iter_rows()))
                yield batch.rows
        outcome.update(reader=reader, per_uf=per_uf)

    def summary() -> dict:
        reader: GdUnitsReader = outcome["reader"]
        considered = reader.rows_loaded + reader.rows_quarantined
        outcome["share"] = reader.rows_quarantined / considered if considered else 0.0
        return {
            "rows_read": reader.rows_read,
            "rows_loaded": reader.rows_loaded,
            "rows_quarantined": reader.rows_quarantined,
            "rows_other_ufs": reader.rows_skipped,
            "quarantine_share": outcome["share"],
            "rows_by_uf": dict(sorted(outcome["per_uf"].items())),
            **_header_metadata(reader.header),
            **_source_metadata(snapshot),
        }

    yield dg.Output(FrameStream(batches(), summary=summary))

    reader = outcome["reader"]
    yield dg.AssetCheckResult(
        check_name="quarantine_share",
        passed=outcome["share"] <= config.max_quarantine_share,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "quarantine_share": outcome["share"],
            "max_share": config.max_quarantine_share,
            "rows_quarantined": reader.rows_quarantined,
            "where": "pipeline.quarantine",
        },
    )
    yield _row_count_change(context, outcome["per_uf"], ufs, config.row_count_tolerance)
    yield dg.AssetCheckResult(
        check_name="schema_drift",
        passed=not reader.header.unknown_columns and not reader.header.missing_columns,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=_header_metadata(reader.header),
    )


def _row_count_change(
    context: dg.AssetExecutionContext, per_uf: Counter, ufs: list[str], tolerance: float
) -> dg.AssetCheckResult:
    """Compares each UF's row count with its previous materialization (another run's), as a WARN."""
    changes = {}
    for uf in ufs:
        records = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=context.asset_key, asset_partitions=[uf]), limit=5
        ).records
        previous = next((r for r in records if r.run_id != context.run.run_id), None)
        if previous is None:
            continue
        rows_by_uf = previous.asset_materialization.metadata.get("rows_by_uf")
        before = rows_by_uf.value.get(uf) if rows_by_uf else None
        if before:
            changes[uf] = (per_uf.get(uf, 0) - before) / before
    outside = {uf: round(change, 4) for uf, change in changes.items() if abs(change) > tolerance}
    return dg.AssetCheckResult(
        check_name="row_count_change",
        passed=not outside,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"tolerance": tolerance, "compared_ufs": len(changes), "outside_tolerance": outside},
    )


@dg.asset(
    key=TARIFFS,
    partitions_def=TARIFF_YEARS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[dg.AssetDep(TARIFFS_RAW, partition_mapping=dg.LastPartitionMapping())],
    metadata={"partition_expr": "dat_inicio_vigencia"},
    kinds={"polars", "postgres"},
    owners=["team:data-platform"],
)
def tariffs(context: dg.AssetExecutionContext, object_store: ObjectStore, warehouse: Warehouse) -> pl.DataFrame:
    """Homologated distributor tariffs, partitioned by the year their validity starts; values in the
    published unit and in R$/kWh where that unit is MWh, flags for the applied tariff and SCEE rows."""
    snapshot = _latest_snapshot(object_store, TARIFFS_RAW)
    years = sorted(int(key) for key in context.partition_keys)
    with snapshot.local_path() as path:
        parsed, header = read_tariffs(path, start_years=years)
    start_year = _field_of_raw_line(header.columns.index("DatInicioVigencia")).str.slice(0, 4)
    quarantine = parsed.quarantine.with_columns(partition_key=start_year.cast(pl.Int32, strict=False).cast(pl.String))
    quarantine = quarantine.filter(
        pl.col("partition_key").is_null() | pl.col("partition_key").is_in(context.partition_keys)
    )
    run_id = context.run.run_id
    with warehouse.quarantine_writer(context.asset_key, context.partition_keys, run_id, snapshot.key) as sink:
        sink.write(quarantine, pl.col("partition_key"))
    context.add_output_metadata(
        {
            "rows_quarantined": quarantine.height,
            "years": f"{years[0]}..{years[-1]}",
            **_header_metadata(header),
            **_source_metadata(snapshot),
        }
    )
    return parsed.rows


# The tariff in force is the applied one ("Tarifa de Aplicação"), per distributor and tariff position.
CURRENT_TARIFF_KEY = [
    "num_cnpj_distribuidora",
    "dsc_sub_grupo",
    "dsc_modalidade_tarifaria",
    "nom_posto_tarifario",
    "dsc_classe",
    "dsc_sub_classe",
    "dsc_detalhe",
    "dsc_unidade_terciaria",
    "sig_agente_acessante",
]


CURRENT_TARIFF_VALUES = [
    "sig_agente",
    "dat_inicio_vigencia",
    "dat_fim_vigencia",
    "dsc_reh",
    "vlr_tusd",
    "vlr_te",
    "vlr_tusd_rs_kwh",
    "vlr_te_rs_kwh",
    "is_scee",
]


def tariffs_in_force(tariffs: pl.DataFrame, on: date) -> pl.DataFrame:
    """Rows valid on `on` (start <= on <= end), the latest start winning where publications overlap."""
    return (
        tariffs.filter(
            pl.col("is_tarifa_aplicacao")
            & (pl.col("dat_inicio_vigencia") <= on)
            & (pl.col("dat_fim_vigencia").is_null() | (pl.col("dat_fim_vigencia") >= on))
        )
        .sort("dat_inicio_vigencia", "dat_geracao_conjunto_dados", descending=True, nulls_last=True)
        .unique(subset=CURRENT_TARIFF_KEY, keep="first", maintain_order=True)
        .select(*CURRENT_TARIFF_KEY, *CURRENT_TARIFF_VALUES)
        .with_columns(in_force_on=pl.lit(on))
        .sort(CURRENT_TARIFF_KEY)
    )


@dg.asset(
    key=["aneel", "tariffs_current"],
    ins={"tariffs": dg.AssetIn(key=TARIFFS)},
    io_manager_key="hot_cache_io_manager",
    metadata={TTL_METADATA_KEY: 26 * 3600},
    kinds={"polars", "redis"},
    owners=["team:data-platform"],
)
def tariffs_current(context: dg.AssetExecutionContext, tariffs: pl.DataFrame) -> pl.DataFrame:
    """The tariff in force today per distributor CNPJ / subgroup / modality / posto: a hot lookup in Redis
    with its warehouse copy."""
    current = tariffs_in_force(tariffs, today_in_brazil())
    context.add_output_metadata({"distributors": current["num_cnpj_distribuidora"].n_unique()})
    return current
