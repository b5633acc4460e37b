"""`pipeline.ingestion_log`: one row per asset materialization (and per failed attempt), per partition.

Loads into the warehouse write their rows in the publishing transaction, so the log never claims a load that
was rolled back; a refused or failed load is logged `failed` with its error on a connection of its own. Stored
raw files are logged by the object store's IO manager once their manifest is written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from ysh_assets.warehouse.sessions import SqlSession

TABLE = "pipeline.ingestion_log"
STATUSES = ("loaded", "unchanged", "stale", "failed")
ERROR_CHARS = 4000


@dataclass(frozen=True)
class IngestionEntry:
    asset_key: str
    partition_key: str | None
    run_id: str
    status: str  # one of STATUSES
    started_at: datetime
    finished_at: datetime
    rows_read: int | None = None
    rows_loaded: int | None = None
    rows_quarantined: int | None = None
    source_url: str | None = None
    sha256: str | None = None
    size_bytes: int | None = None
    stale: bool = False
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)  # e.g. the failover steps, the load's timings


_SCHEMA = pl.Schema(
    {
        "asset_key": pl.String,
        "partition_key": pl.String,
        "run_id": pl.String,
        "status": pl.String,
        "started_at": pl.Datetime("us", "UTC"),
        "finished_at": pl.Datetime("us", "UTC"),
        "rows_read": pl.Int64,
        "rows_loaded": pl.Int64,
        "rows_quarantined": pl.Int64,
        "source_url": pl.String,
        "sha256": pl.String,
        "size_bytes": pl.Int64,
        "stale": pl.Boolean,
        "error": pl.String,
        "details": pl.String,
    }
)


def record(session: SqlSession, entries: Sequence[IngestionEntry]) -> None:
    """Appends the entries (inside the caller's transaction, when it has one)."""
    for entry in entries:
        if entry.status not in STATUSES:
            raise ValueError(f"ingestion status must be one of {STATUSES}, got {entry.status!r}")
    rows = [
        {
            **{name: getattr(entry, name) for name in _SCHEMA if name not in ("details", "error")},
            "error": entry.error[:ERROR_CHARS] if entry.error else None,
            "details": json.dumps(entry.details, default=str, sort_keys=True),
        }
        for entry in entries
    ]
    if rows:
        session.insert_frame(TABLE, pl.DataFrame(rows, schema=_SCHEMA))
