r"""`ysh bench gd-load`: the full-size GD units load, measured against a plain COPY on the same database.

A file in the published layout (quoted, `;`, cp1252, CRLF, inside a ZIP served from a `.csv` URL) is made by
resampling the bundled real rows and served from a loopback CKAN-compatible endpoint. Two modes:

- `operator` (default): what an operator waits for, two `dagster asset materialize` processes on the
  services profile (snapshot, then the 27-UF load with its checks), against `psql \copy` of the same CSV
  (see `operator_load`);
- `asset`: the asset bodies in one child process per size (download, then the load into PostgreSQL), against
  one COPY of the CSV streamed from the ZIP.

In the same run, on the same server, the two sides alternate `repeat` times and the medians' throughputs are
compared. Nothing here is a test: timings are reported, never asserted.
"""

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from datetime import date
from pathlib import Path

import dagster as dg
import psycopg
from psycopg import sql

from ysh_assets.aneel.assets import UF_PARTITIONS, gd_units_raw, generation_units, today_in_brazil
from ysh_assets.aneel.ckan_server import CkanServer, gd_units_package, tariffs_package
from ysh_assets.aneel.portal import BUNDLED_TARIFFS_FILE, AneelPortal
from ysh_assets.aneel.synthetic import NextSnapshot, write_published_gd_file
from ysh_assets.automation import full_range_tags
from ysh_assets.bench.operator_load import operator_changes, operator_reload, psql_copy
from ysh_assets.io_managers.object_store import ObjectStore, ObjectStoreIOManager
from ysh_assets.io_managers.postgres import PostgresPolarsIOManager
from ysh_assets.settings import redact_dsn
from ysh_assets.warehouse.sessions import pg_connect
from ysh_assets.warehouse.sql import Warehouse

PUBLISHED_COLUMNS = 31
BASELINE_NAMES = {"operator": "psql \\copy of the CSV", "asset": "one COPY streamed from the ZIP"}


def settle(dsn: str) -> None:
    """Flushes the previous phase's WAL (CHECKPOINT, when allowed) so each phase starts from the same state."""
    try:
        with pg_connect(dsn, application_name="ysh_bench", statement_timeout_ms=None, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
    except psycopg.errors.InsufficientPrivilege:
        pass


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_through_pipeline(zip_path: Path, dsn: str, workdir: Path) -> dict:
    """Child-process body: download + generation_units for all UFs; returns the measurements."""
    packages = [gd_units_package(zip_path), tariffs_package(BUNDLED_TARIFFS_FILE)]
    store = ObjectStore(root=(workdir / "objects").as_uri())
    with CkanServer(packages) as server:
        resources = {
            "aneel_portal": AneelPortal(base_url=server.base_url),
            "object_store": store,
            "object_store_io_manager": ObjectStoreIOManager(store=store),
            "io_manager": PostgresPolarsIOManager(dsn=dsn),
            "warehouse": Warehouse(dsn=dsn),
        }
        with dg.instance_for_test() as instance:
            started = time.monotonic()
            downloaded = dg.materialize(
                [gd_units_raw], resources=resources, instance=instance, partition_key=today_in_brazil().isoformat()
            )
            download_seconds = time.monotonic() - started
            loaded = dg.materialize(
                [gd_units_raw, generation_units],
                selection=[generation_units],
                resources=resources,
                instance=instance,
                tags=full_range_tags(UF_PARTITIONS),
            )
            total_seconds = time.monotonic() - started
    if not (downloaded.success and loaded.success):
        raise RuntimeError("the pipeline run failed; see the Dagster log above")
    metadata = loaded.get_asset_materialization_events()[0].materialization.metadata
    rows = metadata["run_rows_written"].value
    return {
        "rows": rows,
        "rows_quarantined": metadata["rows_quarantined_by_parser"].value,
        "download_seconds": round(download_seconds, 2),
        "copy_seconds": metadata["copy_seconds"].value,
        "audit_seconds": metadata["audit_seconds"].value,
        "wall_seconds": round(total_seconds, 2),
        "rows_per_second": round(rows / total_seconds),
        "peak_rss_mb": round(_peak_rss_mb()),
    }


def plain_copy(zip_path: Path, dsn: str) -> dict:
    """The baseline: the same CSV streamed out of the ZIP into an all-text table with one COPY."""
    columns = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(f"c{i}")) for i in range(PUBLISHED_COLUMNS))
    with pg_connect(dsn, application_name="ysh_bench", statement_timeout_ms=None) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_plain_copy")
        conn.execute(sql.SQL("CREATE TABLE bench_plain_copy ({})").format(columns))
        started = time.monotonic()
        with zipfile.ZipFile(zip_path) as archive, archive.open(archive.namelist()[0]) as member:
            statement = "COPY bench_plain_copy FROM STDIN (FORMAT csv, DELIMITER ';', HEADER, ENCODING 'WIN1252')"
            with conn.cursor().copy(statement) as copy:
                while chunk := member.read(1 << 20):
                    copy.write(chunk)
        conn.commit()
        seconds = time.monotonic() - started
        rows = conn.execute("SELECT count(*) FROM bench_plain_copy").fetchone()[0]
    return {"rows": rows, "wall_seconds": round(seconds, 2), "rows_per_second": round(rows / seconds)}


