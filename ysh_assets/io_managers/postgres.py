"""PostgreSQL IO manager for polars frames, built on Dagster's DbIOManager, loading with COPY.

Why not a stock integration: we need (1) `COPY ... FROM STDIN`, never row INSERTs; (2) the delete of the
partition slice and the COPY of its new rows in ONE transaction, so a failed load leaves the partition
exactly as it was (DbIOManager calls delete and write on the connection we yield; we commit only when
both succeeded); (3) tables created by `sql/` migrations written with their own column types, and a
clear error instead of a silently re-typed table when the frame does not match.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import Any, Literal, cast

import dagster as dg
import polars as pl
import psycopg
from dagster._core.definitions.partitions.utils import TimeWindow
from dagster._core.storage.db_io_manager import DbClient, DbIOManager, DbTypeHandler, TableSlice
from psycopg import sql
from pydantic import Field

from ysh_assets.io_managers.audit import AuditedLoad, StagedLoad, StreamProfile, as_audited, audit_or_refuse
from ysh_assets.io_managers.binary_copy import EXACT_TYPES, binary_types, encode
from ysh_assets.io_managers.frames import (
    FrameStream,
    WarehouseOutput,
    iter_write_slices,
    prefetched,
    table_output_metadata,
)
from ysh_assets.io_managers.ingestion import failed_entries, loaded_entries, step_started_at
from ysh_assets.io_managers.slices import base_type, partition_scopes, partition_where, static_partition_column
from ysh_assets.settings import redact_dsn
from ysh_assets.warehouse import ingestion_log, quarantine, row_counts
from ysh_assets.warehouse.engines import PostgresEngine, migrate_once
from ysh_assets.warehouse.sessions import SHORT_STATEMENT_TIMEOUT_MS, PostgresSession, pg_connect
from ysh_assets.warehouse.versions import (
    KEEP_PREVIOUS_VERSION,
    copy_to_previous,
    digest_collector,
    previous_table,
    rotation_for,
    store_digests,
)


class SchemaMismatchError(ValueError):
    """The frame does not fit the existing table; raised before anything is written."""


@dataclass(frozen=True)
class PgColumn:
    name: str
    type: str  # format_type() text, e.g. "numeric(14,3)", "timestamp with time zone"
    required: bool  # NOT NULL without a default: the frame must provide it


# Which polars dtype families each PostgreSQL type accepts without a lossy or surprising conversion.
_ACCEPTS: dict[str, frozenset[str]] = {
    "smallint": frozenset({"int"}),
    "integer": frozenset({"int"}),
    "bigint": frozenset({"int"}),
    "numeric": frozenset({"int", "float", "decimal"}),
    "real": frozenset({"int", "float", "decimal"}),
    "double precision": frozenset({"int", "float", "decimal"}),
    "boolean": frozenset({"bool"}),
    "date": frozenset({"date"}),
    "timestamp without time zone": frozenset({"datetime"}),
    "timestamp with time zone": frozenset({"datetime_tz"}),
    "time without time zone": frozenset({"time"}),
    "json": frozenset({"string", "struct"}),
    "jsonb": frozenset({"string", "struct"}),
}
_TEXT_TYPES = ("text", "character varying", "character", "uuid", "citext")


def _family(dtype: pl.DataType) -> str:
    if dtype == pl.Null:
        return "null"
    if dtype.is_integer():
        return "int"
    if dtype.is_float():
        return "float"
    if isinstance(dtype, pl.Decimal):
        return "decimal"
    if isinstance(dtype, pl.Datetime):
        return "datetime_tz" if dtype.time_zone else "datetime"
    simple = {pl.Boolean: "bool", pl.String: "string", pl.Date: "date", pl.Time: "time", pl.Categorical: "string"}
    for polars_type, family in simple.items():
        if dtype == polars_type:
            return family
    if isinstance(dtype, pl.Struct):
        return "struct"
    return dtype.__class__.__name__.lower()


def _accepts(pg_type: str, dtype: pl.DataType) -> bool:
    family = _family(dtype)
    if family == "null":
        return True
    base = base_type(pg_type)
    if base in _TEXT_TYPES:
        return family == "string"
    return family in _ACCEPTS.get(base, frozenset())


def _pg_type_for(dtype: pl.DataType) -> str:
    """Column type for a table the IO manager creates itself (no migration defines it)."""
    family = _family(dtype)
    if family == "int":
        return {pl.Int8: "smallint", pl.Int16: "smallint", pl.UInt8: "smallint", pl.Int32: "integer"}.get(
            dtype, "bigint"
        )
    if isinstance(dtype, pl.Decimal):
        return f"numeric({dtype.precision or 38},{dtype.scale})"
    named = {
        "float": "double precision",
        "bool": "boolean",
        "string": "text",
        "null": "text",
        "date": "date",
        "datetime": "timestamp",
        "datetime_tz": "timestamptz",
        "time": "time",
        "struct": "jsonb",
    }
    if family not in named:
        raise SchemaMismatchError(f"polars type {dtype} has no PostgreSQL column type here; convert it first")
    return named[family]


def _polars_type_for(pg_type: str) -> pl.DataType:
    """How values of a column read back: numerics as floats, types without an exact polars twin as text."""
    base = base_type(pg_type)
    return pl.Float64() if base == "numeric" else EXACT_TYPES.get(base, pl.String())


def table_columns(conn: psycopg.Connection, schema: str, table: str) -> list[PgColumn]:
    """The table's columns in order, or [] when it does not exist."""
    rows = conn.execute(
        """
        SELECT a.attname, format_type(a.atttypid, a.atttypmod),
               a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = ''
        FROM pg_attribute a
        WHERE a.attrelid = to_regclass(format('%%I.%%I', %s::text, %s::text))
          AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
        """,
        (schema, table),
    ).fetchall()
    return [PgColumn(name, type_, required) for name, type_, required in rows]


