"""DuckDB IO manager for the `local` profile: dagster-duckdb-polars, made transactional and stream-aware.

The stock DuckDBPolarsIOManager deletes the slice and inserts the frame as separate autocommitted
statements and only takes whole DataFrames; here the same asset code (DataFrame, LazyFrame or
FrameStream) writes in one transaction, and reports the same metadata as the PostgreSQL IO manager.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import polars as pl
from dagster._core.storage.db_io_manager import DbIOManager, DbTypeHandler, TableSlice
from dagster_duckdb.io_manager import DuckDbClient, DuckDBIOManager, _get_cleanup_statement
from dagster_duckdb_polars import DuckDBPolarsTypeHandler
from psycopg import sql as pgsql

from ysh_assets.io_managers.frames import (
    FrameStream,
    WarehouseOutput,
    iter_write_slices,
    partitions_written,
    table_output_metadata,
)

DUCKDB_CONFIG = {"custom_user_agent": "dagster"}


def duckdb_connect(database: str, connection_config: Mapping[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
    """Every connection of this process to the file uses one config: DuckDB refuses a second, different one."""
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(database, config={**DUCKDB_CONFIG, **(connection_config or {})})


def duckdb_table_exists(conn: Any, schema: str, table: str) -> bool:
    found = conn.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [schema, table]
    ).fetchone()
    return found is not None


@contextmanager
def duckdb_transaction(database: str, connection_config: Mapping[str, Any] | None = None) -> Iterator[Any]:
    """A connection inside one transaction: committed when the block succeeds, rolled back otherwise."""
    conn = duckdb_connect(database, connection_config)
    try:
        conn.begin()
        yield conn
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()


class TransactionalDuckDbClient(DuckDbClient):
    """Wraps delete-slice + insert in one DuckDB transaction: a failed write leaves the slice as it was.

    Holds its own settings (not the context's resource config) so the Redis cache can delegate to it.
    """

    def __init__(self, database: str, connection_config: Mapping[str, Any]):
        self._database = database
        self._config = dict(connection_config)

    @contextmanager
    def connect(self, context, table_slice) -> Iterator[Any]:
        with duckdb_transaction(self._database, self._config) as conn:
            yield conn

    @staticmethod
    def get_table_name(table_slice: TableSlice) -> str:
        return f"{table_slice.schema}.{table_slice.table}"

    @staticmethod
    def delete_table_slice(context, table_slice: TableSlice, connection) -> None:
        # The stock client runs the DELETE and swallows "no such table"; inside a transaction that
        # error would abort the transaction, so look first.
        if duckdb_table_exists(connection, table_slice.schema, table_slice.table):
            connection.execute(_get_cleanup_statement(table_slice))


class PolarsDuckDBTypeHandler(DbTypeHandler[WarehouseOutput]):
    @property
    def supported_types(self) -> Sequence[type[object]]:
        return [pl.DataFrame, pl.LazyFrame, FrameStream]

    def handle_output(
        self, context: dg.OutputContext, table_slice: TableSlice, obj: WarehouseOutput, connection
    ) -> Mapping[str, Any]:
        table = pgsql.Identifier(table_slice.schema, table_slice.table).as_string(None)
        rows = 0
        for frame in iter_write_slices(obj):
            if frame.width == 0:
                continue
            arrow = frame.to_arrow()
            connection.register("ysh_batch", arrow)
            connection.execute(f"CREATE TABLE IF NOT EXISTS {table} AS SELECT * FROM ysh_batch LIMIT 0")
            connection.execute(f"INSERT INTO {table} BY NAME SELECT * FROM ysh_batch")
            connection.unregister("ysh_batch")
            rows += frame.height
        columns = connection.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [table_slice.schema, table_slice.table],
        ).fetchall()
        extra = obj.summary() if isinstance(obj, FrameStream) else None
        return table_output_metadata(columns=columns, rows=rows, partitions=partitions_written(context), extra=extra)

    def load_input(self, context: dg.InputContext, table_slice: TableSlice, connection) -> WarehouseOutput:
        frame = DuckDBPolarsTypeHandler().load_input(context, table_slice, connection)
        return frame.lazy() if context.dagster_type.typing_type is pl.LazyFrame else frame


class DuckDBPolarsWarehouseIOManager(DuckDBIOManager):
    """The local-profile warehouse: a DuckDB file, schema = asset key prefix, table = asset name."""

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [PolarsDuckDBTypeHandler()]

    @staticmethod
    def default_load_type() -> type | None:
        return pl.DataFrame

    def create_io_manager(self, context) -> DbIOManager:
        return DbIOManager(
            db_client=TransactionalDuckDbClient(self.database, self.connection_config),
            database=self.database,
            schema=self.schema_,
            type_handlers=self.type_handlers(),
            default_load_type=self.default_load_type(),
            io_manager_name="DuckDBPolarsWarehouseIOManager",
        )
