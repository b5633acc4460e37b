"""SQL access to the warehouse for what IO managers do not do: quarantine rows, the change log and asset-check
queries.

One resource, two engines (PostgreSQL in `services`, the DuckDB file in `local`), so asset and check code
never branches on the profile. Statements use `%s` placeholders and SQL both engines accept.
"""

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import dagster as dg
import polars as pl
from psycopg import sql as pgsql

from ysh_assets.warehouse import change_log, ingestion_log, quarantine
from ysh_assets.warehouse.engines import WarehouseEngine, engine_for, migrate_once
from ysh_assets.warehouse.ingestion_log import IngestionEntry
from ysh_assets.warehouse.sessions import SqlSession, quoted
from ysh_assets.warehouse.versions import PartitionVersion, previous_table, published_versions, read_digests


class Warehouse(dg.ConfigurableResource):
    """The warehouse as SQL: `dsn` for PostgreSQL, or `duckdb_path` for the local DuckDB file. Migrations
    run before its first use in a process, so every table it names exists in both engines."""

    dsn: str = ""
    duckdb_path: str = ""

    @property
    def engine(self) -> WarehouseEngine:
        return engine_for(dsn=self.dsn, duckdb_path=self.duckdb_path)

    @contextmanager
    def _session(self) -> Iterator[SqlSession]:
        migrate_once(self.engine)
        with self.engine.session() as session:
            yield session

    def query(self, statement: str, params: Sequence[Any] = ()) -> pl.DataFrame:
        with self._session() as session:
            return session.frame(statement, params)

    def scalar(self, statement: str, params: Sequence[Any] = ()) -> Any:
        with self._session() as session:
            return session.scalar(statement, params)

    def table_exists(self, qualified: str) -> bool:
        with self._session() as session:
            return session.table_exists(qualified)

    def replace_rows(self, key_column: str, key: str, frames: Sequence[tuple[str, pl.DataFrame]]) -> None:
        """In one transaction, replaces the rows whose `key_column` is `key` in each `schema.table`.

        Deletes run in reverse order and inserts in order, so parent tables come first in `frames`. The
        tables come from `sql/` migrations; rows go in with COPY on PostgreSQL and through Arrow on DuckDB.
        """
        with self._session() as session:
            for qualified, _ in reversed(frames):
                statement = pgsql.SQL("DELETE FROM {} WHERE {} = %s").format(
                    pgsql.Identifier(*qualified.split(".")), pgsql.Identifier(key_column)
                )
                session.execute(statement.as_string(None), (key,))
            for qualified, frame in frames:
                session.insert_frame(qualified, frame)

    @contextmanager
    def quarantine_writer(
        self, asset_key: dg.AssetKey, run_id: str, source: str, source_sha256: str | None = None
    ) -> Iterator["QuarantineWriter"]:
        """Stages the quarantine rows of a load that the warehouse IO manager publishes: they become
        `accepted` with the load (replacing earlier loads' rows) or `rejected` when its audit refuses it."""
        asset = asset_key.to_user_string()
        with self._session() as session:
            quarantine.clear_attempt(session, asset, run_id)
            yield QuarantineWriter(session, asset, run_id, source, source_sha256)

    def replace_changes(self, asset_key: dg.AssetKey, partition_key: str, run_id: str, rows: pl.DataFrame) -> None:
        """The changes a partition found (`change_log.ROW_SCHEMA`) replace what it logged before, at once."""
        with self._session() as session:
            change_log.replace(
                session, rows, asset=asset_key.to_user_string(), partition_key=partition_key, run_id=run_id
            )

    def publish_changes(
        self,
        asset_key: dg.AssetKey,
        run_id: str,
        rows: pl.DataFrame,
        scopes: dict[str, str | None],
        ingestion: Sequence[IngestionEntry] = (),
        compared: tuple[str, Mapping[str, PartitionVersion]] | None = None,
    ) -> None:
        """Changes (`change_log.ROW_SCHEMA` plus `partition_key`) replace, per partition, the ones logged before
        for the same snapshot (`scopes`: partition -> snapshot), audited first and published in one transaction
        with their `ingestion` entries. `compared`: the table and the versions the changes were computed from;
        refused when a load published another version meanwhile."""
        with self._session() as session:
            if compared:
                table, versions = compared
                now = published_versions(session, table, list(versions))
                moved = sorted(key for key, version in versions.items() if now.get(key) != version)
                if moved:
                    raise dg.Failure(
                        f"{table} was reloaded while its changes were computed ({', '.join(moved)}): nothing "
                        "logged; run again"
                    )
            change_log.publish(session, rows, asset=asset_key.to_user_string(), scopes=scopes, run_id=run_id)
            ingestion_log.record(session, ingestion)

    def log_ingestion(self, entries: Sequence[IngestionEntry]) -> None:
        """Appends ingestion-log entries for what was stored outside the warehouse (files, indexes)."""
        with self._session() as session:
            ingestion_log.record(session, entries)

    def partition_versions(self, table: str, keys: Sequence[str]) -> dict[str, PartitionVersion]:
        """Which file each published partition of `table` was loaded from, and its previous version's file."""
        with self._session() as session:
            return published_versions(session, table, keys)

    def version_digests(self, table: str, partition_key: str, source_sha256: str) -> pl.DataFrame | None:
        """The key -> digest index of the partition's version loaded from that file (None when not kept)."""
        with self._session() as session:
            return read_digests(session, table, partition_key, source_sha256)

    def rows_by_id(
        self,
        table: str,
        partition: tuple[str, str],
        id_column: str,
        ids: Sequence[str],
        schema: pl.Schema,
        *,
        previous: bool = False,
    ) -> pl.DataFrame:
        """`schema`'s columns (as text where typed `pl.String`) of one partition's rows with these ids, from its
        published version or its previous one (tables that keep it), by primary-key lookups."""
        column, key = partition
        names = {n: pgsql.Identifier(n).as_string(None) for n in schema}
        columns = ", ".join(f"CAST({names[n]} AS text)" if t == pl.String else names[n] for n, t in schema.items())
        relation = quoted(previous_table(table, key) if previous else table)
        with self._session() as session:
            if not ids or (previous and not session.table_exists(previous_table(table, key))):
                return pl.DataFrame(schema=schema)
            statement = (
                f"SELECT {columns} FROM {relation} WHERE {quoted(column)} = %s "
                f"AND {quoted(id_column)} = ANY(%s::text[])"
            )
            return session.bulk_frame(statement, schema, (key, list(ids)))

    def reject_quarantine(self, asset_key: dg.AssetKey, run_id: str) -> None:
        """The rows a run staged become `rejected`: the load they belonged to was refused before it was written."""
        with self._session() as session:
            quarantine.reject(session, asset_key.to_user_string(), run_id)

    def replace_quarantine(
        self, asset_key: dg.AssetKey, partition_key: str, run_id: str, source: str, rows: pl.DataFrame
    ) -> None:
        """For verdicts written without the IO manager: `rows` replace the partition's quarantine rows at once."""
        asset = asset_key.to_user_string()
        with self._session() as session:
            quarantine.clear_attempt(session, asset, run_id)
            quarantine.append(
                session, rows, partition_key, asset=asset, run_id=run_id, source=source, source_sha256=None
            )
            quarantine.accept(session, asset, run_id, [partition_key])


class QuarantineWriter:
    def __init__(self, session: SqlSession, asset: str, run_id: str, source: str, source_sha256: str | None):
        self._session, self._asset, self._run_id = session, asset, run_id
        self._source, self._source_sha256 = source, source_sha256

    def write(self, rows: pl.DataFrame, partition_key: pl.Expr | str | None) -> None:
        """Appends rows with `line_number`, `reason`, `raw_record`; `partition_key` per row or for all."""
        quarantine.append(
            self._session,
            rows,
            partition_key,
            asset=self._asset,
            run_id=self._run_id,
            source=self._source,
            source_sha256=self._source_sha256,
        )
