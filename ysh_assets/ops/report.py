"""The daily report: what the day's chain loaded, changed, quarantined, checked, fell back on and spent time on.

Figures come from the warehouse (`report.sql`: row counts, the GD change log, the quarantine) and from the
Dagster instance (the day's runs: their check evaluations and step timings; the day's source snapshots). The
markdown is a pure function of those figures; it is shown as the materialization's metadata and sent through
the alert channels, whose failures are recorded and never fail the report.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg

from ysh_assets.aneel.assets import DATASETS, GD_UNITS_RAW, GENERATION_UNITS, SNAPSHOT_DAYS, TARIFFS_RAW, TIMEZONE
from ysh_assets.audit.assets import GD_CHANGES
from ysh_assets.catalog.assets import PRODUCTS, SOLAR_KITS
from ysh_assets.catalog.distributors import DISTRIBUTORS
from ysh_assets.io_managers.frames import STORAGE
from ysh_assets.ops.alerts import Alert, AlertChannels
from ysh_assets.ops.quotas import FAILOVER_METADATA_KEYS
from ysh_assets.search.assets import VECTOR_INDEX
from ysh_assets.warehouse.sql import Warehouse

DAILY_REPORT = dg.AssetKey(["ops", "daily_report"])
TARIFFS_CURRENT = dg.AssetKey(["aneel", "tariffs_current"])
# Small tables loaded whole (no partitions, so not in pipeline.partition_row_counts), counted directly.
UNPARTITIONED_TABLES = ("aneel.tariffs_current",)
SNAPSHOT_SOURCES = (DATASETS, GD_UNITS_RAW, TARIFFS_RAW)
SLOWEST_STEPS = 10

QUERIES = dict(
    re.findall(r"-- name: (\w+)\n(.*?)(?=\n-- name:|\Z)", Path(__file__).with_name("report.sql").read_text(), re.S)
)


@dataclass(frozen=True)
class TableRows:
    table: str
    rows: int
    partitions: int | None  # None: counted in the table itself


@dataclass(frozen=True)
class UfChanges:
    uf: str
    inserted: int
    updated: int
    deleted: int


@dataclass(frozen=True)
class QuarantineCount:
    asset: str
    reason: str
    status: str
    rows: int


@dataclass(frozen=True)
class CheckSummary:
    asset: str
    check: str
    passed: int
    failed: int


@dataclass(frozen=True)
class FailedCheck:
    asset: str
    check: str
    partition: str | None
    severity: str


@dataclass(frozen=True)
class StaleSource:
    """A source that did not answer from its primary: served by a mirror, or kept stale since `since`."""

    asset: str
    partition: str
    stale: bool
    served_by: str | None
    since: str | None
    error: str | None


@dataclass(frozen=True)
class StepTime:
    job: str
    run_id: str
    step: str
    seconds: float


@dataclass(frozen=True)
class ReportFigures:
    day: date
    tables: Sequence[TableRows]
    changes: Sequence[UfChanges]
    quarantine: Sequence[QuarantineCount]
    checks: Sequence[CheckSummary]
    failed_checks: Sequence[FailedCheck]
    stale: Sequence[StaleSource]
    slowest: Sequence[StepTime]
    runs: int


def day_window(day: date) -> tuple[datetime, datetime]:
    """The Brazilian day as a UTC [start, end) range (partitions and "today" are Brazilian days)."""
    zone = ZoneInfo(TIMEZONE)
    start = datetime.combine(day, time(), zone)
    end = datetime.combine(day + timedelta(days=1), time(), zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def warehouse_figures(
    warehouse: Warehouse, day: date
) -> tuple[list[TableRows], list[UfChanges], list[QuarantineCount]]:
    """Rows per table, the day's GD changes per UF and the day's quarantine counts, from the warehouse."""
    window = day_window(day)
    tables = [TableRows(*row) for row in warehouse.query(QUERIES["rows_per_table"]).iter_rows()]
    counted = {t.table for t in tables}
    for table in UNPARTITIONED_TABLES:
        if table not in counted and warehouse.table_exists(table):
            tables.append(TableRows(table, warehouse.scalar(f"SELECT count(*) FROM {table}"), None))
    changes = [UfChanges(*row) for row in warehouse.query(QUERIES["changes_per_uf"], window).iter_rows()]
    quarantine = [QuarantineCount(*row) for row in warehouse.query(QUERIES["quarantine_by_reason"], window).iter_rows()]
    return sorted(tables, key=lambda t: t.table), changes, quarantine


def _day_runs(instance: dg.DagsterInstance, day: date, exclude_run_id: str) -> list[dg.DagsterRun]:
    start, end = day_window(day)
    records = instance.get_run_records(dg.RunsFilter(created_after=start, created_before=end))
    return [record.dagster_run for record in records if record.dagster_run.run_id != exclude_run_id]


def check_figures(
    instance: dg.DagsterInstance, runs: Sequence[dg.DagsterRun]
) -> tuple[list[CheckSummary], list[FailedCheck]]:
    """The latest evaluation of each check and partition in the day's runs, counted per check."""
    latest: dict[tuple[str, str, str | None], tuple[int, dg.AssetCheckEvaluation]] = {}
    for run in runs:
        records = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        for record in records.records:
            evaluation = record.event_log_entry.get_dagster_event().asset_check_evaluation_data
            key = (evaluation.asset_key.to_user_string(), evaluation.check_name, evaluation.partition)
            if key not in latest or latest[key][0] < record.storage_id:
                latest[key] = (record.storage_id, evaluation)
    counts: dict[tuple[str, str], list[int]] = {}
    failed = []
    for (asset, check, partition), (_, evaluation) in sorted(
        latest.items(), key=lambda item: (*item[0][:2], item[0][2] or "")
    ):
        tally = counts.setdefault((asset, check), [0, 0])
        tally[0 if evaluation.passed else 1] += 1
        if not evaluation.passed:
            failed.append(FailedCheck(asset, check, partition, evaluation.severity.value))
    summaries = [CheckSummary(asset, check, p, f) for (asset, check), (p, f) in sorted(counts.items())]
    return summaries, failed


