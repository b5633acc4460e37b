"""Numbered SQL migrations (`sql/NNN_name.sql`): the one definition of every warehouse table, for both engines.

Each file is applied once, in its own transaction, and recorded in `pipeline.schema_migrations` with its
checksum; an edited file that was already applied is reported, never re-run silently. PostgreSQL runs the
files as written (an advisory lock serialises concurrent run workers). DuckDB, the local profile's engine,
runs the same files translated by sqlglot, keeping what a single-file analytical store needs (schemas,
tables, columns, types, defaults, primary keys, checks) and leaving out PostgreSQL's physical design
(list/range partitions, indexes, collations, foreign keys with cascades, PL/pgSQL blocks).
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import sqlglot
from sqlglot import exp

from ysh_assets.warehouse.sessions import SqlSession


def _sql_dir() -> Path:
    """YSH_SQL_DIR, else the checkout's sql/ (an editable install), else the copy a wheel installs."""
    if os.environ.get("YSH_SQL_DIR"):
        return Path(os.environ["YSH_SQL_DIR"])
    checkout = Path(__file__).resolve().parents[2] / "sql"
    return checkout if checkout.is_dir() else Path(sys.prefix) / "share" / "ysh_assets" / "sql"


SQL_DIR = _sql_dir()
_FILENAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")

SCHEMA_MIGRATIONS_DDL = (
    "CREATE SCHEMA IF NOT EXISTS pipeline",
    """CREATE TABLE IF NOT EXISTS pipeline.schema_migrations (
           version integer PRIMARY KEY,
           name text NOT NULL,
           checksum text NOT NULL,
           applied_at timestamptz NOT NULL DEFAULT now())""",
)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def label(self) -> str:
        return f"{self.version:03d}_{self.name}"


@dataclass(frozen=True)
class MigrationReport:
    applied: list[str]
    already_applied: list[str]
    partitions_created: int = 0


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


def apply_migrations(
    session: SqlSession,
    transaction: Callable[[], AbstractContextManager],
    migrations: list[Migration],
    statements: Callable[[str], list[str]],
) -> MigrationReport:
    """Applies the missing migrations on an autocommit `session`, each inside its own `transaction()`;
    `statements` turns a file into what the engine executes."""
    for ddl in SCHEMA_MIGRATIONS_DDL:
        session.execute(ddl)
    recorded = dict(session.frame("SELECT version, checksum FROM pipeline.schema_migrations").iter_rows())
    applied: list[str] = []
    already: list[str] = []
    for migration in migrations:
        if migration.version in recorded:
            if recorded[migration.version] != migration.checksum:
                raise MigrationError(
                    f"migration {migration.label} was changed after it was applied; add a new migration instead"
                )
            already.append(migration.label)
            continue
        with transaction():
            for statement in statements(migration.sql):
                session.execute(statement)
            session.execute(
                "INSERT INTO pipeline.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.checksum),
            )
        applied.append(migration.label)
    return MigrationReport(applied=applied, already_applied=already)


def postgres_statements(sql: str) -> list[str]:
    return [sql]


def duckdb_statements(sql: str) -> list[str]:
    """The file's statements as DuckDB runs them (see the module docstring for what is left out)."""
    translated: list[str] = []
    for statement in sqlglot.parse(sql, read="postgres"):
        if statement is None or isinstance(statement, exp.Command) or _postgres_physical_design(statement):
            continue
        translated.extend(_duckdb_statement(statement))
    return translated


def _postgres_physical_design(statement: exp.Expression) -> bool:
    if not isinstance(statement, exp.Create):
        return False
    if statement.args.get("kind") in ("FUNCTION", "INDEX"):
        return True
    properties = statement.args.get("properties")
    return bool(properties) and any(isinstance(p, exp.PartitionedOfProperty) for p in properties.expressions)


def _duckdb_statement(statement: exp.Expression) -> list[str]:
    before: list[str] = []
    after: list[str] = []
    properties = statement.args.get("properties")
    if properties:
        properties.set(
            "expressions", [p for p in properties.expressions if not isinstance(p, exp.PartitionedByProperty)]
        )
    for foreign_key in list(statement.find_all(exp.ForeignKey)):
        foreign_key.pop()
    table = statement.find(exp.Table)
    for column in statement.find_all(exp.ColumnDef):
        for constraint in list(column.constraints):
            kind = constraint.kind
            if isinstance(kind, exp.CollateColumnConstraint | exp.Reference):
                constraint.pop()
            elif isinstance(kind, exp.GeneratedAsIdentityColumnConstraint):
                sequence = f"{table.db}.{table.name}_{column.name}_seq"
                before.append(f"CREATE SEQUENCE IF NOT EXISTS {sequence}")
                constraint.replace(
                    exp.ColumnConstraint(
                        kind=exp.DefaultColumnConstraint(this=sqlglot.parse_one(f"nextval('{sequence}')"))
                    )
                )
            elif isinstance(statement, exp.Alter) and isinstance(kind, exp.NotNullColumnConstraint):
                # DuckDB adds a column with a default only: NOT NULL follows once the default has filled it.
                constraint.pop()
                after.append(f"ALTER TABLE {table.sql(dialect='duckdb')} ALTER COLUMN {column.name} SET NOT NULL")
    return [*before, statement.sql(dialect="duckdb"), *after]
