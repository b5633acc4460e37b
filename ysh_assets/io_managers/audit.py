"""Write-audit-publish: every load is staged, audited on the staged rows, and published only if it passes.

Both warehouse IO managers stage a write (PostgreSQL: index-free staging leaves or a temporary table;
DuckDB: a temporary table), run `audit_staged` on it, and only then replace the published partitions in
one transaction. A refused load leaves the published data exactly as it was and fails the run with the
reason and the figures. Audits every load gets, refused by default (thresholds in run config through
`LoadAuditConfig`, overrides recorded in metadata):

- a source with no data rows (a truncated publication);
- a partition that had rows losing more than `max_partition_shrink` of them (partitions that never had
  rows are not "shrunken");
- more than `max_quarantine_share` of the source's rows quarantined;
- any offending row of the policy's row audits (conditions on a row, counted on the stream as it is staged).

Row checks are the same kind of condition without the refusal: counted per partition on the stream while
the COPY runs, they become the asset's per-partition check results with no pass over the table.

A key of `unique_key` that appears more than once is resolved before the audits: identical copies
collapse into one; copies with different values are all quarantined and the previously published row
of that key is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import polars as pl

from ysh_assets.io_managers.frames import WarehouseOutput
from ysh_assets.warehouse import quarantine, row_counts
from ysh_assets.warehouse.sessions import SqlSession, quoted
from ysh_assets.warehouse.versions import DigestCollector

SAMPLE_ROWS = 5


class LoadAuditConfig(dg.Config):
    """Run config of a load's blocking audits; the defaults are the documented policy."""

    allow_empty_source: bool = False  # publish a source file with no data rows (refused by default)
    max_partition_shrink: float = 0.20  # refuse when a partition that had rows loses more than this share
    max_quarantine_share: float = 0.001  # refuse when more than this share of the source rows is quarantined

    def overrides(self) -> dict[str, Any]:
        """The thresholds this run set away from the documented defaults."""
        defaults = LoadAuditConfig()
        return {
            name: getattr(self, name)
            for name in LoadAuditConfig.model_fields
            if getattr(self, name) != getattr(defaults, name)
        }


@dataclass(frozen=True)
class RowAudit:
    """Rows of the load that must not exist: `offending` is a condition on one row, evaluated on every batch
    as it is staged (while the COPY runs), so the audit costs no pass over the staged table."""

    name: str
    offending: pl.Expr


@dataclass(frozen=True)
class RowCheck:
    """Like a RowAudit, but the load is published whatever it finds: the asset records the per-partition
    findings as asset-check results (counted on the stream, so the check costs no pass over the table)."""

    name: str
    offending: pl.Expr


@dataclass(frozen=True)
class AuditPolicy:
    thresholds: LoadAuditConfig = field(default_factory=LoadAuditConfig)
    unique_key: tuple[str, ...] = ()
    row_audits: tuple[RowAudit, ...] = ()
    row_checks: tuple[RowCheck, ...] = ()

    @property
    def row_conditions(self) -> tuple[RowAudit | RowCheck, ...]:
        return (*self.row_audits, *self.row_checks)


@dataclass(frozen=True)
class RowFindings:
    """One row condition's offending rows in one partition: how many, and the first few."""

    offending: int = 0
    sample: tuple[dict, ...] = ()


@dataclass(frozen=True)
class AuditResult:
    name: str
    passed: bool
    figures: dict[str, Any]


