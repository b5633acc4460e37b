"""DuckDB IO manager for the `local` profile: dagster-duckdb-polars, made transactional and stream-aware.

The stock DuckDBPolarsIOManager deletes the slice and inserts the frame as separate autocommitted
statements and only takes whole DataFrames; here the same asset code (DataFrame, LazyFrame or
FrameStream) writes in one transaction, and reports the same metadata as the PostgreSQL IO manager.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import dagster as dg
import duckdb
import polars as pl
from dagster._core.storage.db_io_manager import DbIOManager, DbTypeHandler, TableSlice
from dagster_duckdb.io_manager import DuckDbClient, DuckDBIOManager
from dagster_duckdb_polars import DuckDBPolarsTypeHandler

from ysh_assets.io_managers.audit import (
    AuditedLoad,
    AuditReport,
    StagedLoad,
    StreamProfile,
    as_audited,
    audit_or_refuse,
)
from ysh_assets.io_managers.frames import (
    FrameStream,
    WarehouseOutput,
    iter_write_slices,
    table_output_metadata,
)
from ysh_assets.io_managers.ingestion import failed_entries, loaded_entries, step_started_at
from ysh_assets.io_managers.slices import partition_scopes, partition_where, static_partition_column
from ysh_assets.warehouse import ingestion_log, quarantine, row_counts
from ysh_assets.warehouse.engines import DuckDBEngine, migrate_once
from ysh_assets.warehouse.sessions import DuckDBSession, duckdb_connect, quoted
from ysh_assets.warehouse.versions import (
    KEEP_PREVIOUS_VERSION,
    copy_to_previous,
    digest_collector,
    rotation_for,
    store_digests,
)


class StagingDuckDbClient(DuckDbClient):
    """An autocommit connection: the type handler stages the write in a temporary table, audits it, and then
    replaces the slice in one transaction of its own, so a failed or refused write leaves the slice as it was.

    Holds its own settings (not the context's resource config) so the Redis cache can delegate to it.
    """

    def __init__(self, database: str, connection_config: Mapping[str, Any]):
        self._database = database
        self._config = dict(connection_config)

    @contextmanager
    def connect(self, context, table_slice) -> Iterator[Any]:
        conn = duckdb_connect(self._database, self._config)
        try:
            yield conn
        finally:
            conn.close()

    @staticmethod
    def get_table_name(table_slice: TableSlice) -> str:
        return f"{table_slice.schema}.{table_slice.table}"

    @staticmethod
    def delete_table_slice(context, table_slice: TableSlice, connection) -> None:
        """Nothing here: the type handler replaces the slice when it publishes the audited load."""


class PolarsDuckDBTypeHandler(DbTypeHandler[WarehouseOutput]):
    @property
    def supported_types(self) -> Sequence[type[object]]:
        return [pl.DataFrame, pl.LazyFrame, FrameStream, AuditedLoad]

    def handle_output(
        self, context: dg.OutputContext, table_slice: TableSlice, obj: WarehouseOutput | AuditedLoad, connection
    ) -> Mapping[str, Any]:
        """Stage, audit, then publish in one transaction with the partitions' ingestion-log rows; a failure is
        logged after the rollback (the connection is autocommit outside the publish)."""
        started_at = step_started_at(context)
        load = as_audited(obj)
        qualified = f"{table_slice.schema}.{table_slice.table}"
        try:
            report = self._publish(context, table_slice, load, connection, started_at)
        except BaseException as error:
            try:
                ingestion_log.record(DuckDBSession(connection), failed_entries(context, load, error, started_at))
            except duckdb.Error as logging_error:
                context.log.warning(f"could not log the failed load in {ingestion_log.TABLE}: {logging_error}")
            raise
        connection.execute("DROP TABLE ysh_stage")
        extra = dict(report.metadata())
        if isinstance(load.data, FrameStream):
            extra.update(load.data.summary())
        return table_output_metadata(
            context,
            columns=_columns(connection, *qualified.split(".")),
            rows_by_partition=report.staged_rows,
            partition_metadata=report.partition_metadata(),
            extra=extra,
        )

    def _publish(
        self, context: dg.OutputContext, table_slice: TableSlice, load: AuditedLoad, connection, started_at
    ) -> AuditReport:
        """Stages, audits and publishes the load; returns its audit report once committed."""
        qualified = f"{table_slice.schema}.{table_slice.table}"
        table = quoted(qualified)
        session = DuckDBSession(connection)  # autocommit: the verdicts on quarantine rows outlive a refusal
        exists = session.table_exists(qualified)
        connection.execute("DROP TABLE IF EXISTS ysh_stage")
        if exists:
            connection.execute(f"CREATE TEMP TABLE ysh_stage AS SELECT * FROM {table} LIMIT 0")
        written: list[str] = []
        partition_column = static_partition_column(table_slice)
        digests = digest_collector(context.definition_metadata, load.policy.unique_key, partition_column)
        profile = StreamProfile(
            load.policy.row_conditions, partition_column, not table_slice.partition_dimensions, digests
        )
        for frame in iter_write_slices(load.data):
            if frame.width == 0:
                continue
            profile.observe(frame)
            connection.register("ysh_batch", frame.to_arrow())
            connection.execute("CREATE TEMP TABLE IF NOT EXISTS ysh_stage AS SELECT * FROM ysh_batch LIMIT 0")
            connection.execute("INSERT INTO ysh_stage BY NAME SELECT * FROM ysh_batch")
            connection.unregister("ysh_batch")
            written = written or frame.columns
        if not written and not exists:
            raise ValueError(f"cannot create {qualified} from an output with no columns")
        types = {row[0]: row[1] for row in connection.execute("DESCRIBE ysh_stage").fetchall()}
        staged = StagedLoad(
            staged="ysh_stage",
            published=qualified if exists else None,
            scopes=partition_scopes(context, table_slice, types),
            columns=written or list(types),
            partition_column=partition_column,
            profile=profile,
        )
        asset, run_id = context.asset_key.to_user_string(), context.run_id
        report = audit_or_refuse(session, session, load, staged, asset=asset, run_id=run_id, table=qualified)
        rotation = rotation_for(
            session,
            qualified,
            list(staged.scopes),
            load.source_sha256,
            keep_previous=bool(context.definition_metadata.get(KEEP_PREVIOUS_VERSION)),
        )
        connection.begin()
        try:
            connection.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted(table_slice.schema)}")
            connection.execute(f"CREATE TABLE IF NOT EXISTS {table} AS SELECT * FROM ysh_stage LIMIT 0")
            for key in rotation.rotate:
                copy_to_previous(session, qualified, key, staged.scopes[key])
            connection.execute(f"DELETE FROM {table} WHERE {partition_where(table_slice, types).as_string(None)}")
            connection.execute(f"INSERT INTO {table} BY NAME SELECT * FROM ysh_stage")
            quarantine.accept(session, asset, run_id, list(staged.scopes))
            row_counts.record(session, qualified, report.staged_rows, run_id, rotation.versions)
            if digests:
                store_digests(session, qualified, digests, rotation.versions)
            ingestion_log.record(session, loaded_entries(context, load, report, started_at, {}))
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        return report

    def load_input(self, context: dg.InputContext, table_slice: TableSlice, connection) -> WarehouseOutput:
        frame = DuckDBPolarsTypeHandler().load_input(context, table_slice, connection)
        return frame.lazy() if context.dagster_type.typing_type is pl.LazyFrame else frame


def _columns(connection, schema: str, table: str) -> list[tuple[str, str]]:
    return connection.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [schema, table],
    ).fetchall()


class DuckDBPolarsWarehouseIOManager(DuckDBIOManager):
    """The local-profile warehouse: a DuckDB file, schema = asset key prefix, table = asset name."""

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [PolarsDuckDBTypeHandler()]

    @staticmethod
    def default_load_type() -> type | None:
        return pl.DataFrame

    def create_io_manager(self, context) -> DbIOManager:
        migrate_once(DuckDBEngine(self.database))
        return DbIOManager(
            db_client=StagingDuckDbClient(self.database, self.connection_config),
            database=self.database,
            schema=self.schema_,
            type_handlers=self.type_handlers(),
            default_load_type=self.default_load_type(),
            io_manager_name="DuckDBPolarsWarehouseIOManager",
        )