def check_frame_fits(qualified: str, columns: Sequence[PgColumn], schema: pl.Schema) -> None:
    """Raises SchemaMismatchError naming every column that does not fit the existing table."""
    by_name = {c.name: c for c in columns}
    problems = []
    unknown = [name for name in schema if name not in by_name]
    if unknown:
        problems.append(f"columns not in the table: {', '.join(unknown)}")
    missing = [c.name for c in columns if c.required and c.name not in schema]
    if missing:
        problems.append(f"required (NOT NULL, no default) columns missing from the frame: {', '.join(missing)}")
    mistyped = [
        f"{name} ({dtype} into {by_name[name].type})"
        for name, dtype in schema.items()
        if name in by_name and not _accepts(by_name[name].type, dtype)
    ]
    if mistyped:
        problems.append(f"type mismatches: {', '.join(mistyped)}")
    if problems:
        raise SchemaMismatchError(f"frame does not fit table {qualified}: " + "; ".join(problems))


def _table_ident(table_slice: TableSlice) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(table_slice.schema), sql.Identifier(table_slice.table))


@dataclass(frozen=True)
class PartitionSwap:
    """Replaces whole list partitions instead of deleting and re-inserting rows.

    When the table is LIST-partitioned on the partition column and each partition key of the slice has a
    leaf of its own (`aneel.generation_units` by UF), the new rows are COPYed into index-free staging leaves,
    which then replace the old leaves (DETACH + DROP, RENAME, ATTACH: the indexes are built once, by sort,
    instead of row by row). Statistics are left to autovacuum, which analyzes the new leaves shortly after
    (an ANALYZE here would add a tenth to the load). Every step is transactional DDL inside the write's one
    transaction, so a failure still leaves the old partitions in place; readers wait only for the final swap.
    """

    schema: str
    table: str
    column: str
    leaves: dict[str, str]  # partition key -> leaf table name

    @property
    def parent(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.table)

    @property
    def staging_name(self) -> str:
        return f"{self.table[:50]}__ysh_load"

    def staging_parent(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.staging_name)

    def staging_leaf(self, leaf: str) -> sql.Identifier:
        return sql.Identifier(self.schema, f"{leaf[:50]}__ysh_load")

    def prepare(self, conn: psycopg.Connection) -> str:
        """Creates the staging parent and its leaves; returns its `schema.table` name, to COPY into."""
        # Index builds (the staged primary keys, ATTACH) sort; give the sorts room (this transaction only).
        conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
        staging = self.staging_parent()
        conn.execute(
            sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS) PARTITION BY LIST ({})").format(
                staging, self.parent, sql.Identifier(self.column)
            )
        )
        for key, leaf in self.leaves.items():
            conn.execute(
                sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES IN ({})").format(
                    self.staging_leaf(leaf), staging, sql.Literal(key)
                )
            )
            # The partition bound as a CHECK while the leaf is empty: ATTACH then knows the rows fit and skips
            # its validation scan of the whole leaf.
            conn.execute(
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK ({} IS NOT NULL AND {} = {})").format(
                    self.staging_leaf(leaf),
                    sql.Identifier(_staged_bound_name(leaf)),
                    sql.Identifier(self.column),
                    sql.Identifier(self.column),
                    sql.Literal(key),
                )
            )
        return f"{self.schema}.{self.staging_name}"

    def primary_key(self, conn: psycopg.Connection) -> tuple[str, ...]:
        """The parent's primary-key columns, in key order."""
        rows = conn.execute(
            "SELECT a.attname FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
            "WHERE i.indrelid = to_regclass(format('%%I.%%I', %s::text, %s::text)) AND i.indisprimary ORDER BY k.ord",
            (self.schema, self.table),
        ).fetchall()
        return tuple(name for (name,) in rows)

    def enforce_primary_key(self, conn: psycopg.Connection) -> bool:
        """Gives every staging leaf the parent's primary key, which ATTACH then adopts instead of building its
        own: duplicate detection at no extra cost. False (and nothing added) when the staged rows repeat a key."""
        columns = sql.SQL(", ").join(map(sql.Identifier, self.primary_key(conn)))
        try:
            with conn.transaction():  # a savepoint: all leaves get their key, or none
                for leaf in self.leaves.values():
                    conn.execute(
                        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY ({})").format(
                            self.staging_leaf(leaf), sql.Identifier(_staged_key_name(leaf)), columns
                        )
                    )
        except psycopg.errors.UniqueViolation:
            return False
        return True

    def swap(self, conn: psycopg.Connection, keep: Collection[str] = ()) -> None:
        """Replaces the leaves; the old leaves of the partitions in `keep` become their previous version (a
        rename, not a copy) instead of being dropped."""
        staging = self.staging_parent()
        for key, leaf in self.leaves.items():
            old = sql.Identifier(self.schema, leaf)
            conn.execute(sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(staging, self.staging_leaf(leaf)))
            conn.execute(sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(self.parent, old))
            if key in keep:
                self._keep_as_previous(conn, leaf, key)
            else:
                conn.execute(sql.SQL("DROP TABLE {}").format(old))
            conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(self.staging_leaf(leaf), sql.Identifier(leaf)))
            self._adopt_key_name(conn, leaf)
            conn.execute(
                sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES IN ({})").format(
                    self.parent, old, sql.Literal(key)
                )
            )
            conn.execute(
                sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(old, sql.Identifier(_staged_bound_name(leaf)))
            )
        conn.execute(sql.SQL("DROP TABLE {}").format(staging))

    def _keep_as_previous(self, conn: psycopg.Connection, leaf: str, key: str) -> None:
        """The detached leaf, its primary key renamed out of the new leaf's way, replaces the previous version."""
        previous = previous_table(f"{self.schema}.{self.table}", key).split(".")[1]
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(self.schema, previous)))
        (key_name,) = conn.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(format('%%I.%%I', %s::text, %s::text)) "
            "AND contype = 'p'",
            (self.schema, leaf),
        ).fetchone() or (None,)
        if key_name:
            conn.execute(
                sql.SQL("ALTER TABLE {} RENAME CONSTRAINT {} TO {}").format(
                    sql.Identifier(self.schema, leaf), sql.Identifier(key_name), sql.Identifier(f"{previous[:58]}_pkey")
                )
            )
        conn.execute(
            sql.SQL("ALTER TABLE {} RENAME TO {}").format(sql.Identifier(self.schema, leaf), sql.Identifier(previous))
        )

    def _adopt_key_name(self, conn: psycopg.Connection, leaf: str) -> None:
        """The staged primary key takes the leaf's usual name once the old leaf (and its key) is gone."""
        staged, usual = _staged_key_name(leaf), f"{leaf[:58]}_pkey"
        has_staged = conn.execute("SELECT to_regclass(format('%%I.%%I', %s::text, %s::text))", (self.schema, staged))
        name_free = conn.execute("SELECT to_regclass(format('%%I.%%I', %s::text, %s::text))", (self.schema, usual))
        if has_staged.fetchone()[0] and not name_free.fetchone()[0]:
            conn.execute(
                sql.SQL("ALTER TABLE {} RENAME CONSTRAINT {} TO {}").format(
                    sql.Identifier(self.schema, leaf), sql.Identifier(staged), sql.Identifier(usual)
                )
            )


