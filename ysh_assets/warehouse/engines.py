"""The warehouse's two engines behind one interface: PostgreSQL (`services`) and a DuckDB file (`local`).

Everything above this layer (the warehouse resource, the IO managers' audits and quarantine, asset checks)
asks an engine for a session or for migrations and never branches on which engine it has.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Protocol

import psycopg

from ysh_assets.settings import ConfigurationError, redact_dsn
from ysh_assets.warehouse.migrations import (
    SQL_DIR,
    MigrationReport,
    apply_migrations,
    discover,
    duckdb_statements,
    postgres_statements,
)
from ysh_assets.warehouse.sessions import (
    SHORT_STATEMENT_TIMEOUT_MS,
    DuckDBSession,
    PostgresSession,
    SqlSession,
    duckdb_connect,
    duckdb_transaction,
    pg_connect,
)

_LOCK_ID = 0x595348  # "YSH": one advisory lock id for all migration runs
# Tables range-partitioned by month, and how many months ahead `migrate` keeps ready.
MONTHLY_PARTITIONED_TABLES = ("pipeline.quarantine", "pipeline.data_quality_checks", "audit.change_log")
MONTHS_AHEAD = 3


class WarehouseEngine(Protocol):
    # Whether one process may hold several sessions at once (PostgreSQL: a server; DuckDB: one file, one
    # connection per process at a time).
    concurrent_sessions: bool

    def describe(self) -> str: ...

    def session(self) -> AbstractContextManager[SqlSession]:
        """A session inside one transaction: committed when the block succeeds, rolled back otherwise."""
        ...

    def migrate(self, sql_dir: Path = SQL_DIR, *, today: date | None = None) -> MigrationReport: ...


@dataclass(frozen=True)
class PostgresEngine:
    dsn: str
    application_name: str = "ysh_assets_sql"
    concurrent_sessions = True

    def describe(self) -> str:
        return redact_dsn(self.dsn)

    @contextmanager
    def session(self) -> Iterator[PostgresSession]:
        with pg_connect(
            self.dsn, application_name=self.application_name, statement_timeout_ms=SHORT_STATEMENT_TIMEOUT_MS
        ) as conn:
            yield PostgresSession(conn)

    def migrate(self, sql_dir: Path = SQL_DIR, *, today: date | None = None) -> MigrationReport:
        """Applies the missing migrations and keeps monthly partitions ready ahead."""
        with pg_connect(
            self.dsn, application_name="ysh_migrate", statement_timeout_ms=SHORT_STATEMENT_TIMEOUT_MS, autocommit=True
        ) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
            try:
                report = apply_migrations(
                    PostgresSession(conn), conn.transaction, discover(sql_dir), postgres_statements
                )
                created = _ensure_monthly_partitions(conn, today or date.today())
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
        return replace(report, partitions_created=created)


def _ensure_monthly_partitions(conn: psycopg.Connection, today: date) -> int:
    created = 0
    for table in MONTHLY_PARTITIONED_TABLES:
        row = conn.execute(
            "SELECT pipeline.ensure_monthly_partitions(%s::regclass, %s, %s)", (table, today, MONTHS_AHEAD + 1)
        ).fetchone()
        created += row[0] if row else 0
    return created


@dataclass(frozen=True)
class DuckDBEngine:
    path: str
    concurrent_sessions = False

    def describe(self) -> str:
        return f"duckdb:{self.path}"

    @contextmanager
    def session(self) -> Iterator[DuckDBSession]:
        conn = duckdb_connect(self.path)
        try:
            with duckdb_transaction(conn):
                yield DuckDBSession(conn)
        finally:
            conn.close()

    def migrate(self, sql_dir: Path = SQL_DIR, *, today: date | None = None) -> MigrationReport:
        """The same migrations, translated (DuckDB's file lock already serialises writers)."""
        conn = duckdb_connect(self.path)
        try:
            return apply_migrations(
                DuckDBSession(conn), lambda: duckdb_transaction(conn), discover(sql_dir), duckdb_statements
            )
        finally:
            conn.close()


def engine_for(*, dsn: str = "", duckdb_path: str = "") -> WarehouseEngine:
    """The engine a profile's settings name: a PostgreSQL DSN, else the DuckDB file."""
    if bool(dsn) == bool(duckdb_path):
        raise ConfigurationError("the warehouse needs exactly one of a PostgreSQL dsn or a DuckDB path")
    return PostgresEngine(dsn) if dsn else DuckDBEngine(duckdb_path)


_migrated: set[WarehouseEngine] = set()


def migrate_once(engine: WarehouseEngine) -> None:
    """Migrations before the first use of an engine in this process (run workers each start fresh)."""
    if engine not in _migrated:
        engine.migrate()
        _migrated.add(engine)
