"""The ANEEL assets end to end: real published formats from a loopback CKAN endpoint, real PostgreSQL,
an S3 API server (moto) and Redis, run through the same jobs, schedules and sensors operators use."""

import hashlib
import json
import shutil
import threading
import time
import uuid
import zipfile
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import polars as pl
import psycopg
import pytest
import redis

from ysh_assets import automation
from ysh_assets.aneel import definitions as aneel
from ysh_assets.aneel.assets import (
    GD_UNITS_RAW,
    GENERATION_UNITS,
    TARIFF_YEARS,
    TARIFFS_RAW,
    UF_PARTITIONS,
    tariffs_in_force,
    today_in_brazil,
)
from ysh_assets.aneel.ckan import GD_UNITS_RESOURCE_ID, TARIFFS_RESOURCE_ID
from ysh_assets.aneel.ckan_server import CkanServer, gd_units_package, tariffs_package
from ysh_assets.aneel.portal import BUNDLED_GD_FILE, BUNDLED_TARIFFS_FILE, AneelPortal
from ysh_assets.aneel.synthetic import write_published_gd_file
from ysh_assets.io_managers.object_store import ObjectStore, ObjectStoreIOManager
from ysh_assets.io_managers.postgres import PostgresPolarsIOManager
from ysh_assets.io_managers.redis_cache import RedisCacheIOManager, cache_key
from ysh_assets.warehouse.sql import Warehouse

PUBLISHED = datetime(2026, 8, 19, 10, tzinfo=UTC)


@pytest.fixture
def files(tmp_path):
    """Copies of the bundled published files, so a test can republish or damage them."""
    gd, tariffs = tmp_path / "gd.csv", tmp_path / "tariffs.csv"
    shutil.copy(BUNDLED_GD_FILE, gd)
    shutil.copy(BUNDLED_TARIFFS_FILE, tariffs)
    return {"gd": gd, "tariffs": tariffs}


@pytest.fixture
def portal(files):
    with CkanServer(
        [
            gd_units_package(files["gd"], last_modified=PUBLISHED),
            tariffs_package(files["tariffs"], last_modified=PUBLISHED),
        ]
    ) as server:
        yield server


@pytest.fixture
def stack(empty_pg_dsn, s3_endpoint, redis_url, portal):
    """The services profile against this test's own database, bucket and Redis keys."""
    store = ObjectStore(root=f"s3://ysh-aneel-{uuid.uuid4().hex[:8]}/ysh", endpoint_url=s3_endpoint)
    warehouse_io = PostgresPolarsIOManager(dsn=empty_pg_dsn)
    resources = {
        "io_manager": warehouse_io,
        "warehouse_io_manager": warehouse_io,
        "hot_cache_io_manager": RedisCacheIOManager(url=redis_url, warehouse=warehouse_io),
        "object_store": store,
        "object_store_io_manager": ObjectStoreIOManager(store=store),
        "warehouse": Warehouse(dsn=empty_pg_dsn),
        "aneel_portal": AneelPortal(
            base_url=portal.base_url, max_attempts=2, backoff_base_seconds=0.01, timeout_seconds=5
        ),
    }
    definitions = dg.Definitions.merge(aneel.defs, automation.defs, dg.Definitions(resources=resources))
    with dg.instance_for_test() as instance:
        yield Stack(definitions, instance, empty_pg_dsn, store, portal, redis_url)


class Stack:
    def __init__(self, definitions, instance, dsn, store, portal, redis_url):
        self.definitions, self.instance, self.dsn = definitions, instance, dsn
        self.store, self.portal, self.redis_url = store, portal, redis_url

    def run(self, job_name: str, tags: dict | None = None, **kwargs):
        return self.definitions.resolve_job_def(job_name).execute_in_process(
            instance=self.instance, tags=tags or {}, raise_on_error=False, **kwargs
        )

    def snapshot(self):
        return self.run("aneel_snapshot_job", {"dagster/partition": today_in_brazil().isoformat()})

    def load_units(self):
        return self.run("aneel_generation_units_job", automation.full_range_tags(UF_PARTITIONS))

    def sql(self, statement: str, params=()):
        with psycopg.connect(self.dsn) as conn:
            return conn.execute(statement, params).fetchall()

    def table_digest(self) -> str:
        return self.sql(
            "SELECT md5(string_agg(u::text, '|' ORDER BY sig_uf, cod_empreendimento)) FROM aneel.generation_units u"
        )[0][0]