@dataclass
class AuditReport:
    """What the audit found; attached to the `AuditedLoad` it audited, and to the load's metadata."""

    results: list[AuditResult]
    staged_rows: dict[str, int]
    previous_rows: dict[str, int]
    quarantined: int
    quarantined_by_partition: dict[str, int]
    source_rows: int | None
    overrides: dict[str, Any]
    # Per row audit and row check, per partition: what the stream held (partitions without any are omitted).
    row_findings: dict[str, dict[str, RowFindings]] = field(default_factory=dict)
    # Keys of `unique_key` that the source repeated, per partition (resolved before the audits).
    repeated_keys: dict[str, int] = field(default_factory=dict)

    def findings(self, name: str, partition: str) -> RowFindings:
        return self.row_findings.get(name, {}).get(partition, RowFindings())

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def partition_metadata(self) -> dict[str, dict[str, Any]]:
        """Each partition's own figures, for its own materialization."""
        return {
            key: {
                "dagster/partition_row_count": rows,
                "previous_row_count": self.previous_rows.get(key, 0),
                "rows_quarantined": self.quarantined_by_partition.get(key, 0),
            }
            for key, rows in self.staged_rows.items()
        }

    def result(self, name: str) -> AuditResult:
        return next(r for r in self.results if r.name == name)

    def metadata(self) -> dict[str, Any]:
        return {
            "audit_passed": self.passed,
            "audits": dg.MetadataValue.json({r.name: {"passed": r.passed, **r.figures} for r in self.results}),
            "audit_overrides": dg.MetadataValue.json(self.overrides),
        }

    def failure(self, table: str, source: str | None) -> dg.Failure:
        failed = [r for r in self.results if not r.passed]
        reasons = "; ".join(f"{r.name}: {r.figures.get('reason', r.figures)}" for r in failed)
        origin = f" from {source}" if source else ""
        return dg.Failure(
            description=f"load of {table}{origin} refused by its audit, the published data is unchanged: {reasons}",
            metadata=self.metadata(),
        )


@dataclass
class AuditedLoad:
    """An output for the warehouse IO managers with its audit policy.

    `source_rows` is called once the data has been consumed: how many data rows the source file had
    (None when unknown). The IO manager sets `report` before it returns; a plain DataFrame output is
    audited with the default policy.
    """

    data: WarehouseOutput
    policy: AuditPolicy = field(default_factory=AuditPolicy)
    source_rows: Callable[[], int | None] = lambda: None
    source: str | None = None  # what the rows were read from, for messages (e.g. the stored object's key)
    source_sha256: str | None = None
    # Rows per partition scope to compare the staged rows with, instead of what the published slice holds:
    # a daily snapshot's partition is new every day, so it is compared with the day before.
    baseline_rows: Callable[[], dict[str, int]] | None = None
    report: AuditReport | None = None


def audit_report(load: AuditedLoad) -> AuditReport:
    """The report the IO manager attached when it published `load` (call after yielding its Output)."""
    if load.report is None:
        raise dg.DagsterInvariantViolationError(
            "the load has no audit report: it must be written by a warehouse IO manager (warehouse_io_manager)"
        )
    return load.report


def as_audited(obj: WarehouseOutput | AuditedLoad) -> AuditedLoad:
    return obj if isinstance(obj, AuditedLoad) else AuditedLoad(obj)


def _rows_by_partition(frame: pl.DataFrame, partition_column: str | None) -> pl.DataFrame:
    """(partition, len) rows: the frame's rows per value of `partition_column` ('' when unpartitioned)."""
    key = pl.col(partition_column).cast(pl.String) if partition_column else pl.lit("")
    return frame.group_by(key.alias("partition")).len()


