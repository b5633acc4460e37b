"""The catalog assets end to end: distributor files from the object store (S3 API server) or the bundled
samples, loaded into PostgreSQL and into the local profile's DuckDB through the write-audit-publish path."""

import functools
import http.server
import json
import shutil
import threading
import uuid
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import psycopg
import pytest

from ysh_assets.calendar import today_in_brazil
from ysh_assets.catalog import definitions as catalog
from ysh_assets.catalog.assets import CERTIFICATION_LINKS, KIT_COMPONENTS, PRICE_CHANGES, PRODUCTS, SOLAR_KITS
from ysh_assets.catalog.distributors import DISTRIBUTORS, read_catalog
from ysh_assets.catalog.sources import BUNDLED_CATALOGS, CatalogSource, snapshot_keys
from ysh_assets.io_managers.duckdb import DuckDBPolarsWarehouseIOManager
from ysh_assets.io_managers.object_store import ObjectStore
from ysh_assets.io_managers.postgres import PostgresPolarsIOManager
from ysh_assets.warehouse.sql import Warehouse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "catalog"
DAY_1, DAY_2 = date(2026, 11, 29), date(2026, 12, 1)  # a skipped day between: price changes still compare
SOLFACIL_INVERTERS = "solfacil_solfacil-inverters.json"


def partition(day: date, distributor: str) -> str:
    return str(dg.MultiPartitionKey({"day": day.isoformat(), "distributor": distributor}))


def materialize(defs: dg.Definitions, instance, keys, day: date, distributor: str):
    return defs.resolve_job_def("catalog_daily_job").execute_in_process(
        instance=instance, partition_key=partition(day, distributor), asset_selection=keys, raise_on_error=False
    )


@pytest.fixture
def services(empty_pg_dsn, s3_endpoint):
    store = ObjectStore(root=f"s3://ysh-catalog-{uuid.uuid4().hex[:8]}/ysh", endpoint_url=s3_endpoint)
    store.ensure_ready()
    io = PostgresPolarsIOManager(dsn=empty_pg_dsn)
    resources = {
        "io_manager": io,
        "warehouse": Warehouse(dsn=empty_pg_dsn),
        "catalog_source": CatalogSource(object_store=store),
    }
    with dg.instance_for_test() as instance:
        yield dg.Definitions.merge(catalog.defs, dg.Definitions(resources=resources)), instance, store, empty_pg_dsn


def sql(dsn: str, statement: str, params=()):
    with psycopg.connect(dsn) as conn:
        return conn.execute(statement, params).fetchall()


def test_a_day_is_the_newest_dated_drop_on_or_before_it_else_the_current_files():
    keys = [
        "catalogs/odex/a.json",
        "catalogs/odex/2026-11-29/a.json",
        "catalogs/odex/2026-12-01/a.json",
        "catalogs/odex/2026-12-01/b.json",
        "catalogs/odex/notes/x.json",
    ]
    assert snapshot_keys(keys, "odex", date(2026, 11, 30)) == ["catalogs/odex/2026-11-29/a.json"]
    assert snapshot_keys(keys, "odex", date(2026, 12, 5)) == [
        "catalogs/odex/2026-12-01/a.json",
        "catalogs/odex/2026-12-01/b.json",
    ]
    assert snapshot_keys(keys, "odex", date(2026, 11, 1)) == ["catalogs/odex/a.json"]