def metadata_of(result, key: dg.AssetKey) -> dict:
    for event in result.get_asset_materialization_events():
        if event.asset_key == key:
            return {name: value.value for name, value in event.materialization.metadata.items()}
    raise AssertionError(f"no materialization of {key.to_user_string()}")


def checks_of(result) -> dict[str, bool]:
    return {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    }


def test_daily_sequence_loads_typed_rows_into_postgres_s3_and_redis(stack):
    results = automation.run_daily_sequence(
        stack.definitions, stack.instance, automation.aneel_sequence_tags(today_in_brazil())
    )
    assert [r.success for r in results] == [True] * 4

    raw = metadata_of(results[0], GD_UNITS_RAW)
    assert raw["source_url"].endswith("/download/empreendimento-geracao-distribuida.csv")
    assert raw["is_zip"] is True and raw["bytes"] == BUNDLED_GD_FILE.stat().st_size
    assert raw["zip_members"] == ["empreendimento-geracao-distribuida.csv"]
    assert raw["source_last_modified"] == PUBLISHED.isoformat()
    assert stack.sql("SELECT count(*) FROM aneel.datasets") == [(2,)]

    row = stack.sql(
        "SELECT mda_potencia_instalada_kw::text, cod_cep, anm_periodo_referencia, sig_tipo_consumidor, "
        "dsc_fonte_geracao FROM aneel.generation_units WHERE cod_empreendimento = 'GD.AC.000.000.590'"
    )
    assert row == [("32.500", "69912452", date(2026, 8, 1), "PJ", "Radiação solar")]
    assert stack.sql("SELECT sig_uf, count(*) FROM aneel.generation_units GROUP BY 1 ORDER BY 1") == [
        (uf, 40) for uf in ("AC", "AL", "AM", "AP", "BA")
    ]
    units = metadata_of(results[1], GENERATION_UNITS)
    assert units["run_rows_written"] == 200 and units["rows_quarantined_by_parser"] == 0 and units["audit_passed"]
    per_uf = {
        e.partition: e.materialization.metadata["dagster/partition_row_count"].value
        for e in results[1].get_asset_materialization_events()
        if e.asset_key == GENERATION_UNITS
    }
    assert per_uf == {
        uf: (40 if uf in ("AC", "AL", "AM", "AP", "BA") else 0) for uf in UF_PARTITIONS.get_partition_keys()
    }
    evaluations = [
        e.asset_check_evaluation_data for e in results[1].all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ]  # fmt: skip
    assert len(evaluations) == 7 * 27 and all(ev.passed and ev.partition for ev in evaluations)
    assert units["header_variant"] == "2026-31" and units["source_encoding"] == "cp1252"
    assert units["copy_format"] == "binary"  # every column of aneel.generation_units has an exact encoding
    assert all(checks_of(results[1]).values()) and len(checks_of(results[1])) == 7

    assert stack.sql("SELECT count(*) FROM aneel.tariffs") == [(11,)]
    assert metadata_of(results[2], dg.AssetKey(["aneel", "tariffs"]))["rows_republished"] == 3
    assert stack.sql("SELECT count(*) FROM pipeline.quarantine WHERE asset_key = 'aneel/tariffs'") == [(0,)]
    mwh = stack.sql(
        "SELECT vlr_te::text, vlr_te_rs_kwh::text, is_scee, is_tarifa_aplicacao FROM aneel.tariffs "
        "WHERE dat_inicio_vigencia = '2026-07-04'"
    )
    assert mwh == [("316.960000", "0.316960000", False, True)]

    # tariffs_current is "in force today": compare with the rule applied to the loaded table, today.
    with psycopg.connect(stack.dsn) as conn:
        loaded = pl.read_database("SELECT * FROM aneel.tariffs", conn)
    expected = tariffs_in_force(loaded.with_columns(pl.col(pl.Decimal).cast(pl.Float64)), today_in_brazil())
    key = cache_key(dg.AssetKey(["aneel", "tariffs_current"]), None)
    cached = json.loads(redis.Redis.from_url(stack.redis_url).get(key))
    assert [r["tariff_key"] for r in cached["rows"]] == expected["tariff_key"].to_list()
    assert stack.sql("SELECT count(*) FROM aneel.tariffs_current") == [(expected.height,)]
    if date(2026, 7, 4) <= today_in_brazil() <= date(2027, 7, 3):  # the sample's current B3 tariff
        assert [r["vlr_te"] for r in cached["rows"]] == [316.96]


