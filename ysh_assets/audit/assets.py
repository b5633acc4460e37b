"""`audit/gd_changes`: the GD units that are new, removed and changed between two consecutive snapshots."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import dagster as dg
import polars as pl

from ysh_assets.aneel.assets import GENERATION_UNITS, UF_PARTITIONS
from ysh_assets.audit.changes import CHANGE_SCHEMA, UNIT_ID, UNIT_TEXT_SCHEMA, candidates, unit_changes
from ysh_assets.io_managers.frames import STORAGE
from ysh_assets.warehouse.ingestion_log import IngestionEntry
from ysh_assets.warehouse.sql import Warehouse
from ysh_assets.warehouse.versions import PartitionVersion

GROUP = "audit"
GD_CHANGES = dg.AssetKey(["audit", "gd_changes"])
GD_TABLE = "aneel.generation_units"
PREVIEW_ROWS = 20


@dg.asset(
    key=GD_CHANGES,
    partitions_def=UF_PARTITIONS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[GENERATION_UNITS],
    group_name=GROUP,
    kinds={"polars"},
    owners=["team:data-platform"],
    pool="heavy_load",  # never beside a load of the units it compares
    metadata={STORAGE: "warehouse", "dagster/table_name": "audit.change_log"},
    description="Per UF, the units new, removed and changed (which columns, old -> new) between the two latest "
    "GD snapshots, in audit.change_log. Publication-level columns (generation date, reference month) are no "
    "change of a unit; a re-run of the same snapshots replaces its rows.",
)
def gd_changes(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    started, started_at = time.monotonic(), datetime.now(UTC)
    ufs = sorted(context.partition_keys)
    versions = warehouse.partition_versions(GD_TABLE, ufs)
    comparable = [
        uf for uf in ufs if uf in versions and versions[uf].source_sha256 and versions[uf].previous_source_sha256
    ]

    phases = dict.fromkeys(("read_indexes", "find_candidates", "read_candidates", "compare_columns"), 0.0)

    summing = threading.Lock()

    def timed(phase: str, since: float) -> float:
        """Adds the phase's time (summed over the UFs, which may run side by side)."""
        now = time.monotonic()
        with summing:
            phases[phase] += now - since
        return now

    def compare(uf: str) -> tuple[pl.DataFrame, dict[str, int], int, int]:
        """One UF: its changes, the columns they touched, the units compared and the candidates read."""
        mark, version = time.monotonic(), versions[uf]
        current = warehouse.version_digests(GD_TABLE, uf, version.source_sha256)
        previous = warehouse.version_digests(GD_TABLE, uf, version.previous_source_sha256)
        if current is None or previous is None:
            raise dg.Failure(f"{GD_TABLE} {uf}: the index of a kept version is missing; reload the UF")
        mark = timed("read_indexes", mark)
        found = candidates(current, previous)
        mark = timed("find_candidates", mark)

        def rows(ids: pl.Series, schema: pl.Schema, kept: bool) -> pl.DataFrame:
            return warehouse.rows_by_id(GD_TABLE, ("sig_uf", uf), UNIT_ID, ids.to_list(), schema, previous=kept)

        # One lookup per version: the new and changed units' current rows, the changed and removed ones' last.
        now = rows(pl.concat([found.new, found.changed]), UNIT_TEXT_SCHEMA, False)
        before = rows(pl.concat([found.changed, found.gone]), UNIT_TEXT_SCHEMA, True)
        mark = timed("read_candidates", mark)
        changes, columns = unit_changes(uf, now, before)
        timed("compare_columns", mark)
        return changes, columns, current.height, found.count

    # UFs side by side where the warehouse takes concurrent sessions: each mostly waits on its lookups.
    with ThreadPoolExecutor(2 if warehouse.engine.concurrent_sessions else 1) as pool:
        compared = dict(zip(comparable, pool.map(compare, comparable), strict=True))
    changes = pl.concat([pl.DataFrame(schema=CHANGE_SCHEMA), *(c[0] for c in compared.values())])
    columns: dict[str, int] = {}
    for _, touched, _, _ in compared.values():
        for name, n in touched.items():
            columns[name] = columns.get(name, 0) + n
    compare_seconds = time.monotonic() - started
    by_uf = _counts_by_uf(changes, ufs)
    logged = [
        IngestionEntry(
            asset_key=GD_CHANGES.to_user_string(),
            partition_key=uf,
            run_id=context.run.run_id,
            status="loaded" if uf in compared else "unchanged",
            started_at=started_at,
            finished_at=datetime.now(UTC),
            rows_read=compared[uf][2] if uf in compared else 0,
            rows_loaded=sum(by_uf[uf].values()),
            rows_quarantined=0,
            sha256=versions[uf].source_sha256 if uf in versions else None,
            details={**by_uf[uf], "previous_sha256": versions[uf].previous_source_sha256 if uf in versions else None},
        )
        for uf in ufs
    ]
    publishing = time.monotonic()
    warehouse.publish_changes(
        GD_CHANGES,
        context.run.run_id,
        changes,
        {uf: _pair(versions[uf]) for uf in comparable},
        logged,
        compared=(GD_TABLE, {uf: versions[uf] for uf in comparable}),
    )
    phases["publish"] = time.monotonic() - publishing
    for uf in ufs:
        context.add_asset_metadata(
            {
                "dagster/partition_row_count": sum(by_uf[uf].values()),
                **by_uf[uf],
                "compared": uf in comparable,
                "snapshots": _pair(versions[uf]) if uf in comparable else "",
            },
            partition_key=uf,
        )
    totals = changes.group_by("change_type").len()
    return dg.MaterializeResult(
        metadata={
            "run_changes": changes.height,
            "changes_by_kind": dict(totals.iter_rows()),
            "changes_by_uf": dg.MetadataValue.md(_by_uf_table(by_uf)),
            "changed_columns": dict(sorted(columns.items(), key=lambda item: -item[1])),
            "not_compared": [uf for uf in ufs if uf not in comparable],  # first snapshot: nothing to compare with
            "units_compared": sum(c[2] for c in compared.values()),
            "candidates": sum(c[3] for c in compared.values()),
            "compare_seconds": round(compare_seconds, 3),
            **{f"{phase}_seconds": round(seconds, 3) for phase, seconds in phases.items()},
            "seconds": round(time.monotonic() - started, 3),
            "preview": dg.MetadataValue.md(_preview(changes)),
        }
    )


