"""ANEEL assets: the dataset catalog, the raw published files, generation units and tariffs.

Raw files are downloaded conditionally (ETag / Last-Modified that the latest snapshot's materialization
recorded) into the object store; when the portal fails for good, the last good snapshot is kept and the
materialization says since when it is stale. A raw snapshot's data version is its content
sha256, so every load records which file it was loaded from. Parsed assets read the latest snapshot through
their input (LastPartitionMapping), stream it through the parser and the warehouse IO manager, and
quarantine what cannot be typed.
"""

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import polars as pl

from ysh_assets.aneel.ckan import CkanClient, CkanResource, DownloadResult
from ysh_assets.aneel.parsing import (
    MUNICIPIO_OUTSIDE_UF,
    UFS,
    AneelFormatError,
    GdUnitsReader,
    HeaderReport,
    read_tariffs,
    zip_members,
)
from ysh_assets.aneel.portal import AneelPortal, PortalsFailed, change_since
from ysh_assets.calendar import TIMEZONE, today_in_brazil
from ysh_assets.check_results import PartitionCheck, check_output, log_partition_checks, quarantine_share_check
from ysh_assets.io_managers.audit import (
    AuditedLoad,
    AuditPolicy,
    AuditReport,
    LoadAuditConfig,
    RowAudit,
    RowCheck,
    audit_report,
)
from ysh_assets.io_managers.frames import STORAGE, FrameStream
from ysh_assets.io_managers.object_store import KeepLatest, RawFile, StoredObject
from ysh_assets.io_managers.redis_cache import TTL_METADATA_KEY
from ysh_assets.ops.quotas import FAILOVER_METADATA_KEYS
from ysh_assets.warehouse.sql import Warehouse
from ysh_assets.warehouse.versions import KEEP_PREVIOUS_VERSION

GROUP = "aneel"
# end_offset=1: today's snapshot is a partition of its own, named by the day it was taken.
SNAPSHOT_DAYS = dg.DailyPartitionsDefinition(start_date="2026-01-01", timezone=TIMEZONE, end_offset=1)
UF_PARTITIONS = dg.StaticPartitionsDefinition(list(UFS))
# end_offset=2: next year exists too, for tariffs published in December that start on 1 January.
TARIFF_YEARS = dg.TimeWindowPartitionsDefinition(
    cron_schedule="0 0 1 1 *", start="2010", fmt="%Y", timezone=TIMEZONE, end_offset=2
)

DATASETS = dg.AssetKey(["aneel", "datasets"])
GD_UNITS_RAW = dg.AssetKey(["aneel", "gd_units_raw"])
TARIFFS_RAW = dg.AssetKey(["aneel", "tariffs_raw"])
GENERATION_UNITS = dg.AssetKey(["aneel", "generation_units"])
TARIFFS = dg.AssetKey(["aneel", "tariffs"])