def test_rerunning_the_load_gives_an_identical_table(stack):
    assert stack.snapshot().success
    assert stack.load_units().success
    first = stack.table_digest()
    assert stack.load_units().success
    assert stack.table_digest() == first
    assert stack.run("aneel_generation_units_job", {"dagster/partition": "AC"}).success  # one UF alone
    assert stack.table_digest() == first
    # the staged primary key was adopted by the swap: one key per leaf, under the leaf's usual name
    indexes = stack.sql("SELECT indexname FROM pg_indexes WHERE tablename = 'generation_units_ac' ORDER BY 1")
    assert [name for (name,) in indexes if "pkey" in name] == ["generation_units_ac_pkey"] and len(indexes) == 3
    # the counts recorded at publication (which the next shrink audit reads) are the table's own
    recorded = stack.sql(
        "SELECT partition_key, row_count FROM pipeline.partition_row_counts "
        "WHERE table_name = 'aneel.generation_units' AND row_count > 0 ORDER BY 1"
    )
    assert recorded == stack.sql("SELECT sig_uf, count(*) FROM aneel.generation_units GROUP BY 1 ORDER BY 1")


def test_unchanged_file_is_not_downloaded_or_reloaded(stack):
    assert stack.snapshot().success
    assert stack.load_units().success
    objects_before = sorted(o.key for o in stack.store.list_objects("aneel/gd_units_raw"))
    stack.portal.requests.clear()

    again = stack.snapshot()
    assert again.success
    assert metadata_of(again, GD_UNITS_RAW)["unchanged"] is True
    downloads = [r for r in stack.portal.requests if "/download/" in r.path]
    assert downloads and all("if-none-match" in r.headers for r in downloads)
    assert sorted(o.key for o in stack.store.list_objects("aneel/gd_units_raw")) == objects_before
    assert not automation.loads_behind(stack.instance, GD_UNITS_RAW, GENERATION_UNITS, UF_PARTITIONS)
    # a snapshot's data version is its content sha256, and each UF's load recorded the one it read
    sha256 = metadata_of(again, GD_UNITS_RAW)["sha256"]
    (snapshot,) = stack.instance.fetch_materializations(GD_UNITS_RAW, limit=1).records
    assert snapshot.asset_materialization.tags["dagster/data_version"] == sha256
    (loaded,) = stack.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=GENERATION_UNITS, asset_partitions=["SP"]), limit=1
    ).records
    input_version = loaded.asset_materialization.tags["dagster/input_data_version/aneel/gd_units_raw"]
    assert input_version == hashlib.sha256(sha256.encode()).hexdigest()  # Dagster's rule for one mapped partition

    context = dg.build_run_status_sensor_context(
        sensor_name="aneel_load_after_snapshot",
        dagster_instance=stack.instance,
        dagster_run=stack.instance.get_run_by_id(again.run_id),
        dagster_event=again.get_run_success_event(),
    )
    requests = automation.aneel_load_after_snapshot(context)
    assert [r.job_name for r in requests] == ["aneel_tariffs_job"]  # units are current; tariffs were never loaded


def test_chain_launches_the_uf_range_once_after_a_new_snapshot(stack):
    snapshot = stack.snapshot()
    context = dg.build_run_status_sensor_context(
        sensor_name="aneel_load_after_snapshot",
        dagster_instance=stack.instance,
        dagster_run=stack.instance.get_run_by_id(snapshot.run_id),
        dagster_event=snapshot.get_run_success_event(),
    )
    requests = {r.job_name: r for r in automation.aneel_load_after_snapshot(context)}
    assert set(requests) == {"aneel_generation_units_job", "aneel_tariffs_job"}
    units = requests["aneel_generation_units_job"]
    assert units.tags["dagster/asset_partition_range_start"] == "AC"
    assert units.tags["dagster/asset_partition_range_end"] == "TO"
    assert stack.run("aneel_generation_units_job", units.tags).success
    assert not automation.loads_behind(stack.instance, GD_UNITS_RAW, GENERATION_UNITS, UF_PARTITIONS)


