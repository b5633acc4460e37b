"""The datasheet flow end to end: PDFs uploaded to a real S3 API server (moto), the new-PDF sensor, the
pdf_processing job into PostgreSQL, Ollama as a loopback wire-contract double (or absent)."""

import json
import logging
import shutil
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from ysh_assets.datasheets import definitions as datasheets
from ysh_assets.datasheets.enrich import NUMERIC_FIELDS, OllamaResource
from ysh_assets.datasheets.sensors import (
    INCOMING_PREFIX,
    MAX_NEW_PER_TICK,
    OBJECT_KEY_TAG,
    PDF_PARTITIONS,
    scan_incoming,
)
from ysh_assets.io_managers.object_store import ObjectStore, ObjectStoreIOManager
from ysh_assets.io_managers.postgres import PostgresPolarsIOManager
from ysh_assets.object_cursor import SensorCursor
from ysh_assets.warehouse.sql import Warehouse
from ysh_assets_tests.doubles.ollama_server import OllamaServer

PDFS = Path(__file__).resolve().parents[1] / "fixtures" / "pdfs"
JINKO, BYD, SOFAR = (
    "JKM550-570M-72HL4-V-F4C1-EN.pdf",
    "BYD_Battery-Box_Premium_HVS_HVM_Datasheet_V1.5_EN.pdf",
    "SOFAR_3.3-12KTL-X_scanned.pdf",
)


@pytest.fixture
def store(s3_endpoint) -> ObjectStore:
    store = ObjectStore(root=f"s3://ysh-pdf-{uuid.uuid4().hex[:8]}/ysh", endpoint_url=s3_endpoint)
    store.ensure_ready()
    return store


def upload(store: ObjectStore, name: str, key: str | None = None, data: bytes | None = None) -> str:
    key = f"{INCOMING_PREFIX}{key or name}"
    store.put_bytes(key, data if data is not None else (PDFS / name).read_bytes())
    return key


def evaluate_sensor(instance, store: ObjectStore, cursor: str | None = None) -> dg.SensorResult:
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources={"object_store": store}) as context:
        result = datasheets.new_pdf_sensor(context)
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(PDF_PARTITIONS.name, list(request.partition_keys))
    return result


def test_sensor_turns_each_new_pdf_into_a_partition_and_a_run_once(store):
    with dg.instance_for_test() as instance:
        key = upload(store, BYD)
        upload(store, "notes.txt", data=b"not a datasheet")
        first = evaluate_sensor(instance, store)
        assert [r.partition_key for r in first.run_requests] == [
            "1474dffd5243a63f5e3c3a0583cbbe711265aaae43521f9cfa691e91e79bec4a"
        ]
        request = first.run_requests[0]
        assert request.run_key == request.partition_key and request.tags[OBJECT_KEY_TAG] == key
        assert instance.get_dynamic_partitions(PDF_PARTITIONS.name) == [request.partition_key]

        upload(store, BYD, key="renamed/same-bytes.pdf")  # the same bytes under another name
        again = evaluate_sensor(instance, store, first.cursor)
        assert again.run_requests == []

        upload(store, JINKO)
        restarted = evaluate_sensor(instance, store, again.cursor)  # a new evaluation from the saved cursor
        assert [r.tags[OBJECT_KEY_TAG] for r in restarted.run_requests] == [f"{INCOMING_PREFIX}{JINKO}"]
        assert evaluate_sensor(instance, store, restarted.cursor).run_requests == []


def test_sensor_pages_through_a_thousand_objects_and_never_dies_on_a_bad_one(store):
    pdf_bytes = (PDFS / BYD).read_bytes()
    for i in range(1_050):  # more than one S3 listing page (1,000 keys)
        is_pdf = i % 50 == 0
        name = f"batch/{i:04d}.{'pdf' if is_pdf else 'json'}"
        upload(store, name, key=name, data=pdf_bytes + str(i).encode() if is_pdf else b"{}")
    with dg.instance_for_test() as instance:
        cursor, requested = None, []
        for _ in range(5):
            result = evaluate_sensor(instance, store, cursor)
            requested += result.run_requests
            cursor = result.cursor
        assert len(requested) == 21 <= MAX_NEW_PER_TICK
        assert len({r.partition_key for r in requested}) == 21

        store.put_bytes(f"{INCOMING_PREFIX}zz-unreadable.pdf", pdf_bytes + b"unreadable")
        flaky = FlakyStore(root=store.root, endpoint_url=store.endpoint_url)
        state = SensorCursor.parse(cursor)
        for _attempt in range(3):  # retried on the next ticks, then skipped with a logged reason
            found, state = scan_incoming(flaky, state, set(), logging.getLogger("test"))
            assert found == []
        assert f"{INCOMING_PREFIX}zz-unreadable.pdf" in state.recent and state.failures == {}