def _staged_key_name(leaf: str) -> str:
    return f"{leaf[:40]}__ysh_load_pkey"


def _staged_bound_name(leaf: str) -> str:
    return f"{leaf[:40]}__ysh_load_bound"


_LIST_BOUND = re.compile(r"^FOR VALUES IN \('((?:[^']|'')*)'\)$")


def partition_swap_plan(conn: psycopg.Connection, table_slice: TableSlice) -> PartitionSwap | None:
    """A PartitionSwap when the slice is whole list partitions of the table, else None."""
    dimensions = table_slice.partition_dimensions or []
    if len(dimensions) != 1 or isinstance(dimensions[0].partitions, TimeWindow):
        return None
    column = dimensions[0].partition_expr
    leaves = conn.execute(
        """
        SELECT leaf.relname, pg_get_expr(leaf.relpartbound, leaf.oid)
        FROM pg_partitioned_table pt
        JOIN pg_attribute a ON a.attrelid = pt.partrelid AND a.attnum = pt.partattrs[0]
        JOIN pg_inherits i ON i.inhparent = pt.partrelid
        JOIN pg_class leaf ON leaf.oid = i.inhrelid AND leaf.relkind = 'r'
        WHERE pt.partrelid = to_regclass(format('%%I.%%I', %s::text, %s::text))
          AND pt.partstrat = 'l' AND pt.partnatts = 1 AND a.attname = %s
        """,
        (table_slice.schema, table_slice.table, column),
    ).fetchall()
    by_key = {}
    for leaf, bound in leaves:
        match = _LIST_BOUND.match(bound or "")
        if match:
            by_key[match[1].replace("''", "'")] = leaf
    keys = list(cast("Sequence[str]", dimensions[0].partitions))
    if not keys or any(key not in by_key for key in keys):
        return None
    return PartitionSwap(table_slice.schema, table_slice.table, column, {k: by_key[k] for k in keys})


