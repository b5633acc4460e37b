"""The daily pipeline as CI runs it: `dagster job execute` per partition family, on both profiles, offline
on the bundled real samples."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import duckdb
import psycopg
import pytest
import redis

from ysh_assets.aneel.assets import tariffs_in_force, today_in_brazil
from ysh_assets.automation import NEW_PDFS, daily_sequence_tags

ROOT = Path(__file__).resolve().parents[1]
DAGSTER = str(Path(sys.executable).with_name("dagster"))
YSH = str(Path(sys.executable).with_name("ysh"))


def execute_daily_sequence(env: dict[str, str]) -> None:
    for job, tags in daily_sequence_tags():
        if job == NEW_PDFS:
            done = subprocess.run([YSH, "pdfs"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, f"ysh pdfs failed:\n{done.stderr[-3000:]}"
            assert "new PDFs processed" in done.stdout
            continue
        command = [DAGSTER, "job", "execute", "-m", "ysh_assets.definitions", "-j", job, "--tags", json.dumps(tags)]
        done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{job} failed:\n{done.stderr[-3000:]}"
        assert f'RUN_SUCCESS - Finished execution of run for "{job}"' in done.stderr


@pytest.fixture
def base_env(tmp_path) -> dict[str, str]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    return {**os.environ, "DAGSTER_HOME": str(home), "YSH_SOURCES": "bundled", "YSH_DATA_DIR": str(tmp_path / "data")}


def test_daily_sequence_with_dagster_job_execute_on_the_local_profile(base_env, tmp_path):
    execute_daily_sequence({**base_env, "YSH_PROFILE": "local"})
    with duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb")) as conn:
        assert conn.sql("SELECT count(*) FROM aneel.generation_units").fetchone() == (200,)
        assert conn.sql("SELECT count(*) FROM aneel.tariffs").fetchone() == (11,)
        current = conn.sql("SELECT count(*) FROM aneel.tariffs_current").fetchone()[0]
        assert current == tariffs_in_force(conn.sql("SELECT * FROM aneel.tariffs").pl(), today_in_brazil()).height
        assert conn.sql("SELECT count(*) FROM pipeline.quarantine WHERE asset_key LIKE 'aneel/%'").fetchone() == (0,)
        assert conn.sql("SELECT count(DISTINCT distributor) FROM products.products").fetchone() == (5,)
        assert conn.sql("SELECT count(*) FROM products.solar_kits").fetchone()[0] > 300
        assert (
            conn.sql("SELECT count(*) FROM products.certification_links").fetchone()
            == conn.sql("SELECT count(*) FROM products.products").fetchone()
        )
    assert list((tmp_path / "data" / "objects" / "aneel" / "gd_units_raw").glob("*/_manifest.json"))


def test_daily_sequence_with_dagster_job_execute_on_the_services_profile(
    base_env, empty_pg_dsn, s3_endpoint, redis_url
):
    bucket = f"ysh-ci-{uuid.uuid4().hex[:8]}"
    execute_daily_sequence(
        {
            **base_env,
            "YSH_PROFILE": "services",
            "YSH_PG_DSN": empty_pg_dsn,
            "YSH_S3_ENDPOINT_URL": s3_endpoint,
            "YSH_S3_BUCKET": bucket,
            "YSH_REDIS_URL": redis_url,
            "YSH_QDRANT_URL": "local",  # no Qdrant server here: the index in qdrant-client's local mode
        }
    )
    with psycopg.connect(empty_pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM aneel.generation_units").fetchone() == (200,)
        assert conn.execute("SELECT count(*) FROM pipeline.quarantine WHERE asset_key LIKE 'aneel/%'").fetchone() == (
            0,
        )
        assert conn.execute("SELECT count(*) FROM aneel.certifications").fetchone() == (20110,)
        assert conn.execute("SELECT count(DISTINCT distributor) FROM products.solar_kits").fetchone() == (3,)
        in_table = conn.execute("SELECT count(*) FROM aneel.tariffs_current").fetchone()[0]
    cached = json.loads(redis.Redis.from_url(redis_url).get("ysh:aneel/tariffs_current"))
    assert len(cached["rows"]) == in_table


def test_ysh_daily_on_the_services_profile_reads_its_dsn_from_the_environment(
    base_env, empty_pg_dsn, s3_endpoint, redis_url
):
    env = {
        **base_env,
        "YSH_PROFILE": "services",
        "YSH_PG_DSN": empty_pg_dsn,
        "YSH_S3_ENDPOINT_URL": s3_endpoint,
        "YSH_S3_BUCKET": f"ysh-daily-{uuid.uuid4().hex[:8]}",
        "YSH_REDIS_URL": redis_url,
        "YSH_QDRANT_URL": "local",  # no Qdrant server here: the server's calls, in qdrant-client's local mode
    }
    done = subprocess.run([YSH, "daily"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "aneel.generation_units" in done.stdout and "aneel_generation_units_job: ok" in done.stdout
    # the whole graph: the bundled datasheets through the sensor, then the index over catalog and datasheets
    assert done.stdout.count("pdf_processing: ok") == 16
    assert "search_index_job: ok; checks 3/3 passed" in done.stdout


def test_ysh_daily_says_plainly_when_postgresql_is_down(base_env):
    env = {**base_env, "YSH_PROFILE": "services", "YSH_PG_DSN": "postgresql://ysh:s3cret@127.0.0.1:1/ysh"}
    done = subprocess.run([YSH, "daily"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1
    assert "cannot read the summary from the warehouse" in done.stderr and "Traceback" not in done.stderr[-2000:]
    assert "s3cret" not in done.stdout + done.stderr
