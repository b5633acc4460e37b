"""The search index in Qdrant local mode (the same client calls the server gets): idempotent upserts, deletions,
the alias swap to a new model, filters, Portuguese and English queries, sparse terms of model numbers, the
`ysh search --json` contract, and the asset end to end on both profiles' warehouses."""

import json
import threading
import time
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from ysh_assets.catalog import definitions as catalog
from ysh_assets.catalog.sources import CatalogSource
from ysh_assets.cli import main
from ysh_assets.io_managers.duckdb import DuckDBPolarsWarehouseIOManager
from ysh_assets.io_managers.object_store import ObjectStore
from ysh_assets.io_managers.postgres import PostgresPolarsIOManager
from ysh_assets.resources import search_index_for
from ysh_assets.search import definitions as search
from ysh_assets.search import sparse
from ysh_assets.search.documents import kit_documents, product_documents, spec_documents
from ysh_assets.search.index import IndexBusy, SearchIndex
from ysh_assets.settings import Settings
from ysh_assets.warehouse.sql import Warehouse
from ysh_assets_tests.doubles.ollama_server import EMBED_DIMENSION, OllamaServer

DAY = date(2026, 12, 1)


def product(pid: str, name: str, category: str, manufacturer: str, model: str, power: float, price: float | None):
    return {
        "snapshot_date": DAY,
        "distributor": "odex",
        "product_id": pid,
        "category": category,
        "name": name,
        "manufacturer": manufacturer,
        "model": model,
        "power_w": power,
        "price_brl": price,
        "url": f"https://example.test/{pid}",
        "description": None,
        "certified": pid == "p1",
        "match_confidence": 1.0 if pid == "p1" else None,
    }


PRODUCTS = [
    product("p1", "Inversor Híbrido Deye SUN-5K-SG03LP1 5kW Monofásico", "hybrid_inverter", "DEYE",
            "SUN-5K-SG03LP1", 5000, 7990.0),
    product("p2", "Inversor Huawei SUN2000-75KTL-M1 75kW Trifásico", "inverter", "HUAWEI", "SUN2000-75KTL-M1",
            75000, 38000.0),
    product("p3", "Painel Solar Bifacial Jinko 580W JKM580N-72HL4-BDV", "module", "JINKO", "JKM580N-72HL4-BDV",
            580, 690.0),
    product("p4", "Bateria de Lítio Foxess EP11 11 kWh", "battery", "FOXESS", "EP11", None, 16666.67),
    product("p5", "Microinversor Deye SUN2000G3 2000W Monofásico", "microinverter", "DEYE", "SUN2000G3", 2000,
            None),
]  # fmt: skip
KITS = pl.DataFrame(
    [
        {"snapshot_date": DAY, "distributor": "fotus", "kit_id": "k1", "name": "Kit Solar 4,26 kWp Trina + Growatt",
         "kit_type": "grid_tie", "system_power_kwp": 4.26, "price_brl": 9800.0, "url": None}
    ]
)  # fmt: skip
COMPONENTS = pl.DataFrame(
    [{"snapshot_date": DAY, "distributor": "fotus", "kit_id": "k1", "component_index": 0, "manufacturer": "TRINA",
      "model": "TSM-710NEG21C.20", "quantity": 6}]
)  # fmt: skip
SPECS = pl.DataFrame(
    [
        {"sha256": "ab" * 32, "model": "SG5K-D-10", "manufacturer": "Sungrow", "equipment_type": "inverter_string",
         "pmax_w": None, "ac_power_w": 4990.0, "usable_kwh": None, "efficiency_pct": None,
         "provenance": json.dumps({"ac_power_w": {"page": 2, "source": "rules"}}),
         "filename": "Sungrow_SG3K-D_SG5K-D.pdf", "object_key": "incoming/Sungrow_SG3K-D_SG5K-D.pdf"}
    ]
)  # fmt: skip


def documents(products=PRODUCTS):
    return product_documents(pl.DataFrame(products)) + kit_documents(KITS, COMPONENTS) + spec_documents(SPECS)


@pytest.fixture(params=["edge", "qdrant-local"])
def index(request, tmp_path) -> SearchIndex:
    """Both local engines: Qdrant Edge (the local profile) and qdrant-client's local mode, which takes the calls
    the Qdrant server gets (the services profile's code path)."""
    index = SearchIndex(path=str(tmp_path / "qdrant"), local_engine=request.param, lock_wait_seconds=2)
    index.sync(documents())
    return index


def keys(hits) -> list[str]:
    return [hit.payload["key"] for hit in hits]


def count(index: SearchIndex) -> int:
    with index.client() as backend:
        return backend.count(index.alias)


def test_a_rerun_upserts_the_same_points_and_embeds_nothing(index):
    again = index.sync(documents())
    assert (again.added, again.updated, again.deleted, again.embedded, again.unchanged) == (0, 0, 0, 0, 7)
    assert count(index) == 7


