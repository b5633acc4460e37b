"""The scale-out deployments of deploy/ are ones Dagster accepts, and each run gets every setting the code reads.

Three targets: compose with DockerRunLauncher (deploy/dagster.yaml), Dagster's Helm chart with K8sRunLauncher
(deploy/helm/), ECS with EcsRunLauncher (deploy/ecs/). The instance files are checked by Dagster's own instance
schema and by each launcher's own config schema, and the launchers are built from them (neither contacts a Docker
engine or AWS when built).
"""

import re
import shutil
import tomllib
from pathlib import Path

import pytest
import yaml
from dagster._config import process_config, resolve_to_config_type
from dagster._core.instance.config import dagster_instance_config
from dagster._core.utils import parse_env_var
from dagster._serdes.config_class import ConfigurableClassData
from dagster_aws.ecs import EcsRunLauncher
from dagster_docker import DockerRunLauncher
from dagster_k8s import K8sRunLauncher
from dagster_k8s.models import k8s_snake_case_dict
from kubernetes.client import V1JobSpec
from psycopg.conninfo import conninfo_to_dict

from ysh_assets.settings import DEFAULTS, Settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
ENV_EXAMPLE = dict(
    line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines() if line and not line.startswith("#")
)
HELM_VALUES = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
HELM_ENV = {doc["metadata"]["name"]: doc for doc in yaml.safe_load_all((DEPLOY / "helm" / "ysh-env.yaml").read_text())}
# What a run needs besides the code's settings: the instance's database (the run worker writes events there).
RUN_NEEDS = set(DEFAULTS) | {"DAGSTER_PG_URL"}
INSTANCES = {"compose": DEPLOY / "dagster.yaml", "ecs": DEPLOY / "ecs" / "dagster.yaml"}
LAUNCHERS = {"compose": DockerRunLauncher, "ecs": EcsRunLauncher}


def _is_credential(name: str) -> bool:
    """Settings that carry a password or a bearer URL: Kubernetes and ECS must hand them over as secrets."""
    return name in {"YSH_PG_DSN", "YSH_REDIS_URL", "YSH_ALERT_WEBHOOK_URL", "DAGSTER_PG_URL"} or "PASSWORD" in name


