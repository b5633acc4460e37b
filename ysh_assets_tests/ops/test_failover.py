"""The ANEEL failover chain through the real assets (`aneel/datasets`, `aneel/gd_units_raw`): primary portal,
then mirrors, then the last good snapshot, with quotas and breakers kept in the local profile's DuckDB file.
Primaries and mirrors are real loopback CKAN servers (or a closed port); nothing is mocked."""

import hashlib
import json
import shutil
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from ysh_assets import automation
from ysh_assets.aneel.assets import DATASETS, GD_UNITS_RAW, datasets, gd_units_raw
from ysh_assets.aneel.ckan_server import CkanServer, gd_units_package, tariffs_package
from ysh_assets.aneel.portal import BUNDLED_GD_FILE, BUNDLED_TARIFFS_FILE, AneelPortal, PortalsFailed
from ysh_assets.calendar import today_in_brazil
from ysh_assets.io_managers.duckdb import DuckDBPolarsWarehouseIOManager
from ysh_assets.io_managers.object_store import ObjectStore, ObjectStoreIOManager
from ysh_assets.ops.quotas import store_for
from ysh_assets.warehouse.sql import Warehouse
from ysh_assets_tests.conftest import free_port

PUBLISHED = datetime(2026, 8, 19, 10, tzinfo=UTC)
API = "/api/3/action/package_show"


def ckan_server(tmp_path, name: str) -> CkanServer:
    """A CKAN look-alike serving copies of the bundled real publications."""
    folder = tmp_path / name
    folder.mkdir()
    gd, tariffs = folder / "gd.csv", folder / "tariffs.csv"
    shutil.copy(BUNDLED_GD_FILE, gd)
    shutil.copy(BUNDLED_TARIFFS_FILE, tariffs)
    return CkanServer(
        [gd_units_package(gd, last_modified=PUBLISHED), tariffs_package(tariffs, last_modified=PUBLISHED)]
    )


@pytest.fixture
def primary(tmp_path):
    with ckan_server(tmp_path, "primary") as server:
        yield server


@pytest.fixture
def mirror(tmp_path):
    with ckan_server(tmp_path, "mirror") as server:
        yield server


class Local:
    """The local profile's storage in this test's folder, and one Dagster instance across runs."""

    def __init__(self, tmp_path, instance):
        self.duckdb = str(tmp_path / "warehouse.duckdb")
        self.instance = instance
        self.store = ObjectStore(root=(tmp_path / "objects").as_uri())
        warehouse_io = DuckDBPolarsWarehouseIOManager(database=self.duckdb)
        self.resources = {
            "io_manager": warehouse_io,
            "warehouse_io_manager": warehouse_io,
            "object_store": self.store,
            "object_store_io_manager": ObjectStoreIOManager(store=self.store),
            "warehouse": Warehouse(duckdb_path=self.duckdb),
        }

    def portal(self, primary: str, mirrors: list[str], **guards) -> AneelPortal:
        return AneelPortal(
            base_url=primary,
            mirrors=mirrors,
            max_attempts=2,
            backoff_base_seconds=0.01,
            timeout_seconds=5,
            **{"quota_store": self.duckdb, **guards},
        )

    def snapshot(self, portal: AneelPortal, day: date | None = None) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [datasets, gd_units_raw],
            resources={**self.resources, "aneel_portal": portal},
            partition_key=(day or today_in_brazil()).isoformat(),
            instance=self.instance,
            raise_on_error=False,
        )

    def usage(self) -> dict[str, int]:
        return store_for(self.duckdb).usage(today_in_brazil())


@pytest.fixture
def local(tmp_path):
    with dg.instance_for_test() as instance:
        yield Local(tmp_path, instance)


def metadata_of(result, key: dg.AssetKey) -> dict:
    for event in result.get_asset_materialization_events():
        if event.asset_key == key:
            return {name: value.value for name, value in event.materialization.metadata.items()}
    raise AssertionError(f"no materialization of {key.to_user_string()}")


