"""`pipeline.quarantine`: rows a load refused, owned by the load that produced them.

A load's rows are written as `staged` while it runs (committed at once, so they survive a rejected load).
When the warehouse IO manager publishes the load, in the same transaction, they become `accepted` and the
earlier loads' rows of the same partitions go; when its audit refuses the load they become `rejected` and
stay, tagged with the run id and the source file's sha256, so an operator can see why it was refused.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from ysh_assets.warehouse.sessions import SqlSession

TABLE = "pipeline.quarantine"
STAGED, ACCEPTED, REJECTED = "staged", "accepted", "rejected"
ROW_SCHEMA = pl.Schema({"line_number": pl.Int64, "reason": pl.String, "raw_record": pl.String})


_OF_PARTITIONS = "(partition_key IS NULL OR partition_key IN (SELECT unnest(%s::text[])))"


def append(
    session: SqlSession,
    rows: pl.DataFrame,
    partition_key: pl.Expr | str | None,
    *,
    asset: str,
    run_id: str,
    source: str,
    source_sha256: str | None,
    status: str = STAGED,
) -> int:
    """Appends `rows` (`line_number`, `reason`, `raw_record`); `partition_key` per row or for all."""
    if rows.is_empty():
        return 0
    key = partition_key if isinstance(partition_key, pl.Expr) else pl.lit(partition_key, pl.String)
    frame = rows.select(
        asset_key=pl.lit(asset),
        partition_key=key.cast(pl.String),
        run_id=pl.lit(run_id),
        source=pl.lit(source),
        line_number=pl.col("line_number").cast(pl.Int64),
        reason="reason",
        raw_record="raw_record",
        status=pl.lit(status),
        source_sha256=pl.lit(source_sha256, pl.String),
    )
    session.insert_frame(TABLE, frame)
    return frame.height


def clear_attempt(session: SqlSession, asset: str, run_id: str) -> None:
    """Drops what an earlier attempt of this run staged (a retried step starts over)."""
    session.execute(
        f"DELETE FROM {TABLE} WHERE asset_key = %s AND run_id = %s AND status = %s", (asset, run_id, STAGED)
    )


def staged_count(session: SqlSession, asset: str, run_id: str) -> int:
    return session.scalar(
        f"SELECT count(*) FROM {TABLE} WHERE asset_key = %s AND run_id = %s AND status = %s", (asset, run_id, STAGED)
    )


def staged_by_partition(session: SqlSession, asset: str, run_id: str) -> dict[str, int]:
    """This load's staged rows per partition (rows no partition could be given are not in it)."""
    frame = session.frame(
        f"SELECT partition_key, count(*) AS n FROM {TABLE} WHERE asset_key = %s AND run_id = %s AND status = %s "
        "AND partition_key IS NOT NULL GROUP BY partition_key",
        (asset, run_id, STAGED),
    )
    return dict(frame.iter_rows())


def accept(session: SqlSession, asset: str, run_id: str, partition_keys: Sequence[str]) -> None:
    """Inside the publishing transaction: this load's rows replace earlier loads' rows of its partitions."""
    session.execute(
        f"DELETE FROM {TABLE} WHERE asset_key = %s AND run_id <> %s AND status <> %s AND {_OF_PARTITIONS}",
        (asset, run_id, REJECTED, list(partition_keys)),
    )
    session.execute(
        f"UPDATE {TABLE} SET status = %s WHERE asset_key = %s AND run_id = %s AND status = %s",
        (ACCEPTED, asset, run_id, STAGED),
    )


def reject(session: SqlSession, asset: str, run_id: str) -> None:
    session.execute(
        f"UPDATE {TABLE} SET status = %s WHERE asset_key = %s AND run_id = %s AND status = %s",
        (REJECTED, asset, run_id, STAGED),
    )
