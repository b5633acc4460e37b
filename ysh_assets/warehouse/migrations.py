"""Numbered SQL migrations for the PostgreSQL warehouse (`sql/NNN_name.sql`).

Each file is applied once, in its own transaction, and recorded in `pipeline.schema_migrations` with
its checksum; an edited file that was already applied is reported, never re-run silently. A
PostgreSQL advisory lock serialises concurrent runs (several Dagster run workers may start at once).
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg

from ysh_assets.io_managers.sessions import SHORT_STATEMENT_TIMEOUT_MS, pg_connect


def _sql_dir() -> Path:
    """YSH_SQL_DIR, else the checkout's sql/ (an editable install), else the copy a wheel installs."""
    if os.environ.get("YSH_SQL_DIR"):
        return Path(os.environ["YSH_SQL_DIR"])
    checkout = Path(__file__).resolve().parents[2] / "sql"
    return checkout if checkout.is_dir() else Path(sys.prefix) / "share" / "ysh_assets" / "sql"


SQL_DIR = _sql_dir()
_FILENAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
_LOCK_ID = 0x595348  # "YSH": one advisory lock id for all migration runs

# Tables range-partitioned by month, and how many months ahead `migrate` keeps ready.
MONTHLY_PARTITIONED_TABLES = ("pipeline.quarantine", "pipeline.data_quality_checks", "audit.change_log")
MONTHS_AHEAD = 3


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True)
class MigrationReport:
    applied: list[str]
    already_applied: list[str]
    partitions_created: int


class MigrationError(RuntimeError):
    pass


def discover(sql_dir: Path = SQL_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(sql_dir.glob("*.sql")):
        match = _FILENAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNN_lower_snake.sql")
        migrations.append(Migration(int(match[1]), match[2], path.read_text(encoding="utf-8")))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration numbers in {sql_dir}")
    return migrations


def migrate(dsn: str, sql_dir: Path = SQL_DIR, *, today: date | None = None) -> MigrationReport:
    """Applies the migrations that are missing and keeps monthly partitions ready ahead."""
    migrations = discover(sql_dir)
    applied: list[str] = []
    already: list[str] = []
    with pg_connect(
        dsn, application_name="ysh_migrate", statement_timeout_ms=SHORT_STATEMENT_TIMEOUT_MS, autocommit=True
    ) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            conn.execute("CREATE SCHEMA IF NOT EXISTS pipeline")
            conn.execute(
                """CREATE TABLE IF NOT EXISTS pipeline.schema_migrations (
                       version integer PRIMARY KEY,
                       name text NOT NULL,
                       checksum text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            recorded = dict(conn.execute("SELECT version, checksum FROM pipeline.schema_migrations").fetchall())
            for migration in migrations:
                label = f"{migration.version:03d}_{migration.name}"
                if migration.version in recorded:
                    if recorded[migration.version] != migration.checksum:
                        raise MigrationError(
                            f"migration {label} was changed after it was applied; add a new migration instead"
                        )
                    already.append(label)
                    continue
                with conn.transaction():
                    conn.execute(migration.sql)
                    conn.execute(
                        "INSERT INTO pipeline.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                applied.append(label)
            created = _ensure_monthly_partitions(conn, today or date.today())
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
    return MigrationReport(applied=applied, already_applied=already, partitions_created=created)


def _ensure_monthly_partitions(conn: psycopg.Connection, today: date) -> int:
    created = 0
    for table in MONTHLY_PARTITIONED_TABLES:
        row = conn.execute(
            "SELECT pipeline.ensure_monthly_partitions(%s::regclass, %s, %s)", (table, today, MONTHS_AHEAD + 1)
        ).fetchone()
        created += row[0] if row else 0
    return created
