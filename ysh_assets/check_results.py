"""Asset-check results recorded for each partition they cover.

Dagster records an `AssetCheckResult` against the step's partition, or against none when the step covers a
single-run range (27 UFs at once), and the UI then counts every partition's check as skipped. So a check over
several partitions logs one `AssetCheckEvaluation` per partition, targeting that partition's latest
materialization, and satisfies its check output with a bare `Output`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)


@dataclass(frozen=True)
class PartitionCheck:
    passed: bool
    metadata: Mapping[str, Any] = field(default_factory=dict)


def _latest_materialization(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, partition: str
) -> AssetCheckEvaluationTargetMaterializationData | None:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[partition]), limit=1
    ).records
    if not records:
        return None
    record = records[0]
    return AssetCheckEvaluationTargetMaterializationData(
        run_id=record.run_id, storage_id=record.storage_id, timestamp=record.timestamp
    )


def log_partition_checks(
    context: dg.OpExecutionContext,
    asset_key: dg.AssetKey,
    check_name: str,
    results: Mapping[str, PartitionCheck],
    *,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
    blocking: bool = False,
) -> None:
    """Logs one evaluation of `check_name` per partition of `results`."""
    for partition, result in results.items():
        context.log_event(
            dg.AssetCheckEvaluation(
                asset_key=asset_key,
                check_name=check_name,
                passed=result.passed,
                metadata=dict(result.metadata),
                target_materialization_data=_latest_materialization(context.instance, asset_key, partition),
                severity=severity,
                blocking=blocking,
                partition=partition,
            )
        )


def check_output(asset_key: dg.AssetKey, check_name: str) -> dg.Output:
    """What an asset yields for a check spec whose evaluations it logged per partition."""
    return dg.Output(None, output_name=f"{asset_key.to_python_identifier()}_{check_name}")
