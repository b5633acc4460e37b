"""`pipeline.partition_row_counts`: how many rows each published partition of each table holds.

Written by the warehouse IO managers in the publishing transaction, so it is exact; the next load's
shrink audit reads the previous counts here instead of counting millions of published rows again.
A partition missing from it (a table loaded before this existed) is counted in the table itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from ysh_assets.warehouse.sessions import SqlSession
from ysh_assets.warehouse.versions import PartitionVersion

TABLE = "pipeline.partition_row_counts"


def published(session: SqlSession, table: str, keys: Sequence[str]) -> dict[str, int]:
    """The recorded row counts of these partitions of `table` (those recorded)."""
    frame = session.frame(
        f"SELECT partition_key, row_count FROM {TABLE} WHERE table_name = %s "
        "AND partition_key IN (SELECT unnest(%s::text[]))",
        (table, list(keys)),
    )
    return dict(frame.iter_rows())


def record(
    session: SqlSession,
    table: str,
    counts: Mapping[str, int],
    run_id: str,
    versions: Mapping[str, PartitionVersion] | None = None,
) -> None:
    """Inside the publishing transaction: these partitions now hold these many rows (loaded from `versions`)."""
    versions = versions or {}
    session.execute(
        f"DELETE FROM {TABLE} WHERE table_name = %s AND partition_key IN (SELECT unnest(%s::text[]))",
        (table, list(counts)),
    )
    unknown = PartitionVersion(None, None)
    session.insert_frame(
        TABLE,
        pl.DataFrame(
            {
                "table_name": [table] * len(counts),
                "partition_key": list(counts),
                "row_count": list(counts.values()),
                "run_id": [run_id] * len(counts),
                "source_sha256": [versions.get(k, unknown).source_sha256 for k in counts],
                "previous_source_sha256": [versions.get(k, unknown).previous_source_sha256 for k in counts],
            },
            schema={
                "table_name": pl.String,
                "partition_key": pl.String,
                "row_count": pl.Int64,
                "run_id": pl.String,
                "source_sha256": pl.String,
                "previous_source_sha256": pl.String,
            },
        ),
    )
