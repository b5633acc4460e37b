"""Backfills both ways on the local profile (DuckDB, bundled real samples): batch, one run for a range (the plan
Dagster's own backfills make under the single-run policy), and isolated, one run per partition."""

import dagster as dg
import duckdb
import pytest
from dagster._core.definitions.automation_tick_evaluation_context import build_run_requests_with_backfill_policies
from dagster._core.definitions.events import AssetKeyPartitionKey

from ysh_assets import automation
from ysh_assets.aneel import definitions as aneel
from ysh_assets.aneel.assets import GENERATION_UNITS, TARIFFS, today_in_brazil
from ysh_assets.resources import build_resources
from ysh_assets.settings import Settings

LOADS = {"generation_units": (GENERATION_UNITS, "sig_uf"), "tariffs": (TARIFFS, "year(dat_inicio_vigencia)")}


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """Today's snapshot of the bundled files, taken once, in a local-profile data directory."""
    data = tmp_path_factory.mktemp("backfills")
    settings = Settings.from_env({"YSH_PROFILE": "local", "YSH_DATA_DIR": str(data), "YSH_SOURCES": "bundled"})
    resources = dg.Definitions(resources=build_resources(settings), executor=dg.in_process_executor)
    definitions = dg.Definitions.merge(aneel.defs, automation.defs, resources)
    with dg.instance_for_test() as instance:
        snapshot = [("aneel_snapshot_job", {"dagster/partition": today_in_brazil().isoformat()})]
        assert all(r.success for r in automation.run_daily_sequence(definitions, instance, snapshot))
        yield definitions, instance, settings.duckdb_path


def _rows_by_partition(database, load: str) -> dict[str, int]:
    key, partition_expr = LOADS[load]
    table = ".".join(["aneel", key.path[-1]])
    with duckdb.connect(str(database), read_only=True) as conn:
        rows = conn.execute(f"SELECT {partition_expr}::VARCHAR, count(*) FROM {table} GROUP BY 1").fetchall()
    return dict(rows)


def _runs_of(instance: dg.DagsterInstance, job_name: str, before: set[str]) -> list[dg.DagsterRun]:
    return [r for r in instance.get_runs(dg.RunsFilter(job_name=job_name)) if r.run_id not in before]


def _materialized_partitions(instance: dg.DagsterInstance, key: dg.AssetKey, run_id: str) -> set[str]:
    return {
        e.dagster_event.partition
        for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
        if e.dagster_event.asset_key == key
    }


@pytest.mark.parametrize("load", ["generation_units", "tariffs"])
def test_batch_then_isolated_backfill(local, load):
    definitions, instance, database = local
    key, _ = LOADS[load]
    job, partitions_def = automation.BACKFILLS[load]
    every = partitions_def.get_partition_keys()

    # batch: one run for the whole range, the same plan Dagster's backfill daemon makes for this asset
    planned = build_run_requests_with_backfill_policies(
        [AssetKeyPartitionKey(key, p) for p in every], definitions.resolve_asset_graph(), instance
    )
    batch = automation.backfill_sequence(load)
    range_tags = {"dagster/asset_partition_range_start", "dagster/asset_partition_range_end"}
    assert [(job.name, {k: v for k, v in r.tags.items() if k in range_tags}) for r in planned] == batch
    before = {r.run_id for r in instance.get_runs()}
    assert all(r.success for r in automation.run_daily_sequence(definitions, instance, batch))
    (run,) = _runs_of(instance, job.name, before)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert run.tags["dagster/asset_partition_range_start"] == every[0]
    assert run.tags["dagster/asset_partition_range_end"] == every[-1]
    assert _materialized_partitions(instance, key, run.run_id) == set(every)
    loaded = _rows_by_partition(database, load)
    assert sum(loaded.values()) == {"generation_units": 200, "tariffs": 11}[load]

    # isolated: one run per partition, each materializing its own partition only; the rows do not move
    chosen = sorted(loaded)[:3]
    assert len(chosen) == 3
    isolated = automation.backfill_sequence(load, chosen, isolated=True)
    before = {r.run_id for r in instance.get_runs()}
    assert all(r.success for r in automation.run_daily_sequence(definitions, instance, isolated))
    runs = _runs_of(instance, job.name, before)
    assert len(runs) == len(chosen)
    assert {r.tags["dagster/partition"]: r.status for r in runs} == dict.fromkeys(chosen, dg.DagsterRunStatus.SUCCESS)
    for r in runs:
        assert _materialized_partitions(instance, key, r.run_id) == {r.tags["dagster/partition"]}
    assert _rows_by_partition(database, load) == loaded


def test_a_batch_over_scattered_keys_is_one_run_per_contiguous_range():
    ranges = automation.backfill_sequence("generation_units", ["AC", "AL", "AM", "SP", "TO"])
    assert [(t["dagster/asset_partition_range_start"], t["dagster/asset_partition_range_end"]) for _, t in ranges] == [
        ("AC", "AM"),
        ("SP", "TO"),
    ]


def test_ysh_backfill_prints_the_runs_it_would_launch(capsys):
    from ysh_assets.cli import main

    assert main(["backfill", "generation_units", "--partitions", "SP,RJ", "--isolated", "--commands"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "dagster job execute -m ysh_assets.definitions -j aneel_generation_units_job --tags "
        f'\'{{"dagster/partition": "{uf}"}}\''
        for uf in ("SP", "RJ")
    ]
    assert main(["backfill", "tariffs", "--partitions", "1999", "--commands"]) == 2
    assert "no partitions ['1999']" in capsys.readouterr().err
