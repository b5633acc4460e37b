"""The daily GD reload timed the way an operator runs it: whole `dagster asset materialize` processes.

The services profile against real servers: PostgreSQL (a scratch database), an S3 API server (moto, a dev
dependency) and Redis, with the published-layout file served by the loopback CKAN endpoint. Two processes,
as an operator types them: the snapshot (`aneel/datasets`, `aneel/gd_units_raw`) for today, then
`aneel/generation_units` over all 27 UFs as one run, checks included. Each is timed from launch to exit,
and split from its run's event log into process start-up, steps and what the load reported (COPY, audit,
checks). Used by `ysh bench gd-load`, which alternates it with `psql \\copy` of the same CSV.
"""

import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from ysh_assets.aneel.assets import DATASETS, GD_UNITS_RAW, GENERATION_UNITS, UF_PARTITIONS, today_in_brazil
from ysh_assets.aneel.ckan import GD_UNITS_RESOURCE_ID
from ysh_assets.aneel.ckan_server import CkanServer, gd_units_package, tariffs_package
from ysh_assets.aneel.portal import BUNDLED_TARIFFS_FILE
from ysh_assets.audit.assets import GD_CHANGES

MODULE = "ysh_assets.definitions"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def s3_server():
    """moto in server mode on loopback, as the tests use it; the endpoint URL."""
    port = _free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(endpoint, timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MB of the largest process this benchmark has waited for so far)."""
    started = time.monotonic()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # noqa: S603
    _, stderr = child.communicate()
    wall = time.monotonic() - started
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} failed:\n{stderr[-4000:]}")
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _run_parts(instance: dg.DagsterInstance, keys: list[dg.AssetKey]) -> dict:
    """The newest run's duration and its steps' durations, from the instance's event log."""
    (run,) = instance.get_runs(limit=1)
    stats = instance.get_run_stats(run.run_id)
    parts = {"run_seconds": round(stats.end_time - stats.start_time, 2)}
    for step in instance.get_run_step_stats(run.run_id):
        parts[f"step {step.step_key}"] = round(step.end_time - step.start_time, 2)
    for key in keys:
        records = instance.fetch_materializations(key, limit=1).records
        metadata = records[0].asset_materialization.metadata if records else {}
        for name in (
            "download_seconds",
            "store_seconds",
            "read_seconds",
            "copy_seconds",
            "audit_seconds",
            "publish_seconds",
        ):
            if name in metadata:
                parts[f"{key.path[-1]} {name}"] = metadata[name].value
    return parts


def _instance(home: Path) -> dg.DagsterInstance:
    from dagster._core.instance.ref import InstanceRef

    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))


@contextmanager
def _operator_environment(zip_path: Path, dsn: str, workdir: Path):
    """The services profile as an operator's shell has it: a Dagster home, the portal serving `zip_path`, S3."""
    home = Path(tempfile.mkdtemp(prefix="ysh-bench-home-", dir=workdir))
    packages = [gd_units_package(zip_path), tariffs_package(BUNDLED_TARIFFS_FILE)]
    with CkanServer(packages) as portal, s3_server() as endpoint:
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "YSH_PROFILE": "services",
            "YSH_SOURCES": "live",
            "YSH_CKAN_URL": portal.base_url,
            "YSH_PG_DSN": dsn,
            "YSH_S3_ENDPOINT_URL": endpoint,
            "YSH_S3_BUCKET": "ysh-bench",
            "YSH_REDIS_URL": os.environ.get("YSH_REDIS_URL", "redis://127.0.0.1:6379/15"),
            "YSH_DATA_DIR": str(workdir / "data"),
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        try:
            yield env, home, portal
        finally:
            shutil.rmtree(home, ignore_errors=True)


DAGSTER = [str(Path(sys.executable).with_name("dagster")), "asset", "materialize", "-m", MODULE]
UF_RANGE = f"{UF_PARTITIONS.get_partition_keys()[0]}...{UF_PARTITIONS.get_partition_keys()[-1]}"


