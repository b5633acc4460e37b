"""Asset-check results recorded for each partition they cover.

Dagster records an `AssetCheckResult` against the step's partition, or against none when the step covers a
single-run range (27 UFs at once), and the UI then counts every partition's check as skipped. So a check over
several partitions logs one `AssetCheckEvaluation` per partition, targeting that partition's latest
materialization, and satisfies its check output with a bare `Output`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)

if TYPE_CHECKING:
    from ysh_assets.io_managers.audit import AuditReport


@dataclass(frozen=True)
class PartitionCheck:
    passed: bool
    metadata: Mapping[str, Any] = field(default_factory=dict)


def _latest_materializations(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, partitions: list[str]
) -> dict[str, AssetCheckEvaluationTargetMaterializationData]:
    """Each partition's latest materialization, in one query (newest first: the first seen wins)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=partitions), limit=max(len(partitions), 1) * 2
    ).records
    latest: dict[str, AssetCheckEvaluationTargetMaterializationData] = {}
    for record in records:
        if record.partition_key not in latest:
            latest[record.partition_key] = AssetCheckEvaluationTargetMaterializationData(
                run_id=record.run_id, storage_id=record.storage_id, timestamp=record.timestamp
            )
    return latest


def quarantine_share_check(report: AuditReport, partition: str, threshold: float) -> PartitionCheck:
    """Passes when the partition's quarantined rows are at most `threshold` of its rows (staged + quarantined)."""
    quarantined = report.quarantined_by_partition.get(partition, 0)
    considered = report.staged_rows.get(partition, 0) + quarantined
    share = quarantined / considered if considered else 0.0
    return PartitionCheck(
        share <= threshold,
        {"quarantine_share": round(share, 6), "max_quarantine_share": threshold, "rows_quarantined": quarantined,
         "where": "pipeline.quarantine"},
    )  # fmt: skip


def log_partition_checks(
    context: dg.OpExecutionContext,
    asset_key: dg.AssetKey,
    checks: Mapping[str, tuple[Mapping[str, PartitionCheck], dg.AssetCheckSeverity]],
) -> None:
    """Logs one evaluation of each check (name -> results per partition, severity) per partition."""
    partitions = sorted({partition for results, _ in checks.values() for partition in results})
    targets = _latest_materializations(context.instance, asset_key, partitions)
    for check_name, (results, severity) in checks.items():
        for partition, result in results.items():
            context.log_event(
                dg.AssetCheckEvaluation(
                    asset_key=asset_key,
                    check_name=check_name,
                    passed=result.passed,
                    metadata=dict(result.metadata),
                    target_materialization_data=targets.get(partition),
                    severity=severity,
                    partition=partition,
                )
            )


def check_output(asset_key: dg.AssetKey, check_name: str) -> dg.Output:
    """What an asset yields for a check spec whose evaluations it logged per partition."""
    return dg.Output(None, output_name=f"{asset_key.to_python_identifier()}_{check_name}")