def test_permanent_download_failure_keeps_the_last_good_snapshot_and_says_since_when(stack):
    """The usual ANEEL outage: the API answers, the file host does not."""
    first = stack.snapshot()
    downloaded_at = metadata_of(first, GD_UNITS_RAW)["source_downloaded_at"]
    stack.portal.fail_next(stack.portal.download_path(GD_UNITS_RESOURCE_ID), times=50, status=503)
    result = stack.snapshot()
    assert first.success and result.success
    meta = metadata_of(result, GD_UNITS_RAW)
    assert meta["stale"] is True and meta["stale_since"] == downloaded_at
    assert "failed after 2 attempts" in meta["error"]
    assert meta["sha256"] == metadata_of(first, GD_UNITS_RAW)["sha256"]


def test_portal_api_down_carries_the_catalog_forward_and_keeps_the_raw_snapshots(stack):
    yesterday = (today_in_brazil() - timedelta(days=1)).isoformat()
    assert stack.run("aneel_snapshot_job", {"dagster/partition": yesterday}).success
    stack.portal.fail_next("/api/3/action/package_show", times=100, status=503)
    result = stack.snapshot()
    assert result.success
    catalog = metadata_of(result, dg.AssetKey(["aneel", "datasets"]))
    assert catalog["stale"] is True and catalog["stale_since"] == yesterday
    for key in (GD_UNITS_RAW, TARIFFS_RAW):
        assert metadata_of(result, key)["stale"] is True
    assert stack.sql("SELECT snapshot_date::text, count(*) FROM aneel.datasets GROUP BY 1 ORDER BY 1") == [
        (yesterday, 2),
        (today_in_brazil().isoformat(), 2),
    ]


def test_download_cut_mid_stream_records_nothing(stack):
    stack.portal.cut_next(stack.portal.download_path(GD_UNITS_RESOURCE_ID), times=5)
    result = stack.run(
        "aneel_snapshot_job", {"dagster/partition": today_in_brazil().isoformat()}, asset_selection=[GD_UNITS_RAW]
    )
    assert not result.success
    assert list(stack.store.list_objects("aneel/gd_units_raw")) == []


def test_retries_then_success_on_500_and_429(stack):
    stack.portal.fail_next(stack.portal.download_path(TARIFFS_RESOURCE_ID), times=1, status=429, retry_after="0")
    assert stack.run(
        "aneel_snapshot_job", {"dagster/partition": today_in_brazil().isoformat()}, asset_selection=[TARIFFS_RAW]
    ).success
    statuses = [r.path for r in stack.portal.requests if "/download/" in r.path]
    assert len(statuses) == 2


def damaged_gd_file(source, target):
    """The bundled GD file with four malformed rows appended, republished in the same layout."""
    with zipfile.ZipFile(source) as archive:
        name = archive.namelist()[0]
        lines = archive.read(name).decode("cp1252").split("\r\n")
    header, first = lines[0].split(";"), lines[1].split(";")
    power, updated = header.index('"MdaPotenciaInstaladaKW"'), header.index('"DthAtualizaCadastralEmpreend"')
    unit = header.index('"CodEmpreendimento"')

    def variant(index, value, new_id):
        fields = list(first)
        fields[unit] = f'"GD.AC.999.999.{new_id}"'
        if index is not None:
            fields[index] = value
        return ";".join(fields)

    bad = [
        variant(power, '"12,5kW"', "001"),  # bad number
        variant(updated, '"2024-13-45"', "002"),  # bad date
        ";".join(first[:-3]).replace("GD.AC.000.000.590", "GD.AC.999.999.003"),  # wrong field count
        lines[1],  # a unit id seen before
    ]
    body = "\r\n".join([*[line for line in lines if line], *bad]) + "\r\n"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, body.encode("cp1252"))