class StreamProfile:
    """What the batches written to staging hold, observed as they go: rows per partition (for one static
    partition column, or unpartitioned) and, per partition, each row condition's offending rows with a sample."""

    def __init__(
        self,
        conditions: Sequence[RowAudit | RowCheck],
        partition_column: str | None,
        whole_slice: bool,
        digests: DigestCollector | None = None,
    ):
        self._conditions = conditions
        self.digests = digests  # the rows' key -> digest index, for tables that keep their previous version
        self._column = partition_column
        self.counted = partition_column is not None or whole_slice  # else the staged table is counted in SQL
        if conditions and not self.counted:
            raise dg.DagsterInvariantViolationError(
                "row audits and checks are counted per partition on the stream: they need an unpartitioned "
                "asset or one static partition column"
            )
        self.rows: dict[str, int] = {}
        self.findings: dict[str, dict[str, RowFindings]] = {c.name: {} for c in conditions}

    def observe(self, frame: pl.DataFrame) -> None:
        if self.digests:
            self.digests.observe(frame)
        if self.counted:
            for key, rows in _rows_by_partition(frame, self._column).iter_rows():
                self.rows[key] = self.rows.get(key, 0) + rows
        for condition in self._conditions:
            offending = frame.filter(condition.offending)
            if not offending.height:
                continue
            found = self.findings[condition.name]
            for key, rows in _rows_by_partition(offending, self._column).iter_rows():
                before = found.get(key, RowFindings())
                sample = before.sample
                if len(sample) < SAMPLE_ROWS:
                    in_partition = offending.filter(pl.col(self._column) == key) if self._column else offending
                    head = in_partition.head(SAMPLE_ROWS - len(sample))
                    sample = (*sample, *head.cast(dict.fromkeys(head.columns, pl.String)).to_dicts())
                found[key] = RowFindings(before.offending + rows, sample)

    def total(self, name: str) -> RowFindings:
        """A condition's findings over all partitions."""
        found = self.findings[name].values()
        sample = tuple(row for f in found for row in f.sample)[:SAMPLE_ROWS]
        return RowFindings(sum(f.offending for f in found), sample)


@dataclass(frozen=True)
class StagedLoad:
    """Where a load was staged, and what it replaces."""

    staged: str  # `schema.table` (or a temporary `table`) holding the staged rows
    published: str | None  # `schema.table` published, None when it does not exist yet
    scopes: Mapping[str, str]  # partition key ('' when unpartitioned) -> WHERE clause of its rows
    columns: Sequence[str]  # the columns the load writes
    partition_column: str | None  # the column holding the partition key, for static partitions
    profile: StreamProfile  # what the written batches held
    # Makes the staged rows unique on the given key the engine's own way (e.g. the primary key the publish
    # step needs anyway), returning False when duplicates prevent it; None: detect duplicates by GROUP BY.
    enforce_unique: Callable[[Sequence[str]], bool] | None = None


def _count(session: SqlSession, relation: str, where: str) -> int:
    return session.scalar(f"SELECT count(*) FROM {quoted(relation)} WHERE {where}")


def _previous_rows(session: SqlSession, staged: StagedLoad) -> dict[str, int]:
    """What the published partitions hold now: recorded at their publication, else counted."""
    if not staged.published:
        return {}
    recorded = row_counts.published(session, staged.published, list(staged.scopes))
    return {
        key: recorded[key] if key in recorded else _count(session, staged.published, where)
        for key, where in staged.scopes.items()
    }


def _staged_rows(session: SqlSession, staged: StagedLoad, recount: bool) -> dict[str, int]:
    """Rows per partition in staging: as observed in the stream, unless duplicates were resolved since."""
    if staged.profile.counted and not recount:
        return {key: staged.profile.rows.get(key, 0) for key in staged.scopes}
    return {key: _count(session, staged.staged, where) for key, where in staged.scopes.items()}