def test_a_changed_source_is_embedded_again_and_a_vanished_one_deleted(index):
    changed = [dict(p) for p in PRODUCTS[:-1]]
    changed[1]["price_brl"] = 36500.0
    report = index.sync(documents(changed))
    assert (report.updated, report.added, report.deleted, report.unchanged) == (1, 0, 1, 5)
    assert count(index) == 6
    assert "odex:p5" not in keys(index.search("SUN2000G3 microinversor", limit=6))
    (huawei,) = [h for h in index.search("SUN2000-75KTL-M1", limit=1)]
    assert huawei.payload["price_brl"] == 36500.0


def test_a_new_model_builds_beside_the_live_collection_and_the_alias_moves_when_it_is_complete(index):
    with OllamaServer(models=("embed-test:latest",)) as ollama:
        new = SearchIndex(
            path=index.path,
            local_engine=index.local_engine,
            embedding_model="ollama:embed-test",
            ollama_url=ollama.base_url,
        )
        assert new.collection != index.collection
        report = new.sync(documents(PRODUCTS[:2]), publish=False)  # complete, not yet live
        assert report.added == 4  # every point is new in the new model's collection
        # A search during the rebuild answers from the old collection, embedded by the old model.
        during = new.search("Jinko 580W bifacial", limit=3)
        assert "odex:p3" in keys(during)
        with new.client(write=True) as backend:
            new.publish(backend)
            names = set(backend.names())
        assert names == {new.collection}  # the old model's collection is dropped after the swap
        after = new.search("Jinko 580W bifacial", limit=10)
        assert "odex:p3" not in keys(after)
        assert count(new) == 4
        with new.client() as backend:
            sizes = {record.dense_size for record in backend.scroll(new.alias, fields=[], vectors=True)}
        assert sizes == {EMBED_DIMENSION}
        assert any(r.path == "/api/embed" for r in ollama.requests)


def test_filters_by_kind_category_and_price(index):
    assert {h.payload["kind"] for h in index.search("solar", kind="kit", limit=10)} == {"kit"}
    assert {h.payload["category"] for h in index.search("deye", category="microinverter", limit=10)} == {
        "microinverter"
    }
    cheap = index.search("inversor", max_price=10_000, limit=10)
    assert cheap and all(h.payload["price_brl"] is not None and h.payload["price_brl"] <= 10_000 for h in cheap)


def test_the_same_question_in_portuguese_and_english_finds_the_same_product(index):
    portuguese = index.search("inversor híbrido monofásico 5 kW", limit=3)
    english = index.search("single phase hybrid inverter 5 kW", limit=3)
    assert keys(portuguese)[0] == keys(english)[0] == "odex:p1"


def test_an_exact_model_number_wins(index):
    assert keys(index.search("SUN2000-75KTL-M1", limit=1)) == ["odex:p2"]
    assert keys(index.search("SG5K-D-10", limit=1)) == [f"{'ab' * 32}:SG5K-D-10"]
    (spec,) = index.search("SG5K-D-10", limit=1)
    assert spec.to_json()["source"] == {
        "datasheet_sha256": "ab" * 32,
        "pages": [2],
        "file": "incoming/Sungrow_SG3K-D_SG5K-D.pdf",
    }


def test_spec_provenance_reads_as_json_text_or_as_decoded_jsonb():
    # psycopg decodes jsonb into dicts, and polars makes a struct of them: a field another row has is None here
    provenance = [{"ac_power_w": {"page": 2, "source": "rules"}, "weight_kg": None}]
    decoded = SPECS.with_columns(pl.Series("provenance", provenance))
    (text,) = spec_documents(SPECS)
    (jsonb,) = spec_documents(decoded)
    assert text.payload["pages"] == jsonb.payload["pages"] == [2]


def test_sparse_terms_keep_model_numbers_whole_and_fold_accents():
    terms = sparse.terms("Inversor Híbrido SUN2000-75KTL-M1 5 kW")
    assert {"inversor", "c:inverter", "hibrido", "c:hybrid", "sun2000-75ktl-m1", "sun200075ktlm1"} <= set(terms)
    assert {"sun2000", "75ktl", "m1", "5kw", "5000w"} <= set(terms)
    assert sparse.terms("5000W")[-1] == "5000w" and "5000w" in sparse.terms("5 kW")
    query = sparse.query_vector("SUN2000-75KTL-M1")
    weights = dict(zip(query.indices, query.values, strict=True))
    assert weights[sparse.term_id("sun2000-75ktl-m1")] == 2.0  # a model code outweighs a word
    document = sparse.document_vector("Inversor Huawei SUN2000-75KTL-M1")
    assert sparse.term_id("sun2000-75ktl-m1") in document.indices


