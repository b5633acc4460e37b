"""Freshness policies: on every asset, in step with the schedules that launch the runs, and shown by the UI's
GraphQL layer from a real code server."""

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from dagster._core.definitions.freshness import CronFreshnessPolicy, FreshnessState
from dagster._core.definitions.freshness_evaluator import FRESHNESS_EVALUATORS_BY_POLICY_TYPE
from dagster._core.loader import LoadingContextForTest
from dagster._core.test_utils import freeze_time
from dagster._utils.schedules import cron_string_iterator
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

import ysh_assets.definitions
from ysh_assets.calendar import TIMEZONE
from ysh_assets.definitions import defs
from ysh_assets.freshness import POLICIES

GRAPH = defs.resolve_asset_graph()
RUN_TAKES = timedelta(minutes=20)


def test_every_asset_has_a_freshness_policy():
    keys = GRAPH.materializable_asset_keys
    assert len(keys) >= 15
    assert [k.to_user_string() for k in keys if GRAPH.get(k).freshness_policy is None] == []
    assert all(GRAPH.get(k).freshness_policy == POLICIES[k] for k in keys if k in POLICIES)


def _ticks(cron: str, after: datetime, count: int) -> list[datetime]:
    ticks = cron_string_iterator(after.timestamp(), cron, TIMEZONE)
    return [next(ticks) for _ in range(count)]


def _first_deadline_after(policy: dg.FreshnessPolicy, moment: datetime) -> datetime:
    return _ticks(policy.deadline_cron, moment, 1)[0]


def _state(instance: dg.DagsterInstance, key: dg.AssetKey, at: datetime) -> FreshnessState:
    node = GRAPH.get(key)
    evaluator = FRESHNESS_EVALUATORS_BY_POLICY_TYPE[type(node.freshness_policy)]()
    with freeze_time(at):
        return asyncio.run(evaluator.evaluate_freshness(LoadingContextForTest(instance), node))


@pytest.mark.parametrize("schedule_name", ["daily_full_ingestion", "catalog_daily", "certifications_weekly"])
def test_a_scheduled_run_passes_until_the_next_run_is_due_and_fails_when_it_is_missed(schedule_name):
    schedule = defs.resolve_schedule_def(schedule_name)
    keys = schedule.job.selection.resolve(GRAPH)
    assert keys
    start = datetime(2026, 3, 1, tzinfo=ZoneInfo(TIMEZONE))
    run, next_run = _ticks(schedule.cron_schedule, start, 2)
    with dg.instance_for_test() as instance:
        with freeze_time(run + RUN_TAKES):
            for key in keys:
                instance.report_runless_asset_event(dg.AssetMaterialization(key))
        for key in keys:
            policy = GRAPH.get(key).freshness_policy
            deadline = _first_deadline_after(policy, run + RUN_TAKES)
            missed = _first_deadline_after(policy, next_run)
            assert deadline < missed
            assert _state(instance, key, deadline + timedelta(minutes=1)) == FreshnessState.PASS, key
            assert _state(instance, key, missed - timedelta(minutes=1)) == FreshnessState.PASS, key
            assert _state(instance, key, missed + timedelta(minutes=1)) == FreshnessState.FAIL, key


def test_a_run_after_the_deadline_is_late_until_it_lands():
    key = dg.AssetKey(["aneel", "gd_units_raw"])
    policy = GRAPH.get(key).freshness_policy
    deadline = _first_deadline_after(policy, datetime(2026, 3, 2, tzinfo=ZoneInfo(TIMEZONE)))
    with dg.instance_for_test() as instance:
        with freeze_time(deadline - timedelta(days=1)):
            instance.report_runless_asset_event(dg.AssetMaterialization(key))
        assert _state(instance, key, deadline + timedelta(minutes=5)) == FreshnessState.FAIL
        with freeze_time(deadline + timedelta(hours=2)):
            instance.report_runless_asset_event(dg.AssetMaterialization(key))
        assert _state(instance, key, deadline + timedelta(hours=3)) == FreshnessState.PASS


def test_a_load_from_an_unchanged_file_is_not_expected_daily():
    """Generation units reload only when ANEEL publishes a new file: a quiet week warns, a longer one fails."""
    key = dg.AssetKey(["aneel", "generation_units"])
    loaded = datetime(2026, 3, 2, 2, 20, tzinfo=ZoneInfo(TIMEZONE))
    with dg.instance_for_test() as instance:
        with freeze_time(loaded):
            instance.report_runless_asset_event(dg.AssetMaterialization(key, partition="SP"))
        assert _state(instance, key, loaded + timedelta(days=2)) == FreshnessState.PASS
        assert _state(instance, key, loaded + timedelta(days=4)) == FreshnessState.WARN
        assert _state(instance, key, loaded + timedelta(days=8)) == FreshnessState.FAIL


ASSET_POLICIES = """
{
  assetNodes {
    assetKey { path }
    internalFreshnessPolicy {
      __typename
      ... on CronFreshnessPolicy { deadlineCron lowerBoundDeltaSeconds timezone }
      ... on TimeWindowFreshnessPolicy { failWindowSeconds warnWindowSeconds }
    }
  }
}
"""


def _as_graphql(policy: dg.FreshnessPolicy) -> dict:
    if isinstance(policy, CronFreshnessPolicy):
        return {
            "__typename": "CronFreshnessPolicy",
            "deadlineCron": policy.deadline_cron,
            "lowerBoundDeltaSeconds": int(policy.lower_bound_delta.total_seconds()),
            "timezone": policy.timezone,
        }
    return {
        "__typename": "TimeWindowFreshnessPolicy",
        "failWindowSeconds": int(policy.fail_window.to_timedelta().total_seconds()),
        "warnWindowSeconds": int(policy.warn_window.to_timedelta().total_seconds()),
    }


def test_the_ui_shows_each_assets_policy():
    definitions_file = str(Path(ysh_assets.definitions.__file__))
    with dg.instance_for_test() as instance, define_out_of_process_context(definitions_file, "defs", instance) as ctx:
        result = execute_dagster_graphql(ctx, ASSET_POLICIES)
    assert result.errors is None
    shown = {tuple(n["assetKey"]["path"]): n["internalFreshnessPolicy"] for n in result.data["assetNodes"]}
    assert set(shown) == {tuple(k.path) for k in GRAPH.get_all_asset_keys()}
    for key in GRAPH.materializable_asset_keys:
        assert shown[tuple(key.path)] == _as_graphql(GRAPH.get(key).freshness_policy), key
    assert shown[("aneel", "gd_units_raw")]["deadlineCron"] == "0 6 * * *"
    assert shown[("aneel", "gd_units_raw")]["timezone"] == "America/Sao_Paulo"
