"""Redis hot cache in front of the warehouse: TTL, JSON layout, outage tolerance, read fallback."""

import json
import uuid
from datetime import UTC, date, datetime

import dagster as dg
import polars as pl
import redis
from polars.testing import assert_frame_equal

from ysh_assets.io_managers.duckdb import DuckDBPolarsWarehouseIOManager
from ysh_assets.io_managers.redis_cache import TTL_METADATA_KEY, RedisCacheIOManager, cache_key

YEARS = dg.StaticPartitionsDefinition(["2025", "2026"])

CURRENT = pl.DataFrame(
    {
        "num_cnpj_distribuidora": ["61695227000193", "53859112000169"],
        "dsc_sub_grupo": ["B1", "A2"],
        "vlr_te_rs_kwh": [0.29274, None],
        "valid_from": [date(2026, 7, 4), date(2026, 2, 3)],
        "is_scee": [False, True],
        "loaded_at": [datetime(2026, 7, 5, 12, tzinfo=UTC)] * 2,
    }
)


def build(name: str):
    @dg.asset(
        key=["aneel", name],
        partitions_def=YEARS,
        io_manager_key="hot",
        metadata={"partition_expr": "year", TTL_METADATA_KEY: 120},
    )
    def current(context: dg.AssetExecutionContext) -> pl.DataFrame:
        return CURRENT.with_columns(year=pl.lit(context.partition_key))

    seen = {}

    @dg.asset(key=["aneel", f"{name}_reader"], partitions_def=YEARS, ins={"current": dg.AssetIn(key=["aneel", name])})
    def reader(current: pl.DataFrame) -> None:
        seen["frame"] = current

    return current, reader, seen


def resources(url: str, tmp_path) -> dict:
    warehouse = DuckDBPolarsWarehouseIOManager(database=str(tmp_path / "w.duckdb"))
    return {"hot": RedisCacheIOManager(url=url, warehouse=warehouse), "io_manager": warehouse}


def test_value_written_with_ttl_as_plain_json_and_read_back_typed(redis_url, tmp_path):
    name = f"tariffs_current_{uuid.uuid4().hex[:6]}"
    current, reader, seen = build(name)
    res = resources(redis_url, tmp_path)
    result = dg.materialize([current], resources=res, partition_key="2026")
    assert result.success

    client = redis.Redis.from_url(redis_url)
    key = cache_key(dg.AssetKey(["aneel", name]), "2026")
    assert key == f"ysh:aneel/{name}:2026"
    assert 0 < client.ttl(key) <= 120
    payload = json.loads(client.get(key))
    assert payload["rows"][0]["num_cnpj_distribuidora"] == "61695227000193"
    assert payload["rows"][0]["valid_from"] == "2026-07-04"

    # Prove the read comes from Redis: empty the warehouse table behind the cache's back.
    import duckdb

    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        conn.execute(f'DELETE FROM aneel."{name}"')
    assert dg.materialize([current, reader], resources=res, partition_key="2026", selection=[reader]).success
    assert_frame_equal(seen["frame"], CURRENT.with_columns(year=pl.lit("2026")))


def test_cache_miss_falls_back_to_the_warehouse_and_refills(redis_url, tmp_path):
    name = f"tariffs_current_{uuid.uuid4().hex[:6]}"
    current, reader, seen = build(name)
    res = resources(redis_url, tmp_path)
    assert dg.materialize([current], resources=res, partition_key="2025").success
    client = redis.Redis.from_url(redis_url)
    key = cache_key(dg.AssetKey(["aneel", name]), "2025")
    client.delete(key)

    assert dg.materialize([current, reader], resources=res, partition_key="2025", selection=[reader]).success
    assert seen["frame"].height == 2
    assert client.exists(key) and 0 < client.ttl(key) <= 120


def test_redis_down_the_run_succeeds_and_reads_fall_back(tmp_path):
    from ysh_assets_tests.conftest import free_port

    closed = f"redis://127.0.0.1:{free_port()}/0"
    current, reader, seen = build("tariffs_current_outage")
    res = resources(closed, tmp_path)
    result = dg.materialize([current], resources=res, partition_key="2026")
    assert result.success
    assert result.get_asset_materialization_events()[0].materialization.metadata["cache"].value == "unavailable"
    assert dg.materialize([current, reader], resources=res, partition_key="2026", selection=[reader]).success
    # This read came from DuckDB, which names the zone Etc/UTC: same instants, same zone.
    from_warehouse = seen["frame"].with_columns(pl.col("loaded_at").dt.convert_time_zone("UTC"))
    assert_frame_equal(
        from_warehouse.sort("dsc_sub_grupo"), CURRENT.with_columns(year=pl.lit("2026")).sort("dsc_sub_grupo")
    )