def failure_of(result) -> dg.DagsterEvent:
    (failure,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    return failure


def test_a_load_over_the_quarantine_share_is_refused_and_its_rows_kept_as_rejected(stack, files, tmp_path):
    assert stack.snapshot().success and stack.load_units().success
    before = stack.table_digest()
    damaged = tmp_path / "damaged.csv"
    damaged_gd_file(files["gd"], damaged)
    stack.portal.publish(GD_UNITS_RESOURCE_ID, path=damaged, last_modified=datetime(2026, 9, 1, tzinfo=UTC))
    damaged_snapshot = stack.snapshot()
    assert damaged_snapshot.success
    assert automation.loads_behind(stack.instance, GD_UNITS_RAW, GENERATION_UNITS, UF_PARTITIONS)
    result = stack.load_units()
    assert not result.success and stack.table_digest() == before
    message = failure_of(result).event_specific_data.error.message
    assert "refused by its audit" in message and "quarantine_share" in message
    rows = stack.sql(
        "SELECT line_number, reason, status, run_id, source_sha256 FROM pipeline.quarantine "
        "WHERE asset_key = 'aneel/generation_units' ORDER BY line_number NULLS LAST"
    )
    reasons = {line: reason for line, reason, *_ in rows}
    assert reasons[202] == "bad unsigned number in MdaPotenciaInstaladaKW: 12,5kW"
    assert reasons[203] == "bad date in DthAtualizaCadastralEmpreend: 2024-13-45"
    assert reasons[204].startswith("wrong field count: 28")
    assert reasons[None] == "duplicate (sig_uf, cod_empreendimento) = (AC, GD.AC.000.000.590): identical copy"
    sha256 = metadata_of(damaged_snapshot, GD_UNITS_RAW)["sha256"]
    assert {(status, run_id, digest) for *_, status, run_id, digest in rows} == {("rejected", result.run_id, sha256)}

    # an override in run config publishes it, and the override is on record
    config = {"ops": {"aneel__generation_units": {"config": {"max_quarantine_share": 0.05}}}}
    accepted = stack.run("aneel_generation_units_job", automation.full_range_tags(UF_PARTITIONS), run_config=config)
    assert accepted.success
    assert metadata_of(accepted, GENERATION_UNITS)["audit_overrides"] == {"max_quarantine_share": 0.05}
    statuses = stack.sql("SELECT status, count(*) FROM pipeline.quarantine GROUP BY 1 ORDER BY 1")
    assert statuses == [("accepted", 4), ("rejected", 4)]


def test_a_failed_load_blocks_downstream_assets(stack, files, tmp_path):
    damaged = tmp_path / "damaged.csv"
    damaged_gd_file(files["gd"], damaged)
    stack.portal.publish(GD_UNITS_RESOURCE_ID, path=damaged, last_modified=datetime(2026, 9, 1, tzinfo=UTC))
    assert stack.snapshot().success
    downstream_ran = []

    @dg.asset(key=["audit", "gd_probe"], deps=[GENERATION_UNITS], partitions_def=UF_PARTITIONS)
    def gd_probe() -> None:
        downstream_ran.append(True)

    job = dg.define_asset_job("units_and_downstream", selection=[GENERATION_UNITS, gd_probe.key])
    definitions = dg.Definitions.merge(stack.definitions, dg.Definitions(assets=[gd_probe], jobs=[job]))
    result = definitions.resolve_job_def("units_and_downstream").execute_in_process(
        instance=stack.instance, partition_key="AC", raise_on_error=False
    )
    assert not result.success and downstream_ran == []


def republish_gd(stack, tmp_path, lines: list[str]) -> None:
    """Publishes a GD file made of `lines` (the header first) in the published layout, as a new snapshot."""
    path = tmp_path / f"gd-{uuid.uuid4().hex[:6]}.csv"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("empreendimento-geracao-distribuida.csv", ("\r\n".join(lines) + "\r\n").encode("cp1252"))
    stack.portal.publish(GD_UNITS_RESOURCE_ID, path=path, last_modified=datetime.now(UTC))
    assert stack.snapshot().success


def bundled_lines() -> list[str]:
    with zipfile.ZipFile(BUNDLED_GD_FILE) as archive:
        return [line for line in archive.read(archive.namelist()[0]).decode("cp1252").split("\r\n") if line]


def test_a_header_only_file_is_refused_and_keeps_every_unit(stack, tmp_path):
    assert stack.snapshot().success and stack.load_units().success
    before = stack.table_digest()
    republish_gd(stack, tmp_path, bundled_lines()[:1])
    result = stack.load_units()
    assert not result.success and stack.table_digest() == before
    assert "source_has_rows: the source has no data rows" in failure_of(result).event_specific_data.error.message


def test_a_uf_losing_more_than_a_fifth_is_refused_unless_overridden(stack, tmp_path):
    assert stack.snapshot().success and stack.load_units().success
    before = stack.table_digest()
    lines = bundled_lines()
    header = [name.strip('"') for name in lines[0].split(";")]
    uf = header.index("SigUF")
    ac = [i for i, line in enumerate(lines) if line.split(";")[uf] == '"AC"']
    kept = [line for i, line in enumerate(lines) if i not in set(ac[:10])]  # AC: 40 -> 30 rows (-25 %)
    republish_gd(stack, tmp_path, kept)
    result = stack.load_units()
    assert not result.success and stack.table_digest() == before
    assert "partitions_not_shrunken" in failure_of(result).event_specific_data.error.message
    config = {"ops": {"aneel__generation_units": {"config": {"max_partition_shrink": 0.3}}}}
    assert stack.run("aneel_generation_units_job", automation.full_range_tags(UF_PARTITIONS), run_config=config).success
    assert stack.sql("SELECT count(*) FROM aneel.generation_units WHERE sig_uf = 'AC'") == [(30,)]


def test_half_the_rows_unreadable_is_refused_before_anything_is_published(stack, tmp_path):
    assert stack.snapshot().success and stack.load_units().success
    before = stack.table_digest()
    lines = bundled_lines()
    power = [name.strip('"') for name in lines[0].split(";")].index("MdaPotenciaInstaladaKW")

    def unreadable(line: str) -> str:
        fields = line.split(";")
        fields[power] = '"1,234.56"'
        return ";".join(fields)

    republish_gd(
        stack, tmp_path, [lines[0], *(unreadable(line) if i % 2 else line for i, line in enumerate(lines[1:]))]
    )
    result = stack.load_units()
    assert not result.success and stack.table_digest() == before
    reasons = stack.sql("SELECT DISTINCT reason, status FROM pipeline.quarantine")
    assert reasons == [("bad unsigned number in MdaPotenciaInstaladaKW: 1,234.56", "rejected")]


def test_conflicting_copies_of_a_unit_are_quarantined_and_its_accepted_values_kept(stack, tmp_path):
    assert stack.snapshot().success and stack.load_units().success
    lines = bundled_lines()
    header = [name.strip('"') for name in lines[0].split(";")]
    power, municipio = header.index("MdaPotenciaInstaladaKW"), header.index("CodMunicipioIbge")
    target = next(line for line in lines[1:] if '"GD.AC.000.000.590"' in line)
    forged = target.split(";")
    forged[power] = '"4999,000"'
    misplaced = next(line for line in lines[1:] if '"SP"' not in line and '"AC"' in line).split(";")
    misplaced[municipio] = '"3550308"'  # São Paulo's municipality, under AC
    # the forged copy comes first, the real one after it
    body = [lines[0], ";".join(forged), *lines[1:], ";".join(misplaced)]
    republish_gd(stack, tmp_path, body)
    config = {"ops": {"aneel__generation_units": {"config": {"max_quarantine_share": 0.05}}}}
    result = stack.run("aneel_generation_units_job", automation.full_range_tags(UF_PARTITIONS), run_config=config)
    assert result.success
    kept = stack.sql(
        "SELECT mda_potencia_instalada_kw::text FROM aneel.generation_units WHERE cod_empreendimento = %s",
        ("GD.AC.000.000.590",),
    )
    assert kept == [("32.500",)]  # the previously accepted value
    quarantined = stack.sql(
        "SELECT reason, raw_record FROM pipeline.quarantine WHERE status = 'accepted' ORDER BY reason"
    )
    conflicting = [r for r in quarantined if r[0].startswith("conflicting copies of (sig_uf, cod_empreendimento)")]
    powers = {float(json.loads(r[1])["mda_potencia_instalada_kw"]) for r in conflicting}
    assert len(conflicting) == 2 and powers == {4999.0, 32.5}
    assert any(r[0] == "CodMunicipioIbge 3550308 lies in another UF than SigUF AC" for r in quarantined)
    assert stack.sql("SELECT count(*) FROM aneel.generation_units WHERE cod_municipio_ibge = 3550308") == [(0,)]


def test_backend_terminated_mid_load_keeps_the_previous_partitions_and_the_rerun_converges(stack, tmp_path):
    assert stack.snapshot().success
    assert stack.load_units().success
    before = stack.table_digest()

    bigger = write_published_gd_file(tmp_path / "big.csv", 400_000, zip=True, seed=7)
    stack.portal.publish(GD_UNITS_RESOURCE_ID, path=bigger, last_modified=datetime(2026, 9, 1, tzinfo=UTC))
    assert stack.snapshot().success
    killed = threading.Event()

    def kill_the_copy():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed.is_set():
            rows = stack.sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                'AND query LIKE \'COPY "aneel"."generation_units%%\' AND pid <> pg_backend_pid()'
            )
            if rows:
                killed.set()
            time.sleep(0.02)

    killer = threading.Thread(target=kill_the_copy)
    killer.start()
    failed = stack.load_units()
    killer.join()
    assert killed.is_set() and not failed.success
    assert stack.table_digest() == before

    assert stack.load_units().success
    assert stack.sql("SELECT count(*) FROM aneel.generation_units") == [(400_000,)]