def _latest_materialization(
    instance: dg.DagsterInstance, key: dg.AssetKey, partition: str
) -> dg.AssetMaterialization | None:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
    ).records
    return records[0].asset_materialization if records else None


def _fell_back(metadata: dict) -> bool:
    """Stale, or served by a later step of the failover chain than its first (the primary)."""
    steps = metadata.get(FAILOVER_METADATA_KEYS[0]) or []
    used = metadata.get(FAILOVER_METADATA_KEYS[1])
    return metadata.get("stale") is True or bool(steps and used and used != steps[0]["source"])


def stale_sources(instance: dg.DagsterInstance, day: date) -> list[StaleSource]:
    """Sources whose latest materialization of the day fell back (`stale`, or the failover's `source_used` is
    not the primary): the ANEEL catalog and raw snapshots, and the distributors' catalogs."""
    catalog_days = [str(dg.MultiPartitionKey({"day": day.isoformat(), "distributor": name})) for name in DISTRIBUTORS]
    found = []
    for key, partitions in [*((key, [day.isoformat()]) for key in SNAPSHOT_SOURCES), (PRODUCTS, catalog_days)]:
        for partition in partitions:
            materialization = _latest_materialization(instance, key, partition)
            if materialization is None:
                continue
            metadata = {name: value.value for name, value in materialization.metadata.items()}
            if _fell_back(metadata):
                found.append(
                    StaleSource(
                        asset=key.to_user_string(),
                        partition=partition,
                        stale=metadata.get("stale") is True,
                        served_by=metadata.get(FAILOVER_METADATA_KEYS[1]),
                        since=metadata.get("stale_since"),
                        error=metadata.get("error"),
                    )
                )
    return found


def slowest_steps(instance: dg.DagsterInstance, runs: Sequence[dg.DagsterRun]) -> list[StepTime]:
    steps = [
        StepTime(run.job_name, run.run_id, stats.step_key, round(stats.end_time - stats.start_time, 3))
        for run in runs
        for stats in instance.get_run_step_stats(run.run_id)
        if stats.start_time is not None and stats.end_time is not None
    ]
    return sorted(steps, key=lambda s: (-s.seconds, s.job, s.step))[:SLOWEST_STEPS]


def collect_figures(warehouse: Warehouse, instance: dg.DagsterInstance, day: date, run_id: str) -> ReportFigures:
    """Everything the report shows for `day`; the run `run_id` (the report's own) is left out of the runs."""
    tables, changes, quarantine = warehouse_figures(warehouse, day)
    runs = _day_runs(instance, day, run_id)
    checks, failed = check_figures(instance, runs)
    return ReportFigures(
        day=day,
        tables=tables,
        changes=changes,
        quarantine=quarantine,
        checks=checks,
        failed_checks=failed,
        stale=stale_sources(instance, day),
        slowest=slowest_steps(instance, runs),
        runs=len(runs),
    )


def _cell(value: object) -> str:
    """A table cell: markdown's column separator escaped, one line."""
    return "" if value is None else " ".join(str(value).split()).replace("|", "\\|")


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], empty: str) -> list[str]:
    if not rows:
        return [f"_{empty}_", ""]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


