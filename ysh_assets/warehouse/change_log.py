"""`audit.change_log`: what changed between two snapshots, owned by the asset partition that found it.

A partition's rows are replaced when it is materialized again, so a re-run never logs a change twice.
"""

from __future__ import annotations

import polars as pl

from ysh_assets.warehouse.sessions import SqlSession

TABLE = "audit.change_log"
ROW_SCHEMA = pl.Schema(
    {"entity_id": pl.String, "change_type": pl.String, "old_values": pl.String, "new_values": pl.String}
)


def replace(session: SqlSession, rows: pl.DataFrame, *, asset: str, partition_key: str, run_id: str) -> None:
    """`rows` (ROW_SCHEMA; values as JSON text) become the partition's changes."""
    session.execute(f"DELETE FROM {TABLE} WHERE asset_key = %s AND partition_key = %s", (asset, partition_key))
    session.insert_frame(
        TABLE,
        rows.select(
            asset_key=pl.lit(asset),
            partition_key=pl.lit(partition_key),
            entity_id="entity_id",
            change_type="change_type",
            old_values="old_values",
            new_values="new_values",
            run_id=pl.lit(run_id),
        ),
    )
