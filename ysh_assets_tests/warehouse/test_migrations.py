"""`ysh migrate` on a brand-new database, twice, and what it refuses."""

import shutil
from datetime import date
from pathlib import Path

import psycopg
import pytest

from ysh_assets.cli import main
from ysh_assets.warehouse.engines import PostgresEngine
from ysh_assets.warehouse.migrations import SQL_DIR, MigrationError, discover


def migrate(dsn, sql_dir=SQL_DIR):
    return PostgresEngine(dsn).migrate(sql_dir)


EXPECTED_TABLES = {
    "aneel.datasets",
    "aneel.generation_units",
    "aneel.tariffs",
    "aneel.certifications",
    "products.products",
    "products.solar_kits",
    "products.kit_components",
    "pipeline.ingestion_log",
    "pipeline.data_quality_checks",
    "pipeline.quarantine",
    "audit.change_log",
}

CATALOG_SNAPSHOT = """
SELECT n.nspname || '.' || c.relname, c.relkind::text, coalesce(pg_get_indexdef(c.oid), '')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname IN ('aneel', 'products', 'pipeline', 'audit')
ORDER BY 1
"""


def snapshot(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(CATALOG_SNAPSHOT).fetchall()


def test_migrations_apply_on_an_empty_database_and_are_a_no_op_the_second_time(empty_pg_dsn, capsys):
    assert main(["migrate", "--dsn", empty_pg_dsn]) == 0
    first_output = capsys.readouterr().out
    assert f"{len(discover())} applied, 0 already applied" in first_output
    after_first = snapshot(empty_pg_dsn)

    report = migrate(empty_pg_dsn)
    assert report.applied == []
    assert len(report.already_applied) == len(discover())
    assert report.partitions_created == 0
    assert snapshot(empty_pg_dsn) == after_first

    relations = {name: kind for name, kind, _ in after_first}
    assert set(relations) >= EXPECTED_TABLES
    for partitioned in ("pipeline.quarantine", "pipeline.data_quality_checks", "audit.change_log"):
        assert relations[partitioned] == "p"  # range-partitioned parent
        assert relations[f"{partitioned}_{date.today():%Y_%m}"] == "r"
        assert relations[f"{partitioned}_default"] == "r"
    assert relations["aneel.generation_units_sp"] == "r"

    with psycopg.connect(empty_pg_dsn) as conn:
        primary_keys = {
            row[0]
            for row in conn.execute("SELECT conrelid::regclass::text FROM pg_constraint WHERE contype = 'p'").fetchall()
        }
    assert primary_keys >= EXPECTED_TABLES


def test_editing_an_applied_migration_is_refused(empty_pg_dsn, tmp_path):
    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    migrate(empty_pg_dsn, sql_dir)
    first = sorted(sql_dir.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(MigrationError, match="was changed after it was applied"):
        migrate(empty_pg_dsn, sql_dir)


def test_a_failing_migration_leaves_no_trace(empty_pg_dsn, tmp_path):
    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    (sql_dir / "999_broken.sql").write_text("CREATE TABLE audit.half_done (id int);\nSELECT no_such_function();\n")
    with pytest.raises(psycopg.errors.UndefinedFunction):
        migrate(empty_pg_dsn, sql_dir)
    with psycopg.connect(empty_pg_dsn) as conn:
        assert conn.execute("SELECT to_regclass('audit.half_done')").fetchone() == (None,)
        versions = [v for (v,) in conn.execute("SELECT version FROM pipeline.schema_migrations").fetchall()]
    assert 999 not in versions and len(versions) == len(discover())


def test_a_non_editable_install_ships_the_migrations(tmp_path):
    """The wheel carries sql/ as data (share/ysh_assets/sql), where migrations look outside a checkout."""
    import subprocess
    import sys
    import zipfile

    from ysh_assets.warehouse.migrations import discover

    root = Path(__file__).resolve().parents[2]
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(root)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("ysh_assets-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = sorted(n.rsplit("/", 1)[1] for n in archive.namelist() if "/share/ysh_assets/sql/" in n)
    assert shipped == sorted(p.name for p in (root / "sql").glob("*.sql"))
    assert len(shipped) == len(discover())


COLUMNS = (
    "SELECT table_schema || '.' || table_name, column_name, data_type, is_nullable FROM information_schema.columns "
    "WHERE table_schema IN ('aneel', 'products', 'pipeline', 'audit') ORDER BY 1, 2"
)
# information_schema spells the same types differently in the two engines.
SAME_TYPE = {"character varying": "text", "varchar": "text", "timestamp with time zone": "timestamptz",
             "double precision": "double", "jsonb": "json", "numeric": "decimal", "bytea": "blob"}  # fmt: skip


def _normalised(rows) -> dict[tuple[str, str], tuple[str, str]]:
    def kind(data_type: str) -> str:
        base = data_type.lower().split("(")[0].strip()
        return SAME_TYPE.get(base, base)

    return {(table, column): (kind(data_type), nullable) for table, column, data_type, nullable in rows}


def test_duckdb_gets_the_same_tables_columns_and_types_from_the_same_files(empty_pg_dsn, tmp_path):
    """sql/ is the one schema: the local profile's DuckDB file holds the same tables, columns, types and
    NULL-ability as PostgreSQL, minus PostgreSQL's physical design (partition children)."""
    import duckdb

    from ysh_assets.warehouse.engines import DuckDBEngine

    migrate(empty_pg_dsn)
    duck = DuckDBEngine(str(tmp_path / "warehouse.duckdb"))
    first = duck.migrate()
    assert first.applied == [m.label for m in discover()]
    assert duck.migrate().applied == []
    with psycopg.connect(empty_pg_dsn) as conn:
        parents = conn.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables t JOIN pg_class c "
            "ON c.relname = t.table_name WHERE NOT c.relispartition AND table_schema IN "
            "('aneel', 'products', 'pipeline', 'audit')"
        ).fetchall()
        pg_columns = _normalised(r for r in conn.execute(COLUMNS).fetchall() if (r[0],) in parents)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        duck_columns = _normalised(conn.execute(COLUMNS).fetchall())
    assert {t for t, _ in pg_columns} >= EXPECTED_TABLES | {"aneel.tariffs_current"}
    assert duck_columns == pg_columns
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:  # identity columns number rows
        conn.execute("INSERT INTO pipeline.quarantine (asset_key, reason) VALUES ('a', 'r'), ('a', 's')")
        assert conn.execute("SELECT id, status FROM pipeline.quarantine ORDER BY id").fetchall() == [
            (1, "staged"),
            (2, "staged"),
        ]
