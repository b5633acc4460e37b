"""`audit.change_log`: what changed between two snapshots, owned by the asset partition that found it.

A partition's rows for a snapshot are replaced when it is materialized again, so a re-run never logs a change
twice, and the changes that led to earlier snapshots stay (the log is range-partitioned by month for that).
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg
import polars as pl

from ysh_assets.warehouse.sessions import SqlSession

TABLE = "audit.change_log"
CHANGE_TYPES = ("insert", "update", "delete")
ROW_SCHEMA = pl.Schema(
    {"entity_id": pl.String, "change_type": pl.String, "old_values": pl.String, "new_values": pl.String}
)


def replace(session: SqlSession, rows: pl.DataFrame, *, asset: str, partition_key: str, run_id: str) -> None:
    """`rows` (ROW_SCHEMA; values as JSON text) become the partition's changes."""
    publish(session, rows.with_columns(partition_key=pl.lit(partition_key)), asset=asset, scopes={partition_key: None},
            run_id=run_id)  # fmt: skip


def audit(rows: pl.DataFrame, scopes: Mapping[str, str | None]) -> None:
    """Refuses a change set an entity appears in twice per partition, of an unknown kind, or outside `scopes`."""
    problems = []
    repeated = rows.group_by("partition_key", "entity_id").len().filter(pl.col("len") > 1)
    if repeated.height:
        problems.append(f"{repeated.height} entities changed twice, e.g. {repeated.row(0)[:2]}")
    unknown = rows.filter(~pl.col("change_type").is_in(CHANGE_TYPES))
    if unknown.height:
        problems.append(f"{unknown.height} rows of unknown change types {unknown['change_type'].unique().to_list()}")
    outside = rows.filter(~pl.col("partition_key").is_in(list(scopes)))
    if outside.height:
        problems.append(
            f"{outside.height} rows of partitions not written: {outside['partition_key'].unique().to_list()}"
        )
    if problems:
        raise dg.Failure(f"change log refused, nothing written: {'; '.join(problems)}")


def publish(
    session: SqlSession, rows: pl.DataFrame, *, asset: str, scopes: Mapping[str, str | None], run_id: str
) -> None:
    """Write-audit-publish of changes (ROW_SCHEMA plus `partition_key`): audited whole, then, in the session's
    one transaction, each partition's rows of its snapshot (`scopes`: partition -> snapshot, None for all of the
    partition's rows) are replaced."""
    audit(rows, scopes)
    for partition_key, snapshot in scopes.items():
        if snapshot is None:
            session.execute(f"DELETE FROM {TABLE} WHERE asset_key = %s AND partition_key = %s", (asset, partition_key))
        else:
            session.execute(
                f"DELETE FROM {TABLE} WHERE asset_key = %s AND partition_key = %s AND snapshot = %s",
                (asset, partition_key, snapshot),
            )
    session.insert_frame(
        TABLE,
        rows.select(
            asset_key=pl.lit(asset),
            partition_key="partition_key",
            entity_id="entity_id",
            change_type="change_type",
            old_values="old_values",
            new_values="new_values",
            run_id=pl.lit(run_id),
            snapshot=pl.col("partition_key").replace_strict(dict(scopes), return_dtype=pl.String),
        ),
    )
