"""The deployment files agree with the code: compose services and settings, dagster.yaml, definitions."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import psycopg
import pytest
import yaml

from ysh_assets.aneel.assets import today_in_brazil
from ysh_assets.settings import DEFAULTS, Settings, redact_dsn

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
ENV_EXAMPLE = dict(
    line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines() if line and not line.startswith("#")
)
APP_SERVICES = ("user_code", "webserver", "daemon")


def test_compose_has_every_service_with_healthchecks_and_named_volumes():
    services = COMPOSE["services"]
    assert set(services) == {"postgres", "redis", "minio", "qdrant", "ollama", *APP_SERVICES}
    for name, service in services.items():
        if name != "daemon":  # the daemon has no port to probe; Dagster reports its heartbeat in the UI
            assert "healthcheck" in service, name
    declared = set(COMPOSE["volumes"])
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):  # a file of this repository, mounted read-only (the instance config)
                assert (ROOT / source).is_file() and volume.endswith(":ro"), volume
            elif source == "/var/run/docker.sock":  # the Docker engine, for the run launcher only
                assert name in ("webserver", "daemon"), name
            else:
                assert source in declared, f"{source} is not a named volume"
    mounted = [v for v in services["daemon"]["volumes"] if v.startswith("./deploy/dagster.yaml:")]
    assert mounted == ["./deploy/dagster.yaml:/opt/dagster/dagster_home/dagster.yaml:ro"]


def test_published_ports_are_bound_to_loopback_only():
    published = [port for service in COMPOSE["services"].values() for port in service.get("ports", [])]
    assert published
    assert all(port.startswith("127.0.0.1:") for port in published), published


def test_app_environment_sets_exactly_the_settings_the_code_reads():
    for name in APP_SERVICES:
        environment = COMPOSE["services"][name]["environment"]
        ysh_keys = {key for key in environment if key.startswith("YSH_")}
        assert ysh_keys == set(DEFAULTS), name
        assert environment["YSH_PROFILE"] == "services"


def test_compose_settings_resolve_to_the_services_they_name():
    environment = COMPOSE["services"]["webserver"]["environment"]
    resolved = {
        key: re.sub(r"\$\{(\w+)(?::-([^}]*))?\}", lambda m: ENV_EXAMPLE.get(m[1], m[2] or ""), value)
        for key, value in environment.items()
    }
    settings = Settings.from_env(resolved)
    ports = {name: service.get("ports", []) for name, service in COMPOSE["services"].items()}
    assert settings.pg_dsn.endswith("@postgres:5432/ysh")
    assert "127.0.0.1:5432:5432" in ports["postgres"]
    assert settings.s3_endpoint_url == "http://minio:9000" and "127.0.0.1:9000:9000" in ports["minio"]
    assert settings.redis_url == "redis://redis:6379/0" and "127.0.0.1:6379:6379" in ports["redis"]
    assert settings.qdrant_url == "http://qdrant:6333" and "127.0.0.1:6333:6333" in ports["qdrant"]
    assert settings.ollama_url == "http://ollama:11434" and "127.0.0.1:11434:11434" in ports["ollama"]
    assert settings.object_store_root == "s3://ysh-data/ysh"
    assert environment["DAGSTER_PG_URL"].startswith("postgresql+psycopg2://")
    assert redact_dsn(settings.pg_dsn) == "postgresql://ysh:***@postgres:5432/ysh"


def test_every_compose_variable_is_documented_in_env_example_and_no_secret_is_committed():
    text = (ROOT / "docker-compose.yml").read_text()
    required = {m[1] for m in re.finditer(r"\$\{(\w+)\}", text)}  # no default: .env must define it
    assert required <= set(ENV_EXAMPLE), required - set(ENV_EXAMPLE)
    for key, value in ENV_EXAMPLE.items():
        if "PASSWORD" in key:
            assert value.startswith("change-me"), key
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()


def test_dagster_yaml_storage_works_against_postgresql(pg_dsn, tmp_path, monkeypatch):
    shutil.copy(ROOT / "deploy" / "dagster.yaml", tmp_path / "dagster.yaml")
    info = psycopg.conninfo.conninfo_to_dict(pg_dsn)
    url = (
        f"postgresql+psycopg2://{info.get('user', 'postgres')}@{info['host']}:{info.get('port', 5432)}/{info['dbname']}"
    )
    monkeypatch.setenv("DAGSTER_PG_URL", url)
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert type(instance.run_launcher).__name__ == "DockerRunLauncher"  # built with no Docker engine here
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 4
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1

        @dg.asset
        def probe() -> None:
            return None

        result = dg.materialize([probe], instance=instance, resources={"io_manager": dg.mem_io_manager})
        assert result.success
        assert instance.get_run_by_id(result.run_id) is not None
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] >= 1


def test_the_root_instance_is_the_embedded_default_and_runs_one_run_at_a_time(tmp_path, monkeypatch):
    shutil.copy(ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.chdir(tmp_path)  # its storage paths are relative to the repository root
    monkeypatch.delenv("DAGSTER_PG_URL", raising=False)
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1


def _bare_env(**extra: str) -> dict[str, str]:
    """The environment of a new user: none of the project's or Dagster's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YSH_", "DAGSTER_"))}
    return {**env, **extra}


@pytest.mark.parametrize("profile", [None, "local", "services"])
def test_definitions_validate_from_the_root_with_nothing_set(profile):
    env = _bare_env(**({"YSH_PROFILE": profile} if profile else {}))
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-m", "ysh_assets.definitions"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All code locations passed validation" in result.stdout + result.stderr


def test_dagster_commands_from_a_root_with_nothing_set_share_one_instance(tmp_path, monkeypatch):
    """`dagster job execute` then `dagster asset materialize`, as a new user types them: both runs land in
    ./.dagster_home, so the second command (and the UI) sees the first one's."""
    shutil.copy(ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    env = _bare_env(YSH_SOURCES="bundled")  # offline: the bundled samples instead of the live portal
    dagster = str(Path(sys.executable).with_name("dagster"))
    day = today_in_brazil().isoformat()
    for command in (
        [dagster, "job", "execute", "-m", "ysh_assets.definitions", "-j", "aneel_snapshot_job",
         "--tags", json.dumps({"dagster/partition": day})],
        [dagster, "asset", "materialize", "-m", "ysh_assets.definitions", "--select", "aneel/tariffs_raw",
         "--partition", day],
    ):  # fmt: skip
        done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "data" / "warehouse.duckdb").exists()
    assert not list(tmp_path.glob(".tmp_dagster_home_*"))  # Dagster's temporary home is gone; the runs stay
    monkeypatch.chdir(tmp_path)
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert len(instance.get_runs()) == 2