class FlakyStore(ObjectStore):
    """An object store whose reads of one object always fail, as a broken upload or a flaky network would."""

    @contextmanager
    def open(self, key: str):
        if key.endswith("zz-unreadable.pdf"):
            raise OSError("connection reset while reading")
        with super().open(key) as handle:
            yield handle


@pytest.fixture
def pdf_stack(empty_pg_dsn, store):
    def build(ollama_url: str):
        warehouse_io = PostgresPolarsIOManager(dsn=empty_pg_dsn)
        resources = {
            "io_manager": warehouse_io,
            "object_store": store,
            "object_store_io_manager": ObjectStoreIOManager(store=store),
            "warehouse": Warehouse(dsn=empty_pg_dsn),
            "ollama": OllamaResource(base_url=ollama_url, timeout_seconds=5),
        }
        return dg.Definitions.merge(datasheets.defs, dg.Definitions(resources=resources))

    return build


def run_new_pdfs(definitions, instance, store) -> dict[str, dg.ExecuteInProcessResult]:
    """What the daemon does: evaluate the sensor, launch each requested run."""
    result = evaluate_sensor(instance, store)
    job = definitions.resolve_job_def("pdf_processing")
    return {
        request.tags[OBJECT_KEY_TAG]: job.execute_in_process(
            instance=instance, partition_key=request.partition_key, tags=request.tags, raise_on_error=False
        )
        for request in result.run_requests
    }


def sql(dsn: str, statement: str, params=()):
    with psycopg.connect(dsn) as conn:
        return conn.execute(statement, params).fetchall()


def test_pdfs_become_specs_with_provenance_and_bad_ones_are_quarantined_rules_only(
    pdf_stack, store, empty_pg_dsn, monkeypatch
):
    from ysh_assets.datasheets import inspect

    for name in (JINKO, SOFAR):
        upload(store, name)
    upload(store, "empty.pdf", data=b"")
    upload(store, "fake.pdf", data=b"<html>not a pdf</html>")
    closed = "http://127.0.0.1:9"  # nothing listens: Ollama unavailable
    probes = []
    real_probe = inspect._probe_in_child
    monkeypatch.setattr(inspect, "_probe_in_child", lambda path, *args: probes.append(path) or real_probe(path, *args))
    with dg.instance_for_test() as instance:
        runs = run_new_pdfs(pdf_stack(closed), instance, store)
    assert len(runs) == 4 and all(r.success for r in runs.values())  # bad input never fails a run
    assert len(probes) == 2  # each parseable PDF is parsed at intake once per run, not again when enriched

    sheets = dict(sql(empty_pg_dsn, "SELECT filename, status || ':' || coalesce(quarantine_reason, '') FROM "
                                    "products.datasheets"))  # fmt: skip
    assert sheets == {
        JINKO: "extracted:",
        SOFAR: "extracted:",  # no usable text layer: read by OCR
        "empty.pdf": "quarantined:zero_byte",
        "fake.pdf": "quarantined:not_pdf",
    }
    specs = sql(
        empty_pg_dsn,
        "SELECT model, pmax_w, vmp_v, imp_a, voc_v, isc_a, efficiency_pct, provenance->'pmax_w'->>'page', "
        "provenance->'pmax_w'->>'source' FROM products.datasheet_specs WHERE equipment_type = 'module' ORDER BY pmax_w",
    )
    assert [s[1] for s in specs] == [550, 555, 560, 565, 570]
    assert specs[0][2:7] == (40.9, 13.45, 49.62, 14.03, 21.33)
    assert specs[0][7:] == ("2", "rules")  # the electrical table is on the second page

    reasons = dict(sql(empty_pg_dsn, "SELECT source, reason FROM pipeline.quarantine"))
    assert reasons == {f"{INCOMING_PREFIX}empty.pdf": "zero_byte", f"{INCOMING_PREFIX}fake.pdf": "not_pdf"}
    ocr = sql(
        empty_pg_dsn,
        "SELECT s.model, s.ac_power_w, s.provenance->'ac_power_w'->>'source', d.extractor FROM "
        "products.datasheet_specs s JOIN products.datasheets d USING (sha256) WHERE d.filename = %s ORDER BY 2",
        (SOFAR,),
    )
    assert [(m, w) for m, w, _, _ in ocr][:2] == [("3.3KTL-X", 3000), ("4.4KTL-X", 4000)]
    assert {(source, extractor) for _, _, source, extractor in ocr} == {("ocr", "rules+ocr")}
    jinko = runs[f"{INCOMING_PREFIX}{JINKO}"]
    meta = {e.asset_key.path[-1]: e.materialization.metadata for e in jinko.get_asset_materialization_events()}
    assert meta["enriched_pdfs"]["extractor"].value == "rules"
    assert meta["enriched_pdfs"]["llm_status"].value == "unavailable"
    assert meta["pdf_documents"]["pages"].value == 2 and meta["pdf_documents"]["has_text_layer"].value is True
    checks = {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
        for e in jinko.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    }
    assert checks == dict.fromkeys(
        ["module_physical_ranges", "inverter_efficiency_range", "required_fields_present", "no_duplicate_models"],
        True,
    )


