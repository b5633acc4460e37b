"""One SQL interface over the two warehouse engines, so audit, quarantine and check code is written once.

Statements use `%s` placeholders and SQL both engines accept (`x IN (SELECT unnest(%s::text[]))` for lists);
the DuckDB session rewrites the placeholders. Frames go in with COPY on PostgreSQL and through Arrow on DuckDB.
Connections are opened here and nowhere else, so every one carries the same timeouts and settings.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import duckdb
import polars as pl
import psycopg
from psycopg import sql as pgsql

# One connect timeout for every PostgreSQL connection: a server that accepts and never answers fails the
# caller in seconds instead of hanging a run or a sensor tick.
CONNECT_TIMEOUT_SECONDS = 10
# Statements of checks, audits' side connections and migrations: far above anything they need, far below
# "forever". Loads (COPY, index builds) carry no statement timeout: the run's own limits bound them.
SHORT_STATEMENT_TIMEOUT_MS = 10 * 60 * 1000


def pg_connect(dsn: str, *, application_name: str, statement_timeout_ms: int | None, **kwargs: Any):
    """psycopg.connect with the project's timeouts: connect, TCP keepalives, and a statement timeout."""
    options = f"-c statement_timeout={statement_timeout_ms}" if statement_timeout_ms else None
    return psycopg.connect(
        dsn,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        application_name=application_name,
        keepalives=1,
        keepalives_idle=30,
        keepalives_interval=10,
        keepalives_count=3,
        **({"options": options} if options else {}),
        **kwargs,
    )


DUCKDB_CONFIG = {"custom_user_agent": "dagster"}


def duckdb_connect(database: str, connection_config: Mapping[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
    """Every connection of this process to the file uses one config: DuckDB refuses a second, different one."""
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(database, config={**DUCKDB_CONFIG, **(connection_config or {})})


@contextmanager
def duckdb_transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """One transaction on an open connection: committed when the block succeeds, rolled back otherwise."""
    conn.begin()
    try:
        yield conn
    except BaseException:
        conn.rollback()
        raise
    conn.commit()


def quoted(qualified: str) -> str:
    """`schema.table` as a quoted identifier both engines accept."""
    return pgsql.Identifier(*qualified.split(".")).as_string(None)


class SqlSession(Protocol):
    """What engine-neutral code may do with an open warehouse connection."""

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None: ...

    def frame(self, statement: str, params: Sequence[Any] = ()) -> pl.DataFrame: ...

    def scalar(self, statement: str, params: Sequence[Any] = ()) -> Any: ...

    def blob(self, statement: str, params: Sequence[Any] = ()) -> bytes | None:
        """The first row's first column as bytes (a stored file), None without rows."""
        ...

    def insert_frame(self, qualified: str, frame: pl.DataFrame) -> None: ...

    def bulk_frame(self, statement: str, schema: pl.Schema, params: Sequence[Any] = ()) -> pl.DataFrame:
        """Millions of rows of `statement` (its columns as `schema`, text, integer or float), in bulk."""
        ...

    def table_exists(self, qualified: str) -> bool: ...


class _Common:
    def scalar(self, statement: str, params: Sequence[Any] = ()) -> Any:
        frame = self.frame(statement, params)
        return frame.item(0, 0) if frame.height else None

    def table_exists(self, qualified: str) -> bool:
        schema, table = qualified.split(".")
        return bool(
            self.scalar(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
                (schema, table),
            )
        )


class PostgresSession(_Common):
    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        self.conn.execute(statement, params or None)

    def frame(self, statement: str, params: Sequence[Any] = ()) -> pl.DataFrame:
        cursor = self.conn.execute(statement, params or None)
        names = [d.name for d in cursor.description]
        return pl.DataFrame(cursor.fetchall(), schema=names, orient="row", infer_schema_length=None)

    def insert_frame(self, qualified: str, frame: pl.DataFrame) -> None:
        if not frame.height:
            return
        statement = pgsql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
            pgsql.Identifier(*qualified.split(".")), pgsql.SQL(", ").join(map(pgsql.Identifier, frame.columns))
        )
        with self.conn.cursor().copy(statement) as copy:
            copy.write(frame.write_csv(include_header=False).encode())

    def blob(self, statement: str, params: Sequence[Any] = ()) -> bytes | None:
        """In binary: PostgreSQL sends the bytes as they are, not hex-encoded at twice their size."""
        row = self.conn.cursor(binary=True).execute(statement, params or None).fetchone()
        return None if row is None else bytes(row[0])

    def bulk_frame(self, statement: str, schema: pl.Schema, params: Sequence[Any] = ()) -> pl.DataFrame:
        """COPY TO in CSV and polars' reader: several times faster than fetching rows into Python objects."""
        bound = psycopg.ClientCursor(self.conn).mogrify(statement, params or None)
        buffer = io.BytesIO()
        with self.conn.cursor().copy(f"COPY ({bound}) TO STDOUT (FORMAT csv)") as copy:
            for block in copy:
                buffer.write(block)
        if not buffer.tell():
            return pl.DataFrame(schema=schema)
        buffer.seek(0)
        return pl.read_csv(buffer, has_header=False, new_columns=list(schema), schema=schema)


class DuckDBSession(_Common):
    def __init__(self, conn: Any):
        self.conn = conn

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        self.conn.execute(statement.replace("%s", "?"), list(params))

    def frame(self, statement: str, params: Sequence[Any] = ()) -> pl.DataFrame:
        cursor = self.conn.execute(statement.replace("%s", "?"), list(params))
        names = [d[0] for d in cursor.description]
        return pl.DataFrame(cursor.fetchall(), schema=names, orient="row", infer_schema_length=None)

    def insert_frame(self, qualified: str, frame: pl.DataFrame) -> None:
        if not frame.height:
            return
        self.conn.register("ysh_rows", frame.to_arrow())
        try:
            self.conn.execute(f"INSERT INTO {quoted(qualified)} BY NAME SELECT * FROM ysh_rows")
        finally:
            self.conn.unregister("ysh_rows")

    def blob(self, statement: str, params: Sequence[Any] = ()) -> bytes | None:
        row = self.conn.execute(statement.replace("%s", "?"), list(params)).fetchone()
        return None if row is None else bytes(row[0])

    def bulk_frame(self, statement: str, schema: pl.Schema, params: Sequence[Any] = ()) -> pl.DataFrame:
        frame = self.conn.execute(statement.replace("%s", "?"), list(params)).pl()
        return frame.rename(dict(zip(frame.columns, schema, strict=True))).cast(dict(schema))