def test_hourly_incremental_skips_when_nothing_changed_and_runs_when_the_file_moves(stack):
    assert stack.snapshot().success
    resources = {"aneel_portal": stack.definitions.resources["aneel_portal"]}

    def evaluate():
        with dg.build_schedule_context(
            instance=stack.instance, resources=resources, scheduled_execution_time=datetime.now(UTC)
        ) as context:
            return automation.hourly_incremental(context)

    skipped = evaluate()
    assert isinstance(skipped, dg.SkipReason)
    assert "gd_units: unchanged since" in skipped.skip_message

    stack.portal.publish(GD_UNITS_RESOURCE_ID, last_modified=datetime(2026, 9, 19, tzinfo=UTC))
    moved = evaluate()
    assert isinstance(moved, dg.RunRequest)
    assert set(moved.asset_selection) == {dg.AssetKey(["aneel", "datasets"]), GD_UNITS_RAW}

    assert stack.snapshot().success  # picks the new publication up
    assert isinstance(evaluate(), dg.SkipReason)  # and the next hour is quiet again
    stack.portal.publish(TARIFFS_RESOURCE_ID)  # same last_modified in the catalog, new ETag on the file
    etag_moved = evaluate()
    assert isinstance(etag_moved, dg.RunRequest)
    assert set(etag_moved.asset_selection) == {dg.AssetKey(["aneel", "datasets"]), TARIFFS_RAW}