def _reload(env: dict[str, str], home: Path, also: list[dg.AssetKey] = ()) -> dict:
    """Snapshot + load as two `dagster asset materialize` processes (the load's run also materializing `also`,
    assets of the same UF partitions); the figures of each part."""
    snapshot_keys = [DATASETS, GD_UNITS_RAW]
    selection = ",".join(key.to_user_string() for key in snapshot_keys)
    snapshot = [*DAGSTER, "--select", selection, "--partition", today_in_brazil().isoformat()]
    loaded = ",".join(key.to_user_string() for key in (GENERATION_UNITS, *also))
    load = [*DAGSTER, "--select", loaded, "--partition-range", UF_RANGE]
    snapshot_wall, _ = _timed(snapshot, env)
    with _instance(home) as instance:
        snapshot_parts = _run_parts(instance, snapshot_keys)
    load_wall, peak_rss = _timed(load, env)
    with _instance(home) as instance:
        load_parts = _run_parts(instance, [GENERATION_UNITS, *also])
        records = instance.fetch_materializations(GENERATION_UNITS, limit=1).records
        rows = records[0].asset_materialization.metadata["run_rows_written"].value
    wall = snapshot_wall + load_wall
    return {
        "rows": rows,
        "wall_seconds": round(wall, 2),
        "rows_per_second": round(rows / wall),
        "snapshot_seconds": round(snapshot_wall, 2),
        "snapshot_startup_seconds": round(snapshot_wall - snapshot_parts["run_seconds"], 2),
        "load_seconds": round(load_wall, 2),
        "load_startup_seconds": round(load_wall - load_parts["run_seconds"], 2),
        "snapshot_parts": snapshot_parts,
        "load_parts": load_parts,
        "peak_rss_mb": round(peak_rss),
    }


def operator_reload(zip_path: Path, dsn: str, workdir: Path) -> dict:
    """Snapshot + load as two `dagster asset materialize` processes; the figures of each part."""
    with _operator_environment(zip_path, dsn, workdir) as (env, home, _):
        return _reload(env, home)


def operator_changes(first: Path, second: Path, dsn: str, workdir: Path) -> dict:
    """The first snapshot loaded, then the next one published and reloaded with `audit/gd_changes` in the load's
    own run (the same UF partitions): the second reload's figures, with the change log's step beside the load's."""
    with _operator_environment(first, dsn, workdir) as (env, home, portal):
        _reload(env, home)
        portal.publish(GD_UNITS_RESOURCE_ID, path=second, last_modified=datetime.now(UTC))
        figures = _reload(env, home, also=[GD_CHANGES])
        with _instance(home) as instance:
            (record,) = instance.fetch_materializations(GD_CHANGES, limit=1).records
            metadata = record.asset_materialization.metadata
    parts = figures["load_parts"]
    figures["changes"] = {
        "step_seconds": parts.get(f"step {GD_CHANGES.to_python_identifier()}"),
        "load_step_seconds": parts.get(f"step {GENERATION_UNITS.to_python_identifier()}"),
        **{name: metadata[name].value for name in metadata if name.endswith("_seconds")},
        **{name: metadata[name].value for name in ("seconds", "run_changes", "candidates")},
        "changes_by_kind": metadata["changes_by_kind"].value,
    }
    return figures


def psql_copy(zip_path: Path, dsn: str, workdir: Path) -> dict:
    """The baseline as an operator would type it: `psql \\copy` of the unzipped CSV into an all-text table."""
    with zipfile.ZipFile(zip_path) as archive:
        csv_path = Path(archive.extract(archive.namelist()[0], workdir))
    with csv_path.open(encoding="cp1252") as handle:
        width = len(handle.readline().split(";"))

    def psql(statement: str) -> str:
        command = ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", dsn, "-c", statement]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout  # noqa: S603

    columns = ", ".join(f'"c{i}" text' for i in range(width))
    psql(f"DROP TABLE IF EXISTS bench_psql_copy; CREATE TABLE bench_psql_copy ({columns})")
    started = time.monotonic()
    psql(f"\\copy bench_psql_copy FROM '{csv_path}' (FORMAT csv, DELIMITER ';', HEADER, ENCODING 'WIN1252')")
    seconds = time.monotonic() - started
    rows = int(psql("SELECT count(*) FROM bench_psql_copy"))
    psql("DROP TABLE bench_psql_copy")
    csv_path.unlink()
    return {"rows": rows, "wall_seconds": round(seconds, 2), "rows_per_second": round(rows / seconds)}