PORTAL_RETRY = dg.RetryPolicy(max_retries=2, delay=60, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


@dg.asset(
    key=DATASETS,
    partitions_def=SNAPSHOT_DAYS,
    group_name=GROUP,
    kinds={"python"},
    metadata={"partition_expr": "snapshot_date", STORAGE: "warehouse"},
    owners=["team:data-platform"],
    pool="aneel_portal",
    retry_policy=PORTAL_RETRY,
)
def datasets(context: dg.AssetExecutionContext, aneel_portal: AneelPortal, warehouse: Warehouse) -> pl.DataFrame:
    """One row per tracked CKAN resource: the catalog as the portal describes it today. When the portal API is
    down, the last catalog is carried forward and the materialization says since when (the raw files then
    fall back on their last good snapshot the same way)."""
    snapshot = date.fromisoformat(context.partition_key)

    def catalog(client: CkanClient) -> list[tuple]:
        return [
            _catalog_row(client.resource(tracked.package, tracked.resource_id), snapshot)
            for tracked in aneel_portal.tracked().values()
        ]

    try:
        rows, walk = aneel_portal.with_failover(catalog)
    except PortalsFailed as error:
        previous = _previous_catalog(warehouse, snapshot)
        if previous.is_empty():
            raise _portal_failure(error, aneel_portal) from error
        stale_since = previous["snapshot_date"].max()
        context.log.warning(f"ANEEL portal failed ({error}); carrying the catalog of {stale_since} forward")
        context.add_output_metadata(
            {
                "stale": True,
                "stale_since": str(stale_since),
                "error": str(error),
                **error.fell_back(f"aneel.datasets {stale_since}").metadata(),
            }
        )
        return previous.with_columns(snapshot_date=pl.lit(snapshot)).cast(CATALOG_SCHEMA)
    context.add_output_metadata({"stale": False, **walk.metadata()})
    return pl.DataFrame(rows, schema=CATALOG_SCHEMA, orient="row")


CATALOG_SCHEMA = {
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
}


def _previous_catalog(warehouse: Warehouse, before: date) -> pl.DataFrame:
    if not warehouse.table_exists("aneel.datasets"):
        return pl.DataFrame(schema=CATALOG_SCHEMA)
    rows = warehouse.query(
        f"SELECT {', '.join(CATALOG_SCHEMA)} FROM aneel.datasets WHERE snapshot_date = "
        "(SELECT max(snapshot_date) FROM aneel.datasets WHERE snapshot_date < %s)",
        (before,),
    )
    return rows.with_columns(pl.col("last_modified").dt.convert_time_zone("UTC")) if rows.height else rows


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


def recorded_snapshot(instance: dg.DagsterInstance, raw_key: dg.AssetKey) -> dict:
    """What the latest materialization of a raw snapshot recorded: `sha256` (its data version) and its source
    (catalog entry, HTTP validators, reported as `source_*` by the object store IO manager); empty when it
    was never materialized. The raw assets and the hourly schedule both start from it."""
    records = instance.fetch_materializations(raw_key, limit=1).records
    if not records:
        return {}
    metadata = records[0].asset_materialization.metadata
    known = {
        name.removeprefix("source_"): v.value
        for name, v in metadata.items()
        if name.startswith("source_") and name not in FAILOVER_METADATA_KEYS
    }
    return {**known, "sha256": metadata["sha256"].value}


def _raw_snapshot_asset(tracked_name: str, description: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=["aneel", f"{tracked_name}_raw"],
        partitions_def=SNAPSHOT_DAYS,
        deps=[DATASETS],
        io_manager_key="object_store_io_manager",
        group_name=GROUP,
        kinds={"python"},
        metadata={STORAGE: "objects"},
        owners=["team:data-platform"],
        pool="aneel_portal",
        description=description,
    )
    def raw_snapshot(context: dg.AssetExecutionContext, aneel_portal: AneelPortal) -> dg.Output:
        tracked = aneel_portal.tracked()[tracked_name]
        known = recorded_snapshot(context.instance, context.asset_key)
        previous = known.pop("sha256", None)
        spool = tempfile.NamedTemporaryFile(prefix=f"ysh-{tracked_name}-", delete=False)  # noqa: SIM115

        def fetch(client: CkanClient) -> tuple[CkanResource, str | None, DownloadResult | None]:
            spool.seek(0)
            spool.truncate()  # whatever an earlier source of the chain left behind
            resource = client.resource(tracked.package, tracked.resource_id)
            change = change_since(client, resource, known)
            started = time.monotonic()
            result = None
            if change is not None:
                result = client.download(
                    resource.url, spool, etag=known.get("etag"), last_modified=known.get("http_last_modified")
                )
            context.add_output_metadata({"download_seconds": round(time.monotonic() - started, 3)})
            return resource, change, result

        try:
            with spool:
                (resource, change, result), walk = aneel_portal.with_failover(fetch)
        except PortalsFailed as error:
            os.unlink(spool.name)
            if previous is None:
                raise _portal_failure(error, aneel_portal) from error
            stale_since = known.get("checked_at") or known.get("downloaded_at")
            context.log.warning(f"ANEEL portal failed ({error}); keeping the snapshot checked at {stale_since}")
            context.add_output_metadata(
                {
                    "stale": True,
                    "stale_since": stale_since,
                    "error": str(error),
                    **error.fell_back(f"sha256:{previous}").metadata(),
                }
            )
            return dg.Output(KeepLatest(previous, known), data_version=dg.DataVersion(previous))
        except BaseException:
            os.unlink(spool.name)
            raise
        context.add_output_metadata(walk.metadata())
        now = datetime.now(UTC).isoformat()
        source = {
            "url": resource.url,
            "package_id": resource.package_id,
            "resource_id": resource.resource_id,
            "last_modified": resource.last_modified.isoformat() if resource.last_modified else None,
            "ckan_hash": resource.hash,
            "etag": result.etag if result else known.get("etag"),
            "http_last_modified": result.last_modified if result else known.get("http_last_modified"),
            "downloaded_at": now if result and result.status == "downloaded" else known.get("downloaded_at"),
            "checked_at": now,
        }
        if previous is not None and (result is None or result.status == "not_modified" or result.sha256 == previous):
            # Unchanged: keep the stored object, but record what the portal says now, so the next
            # conditional request and the hourly comparison start from today's answers.
            os.unlink(spool.name)
            reason = (
                "catalog entry and conditional request unchanged" if result is None
                else "304 Not Modified" if result.status == "not_modified"
                else "same content (sha256) as the last snapshot"
            )  # fmt: skip
            context.add_output_metadata({"stale": False, "unchanged": True, "reason": reason})
            return dg.Output(KeepLatest(previous, source), data_version=dg.DataVersion(previous))
        members = zip_members(spool.name) if result.is_zip else []
        context.add_output_metadata(
            {"stale": False, "unchanged": False, "reason": change, "is_zip": result.is_zip, "zip_members": members}
        )
        raw = RawFile(
            path=Path(spool.name), filename=resource.name, sha256=result.sha256, temporary=True, source=source
        )
        return dg.Output(raw, data_version=dg.DataVersion(result.sha256))

    return raw_snapshot


gd_units_raw = _raw_snapshot_asset(
    "gd_units", "The published GD units file (a ZIP behind a .csv URL), as downloaded, content-addressed."
)
tariffs_raw = _raw_snapshot_asset("tariffs", "The published homologated-tariffs CSV, as downloaded, content-addressed.")


def _portal_failure(error: PortalsFailed, portal: AneelPortal) -> dg.Failure:
    """The portal and its mirrors failed and there is no earlier good copy to keep: retried by the run's
    retry policy."""
    return dg.Failure(
        f"ANEEL portal failed: {error}",
        metadata={"portal": portal.base_url, **error.failover.metadata()},
        allow_retries=True,
    )


@contextmanager
def refusing_bad_files(snapshot: StoredObject) -> Iterator[None]:
    """A file that cannot be read as the published layout fails the run as bad data, naming the file."""
    try:
        yield
    except AneelFormatError as error:
        raise dg.Failure(
            f"{snapshot.filename} ({snapshot.key}) is not a readable ANEEL publication: {error}",
            metadata={"source_key": snapshot.key, "source_sha256": snapshot.sha256},
        ) from error


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


# Conditions on one GD row that the load counts per UF while it streams (asset checks, not refusals).
INSTALLED_KW_OUT_OF_RANGE = pl.col("mda_potencia_instalada_kw").is_null() | ~pl.col(
    "mda_potencia_instalada_kw"
).is_between(0, 5000, closed="right")
GD_DATES = ("dat_geracao_conjunto_dados", "anm_periodo_referencia", "dth_atualiza_cadastral_empreend")


def dates_after(day: date) -> pl.Expr:
    return pl.any_horizontal(pl.col(column) > day for column in GD_DATES)


def _gd_check(name: str, description: str, *, blocking: bool = False) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        name, asset=GENERATION_UNITS, partitions_def=UF_PARTITIONS, description=description, blocking=blocking
    )