def _pair(version: PartitionVersion) -> str:
    """The snapshot key of a change set: the two files compared."""
    return f"{version.previous_source_sha256}..{version.source_sha256}"


def _counts_by_uf(changes: pl.DataFrame, ufs: list[str]) -> dict[str, dict[str, int]]:
    counts = {uf: {"inserts": 0, "updates": 0, "deletes": 0} for uf in ufs}
    for uf, kind, n in changes.group_by("partition_key", "change_type").len().iter_rows():
        counts[uf][f"{kind}s"] = n
    return counts


def _by_uf_table(by_uf: dict[str, dict[str, int]]) -> str:
    lines = ["| UF | new | removed | changed |", "|---|---:|---:|---:|"]
    lines += [
        f"| {uf} | {c['inserts']} | {c['deletes']} | {c['updates']} |" for uf, c in by_uf.items() if any(c.values())
    ]
    return "\n".join(lines) if len(lines) > 2 else "No unit changed."


def _preview(changes: pl.DataFrame) -> str:
    """The first changed units, old -> new, for the UI."""
    if changes.is_empty():
        return "No unit changed."
    lines = ["| UF | unit | change | old | new |", "|---|---|---|---|---|"]
    for row in changes.sort("partition_key", "change_type", "entity_id").head(PREVIEW_ROWS).iter_rows(named=True):
        old, new = (_cell(row[k]) for k in ("old_values", "new_values"))
        lines.append(f"| {row['partition_key']} | {row['entity_id']} | {row['change_type']} | {old} | {new} |")
    if changes.height > PREVIEW_ROWS:
        lines.append(f"\n{changes.height - PREVIEW_ROWS} more in audit.change_log.")
    return "\n".join(lines)


def _cell(value: str | None, limit: int = 160) -> str:
    text = (value or "").replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"