def _instance_config(target: str, tmp_path: Path, monkeypatch) -> dict:
    """The instance file as Dagster reads it: parsed and validated against Dagster's instance schema."""
    shutil.copy(INSTANCES[target], tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_PG_URL", "postgresql+psycopg2://ysh:secret@postgres:5432/ysh")
    config, custom_instance_class = dagster_instance_config(str(tmp_path))
    assert custom_instance_class is None
    return dict(config)


def _launcher(target: str, tmp_path: Path, monkeypatch):
    """The run launcher block validated by the launcher class's own config schema, then the launcher itself."""
    block = _instance_config(target, tmp_path, monkeypatch)["run_launcher"]
    data = ConfigurableClassData(block["module"], block["class"], yaml.safe_dump(block["config"]))
    klass = LAUNCHERS[target]
    result = process_config(resolve_to_config_type(klass.config_type()), data.config_dict)
    assert result.success, result.errors
    return data.rehydrate(klass), result.value


def _compose_env(service: str) -> dict[str, str]:
    """A service's environment as `docker compose up` resolves it from a .env copied from .env.example."""
    environment = COMPOSE["services"][service]["environment"]
    return {
        key: re.sub(r"\$\{(\w+)(?::-([^}]*))?\}", lambda m: ENV_EXAMPLE.get(m[1], m[2] or ""), str(value))
        for key, value in environment.items()
    }


@pytest.mark.parametrize("target", sorted(INSTANCES))
def test_instances_keep_postgres_storage_the_queue_and_pools(target, tmp_path, monkeypatch):
    config = _instance_config(target, tmp_path, monkeypatch)
    assert config["storage"]["postgres"]["postgres_url"] == {"env": "DAGSTER_PG_URL"}
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["concurrency"] == {"runs": {"max_concurrent_runs": 4}, "pools": {"default_limit": 1}}
    assert config["run_monitoring"]["enabled"] is True


def test_docker_launcher_is_built_from_the_compose_instance_without_an_engine(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")  # nothing listens: building it must not connect
    launcher, _ = _launcher("compose", tmp_path, monkeypatch)
    assert isinstance(launcher, DockerRunLauncher)
    networks = {network.get("name", key) for key, network in COMPOSE["networks"].items()}
    assert launcher.networks and set(launcher.networks) <= networks
    assert launcher.container_kwargs["auto_remove"] is True
    assert launcher.image is None  # the user-code server reports its image (DAGSTER_CURRENT_IMAGE)


def test_docker_runs_get_exactly_the_daemons_environment(tmp_path, monkeypatch):
    """Run containers copy the named variables from the daemon: every one compose sets there, so a run sees
    the same settings as the daemon and the code server."""
    launcher, _ = _launcher("compose", tmp_path, monkeypatch)
    daemon_env = _compose_env("daemon")
    assert set(launcher.env_vars) == set(daemon_env)
    assert set(launcher.env_vars) >= RUN_NEEDS
    for key, value in daemon_env.items():
        monkeypatch.setenv(key, value)
    run_env = dict(parse_env_var(name) for name in launcher.env_vars)
    assert run_env == daemon_env
    assert Settings.from_env(run_env) == Settings.from_env(daemon_env)
    assert Settings.from_env(run_env).profile == "services"


def test_docker_runs_mount_the_compose_volumes_and_run_the_user_code_image(tmp_path, monkeypatch):
    launcher, _ = _launcher("compose", tmp_path, monkeypatch)
    declared = {volume.get("name", key): key for key, volume in COMPOSE["volumes"].items() if volume}
    mounts = dict(volume.rsplit(":", 1)[::-1] for volume in launcher.container_kwargs["volumes"])
    assert set(mounts.values()) <= set(declared), "each run volume is a compose volume with a fixed name"
    for service in ("user_code", "webserver", "daemon"):
        service_mounts = {v.split(":")[1]: v.split(":")[0] for v in COMPOSE["services"][service]["volumes"]}
        for target, volume in mounts.items():
            assert declared[volume] == service_mounts[target], (service, target)
    user_code = COMPOSE["services"]["user_code"]
    assert user_code["environment"]["DAGSTER_CURRENT_IMAGE"] == user_code["image"]
    assert Path(_compose_env("daemon")["YSH_DATA_DIR"]) in {Path(target) for target in mounts}


def test_the_daemon_and_the_webserver_reach_the_docker_engine():
    for service in ("webserver", "daemon"):
        spec = COMPOSE["services"][service]
        assert "/var/run/docker.sock:/var/run/docker.sock" in spec["volumes"], service
        assert spec["group_add"] == ["${DOCKER_GID}"] and ENV_EXAMPLE["DOCKER_GID"].isdigit(), service
    assert not any("docker.sock" in v for v in COMPOSE["services"]["user_code"]["volumes"])


def test_ecs_launcher_is_built_and_hands_credentials_over_as_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "sa-east-1")
    arns = {}
    for name in RUN_NEEDS:
        arns[name] = f"arn:aws:secretsmanager:sa-east-1:000000000000:secret:{name.lower()}"
        monkeypatch.setenv(f"{name}_SECRET_ARN", arns[name])
    launcher, config = _launcher("ecs", tmp_path, monkeypatch)
    assert isinstance(launcher, EcsRunLauncher)
    secrets = {secret["name"]: secret["valueFrom"] for secret in launcher.secrets}
    assert secrets == {name: arns[name] for name in secrets}, "each secret's ARN comes from the daemon's task"
    assert set(launcher.env_vars) | set(secrets) == RUN_NEEDS
    assert not set(launcher.env_vars) & set(secrets)
    assert {name for name in RUN_NEEDS if _is_credential(name)} == set(secrets)
    assert launcher.secrets_tags == []  # no other secret of the account reaches a run
    assert int(config["run_resources"]["memory"]) >= 4096


def test_helm_values_run_our_code_server_and_one_pod_per_run():
    deployments = HELM_VALUES["dagster-user-deployments"]
    assert deployments["enabled"] is True and deployments["enableSubchart"] is True
    (deployment,) = deployments["deployments"]
    module = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["dagster"]["module_name"]
    assert deployment["dagsterApiGrpcArgs"] == ["--module-name", module]
    assert deployment["image"]["tag"] not in ("", "latest")  # a run keeps the image it started with
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}
    assert HELM_VALUES["runLauncher"]["type"] == "K8sRunLauncher"
    launcher = HELM_VALUES["runLauncher"]["config"]["k8sRunLauncher"]
    for sources in (deployment, launcher):
        assert [ref["name"] for ref in sources["envConfigMaps"]] == ["ysh-settings"]
        assert [ref["name"] for ref in sources["envSecrets"]] == ["ysh-secrets"]


