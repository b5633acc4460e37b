"""PostgreSQL-only guarantees: the backend dying mid-COPY, migrated tables keep their types, mismatches fail."""

import threading
import uuid

import dagster as dg
import polars as pl
import psycopg
import pytest

from ysh_assets.io_managers.frames import FrameStream
from ysh_assets.io_managers.postgres import PostgresPolarsIOManager

KINDS = dg.StaticPartitionsDefinition(["inverter", "module"])


def fetch(dsn: str, statement: str, params=()) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(statement, params).fetchall()


def test_backend_terminated_mid_copy_leaves_previous_partition_and_rerun_converges(pg_dsn):
    table = f"t_{uuid.uuid4().hex[:8]}"
    io_manager = PostgresPolarsIOManager(dsn=pg_dsn)
    terminated = threading.Event()

    def build(rows: int, *, kill: bool):
        @dg.asset(key=["public", table], partitions_def=KINDS, metadata={"partition_expr": "kind"})
        def units(context: dg.AssetExecutionContext) -> FrameStream:
            def batches():
                for start in range(0, rows, 50_000):
                    if kill and start == 100_000:
                        # Kill the session that is running our COPY, from outside, as an operator or OOM would.
                        killed = fetch(
                            pg_dsn,
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE application_name = 'ysh_assets_load' AND query ILIKE 'COPY%%' "
                            "AND pid <> pg_backend_pid()",
                        )
                        assert killed == [(True,)]
                        terminated.set()
                    n = min(50_000, rows - start)
                    yield pl.DataFrame({"kind": [context.partition_key] * n, "n": range(start, start + n)})

            return FrameStream(batches())

        return units

    resources = {"io_manager": io_manager}
    assert dg.materialize([build(1_000, kill=False)], resources=resources, partition_key="module").success
    assert dg.materialize([build(2_000, kill=False)], resources=resources, partition_key="inverter").success

    workers_before = {t for t in threading.enumerate() if t.name == "ysh-prefetch"}
    failed = dg.materialize(
        [build(300_000, kill=True)], resources=resources, partition_key="module", raise_on_error=False
    )
    assert terminated.is_set()
    assert not failed.success
    # the failed COPY stopped the parse and encode threads too, instead of leaving them blocked
    assert {t for t in threading.enumerate() if t.name == "ysh-prefetch"} <= workers_before
    counts = dict(fetch(pg_dsn, f"SELECT kind, count(*) FROM public.{table} GROUP BY kind"))
    assert counts == {"module": 1_000, "inverter": 2_000}

    assert dg.materialize([build(300_000, kill=False)], resources=resources, partition_key="module").success
    counts = dict(fetch(pg_dsn, f"SELECT kind, count(*) FROM public.{table} GROUP BY kind"))
    assert counts == {"module": 300_000, "inverter": 2_000}


def certification_rows(kind: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "equipment_type": [kind, kind],
            "certifier": ["INMETRO", "INMETRO"],
            "manufacturer": ["Growatt", "Growatt"],
            "model": ["NEO 800M-X", "NEO 1000M-X"],
            "registration_id": ["019270/2024", "019271/2024"],
            "registered_year": [2024, 2024],
            "rated_power_w": [800.0, 1000.0],
        }
    )


def certifications_asset(frame: pl.DataFrame):
    @dg.asset(
        key=["catalog", "certifications"],
        partitions_def=KINDS,
        metadata={"schema": "aneel", "partition_expr": "equipment_type"},
    )
    def certifications() -> pl.DataFrame:
        return frame

    return certifications