def test_ollama_fills_gaps_and_never_overwrites_rules(pdf_stack, store, empty_pg_dsn):
    def reply(body: dict) -> str:
        record = dict.fromkeys(["manufacturer", "model", "equipment_type", *NUMERIC_FIELDS])
        record.update(manufacturer="BYD", model="HVS 5.1", equipment_type="battery", usable_kwh=9.99, phases=1)
        record["pages"] = {**dict.fromkeys(NUMERIC_FIELDS), "usable_kwh": 2, "phases": 2}  # where each was read
        return json.dumps({"records": [record]})

    upload(store, BYD)
    with OllamaServer(reply=reply) as ollama, dg.instance_for_test() as instance:
        runs = run_new_pdfs(pdf_stack(ollama.base_url), instance, store)
        (chat,) = ollama.chat_requests()
    assert all(r.success for r in runs.values())
    assert chat["stream"] is False and chat["format"]["required"] == ["records"]
    usable, phases, provenance, llm_values = sql(
        empty_pg_dsn,
        "SELECT usable_kwh, phases, provenance, llm_values FROM products.datasheet_specs WHERE model = 'HVS 5.1'",
    )[0]
    assert usable == 5.12  # the rules' value stays
    assert llm_values["usable_kwh"] == {
        "value": 9.99,
        "unit": "kWh",
        "page": 2,
        "source": "llm",
        "status": "conflict",
    }
    assert phases == 1 and provenance["phases"]["source"] == "llm"
    assert sql(empty_pg_dsn, "SELECT extractor, llm_status FROM products.datasheets") == [("rules+llm", "ok")]
    (run,) = runs.values()
    enriched = next(e for e in run.get_asset_materialization_events() if e.asset_key.path[-1] == "enriched_pdfs")
    assert enriched.materialization.metadata["llm_fields_filled"].value == 1
    assert enriched.materialization.metadata["llm_conflicts_with_rules"].value == 1


def test_extract_pdf_cli_prints_what_the_asset_stores(tmp_path, capsys):
    from ysh_assets.cli import main

    shutil.copy(PDFS / BYD, tmp_path / BYD)
    assert main(["extract-pdf", "--rules-only", str(tmp_path / BYD)]) == 0
    (printed,) = json.loads(capsys.readouterr().out)
    assert printed["datasheet"]["manufacturer"] == "BYD" and printed["datasheet"]["models"] == len(printed["specs"])
    assert {s["model"] for s in printed["specs"]} >= {"HVS 5.1", "HVM 8.3"}

    assert main(["extract-pdf", "--rules-only", str(tmp_path / "missing.pdf"), str(tmp_path / BYD)]) == 1
    missing, present = json.loads(capsys.readouterr().out)
    assert missing == {"file": str(tmp_path / "missing.pdf"), "error": "no such file"}
    assert present["datasheet"]["manufacturer"] == "BYD"


