"""The ingestion-log rows of a warehouse IO manager's write: per partition, what it read, loaded, quarantined."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from ysh_assets.io_managers.audit import AuditedLoad, AuditReport
from ysh_assets.warehouse.ingestion_log import IngestionEntry

_SOURCE_DETAILS = ("source_used", "source_failover", "reason", "stale_since", "unchanged")


def step_started_at(context: dg.OutputContext) -> datetime:
    """When the step writing this output started (the materialization's start), else now."""
    step = context.step_context
    records = step.instance.get_records_for_run(step.run_id, of_type=dg.DagsterEventType.STEP_START).records
    for record in records:
        if record.event_log_entry.step_key == step.step.key:
            return datetime.fromtimestamp(record.event_log_entry.timestamp, UTC)
    return datetime.now(UTC)


def _partitions(context: dg.OutputContext) -> list[str | None]:
    return list(context.asset_partition_keys) if context.has_asset_partitions else [None]


def loaded_entries(
    context: dg.OutputContext, load: AuditedLoad, report: AuditReport, started_at: datetime, details: dict
) -> list[IngestionEntry]:
    """One `loaded` entry per partition the write published."""
    finished = datetime.now(UTC)
    source = _source_details(context)
    entries = []
    for key in report.staged_rows:
        loaded = report.staged_rows[key]
        quarantined = report.quarantined_by_partition.get(key, 0)
        entries.append(
            IngestionEntry(
                asset_key=context.asset_key.to_user_string(),
                partition_key=key or None,
                run_id=context.run_id,
                status="loaded",
                started_at=started_at,
                finished_at=finished,
                rows_read=loaded + quarantined,
                rows_loaded=loaded,
                rows_quarantined=quarantined,
                source_url=load.source,
                sha256=load.source_sha256,
                details={"source_rows": report.source_rows, **source, **details},
            )
        )
    return entries


def failed_entries(
    context: dg.OutputContext, load: AuditedLoad, error: BaseException, started_at: datetime
) -> list[IngestionEntry]:
    """One `failed` entry per partition of a write that was refused or broke: nothing of it was published."""
    finished = datetime.now(UTC)
    report = load.report
    return [
        IngestionEntry(
            asset_key=context.asset_key.to_user_string(),
            partition_key=key,
            run_id=context.run_id,
            status="failed",
            started_at=started_at,
            finished_at=finished,
            rows_quarantined=report.quarantined_by_partition.get(key or "", 0) if report else None,
            source_url=load.source,
            sha256=load.source_sha256,
            error=f"{type(error).__name__}: {error}",
        )
        for key in _partitions(context)
    ]


def stored_entry(context: dg.OutputContext, stored, started_at: datetime) -> IngestionEntry:
    """The entry of a file the object store holds for a partition: `stale` when the asset kept the last good
    snapshot because its source was down, `unchanged` when the source had not moved, else `loaded`."""
    metadata = _output_metadata(context)
    status = "stale" if metadata.get("stale") else "unchanged" if metadata.get("unchanged") else "loaded"
    return IngestionEntry(
        asset_key=context.asset_key.to_user_string(),
        partition_key=context.asset_partition_key if context.has_asset_partitions else None,
        run_id=context.run_id,
        status=status,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        source_url=stored.source.get("url"),
        sha256=stored.sha256,
        size_bytes=stored.size,
        stale=bool(metadata.get("stale")),
        details=_source_details(context),
    )


def _output_metadata(context: dg.OutputContext) -> dict:
    return {name: getattr(value, "value", value) for name, value in context.output_metadata.items()}


def _source_details(context: dg.OutputContext) -> dict:
    """What the asset said of its source: the failover steps, the source used, why it was kept."""
    metadata = _output_metadata(context)
    return {name: metadata[name] for name in _SOURCE_DETAILS if name in metadata}
