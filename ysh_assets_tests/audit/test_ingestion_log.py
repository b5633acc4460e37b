"""`pipeline.ingestion_log` on the services profile: one row per materialization and partition, written with
the data (a refused load logs `failed` and publishes nothing), raw files logged with their sha256 and staleness."""

import json
from datetime import UTC, datetime

import dagster as dg
import pytest

from ysh_assets.aneel.assets import GD_UNITS_RAW, GENERATION_UNITS, UF_PARTITIONS
from ysh_assets.aneel.ckan import GD_UNITS_RESOURCE_ID
from ysh_assets.io_managers.object_store import ObjectStoreIOManager
from ysh_assets.warehouse.sql import Warehouse
from ysh_assets_tests.aneel.test_pipeline import damaged_gd_file, metadata_of


@pytest.fixture
def logged_stack(stack):
    resources = dict(stack.definitions.resources)
    resources["object_store_io_manager"] = ObjectStoreIOManager(
        store=resources["object_store"], ingestion_log=Warehouse(dsn=stack.dsn)
    )
    stack.definitions = dg.Definitions(
        assets=list(stack.definitions.assets),
        jobs=list(stack.definitions.jobs),
        asset_checks=list(stack.definitions.asset_checks or []),
        resources=resources,
    )
    return stack


def entries(stack, asset: dg.AssetKey, run_id: str) -> dict:
    rows = stack.sql(
        "SELECT partition_key, status, rows_read, rows_loaded, rows_quarantined, sha256, size_bytes, stale, error, "
        "details, started_at <= finished_at FROM pipeline.ingestion_log WHERE asset_key = %s AND run_id = %s",
        (asset.to_user_string(), run_id),
    )
    return {row[0]: row[1:] for row in rows}


def test_each_materialization_is_logged_per_partition_with_what_it_read(logged_stack, files, tmp_path):
    stack = logged_stack
    snapshot = stack.snapshot()
    assert snapshot.success
    raw = metadata_of(snapshot, GD_UNITS_RAW)
    ((status, _, _, _, sha256, size, stale, error, _, ordered),) = entries(
        stack, GD_UNITS_RAW, snapshot.run_id
    ).values()
    assert (status, sha256, size, stale, error, ordered) == ("loaded", raw["sha256"], raw["bytes"], False, None, True)

    load = stack.load_units()
    assert load.success
    logged = entries(stack, GENERATION_UNITS, load.run_id)
    assert set(logged) == set(UF_PARTITIONS.get_partition_keys())
    counts = dict(stack.sql("SELECT sig_uf, count(*) FROM aneel.generation_units GROUP BY 1"))
    for uf, (status, read, loaded, quarantined, sha256, *_rest) in logged.items():
        assert status == "loaded" and loaded == counts.get(uf, 0) and read == loaded + quarantined
        assert sha256 == raw["sha256"]
    details = logged["AC"][8]
    assert (json.loads(details) if isinstance(details, str) else details)["source_rows"] == 200

    # The same file again: the raw asset logs it unchanged.
    again = stack.snapshot()
    assert [v[0] for v in entries(stack, GD_UNITS_RAW, again.run_id).values()] == ["unchanged"]

    # The portal's file host down: the last good snapshot is kept, logged stale.
    stack.portal.fail_next(stack.portal.download_path(GD_UNITS_RESOURCE_ID), times=50, status=503)
    stale_run = stack.snapshot()
    assert [v[:1] + v[6:7] for v in entries(stack, GD_UNITS_RAW, stale_run.run_id).values()] == [("stale", True)]


def test_a_refused_load_is_logged_failed_and_nothing_loaded(logged_stack, files, tmp_path):
    stack = logged_stack
    assert stack.snapshot().success and stack.load_units().success
    damaged = tmp_path / "damaged.csv"
    damaged_gd_file(files["gd"], damaged)
    stack.portal.publish(GD_UNITS_RESOURCE_ID, path=damaged, last_modified=datetime(2026, 9, 1, tzinfo=UTC))
    assert stack.snapshot().success
    result = stack.load_units()
    assert not result.success
    logged = entries(stack, GENERATION_UNITS, result.run_id)
    assert set(logged) == set(UF_PARTITIONS.get_partition_keys())
    assert {v[0] for v in logged.values()} == {"failed"}
    assert all("refused by its audit" in v[7] for v in logged.values())
    assert sum(v[3] or 0 for v in logged.values()) > 0  # the quarantined rows that caused the refusal