def _select_statement(table_slice: TableSlice, columns: Sequence[PgColumn]) -> sql.Composed:
    """SELECT of the slice with every column rendered so polars can parse PostgreSQL's CSV text."""
    wanted = set(table_slice.columns or [c.name for c in columns])
    rendered = []
    for column in columns:
        if column.name not in wanted:
            continue
        ident = sql.Identifier(column.name)
        base = base_type(column.type)
        if base == "timestamp with time zone":
            rendered.append(sql.SQL("({} AT TIME ZONE 'UTC') AS {}").format(ident, ident))
        elif base == "boolean":
            rendered.append(sql.SQL("{}::text AS {}").format(ident, ident))
        else:
            rendered.append(ident)
    return sql.SQL("SELECT {} FROM {} WHERE {}").format(
        sql.SQL(", ").join(rendered),
        _table_ident(table_slice),
        partition_where(table_slice, {c.name: c.type for c in columns}),
    )


class PostgresClient(DbClient):
    """Connection and slice handling; `connect` is the transaction boundary of a whole write.

    The DSN is held here rather than read from the context's resource config, so the client also works
    when another IO manager (the Redis cache) delegates to this one.
    """

    def __init__(self, dsn: str):
        self._dsn = dsn

    @contextmanager
    def connect(self, context, table_slice: TableSlice) -> Iterator[psycopg.Connection]:
        dsn = self._dsn
        try:
            conn = pg_connect(dsn, application_name="ysh_assets_load", statement_timeout_ms=None)
        except psycopg.OperationalError as error:
            raise dg.Failure(
                f"cannot connect to the warehouse (PostgreSQL at {redact_dsn(dsn)}): {error}".strip(),
                metadata={"warehouse": redact_dsn(dsn)},
                allow_retries=True,
            ) from error
        # psycopg's connection block commits on success and rolls back on any exception, so the
        # delete of the slice and the COPY of its rows land together or not at all.
        with conn:
            conn.execute("SET TIME ZONE 'UTC'")
            yield conn

    @staticmethod
    def ensure_schema_exists(context, table_slice: TableSlice, connection: psycopg.Connection) -> None:
        connection.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(table_slice.schema)))

    @staticmethod
    def delete_table_slice(context, table_slice: TableSlice, connection: psycopg.Connection) -> None:
        """Nothing here: the type handler replaces the slice when it publishes the audited load."""

    @staticmethod
    def get_table_name(table_slice: TableSlice) -> str:
        return f"{table_slice.schema}.{table_slice.table}"

    @staticmethod
    def get_select_statement(table_slice: TableSlice) -> str:
        where = partition_where(table_slice, {})
        statement = sql.SQL("SELECT {} FROM {} WHERE {}").format(
            sql.SQL(", ").join(map(sql.Identifier, table_slice.columns)) if table_slice.columns else sql.SQL("*"),
            _table_ident(table_slice),
            where,
        )
        return statement.as_string(None)


