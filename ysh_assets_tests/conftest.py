"""Finds or starts the real services the tests use: PostgreSQL, Redis and an S3 API server (moto).

PostgreSQL and Redis are expected on loopback (YSH_TEST_PG_DSN, YSH_TEST_REDIS_URL); each test session
gets its own fresh database. The S3 server is moto in server mode, started here as a subprocess on a
free loopback port. When a service is missing the tests that need it skip, or fail when
YSH_REQUIRE_SERVICES=1 (as in CI).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import redis
from psycopg import sql

REQUIRE_SERVICES = os.environ.get("YSH_REQUIRE_SERVICES") == "1"
PG_ADMIN_DSN = os.environ.get("YSH_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("YSH_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def service_unavailable(what: str, error: object) -> None:
    message = f"{what} unreachable: {error}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} (YSH_REQUIRE_SERVICES=1: services are required)", pytrace=False)
    pytest.skip(message)


def _with_database(dsn: str, database: str) -> str:
    return psycopg.conninfo.make_conninfo(dsn, dbname=database)


@pytest.fixture(scope="session")
def pg_server() -> str:
    try:
        with psycopg.connect(PG_ADMIN_DSN, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as error:
        service_unavailable("PostgreSQL", error)
    return PG_ADMIN_DSN


def _create_database(admin_dsn: str) -> tuple[str, str]:
    name = f"ysh_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name, _with_database(admin_dsn, name)


def _drop_database(admin_dsn: str, name: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def pg_dsn(pg_server: str) -> Iterator[str]:
    """A database of its own for this test session (migrated on first write by the IO manager)."""
    name, dsn = _create_database(pg_server)
    yield dsn
    _drop_database(pg_server, name)


@pytest.fixture
def empty_pg_dsn(pg_server: str) -> Iterator[str]:
    """A brand-new empty database for one test."""
    name, dsn = _create_database(pg_server)
    yield dsn
    _drop_database(pg_server, name)


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        service_unavailable("Redis", error)
    return REDIS_URL


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 API server (moto in server mode) on loopback, with dummy credentials in the environment."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError as error:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                service_unavailable("moto S3 server", error)
            time.sleep(0.1)
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1")
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