def test_daily_schedule_requests_todays_snapshot():
    with dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 27, 5, tzinfo=UTC)) as context:
        request = automation.daily_full_ingestion(context)
    assert request.partition_key == "2026-11-27"
    assert request.tags["ysh/refresh"] == "daily"


def test_tariffs_in_force_pick_the_applied_row_valid_today_and_the_latest_start():
    import polars as pl

    from ysh_assets.aneel.assets import tariffs_in_force

    position = {
        "num_cnpj_distribuidora": "61695227000193",
        "dsc_sub_grupo": "B1",
        "dsc_modalidade_tarifaria": "Convencional",
        "nom_posto_tarifario": "Não se aplica",
        "dsc_classe": "Residencial",
        "dsc_sub_classe": "Residencial",
        "dsc_detalhe": "Não se aplica",
        "dsc_unidade_terciaria": "MWh",
        "sig_agente_acessante": "Não se aplica",
        "sig_agente": "ELETROPAULO",
        "dsc_reh": "REH",
        "vlr_tusd": 400.0,
        "vlr_tusd_rs_kwh": 0.4,
        "is_scee": False,
        "dat_geracao_conjunto_dados": date(2026, 6, 9),
    }
    rows = [
        {"dat_inicio_vigencia": date(2025, 7, 4), "dat_fim_vigencia": date(2026, 7, 3), "vlr_te": 1.0},  # expired
        {"dat_inicio_vigencia": date(2026, 7, 4), "dat_fim_vigencia": date(2027, 7, 3), "vlr_te": 2.0},
        {"dat_inicio_vigencia": date(2026, 10, 1), "dat_fim_vigencia": date(2027, 7, 3), "vlr_te": 3.0},  # newer
        {"dat_inicio_vigencia": date(2026, 12, 1), "dat_fim_vigencia": date(2027, 7, 3), "vlr_te": 4.0},  # future
    ]
    applied = [
        {**position, **row, "tariff_key": f"k{i}", "vlr_te_rs_kwh": row["vlr_te"] / 1000, "is_tarifa_aplicacao": True}
        for i, row in enumerate(rows)
    ]
    economic = {**applied[2], "is_tarifa_aplicacao": False, "vlr_te": 9.0}
    current = tariffs_in_force(pl.DataFrame([*applied, economic]), date(2026, 11, 27))
    assert current["vlr_te"].to_list() == [3.0]
    assert current["in_force_on"].to_list() == [date(2026, 11, 27)]