def count_audits(
    thresholds: LoadAuditConfig,
    source_rows: int | None,
    staged_rows: Mapping[str, int],
    previous_rows: Mapping[str, int],
    quarantined: int,
) -> list[AuditResult]:
    """The audits that need only counts: the source has rows, no partition shrank past the allowed share, the
    quarantined share is within bounds. Also usable before anything is staged, from the counts in memory."""
    results = []
    empty_source = source_rows == 0 or (source_rows is None and not sum(staged_rows.values()))
    results.append(
        AuditResult(
            "source_has_rows",
            passed=not empty_source or thresholds.allow_empty_source,
            figures={"source_rows": source_rows, "staged_rows": sum(staged_rows.values())}
            | ({"reason": "the source has no data rows"} if empty_source else {}),
        )
    )
    shrunken = {
        key: {
            "previous": before,
            "staged": staged_rows.get(key, 0),
            "lost_share": round(1 - staged_rows.get(key, 0) / before, 4),
        }
        for key, before in previous_rows.items()
        if before and 1 - staged_rows.get(key, 0) / before > thresholds.max_partition_shrink
    }
    results.append(
        AuditResult(
            "partitions_not_shrunken",
            passed=not shrunken,
            figures={"max_partition_shrink": thresholds.max_partition_shrink, "shrunken": shrunken}
            | ({"reason": f"{len(shrunken)} partition(s) would lose more than the allowed share"} if shrunken else {}),
        )
    )
    considered = sum(staged_rows.values()) + quarantined
    share = quarantined / considered if considered else 0.0
    too_many = share > thresholds.max_quarantine_share
    results.append(
        AuditResult(
            "quarantine_share",
            passed=not too_many,
            figures={
                "quarantine_share": round(share, 6),
                "max_quarantine_share": thresholds.max_quarantine_share,
                "rows_quarantined": quarantined,
            }
            | ({"reason": f"{share:.4%} of the rows quarantined"} if too_many else {}),
        )
    )
    return results


def audit_staged(
    session: SqlSession,
    quarantine_session: SqlSession,
    load: AuditedLoad,
    staged: StagedLoad,
    *,
    asset: str,
    run_id: str,
) -> AuditReport:
    """Resolves duplicate keys in the staged rows, then runs every audit; never raises for a failed audit."""
    thresholds = load.policy.thresholds
    key = load.policy.unique_key
    repeated: dict[str, int] = {}
    if key and not (staged.enforce_unique and staged.enforce_unique(key)):
        repeated = _resolve_duplicates(session, quarantine_session, load, staged, asset=asset, run_id=run_id)
        if staged.enforce_unique and not staged.enforce_unique(key):
            raise dg.DagsterInvariantViolationError(f"staged rows still repeat {key} after resolving duplicates")
    staged_rows = _staged_rows(session, staged, recount=bool(repeated))
    previous_rows = load.baseline_rows() if load.baseline_rows else _previous_rows(session, staged)
    quarantined = quarantine.staged_count(session, asset, run_id)
    source_rows = load.source_rows()
    results = count_audits(thresholds, source_rows, staged_rows, previous_rows, quarantined)

    for row_audit in load.policy.row_audits:
        found = staged.profile.total(row_audit.name)
        figures: dict[str, Any] = {"offending_rows": found.offending}
        if found.offending:
            figures["sample"] = list(found.sample)
            figures["reason"] = f"{found.offending} offending row(s)"
        results.append(AuditResult(row_audit.name, passed=not found.offending, figures=figures))

    return AuditReport(
        results=results,
        staged_rows=staged_rows,
        previous_rows=previous_rows,
        quarantined=quarantined,
        quarantined_by_partition=quarantine.staged_by_partition(session, asset, run_id),
        source_rows=source_rows,
        overrides=thresholds.overrides(),
        row_findings=staged.profile.findings,
        repeated_keys=repeated,
    )


def audit_or_refuse(
    session: SqlSession,
    quarantine_session: SqlSession,
    load: AuditedLoad,
    staged: StagedLoad,
    *,
    asset: str,
    run_id: str,
    table: str,
) -> AuditReport:
    """Audits the staged load and attaches the report; a failed audit (or any error) marks the load's
    quarantine rows `rejected` and raises, so the caller's transaction rolls the staging back."""
    try:
        report = audit_staged(session, quarantine_session, load, staged, asset=asset, run_id=run_id)
    except BaseException:
        quarantine.reject(quarantine_session, asset, run_id)
        raise
    load.report = report
    if not report.passed:
        quarantine.reject(quarantine_session, asset, run_id)
        raise report.failure(table, load.source)
    return report