class PolarsPostgresTypeHandler(DbTypeHandler[WarehouseOutput]):
    """Writes DataFrames, LazyFrames and FrameStreams with COPY; reads slices back with COPY TO."""

    @property
    def supported_types(self) -> Sequence[type[object]]:
        return [pl.DataFrame, pl.LazyFrame, FrameStream, AuditedLoad]

    def __init__(self, dsn: str, copy_format: str = "binary"):
        self._dsn = dsn  # for the quarantine verdicts, which must outlive a rolled-back load
        self._copy_format = copy_format

    def handle_output(
        self, context: dg.OutputContext, table_slice: TableSlice, obj: WarehouseOutput | AuditedLoad, connection
    ) -> Mapping[str, Any]:
        """Write-audit-publish in the connection's one transaction: COPY into staging, audit, then replace; the
        ingestion log gets the published partitions in that transaction, or the failure on a connection of its own."""
        started_at = step_started_at(context)
        load = as_audited(obj)
        try:
            return self._write(context, table_slice, load, connection, started_at)
        except BaseException as error:
            try:
                with pg_connect(
                    self._dsn, application_name="ysh_assets_audit", statement_timeout_ms=SHORT_STATEMENT_TIMEOUT_MS,
                    autocommit=True,
                ) as side:  # fmt: skip
                    ingestion_log.record(PostgresSession(side), failed_entries(context, load, error, started_at))
            except psycopg.Error as logging_error:
                context.log.warning(f"could not log the failed load in {ingestion_log.TABLE}: {logging_error}")
            raise

    def _write(
        self, context: dg.OutputContext, table_slice: TableSlice, load: AuditedLoad, connection, started_at
    ) -> Mapping[str, Any]:
        started = time.monotonic()
        qualified = f"{table_slice.schema}.{table_slice.table}"
        columns = table_columns(connection, table_slice.schema, table_slice.table)
        slices = iter_write_slices(load.data)
        first = next(slices, None)
        if first is None:  # an empty stream: the slice is to be emptied, if the audit allows it
            first = pl.DataFrame()
        if not columns:
            if not first.columns:
                raise SchemaMismatchError(f"cannot create {qualified} from an output with no columns")
            self._create_table(connection, table_slice, first.schema)
            columns = table_columns(connection, table_slice.schema, table_slice.table)
        if first.columns:
            check_frame_fits(qualified, columns, first.schema)
        swap = partition_swap_plan(connection, table_slice)
        if swap:
            staged_name = swap.prepare(connection)
        else:
            staged_name = "ysh_stage"
            connection.execute(
                sql.SQL("CREATE TEMP TABLE ysh_stage (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP").format(
                    _table_ident(table_slice)
                )
            )
        written = first.columns or [c.name for c in columns if c.required]
        partition_column = static_partition_column(table_slice)
        keep_previous = bool(context.definition_metadata.get(KEEP_PREVIOUS_VERSION))
        digests = digest_collector(context.definition_metadata, load.policy.unique_key, partition_column)
        profile = StreamProfile(
            load.policy.row_conditions, partition_column, not table_slice.partition_dimensions, digests
        )
        target = sql.Identifier(*staged_name.split("."))
        rows, copy_format = self._copy(connection, target, first, slices, qualified, columns, profile)
        copied = time.monotonic()
        types = {c.name: c.type for c in columns}
        staged = StagedLoad(
            staged=staged_name,
            published=qualified,
            scopes=partition_scopes(context, table_slice, types),
            columns=written,
            partition_column=partition_column,
            profile=profile,
            enforce_unique=(
                (lambda _key: swap.enforce_primary_key(connection))
                if swap
                and load.policy.unique_key
                and sorted(swap.primary_key(connection)) == sorted(load.policy.unique_key)
                else None
            ),
        )
        asset, run_id = context.asset_key.to_user_string(), context.run_id
        with pg_connect(
            self._dsn,
            application_name="ysh_assets_audit",
            statement_timeout_ms=SHORT_STATEMENT_TIMEOUT_MS,
            autocommit=True,
        ) as side:
            report = audit_or_refuse(
                PostgresSession(connection),
                PostgresSession(side),
                load,
                staged,
                asset=asset,
                run_id=run_id,
                table=qualified,
            )
        audited = time.monotonic()
        rotation = rotation_for(
            PostgresSession(connection), qualified, list(staged.scopes), load.source_sha256, keep_previous=keep_previous
        )
        if swap:
            swap.swap(connection, keep=rotation.rotate)
        else:
            for key in rotation.rotate:
                copy_to_previous(PostgresSession(connection), qualified, key, staged.scopes[key])
            names = sql.SQL(", ").join(map(sql.Identifier, written))
            connection.execute(
                sql.SQL("DELETE FROM {} WHERE {}").format(
                    _table_ident(table_slice), partition_where(table_slice, types)
                )
            )
            connection.execute(
                sql.SQL("INSERT INTO {} ({}) SELECT {} FROM ysh_stage").format(_table_ident(table_slice), names, names)
            )
        quarantine.accept(PostgresSession(connection), asset, run_id, list(staged.scopes))
        row_counts.record(PostgresSession(connection), qualified, report.staged_rows, run_id, rotation.versions)
        if digests:
            store_digests(PostgresSession(connection), qualified, digests, rotation.versions)
        timings = {
            "copy_seconds": round(copied - started, 3),
            "audit_seconds": round(audited - copied, 3),  # the staged key's index build included
            "publish_seconds": round(time.monotonic() - audited, 3),
        }
        ingestion_log.record(PostgresSession(connection), loaded_entries(context, load, report, started_at, timings))
        elapsed = time.monotonic() - started
        extra = {
            "load_seconds": round(elapsed, 3),
            **timings,
            "rows_per_second": round(rows / elapsed) if elapsed > 0 else rows,
            "load_strategy": "partition swap" if swap else "staged replace",
            "copy_format": copy_format,
            **report.metadata(),
        }
        if isinstance(load.data, FrameStream):
            extra.update(load.data.summary())
        return table_output_metadata(
            context,
            columns=[(c.name, c.type) for c in columns],
            rows_by_partition=report.staged_rows,
            partition_metadata=report.partition_metadata(),
            extra=extra,
        )

    @staticmethod
    def _create_table(connection: psycopg.Connection, table_slice: TableSlice, schema: pl.Schema) -> None:
        definitions = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(_pg_type_for(dtype)))
            for name, dtype in schema.items()
        )
        connection.execute(sql.SQL("CREATE TABLE {} ({})").format(_table_ident(table_slice), definitions))

    def _copy(
        self,
        connection: psycopg.Connection,
        target: sql.Composable,
        first: pl.DataFrame,
        rest: Iterator[pl.DataFrame],
        qualified: str,
        columns: Sequence[PgColumn],
        profile: StreamProfile,
    ) -> tuple[int, str]:
        """COPYs the stream into `target`: binary where every column has an exact encoding, else CSV text.
        Returns the rows written and the format used."""
        if not first.columns:
            return 0, "none"
        names = first.columns
        types = binary_types(names, {c.name: c.type for c in columns}) if self._copy_format == "binary" else None
        copy_format = "binary" if types else "csv"
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT {})").format(
            target, sql.SQL(", ").join(map(sql.Identifier, names)), sql.SQL(copy_format)
        )

        def frames() -> Iterator[pl.DataFrame]:
            for frame in _chain(first, rest):
                if frame.columns != names:
                    check_frame_fits(qualified, columns, frame.schema)
                    frame = frame.select(names)
                profile.observe(frame)  # in the prefetch thread, while the previous batch is sent
                yield frame

        rows = 0
        # Three stages overlap: parsing (and profiling) in one worker thread, encoding in another, sending here.
        parsed = prefetched(frames())
        blocks = encode(parsed, types) if types else _csv_blocks(parsed)
        # closing() both stages: a failed COPY stops both worker threads instead of leaving them blocked
        with (
            connection.cursor() as cursor,
            cursor.copy(statement) as copy,
            closing(parsed),
            closing(prefetched(blocks)) as sent,
        ):
            for height, payload in sent:
                copy.write(payload)
                rows += height
        return rows, copy_format

    def load_input(self, context: dg.InputContext, table_slice: TableSlice, connection) -> WarehouseOutput:
        columns = table_columns(connection, table_slice.schema, table_slice.table)
        if not columns:
            raise dg.DagsterInvariantViolationError(
                f"table {table_slice.schema}.{table_slice.table} does not exist; materialize the upstream asset first"
            )
        wanted = set(table_slice.columns or [c.name for c in columns])
        selected = [c for c in columns if c.name in wanted]
        if table_slice.partition_dimensions and not context.asset_partition_keys:
            frame = pl.DataFrame(schema={c.name: _polars_type_for(c.type) for c in selected})
        else:
            frame = _read_copy(connection, _select_statement(table_slice, columns), selected)
        return frame.lazy() if context.dagster_type.typing_type is pl.LazyFrame else frame