class GenerationUnitsConfig(LoadAuditConfig):
    row_count_tolerance: float = 0.10  # WARN when a UF's row count moves more than this share since last load


@dg.asset(
    key=GENERATION_UNITS,
    partitions_def=UF_PARTITIONS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    ins={"snapshot": dg.AssetIn(key=GD_UNITS_RAW, partition_mapping=dg.LastPartitionMapping())},
    # The rows a load from a new file replaces are kept as the previous version: audit/gd_changes compares them.
    metadata={"partition_expr": "sig_uf", STORAGE: "warehouse", KEEP_PREVIOUS_VERSION: True},
    group_name=GROUP,
    kinds={"polars"},
    owners=["team:data-platform"],
    pool="heavy_load",
    # Every check is evaluated in the load's own step, per UF, from what the load saw: no pass over the table.
    check_specs=[
        _gd_check(
            "quarantine_share",
            "Share of the UF's rows quarantined; the load's audit refuses a file above the threshold.",
            blocking=True,
        ),
        _gd_check("row_count_change", "The UF's row count against what the table held before this load (WARN)."),
        _gd_check("schema_drift", "The file's header has no unknown and no missing columns (WARN)."),
        _gd_check(
            "unique_unit_ids",
            "CodEmpreendimento is unique in the UF: repeated ids are resolved before publication (identical "
            "copies collapse, conflicting ones are quarantined) and the partition's primary key enforces it.",
        ),
        _gd_check(
            "uf_matches_partition",
            "Each row's municipality (IBGE code, whose first two digits are the UF's) lies in the UF of its "
            "partition. The UF inside CodEmpreendimento is not compared: it is the distributor's, and real units "
            "cross UF borders (e.g. GD.AL codes in BA).",
        ),
        _gd_check("installed_kw_in_range", "Installed power is in (0, 5000] kW (micro and mini generation)."),
        _gd_check(
            "no_future_dates",
            "No publication, reference-month or registration date after today (America/Sao_Paulo).",
        ),
    ],
)
def generation_units(
    context: dg.AssetExecutionContext, config: GenerationUnitsConfig, snapshot: StoredObject, warehouse: Warehouse
) -> Iterator:
    """Distributed-generation units, typed, one partition per UF. A single-run backfill of all UFs reads the
    file once; one UF can be re-run alone. Rows that fail typing are quarantined with the raw line; the load
    is audited before it is published (see `AuditPolicy`), so a broken publication never replaces good data."""
    ufs = sorted(context.partition_keys)
    reader_of: dict[str, GdUnitsReader] = {}
    timings: dict[str, float] = {}

    def batches() -> Iterator[pl.DataFrame]:
        started = time.monotonic()
        with (
            snapshot.local_path() as path,
            warehouse.quarantine_writer(context.asset_key, context.run.run_id, snapshot.key, snapshot.sha256) as sink,
            refusing_bad_files(snapshot),
        ):
            timings["download_seconds"] = round(time.monotonic() - started, 3)
            reader = reader_of.setdefault("reader", GdUnitsReader(path, ufs=ufs))
            uf_field = _field_of_raw_line(reader.open_header().columns.index("SigUF"))
            for batch in reader:
                sink.write(batch.quarantine, pl.when(uf_field.is_in(ufs)).then(uf_field))
                yield batch.rows

    def summary() -> dict:
        reader = reader_of["reader"]
        return {
            "rows_read": reader.rows_read,
            "rows_parsed": reader.rows_loaded,
            "rows_quarantined_by_parser": reader.rows_quarantined,
            "rows_other_ufs": reader.rows_skipped,
            **timings,
            "read_seconds": round(reader.read_seconds, 3),
            **_header_metadata(reader.header),
            **_source_metadata(snapshot),
        }

    load = AuditedLoad(
        FrameStream(batches(), summary=summary),
        policy=AuditPolicy(
            thresholds=config,
            unique_key=("sig_uf", "cod_empreendimento"),
            row_audits=(RowAudit("uf_matches_partition", MUNICIPIO_OUTSIDE_UF),),
            row_checks=(
                RowCheck("installed_kw_in_range", INSTALLED_KW_OUT_OF_RANGE),
                RowCheck("no_future_dates", dates_after(today_in_brazil())),
            ),
        ),
        source_rows=lambda: reader_of["reader"].rows_read,
        source=snapshot.key,
        source_sha256=snapshot.sha256,
    )
    yield dg.Output(load)

    report = audit_report(load)
    header = reader_of["reader"].header
    threshold = report.result("quarantine_share").figures["max_quarantine_share"]
    checks = {
        "quarantine_share": (
            {uf: quarantine_share_check(report, uf, threshold) for uf in ufs},
            dg.AssetCheckSeverity.ERROR,
        ),
        "row_count_change": (
            {uf: _row_count_change(report, uf, config.row_count_tolerance) for uf in ufs},
            dg.AssetCheckSeverity.WARN,
        ),
        "schema_drift": (
            dict.fromkeys(
                ufs,
                PartitionCheck(not header.unknown_columns and not header.missing_columns, _header_metadata(header)),
            ),
            dg.AssetCheckSeverity.WARN,
        ),
        "unique_unit_ids": ({uf: _unique_ids(report, uf) for uf in ufs}, dg.AssetCheckSeverity.ERROR),
        **{
            condition.name: (
                {uf: _row_condition(report, condition.name, uf) for uf in ufs},
                dg.AssetCheckSeverity.ERROR,
            )
            for condition in load.policy.row_conditions
        },
    }
    log_partition_checks(context, GENERATION_UNITS, checks)
    for name in checks:
        yield check_output(GENERATION_UNITS, name)


