"""Sensors that turn what the instance records into alerts: failed runs, failed ERROR checks, stale assets.

They read Dagster's own records, so an alert says what the UI shows: run failure events, the asset-check
executions (one per partition here, see ysh_assets/check_results.py), and the FRESHNESS_STATE_CHANGE events
that Dagster's freshness daemon (part of `dagster-daemon` and `dagster dev`) writes when an asset's
`FreshnessPolicy` state changes. The check and freshness sensors keep storage ids in their cursors, so a
re-evaluation never alerts twice. They run by default: with no channel configured they only log that.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime

import dagster as dg
from dagster._core.definitions.freshness import (
    CronFreshnessPolicy,
    FreshnessState,
    FreshnessStateChange,
    TimeWindowFreshnessPolicy,
)
from dagster._core.errors import DagsterUserCodeExecutionError
from dagster._core.instance.utils import RUNLESS_RUN_ID
from dagster._core.storage.asset_check_execution_record import (
    AssetCheckExecutionRecord,
    AssetCheckExecutionRecordStatus,
)
from dagster._utils.error import SerializableErrorInfo

from ysh_assets.ops.alerts import Alert, AlertChannels

_BATCH = 500  # events read per tick; the cursor carries the rest to the next tick
_CHECK_PAGE = 50  # executions read per check and query: a minute adds few, and each row is a serialized event
# A check planned this long ago and still not evaluated belongs to a run that died (the run failure alert
# covers it): it stops holding the check cursor back.
_PLANNED_HORIZON_SECONDS = 24 * 3600
_PARTITION_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


_WRAPPERS = {cls.__name__ for cls in (DagsterUserCodeExecutionError, *DagsterUserCodeExecutionError.__subclasses__())}


def _root_message(error: SerializableErrorInfo | None) -> str:
    """The user's exception, not Dagster's wrapper around it."""
    while error is not None and error.cause is not None and error.cls_name in _WRAPPERS:
        error = error.cause
    return error.message.strip() if error is not None else ""


def _step_assets(instance: dg.DagsterInstance, run: dg.DagsterRun, step_keys: set[str]) -> list[str]:
    """The assets (and checks) the failed steps were computing, from the run's execution plan."""
    if not step_keys or not run.execution_plan_snapshot_id:
        return []
    plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
    names = []
    for step in plan.steps:
        if step.key in step_keys:
            for output in step.outputs:
                key = output.properties.asset_key if output.properties else None
                check = output.properties.asset_check_key if output.properties else None
                if key:
                    names.append(key.to_user_string())
                elif check:
                    names.append(f"{check.asset_key.to_user_string()}:{check.name}")
    return sorted(set(names))


def _run_partition(run: dg.DagsterRun) -> str | None:
    start, end = (run.tags.get(tag) for tag in _PARTITION_TAGS)
    return run.tags.get("dagster/partition") or (f"{start}...{end}" if start and end else None)


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    description="Sends every failed run of this code location through the alert channels.",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def alert_on_run_failure(context: dg.RunFailureSensorContext, alert_channels: AlertChannels) -> None:
    run = context.dagster_run
    failures = context.get_step_failure_events()
    reasons = [
        f"{event.step_key}: {_root_message(event.step_failure_data.error)}" for event in failures if event.step_key
    ]
    assets = _step_assets(context.instance, run, {event.step_key for event in failures if event.step_key})
    alert_channels.send(
        Alert(
            kind="run_failure",
            title=f"Run of {run.job_name} failed",
            reason="\n".join(reasons) or context.failure_event.message or "the run failed",
            asset=", ".join(assets) or None,
            partition=_run_partition(run),
            run_id=run.run_id,
        ),
        log=context.log,
    )


def _new_events(
    instance: dg.DagsterInstance, event_type: dg.DagsterEventType, after: int | None
) -> list[dg.EventLogRecord]:
    return list(
        instance.event_log_storage.get_event_records(
            dg.EventRecordsFilter(event_type=event_type, after_cursor=after), limit=_BATCH, ascending=True
        )
    )


def _executions_after(storage, key: dg.AssetCheckKey, after: int) -> list[AssetCheckExecutionRecord]:
    """The check's executions (one per partition) with an id above `after`; the history comes newest first."""
    found: list[AssetCheckExecutionRecord] = []
    page_end = None
    while True:
        page = storage.get_asset_check_execution_history(key, limit=_CHECK_PAGE, cursor=page_end)
        newer = [record for record in page if record.id > after]
        found += newer
        if len(newer) < len(page) or len(page) < _CHECK_PAGE:
            return found
        page_end = page[-1].id