def render_markdown(figures: ReportFigures) -> str:
    """The report as markdown, from the figures alone."""
    changes_total = [sum(getattr(c, kind) for c in figures.changes) for kind in ("inserted", "updated", "deleted")]
    passed = sum(c.passed for c in figures.checks)
    failed = sum(c.failed for c in figures.checks)
    lines = [f"# YSH daily report, {figures.day.isoformat()} ({TIMEZONE})", "", f"Runs of the day: {figures.runs}", ""]
    lines += ["## Rows per table", ""]
    lines += _table(
        ["table", "rows", "partitions"],
        [(t.table, t.rows, "—" if t.partitions is None else t.partitions) for t in figures.tables],
        "No table loaded yet.",
    )
    lines += ["## GD changes per UF", ""]
    lines += _table(
        ["UF", "inserted", "updated", "deleted"],
        [*((c.uf, c.inserted, c.updated, c.deleted) for c in figures.changes), ("**total**", *changes_total)]
        if figures.changes
        else [],
        "No changes logged by audit/gd_changes today.",
    )
    lines += ["## Quarantine", ""]
    lines += _table(
        ["asset", "reason", "status", "rows"],
        [(q.asset, q.reason, q.status, q.rows) for q in figures.quarantine],
        "Nothing quarantined today.",
    )
    lines += ["## Checks", "", f"Latest result per check and partition: {passed} passed, {failed} failed.", ""]
    lines += _table(
        ["asset", "check", "passed", "failed"],
        [(c.asset, c.check, c.passed, c.failed) for c in figures.checks],
        "No check ran today.",
    )
    if figures.failed_checks:
        lines += ["### Failed checks", ""]
        lines += _table(
            ["asset", "check", "partition", "severity"],
            [(f.asset, f.check, f.partition or "—", f.severity) for f in figures.failed_checks],
            "",
        )
    lines += ["## Stale sources and failovers", ""]
    lines += _table(
        ["asset", "partition", "served by", "stale since", "error"],
        [(s.asset, s.partition, s.served_by or "—", s.since or "—", s.error or "") for s in figures.stale],
        "Every source answered from its primary today.",
    )
    lines += ["## Slowest steps", ""]
    lines += _table(
        ["job", "step", "seconds", "run"],
        [(s.job, s.step, f"{s.seconds:.3f}", s.run_id[:8]) for s in figures.slowest],
        "No step ran today.",
    )
    return "\n".join(lines).rstrip() + "\n"


def figure_metadata(figures: ReportFigures) -> dict[str, int]:
    """The report's headline counts, as metadata the UI can plot over days."""
    return {
        "runs": figures.runs,
        "tables": len(figures.tables),
        "rows_total": sum(t.rows for t in figures.tables),
        "changes_inserted": sum(c.inserted for c in figures.changes),
        "changes_updated": sum(c.updated for c in figures.changes),
        "changes_deleted": sum(c.deleted for c in figures.changes),
        "quarantined_rows": sum(q.rows for q in figures.quarantine),
        "checks_passed": sum(c.passed for c in figures.checks),
        "checks_failed": sum(c.failed for c in figures.checks),
        "stale_sources": sum(s.stale for s in figures.stale),
        "failovers": sum(not s.stale for s in figures.stale),
    }


@dg.asset(
    key=DAILY_REPORT,
    partitions_def=SNAPSHOT_DAYS,
    deps=[
        dg.AssetDep(GENERATION_UNITS, partition_mapping=dg.AllPartitionMapping()),
        dg.AssetDep(GD_CHANGES, partition_mapping=dg.AllPartitionMapping()),
        TARIFFS_CURRENT,
        dg.AssetDep(SOLAR_KITS, partition_mapping=dg.MultiToSingleDimensionPartitionMapping("day")),
        VECTOR_INDEX,
    ],
    group_name="ops",
    kinds={"markdown"},
    metadata={STORAGE: "warehouse"},  # computed in the warehouse: the profile's engine shows as a kind
    owners=["team:data-platform"],
)
def daily_report(
    context: dg.AssetExecutionContext, warehouse: Warehouse, alert_channels: AlertChannels
) -> dg.MaterializeResult:
    """The day's operations summary (partition = the Brazilian day it covers), shown here and sent through
    the alert channels; a channel that fails is recorded in the metadata, never fails the report."""
    day = date.fromisoformat(context.partition_key)
    figures = collect_figures(warehouse, context.instance, day, context.run.run_id)
    markdown = render_markdown(figures)
    metadata = figure_metadata(figures)
    deliveries = alert_channels.send(
        Alert(
            kind="report",
            title=f"YSH daily report {day.isoformat()}",
            reason=(
                f"failed checks: {metadata['checks_failed']}, rows quarantined: {metadata['quarantined_rows']}, "
                f"stale sources: {metadata['stale_sources']}"
            ),
            asset=DAILY_REPORT.to_user_string(),
            partition=context.partition_key,
            run_id=context.run.run_id,
            markdown=markdown,
        ),
        log=context.log,
    )
    return dg.MaterializeResult(
        metadata={
            "report": dg.MetadataValue.md(markdown),
            **metadata,
            "deliveries": {d.channel: "ok" if d.ok else f"error: {d.error}" for d in deliveries},
        }
    )


defs = dg.Definitions(assets=[daily_report])
