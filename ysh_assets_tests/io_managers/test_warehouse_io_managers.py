"""Write / rewrite / range / partition-kind tests run against both warehouse IO managers.

PostgreSQL is the real server (a database of this session's own); DuckDB is a file in tmp_path.
"""

import uuid
from datetime import date

import dagster as dg
import duckdb
import polars as pl
import psycopg
import pytest
from polars.testing import assert_frame_equal

from ysh_assets.io_managers.duckdb import DuckDBPolarsWarehouseIOManager
from ysh_assets.io_managers.frames import FrameStream
from ysh_assets.io_managers.postgres import PostgresPolarsIOManager

UFS = dg.StaticPartitionsDefinition(["AC", "AL", "AM"])
DAYS = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_date="2026-01-10")


class Warehouse:
    """One backend under test: its IO manager plus a way to read a table back directly."""

    def __init__(self, kind: str, io_manager, query):
        self.kind = kind
        self.io_manager = io_manager
        self._query = query

    def rows(self, table: str, order_by: str) -> pl.DataFrame:
        return self._query(f"SELECT * FROM {table} ORDER BY {order_by}")


@pytest.fixture(params=["postgres", "duckdb"])
def warehouse(request, tmp_path) -> Warehouse:
    if request.param == "postgres":
        dsn = request.getfixturevalue("pg_dsn")

        def query(statement: str) -> pl.DataFrame:
            with psycopg.connect(dsn) as conn:
                cursor = conn.execute(statement)
                names = [d.name for d in cursor.description]
                return pl.DataFrame(cursor.fetchall(), schema=names, orient="row")

        return Warehouse("postgres", PostgresPolarsIOManager(dsn=dsn), query)

    path = str(tmp_path / "warehouse.duckdb")

    def query(statement: str) -> pl.DataFrame:
        with duckdb.connect(path) as conn:
            return conn.sql(statement).pl()

    return Warehouse("duckdb", DuckDBPolarsWarehouseIOManager(database=path), query)


@pytest.fixture
def schema() -> str:
    """A schema name of the test's own, so tests sharing the session database never collide."""
    return f"t_{uuid.uuid4().hex[:8]}"


def run(assets, warehouse: Warehouse, *, instance=None, partition_key=None, tags=None, selection=None):
    return dg.materialize(
        assets,
        resources={"io_manager": warehouse.io_manager},
        partition_key=partition_key,
        tags=tags,
        instance=instance,
        selection=selection,
        raise_on_error=False,
    )


def metadata_of(result) -> dict:
    """Metadata of the (first) materialization a run produced."""
    events = result.get_asset_materialization_events()
    assert events, "no materialization"
    return events[0].materialization.metadata


def uf_asset(schema: str, rows_by_uf: dict[str, pl.DataFrame]):
    @dg.asset(key=[schema, "units"], partitions_def=UFS, metadata={"partition_expr": "uf"})
    def units(context: dg.AssetExecutionContext) -> pl.DataFrame:
        return rows_by_uf[context.partition_key]

    return units


def test_write_then_rewrite_a_static_partition_replaces_only_that_partition(warehouse, schema):
    first = {
        "AC": pl.DataFrame({"uf": ["AC"] * 3, "unit": ["a1", "a2", "a3"], "kw": [1.5, 2.0, 3.25]}),
        "AL": pl.DataFrame({"uf": ["AL"] * 2, "unit": ["l1", "l2"], "kw": [4.0, 5.0]}),
    }
    assert run([uf_asset(schema, first)], warehouse, partition_key="AC").success
    assert run([uf_asset(schema, first)], warehouse, partition_key="AL").success
    rewritten = {"AC": pl.DataFrame({"uf": ["AC"] * 3, "unit": ["a9", "a1", "a4"], "kw": [9.0, 1.0, 4.0]})}
    result = run([uf_asset(schema, rewritten)], warehouse, partition_key="AC")
    assert result.success

    table = warehouse.rows(f"{schema}.units", "uf, unit")
    assert table["unit"].to_list() == ["a1", "a4", "a9", "l1", "l2"]
    assert table.filter(pl.col("unit") == "a1")["kw"].item() == 1.0
    metadata = metadata_of(result)
    assert metadata["dagster/partition_row_count"].value == 3
    assert metadata["dagster/table_name"].value == f"{schema}.units"
    columns = [c.name for c in metadata["dagster/column_schema"].value.columns]
    assert columns == ["uf", "unit", "kw"]