def steps(meta: dict) -> list[tuple[str, str]]:
    return [(step["source"], step["outcome"]) for step in meta["source_failover"]]


def mirror_source(server: CkanServer) -> str:
    return f"aneel_mirror:{server.base_url.removeprefix('http://')}"


def test_primary_down_falls_over_to_a_mirror_and_downloads_from_it(local, mirror):
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens: connection refused
    result = local.snapshot(local.portal(closed, [mirror.base_url]))
    assert result.success
    for key in (DATASETS, GD_UNITS_RAW):
        meta = metadata_of(result, key)
        assert meta["source_used"] == mirror_source(mirror)
        assert steps(meta) == [("aneel_portal", "failed"), (mirror_source(mirror), "ok")]
        assert "failed after 2 attempts" in meta["source_failover"][0]["error"]
        assert meta["stale"] is False
    raw = metadata_of(result, GD_UNITS_RAW)
    assert raw["sha256"] == hashlib.sha256(BUNDLED_GD_FILE.read_bytes()).hexdigest()
    assert any("/download/" in r.path for r in mirror.requests)
    usage = local.usage()
    # every real request counts: two attempts per call on the primary, retries included
    assert usage["aneel_portal"] == 4
    assert usage[mirror_source(mirror)] == len(mirror.requests)


def test_with_the_counter_store_down_the_chain_still_falls_over_uncounted(local, mirror):
    """Redis (the services profile's store) unreachable: the guards let every call through, so the primary's
    own failure still moves the walk to the mirror instead of the store's error failing the asset."""
    dead_store = f"redis://127.0.0.1:{free_port()}/0"
    closed = f"http://127.0.0.1:{free_port()}"
    result = local.snapshot(local.portal(closed, [mirror.base_url], quota_store=dead_store))
    assert result.success
    for key in (DATASETS, GD_UNITS_RAW):
        assert steps(metadata_of(result, key)) == [("aneel_portal", "failed"), (mirror_source(mirror), "ok")]
    assert any("/download/" in r.path for r in mirror.requests)


def test_a_spent_quota_skips_the_primary_without_calling_it(local, primary, mirror):
    portal = local.portal(primary.base_url, [mirror.base_url], source_quotas={"aneel_portal": 0})
    result = local.snapshot(portal)
    assert result.success
    meta = metadata_of(result, GD_UNITS_RAW)
    assert steps(meta) == [("aneel_portal", "quota_exhausted"), (mirror_source(mirror), "ok")]
    assert meta["source_used"] == mirror_source(mirror)
    assert primary.requests == []
    assert "aneel_portal" not in local.usage()


def test_quota_spent_mid_call_moves_to_the_mirror(local, primary, mirror):
    """The catalog call of the raw asset fits in the quota, the download does not: the mirror finishes it."""
    # datasets: 2 package_show; gd_units_raw: package_show (+ probe/download) -> the third request is refused
    portal = local.portal(primary.base_url, [mirror.base_url], source_quotas={"aneel_portal": 3})
    result = local.snapshot(portal)
    assert result.success
    assert steps(metadata_of(result, DATASETS)) == [("aneel_portal", "ok")]
    raw = metadata_of(result, GD_UNITS_RAW)
    assert steps(raw) == [("aneel_portal", "quota_exhausted"), (mirror_source(mirror), "ok")]
    assert local.usage()["aneel_portal"] == 3 and len(primary.requests) == 3
    assert raw["sha256"] == hashlib.sha256(BUNDLED_GD_FILE.read_bytes()).hexdigest()