def _unique_ids(report: AuditReport, uf: str) -> PartitionCheck:
    return PartitionCheck(
        True,
        {
            "repeated_ids_resolved": report.repeated_keys.get(uf, 0),
            "enforced_by": "primary key (sig_uf, cod_empreendimento)",
        },
    )


def _row_condition(report: AuditReport, name: str, uf: str) -> PartitionCheck:
    """A row condition's findings in the UF, counted on the stream as the UF's rows were staged."""
    found = report.findings(name, uf)
    metadata: dict = {"offending_rows": found.offending, "rows_checked": report.staged_rows.get(uf, 0)}
    if found.offending:
        metadata["sample"] = dg.MetadataValue.json(list(found.sample))
    return PartitionCheck(not found.offending, metadata)


def _row_count_change(report: AuditReport, uf: str, tolerance: float) -> PartitionCheck:
    """The UF's row count against what the table held before this load (the audit counted both)."""
    before, now = report.previous_rows.get(uf, 0), report.staged_rows.get(uf, 0)
    change = (now - before) / before if before else None
    return PartitionCheck(
        change is None or abs(change) <= tolerance,
        {"previous_rows": before, "rows": now, "change": round(change, 4) if change is not None else "first load",
         "tolerance": tolerance},
    )  # fmt: skip