def daily_asset(schema: str, *, single_run: bool, marker: str = "v1"):
    @dg.asset(
        key=[schema, "daily"],
        partitions_def=DAYS,
        metadata={"partition_expr": "day"},
        backfill_policy=dg.BackfillPolicy.single_run() if single_run else None,
    )
    def daily(context: dg.AssetExecutionContext) -> pl.DataFrame:
        window = context.partition_time_window
        days = pl.date_range(window.start.date(), window.end.date(), closed="left", eager=True)
        return pl.DataFrame({"day": days, "value": [f"{marker}-{d}" for d in days]})

    return daily


def test_time_window_partition_rewrite_keeps_neighbours(warehouse, schema):
    for key in ("2026-01-02", "2026-01-03"):
        assert run([daily_asset(schema, single_run=False)], warehouse, partition_key=key).success
    assert run([daily_asset(schema, single_run=False, marker="v2")], warehouse, partition_key="2026-01-03").success
    table = warehouse.rows(f"{schema}.daily", "day")
    assert table["value"].to_list() == ["v1-2026-01-02", "v2-2026-01-03"]


def test_single_run_range_writes_every_partition_and_an_unpartitioned_reader_sees_all(warehouse, schema):
    daily = daily_asset(schema, single_run=True)
    seen: dict[str, pl.DataFrame] = {}

    @dg.asset(key=[schema, "summary"], ins={"daily": dg.AssetIn(key=[schema, "daily"])})
    def summary(daily: pl.DataFrame) -> pl.DataFrame:
        seen["daily"] = daily
        return daily.select(pl.len().alias("days"))

    tags = {"dagster/asset_partition_range_start": "2026-01-01", "dagster/asset_partition_range_end": "2026-01-04"}
    result = run([daily], warehouse, tags=tags)
    assert result.success
    # each day's materialization carries its own count; the run's total is named as such
    by_day = {e.partition: e.materialization.metadata for e in result.get_asset_materialization_events()}
    assert sorted(by_day) == ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"]
    assert {day: meta["dagster/partition_row_count"].value for day, meta in by_day.items()} == dict.fromkeys(by_day, 1)
    assert by_day["2026-01-01"]["run_rows_written"].value == 4
    assert run([daily, summary], warehouse, selection=[summary]).success
    assert seen["daily"].sort("day")["day"].to_list() == [date(2026, 1, d) for d in range(1, 5)]


def test_downstream_partition_reads_only_its_slice(warehouse, schema):
    rows = {
        "AC": pl.DataFrame({"uf": ["AC"], "unit": ["a1"], "kw": [1.0]}),
        "AL": pl.DataFrame({"uf": ["AL", "AL"], "unit": ["l1", "l2"], "kw": [2.0, 3.0]}),
    }
    units = uf_asset(schema, rows)
    seen = {}

    @dg.asset(key=[schema, "per_uf"], partitions_def=UFS, ins={"units": dg.AssetIn(key=[schema, "units"])})
    def per_uf(units: pl.DataFrame) -> None:
        seen["units"] = units

    for key in ("AC", "AL"):
        assert run([units], warehouse, partition_key=key).success
    assert run([units, per_uf], warehouse, partition_key="AL", selection=[per_uf]).success
    assert sorted(seen["units"]["unit"].to_list()) == ["l1", "l2"]


def test_dynamic_partitions(warehouse, schema):
    pdfs = dg.DynamicPartitionsDefinition(name=f"pdfs_{schema}")

    @dg.asset(key=[schema, "docs"], partitions_def=pdfs, metadata={"partition_expr": "sha256"})
    def docs(context: dg.AssetExecutionContext) -> pl.DataFrame:
        return pl.DataFrame({"sha256": [context.partition_key], "pages": [len(context.partition_key)]})

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(pdfs.name, ["abc", "de"])
        for key in ("abc", "de", "abc"):
            assert run([docs], warehouse, instance=instance, partition_key=key).success
    table = warehouse.rows(f"{schema}.docs", "sha256")
    assert table["sha256"].to_list() == ["abc", "de"]