def test_table_created_by_migrations_keeps_its_column_types(pg_dsn):
    resources = {"io_manager": PostgresPolarsIOManager(dsn=pg_dsn)}
    result = dg.materialize(
        [certifications_asset(certification_rows("inverter"))], resources=resources, partition_key="inverter"
    )
    assert result.success
    types = dict(
        fetch(
            pg_dsn,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'aneel' AND table_name = 'certifications'",
        )
    )
    assert types["registered_year"] == "smallint"  # the frame had Int64: the table decides
    assert types["rated_power_w"] == "numeric"
    rows = fetch(pg_dsn, "SELECT model, rated_power_w::text FROM aneel.certifications ORDER BY model")
    assert rows == [("NEO 1000M-X", "1000.00"), ("NEO 800M-X", "800.00")]
    schema = result.get_asset_materialization_events()[0].materialization.metadata["dagster/column_schema"].value
    assert {c.name: c.type for c in schema.columns}["rated_power_w"] == "numeric(12,2)"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.with_columns(colour=pl.lit("blue")), "columns not in the table: colour"),
        (lambda f: f.drop("model"), "required (NOT NULL, no default) columns missing from the frame: model"),
        (lambda f: f.with_columns(pl.col("registered_year").cast(pl.String)), "registered_year (String into smallint)"),
    ],
)
def test_frame_that_does_not_fit_the_migrated_table_fails_clearly_and_writes_nothing(pg_dsn, change, message):
    resources = {"io_manager": PostgresPolarsIOManager(dsn=pg_dsn)}
    good = certifications_asset(certification_rows("module"))
    assert dg.materialize([good], resources=resources, partition_key="module").success
    before = fetch(pg_dsn, "SELECT * FROM aneel.certifications WHERE equipment_type = 'module' ORDER BY model")

    bad = certifications_asset(change(certification_rows("module")))
    result = dg.materialize([bad], resources=resources, partition_key="module", raise_on_error=False)
    assert not result.success
    failure = result.get_step_failure_events()[0].event_specific_data.error.to_string()
    assert "SchemaMismatchError: frame does not fit table aneel.certifications" in failure
    assert message in failure
    after = fetch(pg_dsn, "SELECT * FROM aneel.certifications WHERE equipment_type = 'module' ORDER BY model")
    assert after == before


def test_unreachable_database_error_hides_the_password():
    io_manager = PostgresPolarsIOManager(dsn="postgresql://ysh:s3cret-pw@127.0.0.1:1/warehouse", run_migrations=False)

    @dg.asset
    def anything() -> pl.DataFrame:
        return pl.DataFrame({"a": [1]})

    result = dg.materialize([anything], resources={"io_manager": io_manager}, raise_on_error=False)
    assert not result.success
    error = result.get_step_failure_events()[0].event_specific_data.error
    text = error.to_string()
    assert "s3cret-pw" not in text
    assert "postgresql://ysh:***@127.0.0.1:1/warehouse" in text


def test_list_partitioned_table_gets_whole_partitions_swapped_with_indexes_intact(pg_dsn):
    schema = f"s_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(
            f"CREATE TABLE {schema}.units (uf text NOT NULL, id text NOT NULL, kw numeric(8,2), "
            "PRIMARY KEY (uf, id)) PARTITION BY LIST (uf)"
        )
        for uf in ("AC", "AL"):
            conn.execute(f"CREATE TABLE {schema}.units_{uf.lower()} PARTITION OF {schema}.units FOR VALUES IN ('{uf}')")
        conn.execute(f"CREATE INDEX units_kw_idx ON {schema}.units (kw)")
    ufs = dg.StaticPartitionsDefinition(["AC", "AL"])

    def build(rows: int, fail_after: int | None = None):
        @dg.asset(key=[schema, "units"], partitions_def=ufs, metadata={"partition_expr": "uf"})
        def units(context: dg.AssetExecutionContext) -> FrameStream:
            def batches():
                for start in range(0, rows, 10):
                    if fail_after is not None and start >= fail_after:
                        raise RuntimeError("source broke")
                    n = min(10, rows - start)
                    yield pl.DataFrame(
                        {
                            "uf": [context.partition_key] * n,
                            "id": [f"u{i}" for i in range(start, start + n)],
                            "kw": [float(rows)] * n,
                        }
                    )

            return FrameStream(batches())

        return units

    resources = {"io_manager": PostgresPolarsIOManager(dsn=pg_dsn)}
    assert dg.materialize([build(30)], resources=resources, partition_key="AC").success
    assert dg.materialize([build(20)], resources=resources, partition_key="AL").success
    result = dg.materialize([build(50)], resources=resources, partition_key="AC")
    assert result.success
    assert result.get_asset_materialization_events()[0].materialization.metadata["load_strategy"].value == (
        "partition swap"
    )
    assert dict(fetch(pg_dsn, f"SELECT uf, count(*) FROM {schema}.units GROUP BY uf")) == {"AC": 50, "AL": 20}
    leaves = fetch(
        pg_dsn, f"SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = '{schema}.units'::regclass"
    )
    assert sorted(leaves) == [(f"{schema}.units_ac",), (f"{schema}.units_al",)]
    # the staged leaf's bound CHECK (which spares ATTACH its validation scan) is gone once attached
    checks = fetch(
        pg_dsn, f"SELECT conname FROM pg_constraint WHERE conrelid = '{schema}.units_ac'::regclass AND contype = 'c'"
    )
    assert checks == []
    indexes = fetch(
        pg_dsn, "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = 'units_ac'", (schema,)
    )
    assert len(indexes) == 2 and any("UNIQUE" in i[0] for i in indexes)
    assert not fetch(pg_dsn, "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename LIKE '%%ysh_load'", (schema,))
    with pytest.raises(psycopg.errors.UniqueViolation), psycopg.connect(pg_dsn) as conn:
        conn.execute(f"INSERT INTO {schema}.units VALUES ('AC', 'u1', 1)")

    failed = dg.materialize([build(60, fail_after=30)], resources=resources, partition_key="AC", raise_on_error=False)
    assert not failed.success
    assert dict(fetch(pg_dsn, f"SELECT uf, count(*) FROM {schema}.units GROUP BY uf")) == {"AC": 50, "AL": 20}