def _first_check_cursor(storage, keys: list[dg.AssetCheckKey], recent: float) -> dict:
    """Starts from now without replaying what finished before, yet keeps watching the executions still planned
    (their runs are under way): the low-water mark goes below them, and what finished above it counts as seen.
    Each check's history is read back to the planned-horizon (`recent`)."""
    latest, running, finished = 0, [], []
    for key in keys:
        page_end = None
        while True:
            page = storage.get_asset_check_execution_history(key, limit=_CHECK_PAGE, cursor=page_end)
            for record in page:
                latest = max(latest, record.id)
                if record.status != AssetCheckExecutionRecordStatus.PLANNED:
                    finished.append(record.id)
                elif record.create_timestamp > recent:
                    running.append(record.id)
            if len(page) < _CHECK_PAGE or page[-1].create_timestamp < recent:
                break
            page_end = page[-1].id
    after = min(running) - 1 if running else latest
    return {"after": after, "alerted": sorted(i for i in finished if i > after)}


def _check_alert(record: AssetCheckExecutionRecord) -> Alert | None:
    """The alert for a failed ERROR evaluation; None for passes, warnings and evaluations still running."""
    evaluation = record.event.dagster_event.event_specific_data if record.event and record.event.dagster_event else None
    if record.status != AssetCheckExecutionRecordStatus.FAILED or not isinstance(evaluation, dg.AssetCheckEvaluation):
        return None
    if evaluation.severity != dg.AssetCheckSeverity.ERROR:
        return None
    asset = evaluation.asset_key.to_user_string()
    details = ", ".join(f"{k}={v.value}" for k, v in evaluation.metadata.items() if hasattr(v, "value"))
    reason = (f"{evaluation.description}\n" if evaluation.description else "") + (
        f"ERROR check `{evaluation.check_name}` did not pass" + (f": {details}" if details else "")
    )
    return Alert(
        kind="check_failure",
        title=f"Check {evaluation.check_name} failed on {asset}",
        reason=reason,
        asset=asset,
        partition=evaluation.partition or record.partition,
        run_id=record.run_id if record.run_id not in ("", RUNLESS_RUN_ID) else None,
    )