def test_a_header_only_tariffs_file_is_refused_and_says_what_it_is(stack, files, tmp_path):
    assert stack.snapshot().success
    assert stack.run("aneel_tariffs_job", automation.full_range_tags(TARIFF_YEARS)).success
    header_only = tmp_path / "tarifas.csv"
    header_only.write_bytes(files["tariffs"].read_bytes().splitlines(keepends=True)[0])
    stack.portal.publish(TARIFFS_RESOURCE_ID, path=header_only, last_modified=datetime.now(UTC))
    assert stack.snapshot().success
    result = stack.run("aneel_tariffs_job", automation.full_range_tags(TARIFF_YEARS))
    assert not result.success and stack.sql("SELECT count(*) FROM aneel.tariffs") == [(11,)]
    message = failure_of(result).event_specific_data.error.message
    assert "load of aneel.tariffs from aneel/tariffs_raw/" in message
    assert "source_has_rows: the source has no data rows" in message


def test_an_unreadable_publication_fails_the_load_as_bad_data_naming_the_file(stack, tmp_path):
    """Bad data fails as a dagster Failure with the file's key and sha256; the published table stays."""
    assert stack.snapshot().success and stack.load_units().success
    before = stack.table_digest()
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes("SigUF;CodEmpreendimento\r\nAC;1\r\n".encode("utf-16"))
    stack.portal.publish(GD_UNITS_RESOURCE_ID, path=utf16, last_modified=datetime(2026, 10, 1, tzinfo=UTC))
    republished = stack.snapshot()
    assert republished.success
    result = stack.load_units()
    assert not result.success and stack.table_digest() == before
    failure = failure_of(result).event_specific_data.user_failure_data
    assert "is not a readable ANEEL publication: the file is UTF-16 text" in failure.description
    assert failure.metadata["source_sha256"].value == metadata_of(republished, GD_UNITS_RAW)["sha256"]


def test_row_checks_are_counted_per_uf_in_the_load_step(stack, files, tmp_path):
    """Out-of-range power and a future date fail their checks for the UF holding them, with a sample; the
    load is published (checks are not refusals) and every other UF passes, all within the one load step."""
    with zipfile.ZipFile(files["gd"]) as archive:
        name = archive.namelist()[0]
        lines = archive.read(name).decode("cp1252").split("\r\n")
    header, first = lines[0].split(";"), lines[1].split(";")
    column = {field.strip('"'): index for index, field in enumerate(header)}
    odd = list(first)
    odd[column["CodEmpreendimento"]] = '"GD.AC.999.999.777"'
    odd[column["MdaPotenciaInstaladaKW"]] = '"6000,5"'
    odd[column["DthAtualizaCadastralEmpreend"]] = '"2099-01-01"'
    uf = first[column["SigUF"]].strip('"')
    published = tmp_path / "odd.zip"
    with zipfile.ZipFile(published, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            name, ("\r\n".join([*[line for line in lines if line], ";".join(odd)]) + "\r\n").encode("cp1252")
        )
    stack.portal.publish(GD_UNITS_RESOURCE_ID, path=published, last_modified=datetime(2026, 10, 2, tzinfo=UTC))
    assert stack.snapshot().success
    result = stack.load_units()
    assert result.success
    evaluations = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ]
    failed = {(e.check_name, e.partition) for e in evaluations if not e.passed}
    assert failed == {("installed_kw_in_range", uf), ("no_future_dates", uf)}
    assert len(evaluations) == 7 * len(UF_PARTITIONS.get_partition_keys())
    power = next(e for e in evaluations if (e.check_name, e.partition) == ("installed_kw_in_range", uf))
    assert power.metadata["offending_rows"].value == 1
    assert power.metadata["sample"].value[0]["cod_empreendimento"] == "GD.AC.999.999.777"
    steps = {e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_SUCCESS}
    assert steps == {"aneel__generation_units"}  # the checks ran inside the load's own step