def _run_child(zip_path: Path, dsn: str, workdir: Path) -> dict:
    """One measured size in its own process; the DSN travels in the environment, never on a command line."""
    command = [sys.executable, "-m", "ysh_assets.bench.gd_load", str(zip_path), str(workdir)]
    env = {**os.environ, "YSH_BENCH_DSN": dsn}
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _scratch_database(admin_dsn: str) -> tuple[str, str]:
    name = f"ysh_bench_{date.today():%Y%m%d}_{uuid.uuid4().hex[:6]}"
    with pg_connect(admin_dsn, application_name="ysh_bench", statement_timeout_ms=None, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name, psycopg.conninfo.make_conninfo(admin_dsn, dbname=name)


def _drop_database(admin_dsn: str, name: str) -> None:
    with pg_connect(admin_dsn, application_name="ysh_bench", statement_timeout_ms=None, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _median(runs: list[dict]) -> dict:
    """The run with the median throughput (the middle of an odd number of repeats)."""
    return sorted(runs, key=lambda run: run["rows_per_second"])[len(runs) // 2]


def run(
    rows: int,
    admin_dsn: str,
    *,
    mode: str = "operator",
    baseline_rows: int = 1_000_000,
    repeat: int = 3,
    keep: bool = False,
    changes: bool = False,
) -> dict:
    """Runs the benchmark and prints its report; returns the figures.

    At full size the pipeline and the plain COPY alternate `repeat` times on the same database and the
    medians are compared: a single pair moves by a tenth from run to run on a 2-core machine.
    """
    with tempfile.TemporaryDirectory(prefix="ysh-bench-") as folder:
        workdir = Path(folder)
        sizes = sorted({min(baseline_rows, rows), rows})
        report: dict = {"server": redact_dsn(admin_dsn), "sizes": {}}
        for size in sizes:
            started = time.monotonic()
            zip_path = write_published_gd_file(workdir / f"gd_{size}.zip", size, zip=True)
            next_zip = (
                write_published_gd_file(workdir / f"gd_{size}_next.zip", size, zip=True, next_snapshot=NextSnapshot())
                if changes
                else None
            )
            megabytes = zip_path.stat().st_size / 1e6
            print(f"generated {size:,} rows ({megabytes:.0f} MB ZIP) in {time.monotonic() - started:.0f}s")
            name, dsn = _scratch_database(admin_dsn)
            try:
                pipeline_runs, copy_runs = [], []
                for _ in range(repeat if size == rows else 1):
                    settle(dsn)
                    if next_zip:
                        pipeline_runs.append(operator_changes(zip_path, next_zip, dsn, workdir))
                    elif mode == "operator":
                        pipeline_runs.append(operator_reload(zip_path, dsn, workdir))
                    else:
                        pipeline_runs.append(_run_child(zip_path, dsn, workdir / f"run_{size}"))
                    print(f"pipeline {size:,}: {json.dumps(pipeline_runs[-1])}")
                    if size == rows:
                        settle(dsn)
                        baseline = psql_copy if mode == "operator" else lambda path, dsn, _: plain_copy(path, dsn)
                        copy_runs.append(baseline(zip_path, dsn, workdir))
                        print(f"plain COPY {size:,}: {json.dumps(copy_runs[-1])}")
                measured = {**_median(pipeline_runs), "peak_rss_mb": max(r["peak_rss_mb"] for r in pipeline_runs)}
                if copy_runs:
                    measured["plain_copy"] = _median(copy_runs)
                report["sizes"][size] = measured
            finally:
                if not keep:
                    _drop_database(admin_dsn, name)
            zip_path.unlink()
            if next_zip:
                next_zip.unlink()
    full = report["sizes"][rows]
    small = report["sizes"][sizes[0]]
    report["ratio_to_plain_copy"] = round(full["rows_per_second"] / full["plain_copy"]["rows_per_second"], 3)
    report["rss_ratio_full_to_baseline"] = round(full["peak_rss_mb"] / small["peak_rss_mb"], 3)
    print()
    print(f"GD load benchmark ({mode} mode), {rows:,} rows, PostgreSQL {report['server']}")
    if mode == "operator":
        print(
            f"  snapshot process    : {full['snapshot_seconds']:>7.1f} s (start-up and exit "
            f"{full['snapshot_startup_seconds']} s) {json.dumps(full['snapshot_parts'])}"
        )
        print(
            f"  load process        : {full['load_seconds']:>7.1f} s (start-up and exit "
            f"{full['load_startup_seconds']} s) {json.dumps(full['load_parts'])}"
        )
    else:
        print(f"  download            : {full['download_seconds']} s")
    if changes:
        figures = full["changes"]
        print(
            f"  change log          : {figures['step_seconds']:>7.1f} s step, beside the load step's "
            f"{figures['load_step_seconds']} s: {figures['run_changes']:,} changes "
            f"{json.dumps(figures['changes_by_kind'])} from {figures['candidates']:,} candidates (target <= 10 s)"
        )
        parts = {k: v for k, v in figures.items() if k.endswith("_seconds") and k not in ("step_seconds",)}
        print(f"  change log parts    : {json.dumps(parts)}")
    print(
        f"  pipeline end to end : {full['rows_per_second']:>9,} rows/s  {full['wall_seconds']:>7.1f} s  "
        f"peak RSS {full['peak_rss_mb']:,} MB"
    )
    print(
        f"  plain COPY (text)   : {full['plain_copy']['rows_per_second']:>9,} rows/s  "
        f"{full['plain_copy']['wall_seconds']:>7.1f} s  ({BASELINE_NAMES[mode]})"
    )
    print(f"  ratio to plain COPY : {report['ratio_to_plain_copy']:.3f}  (target >= 0.5; medians of {repeat} runs)")
    print(
        f"  peak RSS            : {full['peak_rss_mb']:,} MB at {rows:,} rows, {small['peak_rss_mb']:,} MB at "
        f"{sizes[0]:,} rows: ratio {report['rss_ratio_full_to_baseline']:.2f} (targets <= 1536 MB, <= 1.3)"
    )
    return report


if __name__ == "__main__":
    zip_arg, workdir_arg = sys.argv[1:3]
    figures = load_through_pipeline(Path(zip_arg), os.environ["YSH_BENCH_DSN"], Path(workdir_arg))
    print(json.dumps(figures))