def test_two_days_of_a_distributor_load_products_quarantine_and_price_changes(services, tmp_path):
    defs, instance, store, dsn = services
    files = sorted(FIXTURES.glob("solfacil_*"))
    for file in files:
        store.put_file(f"catalogs/solfacil/{DAY_1}/{file.name}", file)
    records = json.loads((FIXTURES / SOLFACIL_INVERTERS).read_text(encoding="utf-8"))
    changed = next(r for r in records if r.get("pricing", {}).get("price"))
    changed["pricing"]["price"] = round(changed["pricing"]["price"] * 1.1, 2)
    changed["price"] = "R$ " + f"{changed['pricing']['price']:,.2f}".replace(",", "X").replace(".", ",").replace(
        "X", "."
    )
    day_2 = tmp_path / SOLFACIL_INVERTERS
    day_2.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    for file in files:
        store.put_file(f"catalogs/solfacil/{DAY_2}/{file.name}", day_2 if file.name == SOLFACIL_INVERTERS else file)

    expected = [read_catalog("solfacil", f) for f in files]
    accepted = sum(len(b.products) for b in expected)
    rejected = sum(len(b.rejected) for b in expected)
    assert accepted > 100 and rejected >= 6  # the shifted panels file is rejected record by record

    first = materialize(defs, instance, [PRODUCTS, SOLAR_KITS, KIT_COMPONENTS], DAY_1, "solfacil")
    assert first.success
    assert sql(dsn, "SELECT count(*) FROM products.products WHERE snapshot_date = %s", (DAY_1,)) == [(accepted,)]
    quarantined = sql(
        dsn,
        "SELECT reason, raw_record FROM pipeline.quarantine WHERE asset_key = 'catalog/products' "
        "AND partition_key = %s "
        "AND status = 'accepted'",
        (partition(DAY_1, "solfacil"),),
    )
    assert len(quarantined) == rejected
    assert any(
        reason.startswith(f"catalogs/solfacil/{DAY_1}/solfacil_solfacil-panels.json: ") for reason, _ in quarantined
    )
    raw = sql(dsn, "SELECT raw_record->>'id' FROM products.products WHERE product_id = %s", (changed["id"],))
    assert raw == [(changed["id"],)]
    checks = {
        (
            e.asset_check_evaluation_data.asset_key,
            e.asset_check_evaluation_data.check_name,
        ): e.asset_check_evaluation_data
        for e in first.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    }
    assert checks[(PRODUCTS, "unique_source_ids")].passed
    assert checks[(PRODUCTS, "quarantine_share")].partition == partition(DAY_1, "solfacil")

    assert materialize(defs, instance, [PRODUCTS, SOLAR_KITS, KIT_COMPONENTS], DAY_2, "solfacil").success
    changes = materialize(defs, instance, [PRICE_CHANGES], DAY_2, "solfacil")
    assert changes.success
    logged = sql(
        dsn,
        "SELECT entity_id, old_values->>'price_brl', new_values->>'price_brl', new_values->>'day' "
        "FROM audit.change_log "
        "WHERE asset_key = 'catalog/price_changes' AND partition_key = %s",
        (partition(DAY_2, "solfacil"),),
    )
    old_price = round(changed["pricing"]["price"] / 1.1, 2)
    assert [(e, float(o), float(n), d) for e, o, n, d in logged] == [
        (changed["id"], pytest.approx(old_price, abs=0.01), changed["pricing"]["price"], DAY_2.isoformat())
    ]
    # a re-run replaces the partition's changes instead of logging them twice
    assert materialize(defs, instance, [PRICE_CHANGES], DAY_2, "solfacil").success
    assert sql(
        dsn, "SELECT count(*) FROM audit.change_log WHERE partition_key = %s", (partition(DAY_2, "solfacil"),)
    ) == [(1,)]