def test_helm_run_launcher_config_is_one_the_k8s_run_launcher_accepts(tmp_path, monkeypatch):
    """The chart turns runLauncher.config.k8sRunLauncher into K8sRunLauncher's config (snake_case, plus the
    names of the objects it creates for release `dagster`): that config passes the launcher's own schema, and
    the Job's deadline is a Kubernetes JobSpec field equal to the compose instance's runtime limit."""
    values = HELM_VALUES["runLauncher"]["config"]["k8sRunLauncher"]
    job_spec_config = values["runK8sConfig"]["jobSpecConfig"]
    config = {
        "instance_config_map": "dagster-instance",
        "postgres_password_secret": HELM_VALUES["global"]["postgresqlSecretName"],
        "env_config_maps": [ref["name"] for ref in values["envConfigMaps"]],
        "env_secrets": [ref["name"] for ref in values["envSecrets"]],
        "run_k8s_config": {"job_spec_config": job_spec_config},
    }
    result = process_config(resolve_to_config_type(K8sRunLauncher.config_type()), config)
    assert result.success, result.errors
    limit = _instance_config("compose", tmp_path, monkeypatch)["run_monitoring"]["max_runtime_seconds"]
    assert k8s_snake_case_dict(V1JobSpec, job_spec_config)["active_deadline_seconds"] == limit


def test_helm_settings_carry_every_setting_the_code_reads():
    config_map, secret = HELM_ENV["ysh-settings"], HELM_ENV["ysh-secrets"]
    assert config_map["kind"] == "ConfigMap" and secret["kind"] == "Secret"
    plain, hidden = set(config_map["data"]), set(secret["stringData"])
    assert not plain & hidden
    assert {key for key in plain | hidden if key.startswith("YSH_")} == set(DEFAULTS)
    assert {key for key in plain | hidden if _is_credential(key)} <= hidden
    assert all(isinstance(value, str) for value in config_map["data"].values())  # ConfigMap data must be strings
    settings = Settings.from_env({**config_map["data"], **secret["stringData"]})
    assert settings.profile == "services" and settings.object_store_root == "s3://ysh-data/ysh"


def test_helm_instance_uses_the_external_postgresql_of_the_warehouse():
    postgresql = HELM_VALUES["postgresql"]
    assert postgresql["enabled"] is False
    dsn = conninfo_to_dict(HELM_ENV["ysh-secrets"]["stringData"]["YSH_PG_DSN"])
    assert postgresql["postgresqlHost"] == dsn["host"]
    assert postgresql["postgresqlUsername"] == dsn["user"]
    assert postgresql["postgresqlDatabase"] == dsn["dbname"]
    assert postgresql["service"]["port"] == int(dsn["port"])
    assert "postgresqlPassword" not in postgresql and HELM_VALUES["generatePostgresqlPasswordSecret"] is False
    password_secret = HELM_ENV[HELM_VALUES["global"]["postgresqlSecretName"]]
    assert password_secret["kind"] == "Secret" and set(password_secret["stringData"]) == {"postgresql-password"}
    assert password_secret["stringData"]["postgresql-password"] == dsn["password"]


def test_helm_queue_and_pools_match_the_compose_instance(tmp_path, monkeypatch):
    compose = _instance_config("compose", tmp_path, monkeypatch)["concurrency"]
    daemon = HELM_VALUES["dagsterDaemon"]
    assert daemon["runCoordinator"]["enabled"] is True
    assert daemon["runCoordinator"]["type"] == "QueuedRunCoordinator"
    # The chart refuses the run limit in both places: it lives in `concurrency` only.
    assert "config" not in daemon["runCoordinator"]
    concurrency = HELM_VALUES["concurrency"]
    assert concurrency["enabled"] is True
    assert concurrency["runs"]["maxConcurrentRuns"] == compose["runs"]["max_concurrent_runs"]
    assert concurrency["pools"]["defaultLimit"] == compose["pools"]["default_limit"]


def test_deploy_readme_describes_each_target_and_the_files_it_names_exist():
    text = (DEPLOY / "README.md").read_text()
    for launcher in ("DockerRunLauncher", "K8sRunLauncher", "EcsRunLauncher"):
        assert launcher in text
    named = set(re.findall(r"`(deploy/[\w./-]+)`", text))
    assert named and all((ROOT / path).exists() for path in named), named
    assert "deploy/README.md" in (ROOT / "README.md").read_text()