def _chain(first: pl.DataFrame, rest: Iterator[pl.DataFrame]) -> Iterator[pl.DataFrame]:
    yield first
    yield from rest


def _csv_blocks(frames: Iterator[pl.DataFrame]) -> Iterator[tuple[int, memoryview]]:
    for frame in frames:
        json_columns = [n for n, t in frame.schema.items() if isinstance(t, pl.Struct)]
        if json_columns:
            frame = frame.with_columns(pl.col(c).struct.json_encode() for c in json_columns)
        buffer = io.BytesIO()
        frame.write_csv(buffer, include_header=False)
        yield frame.height, buffer.getbuffer()


def _read_copy(connection: psycopg.Connection, select: sql.Composed, columns: Sequence[PgColumn]) -> pl.DataFrame:
    buffer = io.BytesIO()
    with connection.cursor() as cursor:
        with cursor.copy(sql.SQL("COPY ({}) TO STDOUT (FORMAT csv)").format(select)) as copy:
            for block in copy:
                buffer.write(block)
    target = {c.name: _polars_type_for(c.type) for c in columns}
    text_schema = {
        name: (pl.String() if isinstance(dtype, pl.Datetime | pl.Boolean) else dtype) for name, dtype in target.items()
    }
    buffer.seek(0)
    frame = pl.read_csv(buffer, has_header=False, new_columns=list(target), schema=text_schema)
    conversions = []
    for name, dtype in target.items():
        if isinstance(dtype, pl.Datetime):
            converted = pl.col(name).str.to_datetime(time_unit="us")
            conversions.append((converted.dt.replace_time_zone("UTC") if dtype.time_zone else converted).alias(name))
        elif dtype == pl.Boolean:
            conversions.append(pl.col(name).replace_strict({"true": True, "false": False}, return_dtype=pl.Boolean))
    return frame.with_columns(conversions) if conversions else frame