TRICKY = pl.DataFrame(
    {
        "k": ["a", "b;c", 'quote "q"', "line\nbreak", "ção", "", None, "z"],
        "small": [1, -2, 3, None, 32767, 0, 5, -32768],
        "amount": [-1.0005, 1.0005, 12.3455, 2.5e-4, 5000.0, 0.1 + 0.2, None, 1e-7],
        "ratio": [0.5, None, -1e300, 3.25, 0.0, 1.0, 2.0, float("inf")],
        "day": [None, *pl.date_range(pl.date(2024, 2, 27), pl.date(2024, 3, 4), eager=True).to_list()],
        "flag": [True, False, None, True, False, True, False, True],
        "at": [None, *pl.datetime_range(pl.datetime(2024, 1, 1), pl.datetime(2024, 1, 7), "1d", eager=True).to_list()],
    },
    schema_overrides={"small": pl.Int64},
)


@pytest.mark.parametrize("copy_format", ["binary", "csv"])
def test_binary_and_text_copy_store_the_same_values(pg_dsn, copy_format):
    """Binary COPY casts to the table's exact types; numerics round from the float's decimal text half away
    from zero, as PostgreSQL rounds the text path's values, so both paths store the same table."""
    table = f"copy_{copy_format}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(
            f"CREATE TABLE public.{table} (k text, small smallint, amount numeric(14,3), ratio double precision, "
            "day date, flag boolean, at timestamp)"
        )

    @dg.asset(key=["public", table])
    def values() -> pl.DataFrame:
        return TRICKY

    resources = {"io_manager": PostgresPolarsIOManager(dsn=pg_dsn, copy_format=copy_format)}
    result = dg.materialize([values], resources=resources)
    assert result.success
    written = result.get_asset_materialization_events()[0].materialization.metadata["copy_format"].value
    assert written == copy_format
    stored = fetch(pg_dsn, f"SELECT k, small, amount::text, ratio, day, flag, at FROM public.{table} ORDER BY k")
    amounts = {row[0]: row[2] for row in stored}
    assert amounts == {"a": "-1.001", "b;c": "1.001", 'quote "q"': "12.346", "line\nbreak": "0.000", "ção": "5000.000",
                       "": "0.300", None: None, "z": "0.000"}  # fmt: skip
    by_key = {row[0]: row for row in stored}
    assert by_key["z"][3] == float("inf") and by_key['quote "q"'][3] == -1e300 and by_key[None][1] == 5
    expected = fetch(pg_dsn, f"SELECT count(*) FROM public.{table}")
    assert expected == [(TRICKY.height,)]
    # the other path on the same frame gives the same rows
    other = "csv" if copy_format == "binary" else "binary"
    twin = f"{table}_twin"
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(f"CREATE TABLE public.{twin} (LIKE public.{table})")

    @dg.asset(key=["public", twin])
    def twin_values() -> pl.DataFrame:
        return TRICKY

    assert dg.materialize(
        [twin_values], resources={"io_manager": PostgresPolarsIOManager(dsn=pg_dsn, copy_format=other)}
    ).success
    assert fetch(pg_dsn, f"SELECT * FROM public.{table} EXCEPT SELECT * FROM public.{twin}") == []
    assert fetch(pg_dsn, f"SELECT * FROM public.{twin} EXCEPT SELECT * FROM public.{table}") == []


def test_a_table_with_a_type_binary_copy_cannot_encode_is_written_as_text(pg_dsn):
    table = f"jsonish_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(f"CREATE TABLE public.{table} (k text, tags jsonb)")

    @dg.asset(key=["public", table])
    def tagged() -> pl.DataFrame:
        return pl.DataFrame({"k": ["a"], "tags": ['{"x": 1}']})

    result = dg.materialize([tagged], resources={"io_manager": PostgresPolarsIOManager(dsn=pg_dsn)})
    assert result.success
    assert result.get_asset_materialization_events()[0].materialization.metadata["copy_format"].value == "csv"
    assert fetch(pg_dsn, f"SELECT tags->>'x' FROM public.{table}") == [("1",)]