def test_multi_partitions_daily_by_distributor(warehouse, schema):
    multi = dg.MultiPartitionsDefinition(
        {"date": DAYS, "distributor": dg.StaticPartitionsDefinition(["fortlev", "odex"])}
    )

    def make(price: float):
        @dg.asset(
            key=[schema, "products"],
            partitions_def=multi,
            metadata={"partition_expr": {"date": "snapshot_date", "distributor": "distributor"}},
        )
        def products(context: dg.AssetExecutionContext) -> pl.DataFrame:
            keys = context.partition_key.keys_by_dimension
            return pl.DataFrame(
                {
                    "snapshot_date": [date.fromisoformat(keys["date"])],
                    "distributor": [keys["distributor"]],
                    "price": [price],
                }
            )

        return products

    for key in ("2026-01-01|fortlev", "2026-01-01|odex", "2026-01-02|fortlev"):
        day, distributor = key.split("|")
        partition = dg.MultiPartitionKey({"date": day, "distributor": distributor})
        assert run([make(1.0)], warehouse, partition_key=partition).success
    rewrite = dg.MultiPartitionKey({"date": "2026-01-01", "distributor": "odex"})
    assert run([make(7.5)], warehouse, partition_key=rewrite).success
    table = warehouse.rows(f"{schema}.products", "snapshot_date, distributor")
    assert table["price"].to_list() == [1.0, 7.5, 1.0]


def failing_stream_asset(schema: str, rows_by_uf: dict[str, pl.DataFrame], fail_after_batches: int | None):
    @dg.asset(key=[schema, "units"], partitions_def=UFS, metadata={"partition_expr": "uf"})
    def units(context: dg.AssetExecutionContext) -> FrameStream:
        frame = rows_by_uf[context.partition_key]

        def batches():
            for index, batch in enumerate(frame.iter_slices(2)):
                if fail_after_batches is not None and index == fail_after_batches:
                    raise RuntimeError("source broke half-way through the load")
                yield batch

        return FrameStream(batches(), summary=lambda: {"batches_seen": "all"})

    return units


def test_failure_half_way_through_the_load_leaves_the_partition_untouched(warehouse, schema):
    good = {"AC": pl.DataFrame({"uf": ["AC"] * 3, "unit": ["a1", "a2", "a3"], "kw": [1.0, 2.0, 3.0]})}
    assert run([failing_stream_asset(schema, good, None)], warehouse, partition_key="AC").success
    before = warehouse.rows(f"{schema}.units", "unit")

    bigger = {"AC": pl.DataFrame({"uf": ["AC"] * 6, "unit": [f"n{i}" for i in range(6)], "kw": [9.0] * 6})}
    failed = run([failing_stream_asset(schema, bigger, fail_after_batches=2)], warehouse, partition_key="AC")
    assert not failed.success
    assert_frame_equal(warehouse.rows(f"{schema}.units", "unit"), before)

    converged = run([failing_stream_asset(schema, bigger, None)], warehouse, partition_key="AC")
    assert converged.success
    assert warehouse.rows(f"{schema}.units", "unit")["unit"].to_list() == [f"n{i}" for i in range(6)]
    metadata = metadata_of(converged)
    assert metadata["dagster/partition_row_count"].value == 6
    assert metadata["batches_seen"].value == "all"


def audited_uf_asset(schema: str, rows_by_uf: dict[str, pl.DataFrame], **policy):
    from ysh_assets.io_managers.audit import AuditedLoad, AuditPolicy, LoadAuditConfig

    @dg.asset(key=[schema, "units"], partitions_def=UFS, metadata={"partition_expr": "uf"})
    def units(context: dg.AssetExecutionContext, config: LoadAuditConfig) -> AuditedLoad:
        frame = rows_by_uf[context.partition_key]
        return AuditedLoad(frame, AuditPolicy(thresholds=config, **policy), source_rows=lambda: frame.height)

    return units