def test_a_snapshot_whose_kits_are_refused_publishes_no_products_either(services, tmp_path):
    defs, instance, store, dsn = services
    kits = json.loads((FIXTURES / "fortlev_fortlev-kits-enhanced.json").read_text(encoding="utf-8"))
    store.put_file(f"catalogs/fortlev/{DAY_1}/inverters.json", FIXTURES / "fortlev_fortlev-inverters.json")
    store.put_file(f"catalogs/fortlev/{DAY_1}/kits.json", FIXTURES / "fortlev_fortlev-kits-enhanced.json")
    assert materialize(defs, instance, [PRODUCTS, SOLAR_KITS, KIT_COMPONENTS], DAY_1, "fortlev").success
    shrunk = tmp_path / "kits.json"
    shrunk.write_text(json.dumps(kits[:1], ensure_ascii=False), encoding="utf-8")  # 1 kit of 5: lost 80 %
    store.put_file(f"catalogs/fortlev/{DAY_2}/inverters.json", FIXTURES / "fortlev_fortlev-inverters.json")
    store.put_file(f"catalogs/fortlev/{DAY_2}/kits.json", shrunk)
    refused = materialize(defs, instance, [PRODUCTS, SOLAR_KITS, KIT_COMPONENTS], DAY_2, "fortlev")
    assert not refused.success
    failure = next(e for e in refused.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert "catalog/solar_kits partitions_not_shrunken" in failure.step_failure_data.error.message
    for table in ("products", "solar_kits", "kit_components"):
        assert sql(dsn, f"SELECT count(*) FROM products.{table} WHERE snapshot_date = %s", (DAY_2,)) == [(0,)]


def test_a_snapshot_that_lost_most_products_is_refused_and_nothing_is_published(services, tmp_path):
    defs, instance, store, dsn = services
    store.put_file(f"catalogs/fortlev/{DAY_1}/inverters.json", FIXTURES / "fortlev_fortlev-inverters.json")
    assert materialize(defs, instance, [PRODUCTS, SOLAR_KITS, KIT_COMPONENTS], DAY_1, "fortlev").success
    before = sql(dsn, "SELECT count(*) FROM products.products")[0][0]
    few = json.loads((FIXTURES / "fortlev_fortlev-inverters.json").read_text(encoding="utf-8"))[:10]
    shrunk = tmp_path / "inverters.json"
    shrunk.write_text(json.dumps(few, ensure_ascii=False), encoding="utf-8")
    store.put_file(f"catalogs/fortlev/{DAY_2}/inverters.json", shrunk)
    refused = materialize(defs, instance, [PRODUCTS, SOLAR_KITS, KIT_COMPONENTS], DAY_2, "fortlev")
    assert not refused.success
    failure = next(e for e in refused.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert "partitions_not_shrunken" in failure.step_failure_data.error.message
    assert sql(dsn, "SELECT count(*) FROM products.products") == [(before,)]
    assert sql(dsn, "SELECT count(*) FROM products.products WHERE snapshot_date = %s", (DAY_2,)) == [(0,)]


def test_an_unrecognised_file_fails_the_run_naming_the_file_and_the_layouts(services):
    defs, instance, store, _ = services
    store.put_bytes(f"catalogs/odex/{DAY_1}/export.json", b'[{"sku": "x", "preco": 1}]')
    result = materialize(defs, instance, [PRODUCTS, SOLAR_KITS, KIT_COMPONENTS], DAY_1, "odex")
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert "export.json" in failure.step_failure_data.error.message
    assert "expected one of" in failure.step_failure_data.error.message


def test_the_local_profile_loads_bundled_kits_into_duckdb(tmp_path):
    database = tmp_path / "warehouse.duckdb"
    io = DuckDBPolarsWarehouseIOManager(database=str(database))
    resources = {
        "io_manager": io,
        "warehouse": Warehouse(duckdb_path=str(database)),
        "catalog_source": CatalogSource(object_store=ObjectStore(root=(tmp_path / "objects").as_uri()), bundled=True),
    }
    defs = dg.Definitions.merge(catalog.defs, dg.Definitions(resources=resources))
    expected = [read_catalog("fotus", f) for f in sorted((BUNDLED_CATALOGS / "fotus").iterdir())]
    with dg.instance_for_test() as instance:
        assert materialize(defs, instance, [PRODUCTS, SOLAR_KITS, KIT_COMPONENTS], DAY_1, "fotus").success
    kits = sum(len(b.kits) for b in expected)
    components = sum(len(k.components) for b in expected for k in b.kits)
    with duckdb.connect(str(database), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM products.solar_kits").fetchone() == (kits,)
        assert conn.execute("SELECT count(*) FROM products.kit_components").fetchone() == (components,)
        assert conn.execute("SELECT count(DISTINCT kit_id) FROM products.solar_kits").fetchone() == (kits,)
        assert conn.execute("SELECT count(*) FROM products.products").fetchone() == (0,)


def test_parse_catalog_prints_accepted_records_on_stdout_and_rejected_on_stderr(tmp_path, capsys):
    from ysh_assets.cli import main

    assert main(["parse-catalog", "solfacil", str(FIXTURES / "solfacil_solfacil-panels.json")]) == 0
    out, err = capsys.readouterr()
    accepted = [json.loads(line) for line in out.splitlines()]
    rejected = [json.loads(line) for line in err.splitlines()]
    batch = read_catalog("solfacil", FIXTURES / "solfacil_solfacil-panels.json")
    assert len(accepted) == len(batch.products) and len(rejected) == len(batch.rejected) > 0
    assert all(r["reason"] and r["raw_record"] for r in rejected)

    assert main(["parse-catalog", "fotus", str(BUNDLED_CATALOGS / "fotus" / "fotus_kits.json")]) == 0
    kits = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert kits and all({"source_id", "kwp", "price_brl", "components"} <= set(k) for k in kits)
    assert all({"category", "quantity", "power_w", "manufacturer", "model", "description"} <= set(c)
               for k in kits for c in k["components"])  # fmt: skip

    bogus = tmp_path / "bogus.json"
    shutil.copy(FIXTURES / "solfacil_solfacil-panels.json", bogus)
    assert main(["parse-catalog", "nobody", str(bogus)]) == 2
    assert "unknown distributor 'nobody'" in capsys.readouterr().err
    bogus.write_text('{"not": "a catalog"}', encoding="utf-8")
    assert main(["parse-catalog", "odex", str(bogus)]) == 2
    assert "bogus.json" in capsys.readouterr().err


def test_certification_lists_load_and_products_link_to_them_within_their_power_class(services):
    defs, instance, store, dsn = services
    for equipment_type in ("inverter", "module"):
        loaded = defs.resolve_job_def("catalog_certifications_job").execute_in_process(
            instance=instance, partition_key=equipment_type, raise_on_error=False
        )
        assert loaded.success
    counts = dict(sql(dsn, "SELECT certifier || ':' || equipment_type, count(*) FROM aneel.certifications GROUP BY 1"))
    assert counts == {"CEC:inverter": 3243, "CEC:module": 16830, "INMETRO:inverter": 37}
    assert sql(dsn, "SELECT count(*) FROM aneel.certifications WHERE certifier = 'CEC' AND equipment_type = 'module' "
               "AND v_oc_ref IS NULL") == [(0,)]  # fmt: skip

    store.put_file(f"catalogs/fortlev/{DAY_1}/inverters.json", FIXTURES / "fortlev_fortlev-inverters.json")
    result = materialize(defs, instance, [PRODUCTS, SOLAR_KITS, KIT_COMPONENTS, CERTIFICATION_LINKS], DAY_1, "fortlev")
    assert result.success
    products = sql(dsn, "SELECT count(*) FROM products.products")[0][0]
    kinds = dict(sql(dsn, "SELECT match_kind, count(*) FROM products.certification_links GROUP BY 1"))
    assert sum(kinds.values()) == products and kinds.get("exact", 0) > 0
    crossing = sql(
        dsn,
        "SELECT product_id FROM products.certification_links WHERE match_kind <> 'none' AND power_w IS NOT NULL "
        "AND certified_power_w IS NOT NULL AND abs(power_w - certified_power_w) > 0.02 * certified_power_w",
    )
    assert crossing == []
    (check,) = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        and e.asset_check_evaluation_data.check_name == "certified_equipment"
    ]
    assert check.partition == partition(DAY_1, "fortlev") and check.severity == dg.AssetCheckSeverity.WARN
    unmatched = sql(
        dsn,
        "SELECT count(*) FROM products.certification_links WHERE match_kind = 'none' "
        "AND category IN ('module', 'inverter', 'microinverter', 'hybrid_inverter')",
    )[0][0]
    assert check.metadata["offending_rows"].value == unmatched and check.passed == (unmatched == 0)


def test_datasheets_that_disagree_with_the_certification_list_are_reported(services):
    defs, instance, _, dsn = services
    job = defs.resolve_job_def("catalog_certifications_job")
    assert job.execute_in_process(instance=instance, partition_key="module", raise_on_error=False).success
    (agrees, disagrees) = sql(
        dsn,
        "SELECT model, rated_power_w, v_oc_ref, i_sc_ref, v_mp_ref, i_mp_ref FROM aneel.certifications "
        "WHERE certifier = 'CEC' AND equipment_type = 'module' ORDER BY model LIMIT 2",
    )
    with psycopg.connect(dsn) as conn:
        for sha, (model, power, voc, isc, vmp, imp), voc_factor in (
            ("a" * 64, agrees, 1.01),
            ("b" * 64, disagrees, 1.10),
        ):
            conn.execute(
                "INSERT INTO products.datasheets (sha256, filename, size_bytes, status, extractor) "
                "VALUES (%s, 'sheet.pdf', 1, 'extracted', 'rules')",
                (sha,),
            )
            conn.execute(
                "INSERT INTO products.datasheet_specs (sha256, model, pmax_w, voc_v, isc_a, vmp_v, imp_a) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (sha, model.lower().replace("-", " "), float(power), voc * voc_factor, isc, vmp, imp),
            )
    result = job.execute_in_process(instance=instance, partition_key="module", raise_on_error=False)
    assert result.success
    (check,) = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        and e.asset_check_evaluation_data.check_name == "datasheet_stc_agrees"
    ]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN and check.partition == "module"
    assert check.metadata["offending_rows"].value == 1
    assert check.metadata["sample"].value[0]["model"] == disagrees[0]


@pytest.fixture
def http_files():
    """The catalog fixtures served over real HTTP on loopback."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(FIXTURES))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_configured_urls_are_fetched_for_their_distributor(tmp_path, http_files):
    database = tmp_path / "warehouse.duckdb"
    names = ["odex_odex-inverters.json", "odex_odex-panels.json"]

    def definitions(urls: list[str]) -> dg.Definitions:
        source = CatalogSource(object_store=ObjectStore(root=(tmp_path / "objects").as_uri()), urls={"odex": urls})
        resources = {
            "io_manager": DuckDBPolarsWarehouseIOManager(database=str(database)),
            "warehouse": Warehouse(duckdb_path=str(database)),
            "catalog_source": source,
        }
        return dg.Definitions.merge(catalog.defs, dg.Definitions(resources=resources))

    expected = sum(len(read_catalog("odex", FIXTURES / name).products) for name in names)
    with dg.instance_for_test() as instance:
        defs = definitions([f"{http_files}/{name}" for name in names])
        assert materialize(defs, instance, [PRODUCTS, SOLAR_KITS, KIT_COMPONENTS], DAY_1, "odex").success
        missing = materialize(
            definitions([f"{http_files}/gone.json"]), instance, [PRODUCTS, SOLAR_KITS, KIT_COMPONENTS], DAY_2, "odex"
        )
    with duckdb.connect(str(database), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM products.products").fetchone() == (expected,)
    assert not missing.success
    failure = next(e for e in missing.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert "gone.json: could not be fetched" in failure.step_failure_data.error.message


def test_the_sensor_starts_one_run_per_distributor_and_day_for_new_or_replaced_files(services):
    defs, instance, store, _ = services
    sensor = defs.get_sensor_def("new_catalog_file_sensor")

    def evaluate(cursor: str | None) -> dg.SensorResult:
        with dg.build_sensor_context(instance=instance, cursor=cursor, resources={"object_store": store}) as context:
            return sensor(context)

    store.put_file(f"catalogs/solfacil/{DAY_1}/inverters.json", FIXTURES / SOLFACIL_INVERTERS)
    store.put_file(f"catalogs/solfacil/{DAY_1}/panels.json", FIXTURES / "solfacil_solfacil-panels.json")
    store.put_file("catalogs/odex/inverters.json", FIXTURES / "odex_odex-inverters.json")
    store.put_bytes("catalogs/nobody/file.json", b"[]")
    store.put_bytes("catalogs/odex/2026-02-30/file.json", b"[]")  # not a day: skipped, the tick goes on
    store.put_bytes("catalogs/ODEX/file.json", b"[]")  # not a registered name (they are lower case)
    first = evaluate(None)
    today = dg.MultiPartitionKey({"day": today_in_brazil().isoformat(), "distributor": "odex"})
    assert sorted(r.partition_key for r in first.run_requests) == sorted([partition(DAY_1, "solfacil"), str(today)])
    assert evaluate(first.cursor).run_requests == []  # nothing new
    store.put_bytes(f"catalogs/solfacil/{DAY_1}/inverters.json", b"[]")  # replaced: the day runs again
    again = evaluate(first.cursor)
    assert [r.partition_key for r in again.run_requests] == [partition(DAY_1, "solfacil")]
    assert again.run_requests[0].run_key != next(r.run_key for r in first.run_requests if "solfacil" in r.partition_key)


def test_the_daily_schedule_asks_for_every_distributors_day():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    when = datetime(2026, 12, 1, 3, tzinfo=ZoneInfo("America/Sao_Paulo"))
    with dg.build_schedule_context(scheduled_execution_time=when) as context:
        requests = catalog.catalog_daily(context)
    assert sorted(r.partition_key for r in requests) == sorted(partition(DAY_2, d) for d in DISTRIBUTORS)