def test_a_failing_primary_opens_its_breaker_and_later_runs_skip_it(local, primary, mirror):
    primary.fail_next(API, times=100, status=500)
    portal = local.portal(primary.base_url, [mirror.base_url], breaker_failures=2, breaker_cooldown_seconds=3600)
    first = local.snapshot(portal)
    assert first.success
    # datasets failed once on the primary, gd_units_raw a second time: the breaker opened
    assert steps(metadata_of(first, DATASETS))[0] == ("aneel_portal", "failed")
    assert steps(metadata_of(first, GD_UNITS_RAW))[0] == ("aneel_portal", "failed")
    breaker = store_for(local.duckdb).breaker("aneel_portal")
    assert breaker.state == "open" and breaker.failures == 2 and "HTTP 500" in breaker.last_error

    sent = len(primary.requests)
    second = local.snapshot(portal)
    assert second.success
    for key in (DATASETS, GD_UNITS_RAW):
        assert steps(metadata_of(second, key)) == [("aneel_portal", "breaker_open"), (mirror_source(mirror), "ok")]
    assert len(primary.requests) == sent  # not called while open


def test_everything_down_keeps_the_last_good_snapshot_and_records_every_step(local, primary, tmp_path):
    yesterday = today_in_brazil() - timedelta(days=1)  # the catalog carried forward is an earlier day's
    first = local.snapshot(local.portal(primary.base_url, []), yesterday)
    assert first.success
    assert steps(metadata_of(first, GD_UNITS_RAW)) == [("aneel_portal", "ok")]
    good = metadata_of(first, GD_UNITS_RAW)["sha256"]

    primary.fail_next(API, times=100, status=503)
    with ckan_server(tmp_path, "broken_mirror") as broken:
        broken.fail_next(API, times=100, status=500)
        dead = f"http://127.0.0.1:{free_port()}"
        result = local.snapshot(local.portal(primary.base_url, [broken.base_url, dead]))
    assert result.success
    raw = metadata_of(result, GD_UNITS_RAW)
    assert raw["stale"] is True and raw["sha256"] == good
    assert raw["source_used"] == "last_good_snapshot"
    assert steps(raw) == [
        ("aneel_portal", "failed"),
        (mirror_source(broken), "failed"),
        (f"aneel_mirror:{dead.removeprefix('http://')}", "failed"),
        ("last_good_snapshot", "stale"),
    ]
    assert raw["source_failover"][-1]["url"] == f"sha256:{good}"
    catalog = metadata_of(result, DATASETS)
    assert catalog["stale"] is True and catalog["source_used"] == "last_good_snapshot"
    assert [outcome for _, outcome in steps(catalog)] == ["failed", "failed", "failed", "stale"]
    json.dumps(raw["source_failover"])  # a plain JSON list, as the ingestion log stores it


def test_no_source_answering_raises_with_every_step(local, mirror):
    """What the assets turn into a failure (retried by their retry policy) when there is no earlier snapshot."""
    mirror.fail_next(API, times=10, status=502)
    dead = f"http://127.0.0.1:{free_port()}"
    portal = local.portal(dead, [mirror.base_url], source_quotas={"aneel_mirror": 100})
    with pytest.raises(PortalsFailed, match="every source failed") as raised:
        portal.with_failover(lambda client: client.package_show("anything"))
    walk = raised.value.failover
    assert walk.used is None
    assert [(s.source, s.outcome) for s in walk.steps] == [
        ("aneel_portal", "failed"),
        (mirror_source(mirror), "failed"),
    ]
    assert "HTTP 502" in walk.steps[1].error
    assert walk.metadata()["source_used"] == "none"
    assert local.usage() == {"aneel_portal": 2, mirror_source(mirror): 2}


def test_the_hourly_schedule_skips_with_the_reason_when_the_primary_is_over_quota(local, primary):
    portal = local.portal(primary.base_url, [], source_quotas={"aneel_portal": 1})
    with dg.build_schedule_context(
        instance=local.instance, resources={"aneel_portal": portal}, scheduled_execution_time=datetime.now(UTC)
    ) as context:
        skipped = automation.hourly_incremental(context)
    assert isinstance(skipped, dg.SkipReason)
    assert "aneel_portal: daily quota of 1 requests used" in skipped.skip_message
    assert len(primary.requests) == 1 and local.usage() == {"aneel_portal": 1}