@dg.asset(
    key=TARIFFS,
    partitions_def=TARIFF_YEARS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    ins={"snapshot": dg.AssetIn(key=TARIFFS_RAW, partition_mapping=dg.LastPartitionMapping())},
    metadata={"partition_expr": "dat_inicio_vigencia", STORAGE: "warehouse"},
    group_name=GROUP,
    kinds={"polars"},
    owners=["team:data-platform"],
)
def tariffs(
    context: dg.AssetExecutionContext, config: LoadAuditConfig, snapshot: StoredObject, warehouse: Warehouse
) -> AuditedLoad:
    """Homologated distributor tariffs, partitioned by the year their validity starts; values in the
    published unit and in R$/kWh where that unit is MWh, flags for the applied tariff and SCEE rows."""
    with snapshot.local_path() as path, refusing_bad_files(snapshot):
        parsed, header = read_tariffs(path)
    start_year = pl.col("dat_inicio_vigencia").dt.year().cast(pl.String)
    in_run = start_year.is_in(context.partition_keys)
    # A start year no partition covers (before 2010, or beyond next year) would never be loaded by any run:
    # quarantine it, with the typed row as JSON for the record, rather than drop it silently.
    covered = TARIFF_YEARS.get_partition_keys()
    uncovered = parsed.rows.filter(~start_year.is_in(covered)).select(
        line_number=pl.lit(None, pl.Int64),
        reason=pl.format("validity starts in {}, outside the tariff partitions {}..{}", start_year,
                         pl.lit(covered[0]), pl.lit(covered[-1])),
        raw_record=pl.struct(pl.all()).struct.json_encode(),
    )  # fmt: skip
    raw_start_year = _field_of_raw_line(header.columns.index("DatInicioVigencia")).str.slice(0, 4)
    filed_under = pl.when(raw_start_year.is_in(covered)).then(raw_start_year)  # else null: replaced by every run
    quarantine = pl.concat(
        [parsed.quarantine.with_columns(partition_key=filed_under), uncovered.with_columns(partition_key=None)],
        how="vertical_relaxed",
    ).filter(pl.col("partition_key").is_null() | pl.col("partition_key").is_in(context.partition_keys))
    with warehouse.quarantine_writer(context.asset_key, context.run.run_id, snapshot.key, snapshot.sha256) as sink:
        sink.write(quarantine, pl.col("partition_key"))
    rows = parsed.rows.filter(in_run)
    context.add_output_metadata(
        {
            "rows_loaded": rows.height,
            "rows_quarantined": quarantine.height,
            "rows_republished": parsed.republished,
            "rows_other_years": parsed.rows.height - rows.height - uncovered.height,
            "years": f"{min(context.partition_keys)}..{max(context.partition_keys)}",
            **_header_metadata(header),
            **_source_metadata(snapshot),
        }
    )
    return AuditedLoad(
        rows,
        policy=AuditPolicy(thresholds=config, unique_key=("dat_inicio_vigencia", "tariff_key")),
        source_rows=lambda: parsed.rows.height + parsed.quarantine.height + parsed.republished,
        source=snapshot.key,
        source_sha256=snapshot.sha256,
    )


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
    "tariff_key",  # traces the row back to aneel.tariffs
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
    metadata={TTL_METADATA_KEY: 26 * 3600, STORAGE: "hot_cache"},
    group_name=GROUP,
    kinds={"polars"},
    owners=["team:data-platform"],
)
def tariffs_current(context: dg.AssetExecutionContext, tariffs: pl.DataFrame) -> AuditedLoad:
    """The tariff in force today per distributor CNPJ / subgroup / modality / posto: a hot lookup in Redis
    with its warehouse copy."""
    current = tariffs_in_force(tariffs, today_in_brazil())
    context.add_output_metadata({"distributors": current["num_cnpj_distribuidora"].n_unique()})
    # Derived from the audited tariffs: none in force today is a true answer, and the count moves with the
    # validity windows, so neither the empty-source nor the shrink audit applies.
    return AuditedLoad(current, AuditPolicy(thresholds=CURRENT_THRESHOLDS))


CURRENT_THRESHOLDS = LoadAuditConfig(allow_empty_source=True, max_partition_shrink=1.0)