def test_a_reader_waits_for_a_writer_in_local_mode_and_says_so_when_it_cannot(index):
    release = threading.Event()

    def hold() -> None:
        with index.client(write=True):
            release.wait(5)

    writer = threading.Thread(target=hold)
    writer.start()
    time.sleep(0.3)
    threading.Timer(0.8, release.set).start()
    started = time.monotonic()
    assert keys(index.search("SG5K-D-10", limit=1))  # waited for the lock, then answered
    assert time.monotonic() - started >= 0.4
    writer.join()
    impatient = SearchIndex(path=index.path, local_engine=index.local_engine, lock_wait_seconds=0.3)
    with index.client(write=True), pytest.raises(IndexBusy, match="locks it"):
        impatient.search("x")


def test_ysh_search_json_prints_one_object_per_result(index, tmp_path, monkeypatch, capsys):
    # Edge is the local profile's engine; qdrant-client's local mode is the services profile's, without a server.
    monkeypatch.setenv("YSH_PROFILE", "local" if index.local_engine == "edge" else "services")
    monkeypatch.setenv("YSH_DATA_DIR", str(tmp_path))  # the index fixture lives in tmp_path/qdrant
    monkeypatch.setenv("YSH_QDRANT_URL", "" if index.local_engine == "edge" else "local")
    assert main(["search", "--json", "--limit", "2", "hybrid", "inverter", "5", "kW"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == 2 and rows[0]["rank"] == 1
    assert set(rows[0]) == {"rank", "score", "kind", "title", "manufacturer", "model", "price_brl", "power_w",
                            "category", "source"}  # fmt: skip
    assert rows[0]["model"] == "SUN-5K-SG03LP1" and rows[0]["source"]["distributor"] == "odex"
    assert main(["search", "--kind", "kit", "kit solar"]) == 0
    assert "Kit Solar 4,26 kWp" in capsys.readouterr().out


def test_ysh_search_without_an_index_says_how_to_build_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("YSH_PROFILE", "local")
    monkeypatch.setenv("YSH_DATA_DIR", str(tmp_path))
    assert main(["search", "anything"]) == 1
    assert "materialize search/vector_index" in capsys.readouterr().err


def test_both_profiles_reach_qdrant_through_one_resource(tmp_path):
    local = search_index_for(Settings.from_env({"YSH_PROFILE": "local", "YSH_DATA_DIR": str(tmp_path)}))
    assert (local.url, local.path, local.local_engine) == ("", str(tmp_path / "qdrant"), "edge")
    server = search_index_for(Settings.from_env({"YSH_PROFILE": "services"}))
    assert server.url == "http://127.0.0.1:6333"
    no_server = search_index_for(Settings.from_env({"YSH_PROFILE": "services", "YSH_QDRANT_URL": "local"}))
    assert (no_server.url, no_server.local_engine) == ("", "qdrant-local")


# --------------------------------------------------------------------------------------------------------------
# The asset on both warehouses


def _warehouses(tmp_path, empty_pg_dsn=None):
    if empty_pg_dsn:
        return PostgresPolarsIOManager(dsn=empty_pg_dsn), Warehouse(dsn=empty_pg_dsn)
    path = str(tmp_path / "warehouse.duckdb")
    return DuckDBPolarsWarehouseIOManager(database=path), Warehouse(duckdb_path=path)


@pytest.mark.parametrize("profile", ["local", "services"])
def test_the_asset_indexes_the_catalog_with_its_checks_in_the_same_step(profile, tmp_path, request):
    dsn = request.getfixturevalue("empty_pg_dsn") if profile == "services" else None
    io, warehouse = _warehouses(tmp_path, dsn)
    store = ObjectStore(root=(tmp_path / "objects").as_uri())
    index = SearchIndex(path=str(tmp_path / "qdrant"), local_engine="edge" if profile == "local" else "qdrant-local")
    resources = {
        "io_manager": io,
        "warehouse": warehouse,
        "catalog_source": CatalogSource(object_store=store, bundled=True),
        "search_index": index,
    }
    defs = dg.Definitions.merge(catalog.defs, search.defs, dg.Definitions(resources=resources))
    with dg.instance_for_test() as instance:
        partition = str(dg.MultiPartitionKey({"day": DAY.isoformat(), "distributor": "odex"}))
        loaded = defs.resolve_job_def("catalog_daily_job").execute_in_process(
            instance=instance, partition_key=partition, raise_on_error=False
        )
        assert loaded.success
        products = warehouse.scalar("SELECT count(*) FROM products.products")
        first = defs.resolve_job_def("search_index_job").execute_in_process(instance=instance)
        second = defs.resolve_job_def("search_index_job").execute_in_process(instance=instance)
    (materialization,) = first.asset_materializations_for_node("search__vector_index")
    assert materialization.metadata["points"].value == products > 40
    assert materialization.metadata["embedded"].value == products
    (again,) = second.asset_materializations_for_node("search__vector_index")
    assert (again.metadata["embedded"].value, again.metadata["unchanged"].value) == (0, products)
    checks = {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
              for e in first.all_events if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION}  # fmt: skip
    assert checks == {
        "vectors_have_model_dimension": True,
        "point_count_matches_sources": True,
        "canary_queries_find_their_rows": True,
    }
    assert Path(index.path).is_dir()