def _resolve_duplicates(
    session: SqlSession,
    quarantine_session: SqlSession,
    load: AuditedLoad,
    staged: StagedLoad,
    *,
    asset: str,
    run_id: str,
) -> dict[str, int]:
    """The keys the staged rows repeated, per partition ('' unpartitioned); empty when none (nothing changed)."""
    stage, published = quoted(staged.staged), quoted(staged.published) if staged.published else None
    key = ", ".join(f'"{c}"' for c in load.policy.unique_key)
    repeated = f"SELECT {key} FROM {stage} GROUP BY {key} HAVING count(*) > 1"
    if not session.scalar(f"SELECT count(*) FROM ({repeated}) AS repeated"):
        return {}
    columns = ", ".join(f'"{c}"' for c in staged.columns)
    copies = session.frame(f"SELECT {columns} FROM {stage} WHERE ({key}) IN ({repeated})")
    session.execute(f"DELETE FROM {stage} WHERE ({key}) IN ({repeated})")
    key_columns = list(load.policy.unique_key)
    # without a partition column the slice is one scope: '' unpartitioned, or the one partition it writes
    whole = next(iter(staged.scopes), "")
    distinct = copies.unique()
    variants = distinct.group_by(key_columns).len("variants")
    identical = distinct.join(variants.filter(pl.col("variants") == 1), on=key_columns).drop("variants")
    conflicting = variants.filter(pl.col("variants") > 1).select(key_columns)
    session.insert_frame(staged.staged, identical)
    if conflicting.height and published:
        session.execute(f"CREATE TEMP TABLE ysh_conflicting_keys AS SELECT {key} FROM {stage} LIMIT 0")
        session.insert_frame("ysh_conflicting_keys", conflicting)
        scope = " OR ".join(f"({where})" for where in staged.scopes.values())
        session.execute(
            f"INSERT INTO {stage} ({columns}) SELECT {columns} FROM {published} "
            f"WHERE ({key}) IN (SELECT {key} FROM ysh_conflicting_keys) AND ({scope})"
        )
        session.execute("DROP TABLE ysh_conflicting_keys")

    key_text = pl.concat_str([pl.col(c).cast(pl.String) for c in key_columns], separator=", ")
    key_names = pl.lit(", ".join(key_columns))
    marked = copies.join(conflicting.with_columns(_conflict=pl.lit(True)), on=key_columns, how="left")
    rows = (
        marked.with_columns(
            reason=pl.when(pl.col("_conflict"))
            .then(
                pl.format(
                    "conflicting copies of ({}) = ({}); the previous accepted values are kept", key_names, key_text
                )
            )
            .otherwise(pl.format("duplicate ({}) = ({}): identical copy", key_names, key_text)),
            # every copy of a conflicting key is quarantined; of identical copies, all but the one kept
            _quarantined=pl.col("_conflict").fill_null(False) | (pl.int_range(pl.len()).over(key_columns) > 0),
        )
        .filter("_quarantined")
        .select(
            line_number=pl.lit(None, pl.Int64),
            reason="reason",
            raw_record=pl.struct(staged.columns).struct.json_encode(),
            partition_key=pl.col(staged.partition_column)
            if staged.partition_column
            else pl.lit(whole or None, pl.String),
        )
    )
    quarantine.append(
        quarantine_session,
        rows,
        pl.col("partition_key"),
        asset=asset,
        run_id=run_id,
        source="duplicate keys in the load",
        source_sha256=load.source_sha256,
    )
    partition = [staged.partition_column] if staged.partition_column else []
    keys = copies.unique(subset=list(dict.fromkeys([*key_columns, *partition])))
    if not staged.partition_column:
        return {whole: keys.height}
    return dict(_rows_by_partition(keys, staged.partition_column).iter_rows())