def test_cursor_sees_late_objects_with_older_times_within_the_look_back():
    from datetime import UTC, datetime, timedelta

    from ysh_assets.io_managers.object_store import ObjectInfo

    now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    cursor = SensorCursor()
    first = ObjectInfo(f"{INCOMING_PREFIX}a.pdf", 10, now, "e1")
    cursor.handled(first)
    restored = SensorCursor.parse(cursor.dump())
    assert not restored.is_new(first)
    assert restored.is_new(ObjectInfo(f"{INCOMING_PREFIX}a.pdf", 11, now, "e2"))  # overwritten in place
    assert restored.is_new(ObjectInfo(f"{INCOMING_PREFIX}late.pdf", 10, now - timedelta(minutes=40), "e3"))
    assert not restored.is_new(ObjectInfo(f"{INCOMING_PREFIX}old.pdf", 10, now - timedelta(hours=2), "e4"))


def test_local_profile_runs_the_same_flow_on_a_folder_and_duckdb(tmp_path, monkeypatch):
    import duckdb

    from ysh_assets import object_cursor

    monkeypatch.setattr(object_cursor, "SETTLE_SECONDS", 0.0)  # the files below are complete when written

    from ysh_assets.io_managers.duckdb import DuckDBPolarsWarehouseIOManager

    store = ObjectStore(root=(tmp_path / "objects").as_uri())
    database = str(tmp_path / "warehouse.duckdb")
    resources = {
        "io_manager": DuckDBPolarsWarehouseIOManager(database=database),
        "object_store": store,
        "object_store_io_manager": ObjectStoreIOManager(store=store),
        "warehouse": Warehouse(duckdb_path=database),
        "ollama": OllamaResource(base_url="http://127.0.0.1:9", timeout_seconds=2),
    }
    definitions = dg.Definitions.merge(
        datasheets.defs, dg.Definitions(resources=resources, executor=dg.in_process_executor)
    )
    with pytest.raises(ValueError, match="relative path"):
        upload(store, BYD, key="../../escape/attempt.pdf")  # the store refuses names that would escape it
    upload(store, BYD, key="Ficha técnica (v2) ~$*?.pdf")  # an untrusted name: sanitized before naming files
    with dg.instance_for_test() as instance:
        runs = run_new_pdfs(definitions, instance, store)
    assert [r.success for r in runs.values()] == [True]
    with duckdb.connect(database) as conn:
        assert conn.sql("SELECT status, models FROM products.datasheets").fetchall() == [("extracted", 10)]
        assert conn.sql("SELECT usable_kwh FROM products.datasheet_specs WHERE model = 'HVS 5.1'").fetchall() == [
            (5.12,)
        ]
    (stored,) = [p for p in (tmp_path / "objects" / "datasheets").rglob("*.pdf")]
    assert stored.name.endswith(".pdf") and all(c.isalnum() or c in "._-" for c in stored.name)


def test_a_sheet_without_text_layer_is_needs_ocr_when_ocr_is_off():
    from ysh_assets.datasheets.pipeline import PdfLimits, process_pdf

    processed = process_pdf(PDFS / SOFAR, filename=SOFAR, limits=PdfLimits(ocr=False))
    assert processed.quarantine_reason == "needs_ocr"
    assert "pages [1] have no usable text layer; OCR turned off" in processed.detail
    assert processed.specs == []


def test_extraction_that_runs_out_of_time_is_killed_and_reported():
    from ysh_assets.datasheets.pipeline import extract_with_time_limit

    started = time.monotonic()
    assert extract_with_time_limit(PDFS / JINKO, 0.001) is None
    assert time.monotonic() - started < 30  # the child was killed, not waited for
    document, texts = extract_with_time_limit(PDFS / JINKO, 60)
    assert document["has_text_layer"] and len(texts) == document["pages"] == 2


def test_extract_pdf_cli_exits_non_zero_for_a_quarantined_file_and_says_why(tmp_path, capsys):
    from ysh_assets.cli import main

    fake = tmp_path / "not-a-datasheet.pdf"
    fake.write_bytes(b"GIF89a this is no PDF")
    assert main(["extract-pdf", "--rules-only", str(fake)]) == 1
    captured = capsys.readouterr()
    (printed,) = json.loads(captured.out)
    assert printed["datasheet"]["quarantine_reason"] == "not_pdf"
    assert f"{fake}: quarantined (not_pdf): no %PDF- header" in captured.err