def test_write_audit_publish_refuses_a_shrunken_or_empty_load_and_keeps_the_table(warehouse, schema):
    """The audit runs in the IO manager of each profile: a refused load fails the run, the rows stay."""
    full = {"AC": pl.DataFrame({"uf": ["AC"] * 5, "unit": [f"a{i}" for i in range(5)], "kw": [1.0] * 5})}
    assert run([audited_uf_asset(schema, full)], warehouse, partition_key="AC").success
    shrunk = {"AC": full["AC"].head(3)}  # -40 %
    empty = {"AC": full["AC"].head(0)}
    for rows in (shrunk, empty):
        result = run([audited_uf_asset(schema, rows)], warehouse, partition_key="AC")
        assert not result.success
        assert warehouse.rows(f"{schema}.units", "unit")["unit"].to_list() == [f"a{i}" for i in range(5)]
    override = {"ops": {f"{schema}__units": {"config": {"max_partition_shrink": 0.5}}}}
    result = dg.materialize(
        [audited_uf_asset(schema, shrunk)],
        resources={"io_manager": warehouse.io_manager},
        partition_key="AC",
        run_config=override,
    )
    assert result.success and warehouse.rows(f"{schema}.units", "unit").height == 3
    assert metadata_of(result)["audit_overrides"].value == {"max_partition_shrink": 0.5}


def test_write_audit_publish_resolves_repeated_keys_keeping_the_published_row(warehouse, schema):
    first = {"AC": pl.DataFrame({"uf": ["AC"] * 3, "unit": ["a1", "a2", "a3"], "kw": [1.0, 2.0, 3.0]})}
    assert run([audited_uf_asset(schema, first, unique_key=("unit",))], warehouse, partition_key="AC").success
    again = {
        "AC": pl.DataFrame({"uf": ["AC"] * 5, "unit": ["a1", "a2", "a3", "a2", "a3"], "kw": [1.0, 9.0, 3.0, 2.0, 3.0]})
    }
    config = {"ops": {f"{schema}__units": {"config": {"max_quarantine_share": 0.9}}}}
    result = dg.materialize(
        [audited_uf_asset(schema, again, unique_key=("unit",))],
        resources={"io_manager": warehouse.io_manager},
        partition_key="AC",
        run_config=config,
    )
    assert result.success
    table = warehouse.rows(f"{schema}.units", "unit")
    assert table["unit"].to_list() == ["a1", "a2", "a3"] and table["kw"].to_list() == [1.0, 2.0, 3.0]
    quarantined = warehouse.rows("pipeline.quarantine", "reason, raw_record").filter(
        pl.col("asset_key") == f"{schema}/units"
    )
    assert quarantined["reason"].to_list() == [
        "conflicting copies of (unit) = (a2); the previous accepted values are kept",
        "conflicting copies of (unit) = (a2); the previous accepted values are kept",
        "duplicate (unit) = (a3): identical copy",
    ]
    assert set(quarantined["status"]) == {"accepted"}


def test_a_row_audit_refuses_a_load_with_offending_rows_and_shows_them(warehouse, schema):
    from ysh_assets.io_managers.audit import RowAudit

    good = {"AC": pl.DataFrame({"uf": ["AC"] * 3, "unit": ["a1", "a2", "a3"], "kw": [1.0, 2.0, 3.0]})}
    audits = (RowAudit("kw_positive", pl.col("kw") <= 0),)
    assert run([audited_uf_asset(schema, good, row_audits=audits)], warehouse, partition_key="AC").success
    bad = {"AC": pl.DataFrame({"uf": ["AC"] * 3, "unit": ["a1", "a2", "a3"], "kw": [1.0, -2.0, 3.0]})}
    result = run([audited_uf_asset(schema, bad, row_audits=audits)], warehouse, partition_key="AC")
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert "kw_positive: 1 offending row(s)" in failure.event_specific_data.error.message
    assert warehouse.rows(f"{schema}.units", "unit")["kw"].to_list() == [1.0, 2.0, 3.0]


def test_a_derived_lookup_may_become_empty(warehouse, schema):
    """tariffs_current's policy: no tariff in force today is a true answer, published, not refused."""
    from ysh_assets.aneel.assets import CURRENT_THRESHOLDS
    from ysh_assets.io_managers.audit import AuditedLoad, AuditPolicy

    frames = iter([pl.DataFrame({"k": ["a", "b"]}), pl.DataFrame(schema={"k": pl.String})])

    @dg.asset(key=[schema, "current"])
    def current() -> AuditedLoad:
        return AuditedLoad(next(frames), AuditPolicy(thresholds=CURRENT_THRESHOLDS))

    assert run([current], warehouse).success
    assert run([current], warehouse).success
    assert warehouse.rows(f"{schema}.current", "k").height == 0