class PostgresPolarsIOManager(dg.ConfigurableIOManagerFactory):
    """Stores polars frames in PostgreSQL tables named by the asset key (schema = key prefix).

    Partitioned assets need `partition_expr` metadata naming the partition column (a dict per dimension
    for multi-partitions). Migrations in `sql/` run before the first write of a process.
    """

    dsn: str = Field(description="libpq URL of the warehouse, e.g. postgresql://user@host:5432/db")
    schema_: str | None = Field(default=None, alias="schema", description="Schema when the asset key has no prefix.")
    run_migrations: bool = Field(default=True, description="Apply missing sql/ migrations before the first write.")
    copy_format: Literal["binary", "csv"] = Field(
        default="binary",
        description="binary: COPY in PostgreSQL's binary format where every column type has an exact encoding "
        "(else CSV); csv: always CSV text.",
    )

    def create_io_manager(self, context) -> DbIOManager:
        if self.run_migrations:
            migrate_once(PostgresEngine(self.dsn))
        return DbIOManager(
            type_handlers=[PolarsPostgresTypeHandler(self.dsn, self.copy_format)],
            db_client=PostgresClient(self.dsn),
            database="warehouse",
            schema=self.schema_,
            io_manager_name="PostgresPolarsIOManager",
            default_load_type=pl.DataFrame,
        )