@dg.sensor(
    name="alert_on_check_failure",
    description="Sends each failed ERROR-severity asset check evaluation (per partition) through the alert channels.",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def alert_on_check_failure(context: dg.SensorEvaluationContext, alert_channels: AlertChannels) -> dg.SensorResult:
    """Reads the instance's asset-check executions, which every event log storage indexes (the local profile's
    run-sharded SQLite cannot list ASSET_CHECK_EVALUATION events across runs by storage id). An execution keeps
    the id it got when planned, so the cursor is a low-water mark below the executions still in progress,
    with the ids alerted (or already seen) above it: `{"after": id, "alerted": [ids]}`. The first tick starts
    from now, still watching the executions then planned."""
    storage = context.instance.event_log_storage
    graph = context.repository_def.asset_graph if context.repository_def is not None else None
    keys = sorted(graph.asset_check_keys if graph is not None else [], key=str)
    recent = time.time() - _PLANNED_HORIZON_SECONDS
    if context.cursor is None:
        return dg.SensorResult(
            skip_reason="started watching check results", cursor=json.dumps(_first_check_cursor(storage, keys, recent))
        )
    state = json.loads(context.cursor)
    records = sorted((r for key in keys for r in _executions_after(storage, key, state["after"])), key=lambda r: r.id)
    alerted = set(state["alerted"])
    running = [
        r.id for r in records if r.status == AssetCheckExecutionRecordStatus.PLANNED and r.create_timestamp > recent
    ]
    sent = 0
    for record in records:
        alert = None if record.id in alerted else _check_alert(record)
        if alert is not None:
            run = context.instance.get_run_by_id(alert.run_id) if alert.run_id and not alert.partition else None
            alert_channels.send(replace(alert, partition=_run_partition(run)) if run else alert, log=context.log)
            alerted.add(record.id)
            sent += 1
    after = min(running) - 1 if running else max((r.id for r in records), default=state["after"])
    cursor = {"after": after, "alerted": sorted(i for i in alerted if i > after)}
    return dg.SensorResult(
        cursor=json.dumps(cursor), skip_reason=None if sent else f"no new failed ERROR check in {len(records)} results"
    )


def _describe(policy: dg.FreshnessPolicy | None) -> str:
    if isinstance(policy, TimeWindowFreshnessPolicy):
        return f"expected within {policy.fail_window.to_timedelta()} of the last materialization"
    if isinstance(policy, CronFreshnessPolicy):
        return f"expected by `{policy.deadline_cron}` ({policy.timezone}), at most {policy.lower_bound_delta} before"
    return "its freshness policy"


def _stale_reason(context: dg.SensorEvaluationContext, key: dg.AssetKey) -> str:
    graph = context.repository_def.asset_graph if context.repository_def is not None else None
    policy = graph.get(key).freshness_policy if graph is not None and graph.has(key) else None
    latest = context.instance.get_latest_materialization_event(key)
    when = (
        f"last materialized {datetime.fromtimestamp(latest.timestamp, UTC):%Y-%m-%d %H:%M} UTC"
        if latest
        else "never materialized"
    )
    return f"Freshness FAIL: {when}; {_describe(policy)}"


def _first_freshness_cursor(context: dg.SensorEvaluationContext) -> dict:
    """The latest state change's id (read first: a change after it is the next tick's), and the assets whose
    current freshness state is FAIL."""
    instance = context.instance
    newest = instance.event_log_storage.get_event_records(
        dg.EventRecordsFilter(event_type=dg.DagsterEventType.FRESHNESS_STATE_CHANGE), limit=1, ascending=False
    )
    graph = context.repository_def.asset_graph if context.repository_def is not None else None
    keys = [key for key in graph.get_all_asset_keys() if graph.get(key).freshness_policy] if graph else []
    states = instance.get_freshness_state_records(keys) if keys else {}
    failing = sorted(
        key.to_user_string() for key, record in states.items() if record.freshness_state == FreshnessState.FAIL
    )
    return {"after": newest[0].storage_id if newest else None, "failing": failing}


@dg.sensor(
    name="alert_on_stale_assets",
    description="Sends an alert when an asset's freshness state becomes FAIL, and a note when it recovers.",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def alert_on_stale_assets(context: dg.SensorEvaluationContext, alert_channels: AlertChannels) -> dg.SensorResult:
    """Cursor: `{"after": storage id, "failing": [asset keys failing and not yet recovered]}`. Only the latest
    state of each asset in a batch counts, so a flapping asset alerts once. The first tick replays no history:
    it starts after the latest state change, with the assets failing now (those alert no more; their recovery
    is noted)."""
    if context.cursor is None:
        return dg.SensorResult(
            cursor=json.dumps(_first_freshness_cursor(context)), skip_reason="started watching freshness"
        )
    state = json.loads(context.cursor)
    records = _new_events(context.instance, dg.DagsterEventType.FRESHNESS_STATE_CHANGE, state["after"])
    latest: dict[str, FreshnessState] = {}
    for record in records:
        change = record.event_log_entry.dagster_event.event_specific_data  # type: ignore[union-attr]
        if isinstance(change, FreshnessStateChange):
            latest[change.key.to_user_string()] = change.new_state
    failing = set(state["failing"])
    for asset, freshness in latest.items():
        key = dg.AssetKey.from_user_string(asset)
        if freshness == FreshnessState.FAIL and asset not in failing:
            reason = _stale_reason(context, key)
            alert_channels.send(Alert(kind="freshness", title=f"{asset} is stale", reason=reason, asset=asset),
                                log=context.log)  # fmt: skip
            failing.add(asset)
        elif freshness != FreshnessState.FAIL and asset in failing:
            failing.discard(asset)
            if freshness == FreshnessState.PASS:
                alert_channels.send(
                    Alert(kind="freshness", title=f"{asset} is fresh again", reason="freshness PASS", asset=asset),
                    log=context.log,
                )
    cursor = {"after": records[-1].storage_id if records else state["after"], "failing": sorted(failing)}
    return dg.SensorResult(cursor=json.dumps(cursor), skip_reason=None if latest else "no freshness change")


defs = dg.Definitions(sensors=[alert_on_run_failure, alert_on_check_failure, alert_on_stale_assets])
