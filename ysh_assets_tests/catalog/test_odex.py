"""The ODEX adapter on the real processed JSON files (fixture copies) and on dirty variants."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ysh_assets.catalog.distributors import odex
from ysh_assets.catalog.records import CatalogFormatError, Product

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "catalog"
INVERTERS = FIXTURES / "odex_odex-inverters.json"
PANELS = FIXTURES / "odex_odex-panels.json"


def fields(product: Product) -> dict:
    row = product.as_row()
    row.pop("raw_record")
    return row


def by_id(products: list[Product]) -> dict[str, Product]:
    return {product.product_id: product for product in products}


def test_inverters_counts_and_categories():
    batch = odex.read(INVERTERS)
    assert (batch.distributor, batch.file) == ("odex", INVERTERS.name)
    assert len(batch.products) == 45 and batch.rejected == []
    categories = [product.category for product in batch.products]
    assert (categories.count("inverter"), categories.count("hybrid_inverter"), categories.count("microinverter")) == (
        30,
        12,
        3,
    )
    assert {product.manufacturer for product in batch.products} == {"SAJ", "GROWATT", "CHINT", "SOFAR", "DEYE", "SOLAX"}
    assert all(product.model for product in batch.products)


def test_inverters_exact_records():
    products = by_id(odex.read(INVERTERS).products)
    saj = products["odex_inverters_ODEX-INV-SAJ-3000W"]
    assert fields(saj) == {
        "distributor": "odex",
        "product_id": "odex_inverters_ODEX-INV-SAJ-3000W",
        "category": "inverter",
        "name": "Inversor Grid-Tie SAJ R5-3K-T2 BRL 3kW Monofásico 220V 2 MPPT",
        "manufacturer": "SAJ",
        "model": "R5-3K-T2",
        "power_w": 3000.0,
        "price_brl": 1599.0,
        "availability": "available",
        "phases": 1,
        "voltage_v": 220,
        "efficiency_pct": None,
        "url": None,
        "image_url": None,
        "description": "Inversor Grid-Tie SAJ R5-3K-T2 BRL 3kW Monofásico 220V 2 MPPT",
    }
    assert json.loads(saj.raw_record)["image"] == "/catalog/images/ODEX-INVERTERS/276954.jpg"
    hybrid = products["odex_inverters_ODEX-INV-SOLAX-8000W"]
    assert fields(hybrid) | {"description": None} == {
        "distributor": "odex",
        "product_id": "odex_inverters_ODEX-INV-SOLAX-8000W",
        "category": "hybrid_inverter",
        "name": "Inversor Híbrido SolaX X3-Hybrid-8.0-D 8kW Trifásico 380V 96V 2 MPPT",
        "manufacturer": "SOLAX",
        "model": "X3-Hybrid-8.0-D",
        "power_w": 8000.0,
        "price_brl": 7999.0,
        "availability": "available",
        "phases": 3,
        "voltage_v": 380,
        "efficiency_pct": None,
        "url": None,
        "image_url": None,
        "description": None,
    }
    micro = products["odex_inverters_ODEX-INV-DEYE-800W"]
    assert (micro.category, micro.model, micro.power_w, micro.price_brl, micro.phases, micro.voltage_v) == (
        "microinverter",
        "SUN-M80G4-EU-Q0",
        800.0,
        986.0,
        None,
        220,
    )
    assert products["odex_inverters_ODEX-INV-SAJ-8000W"].phases is None  # bifásico
    assert products["odex_inverters_ODEX-INV-GROWATT-3000W"].model == "MIN 3000TL-X"
    assert products["odex_inverters_ODEX-INV-GROWATT-3000W-1"].model == "SPH 3000"
    assert products["odex_inverters_ODEX-INV-GROWATT-125000W"].price_brl == 36667.0
    assert products["odex_inverters_ODEX-INV-CHINT-8000W"].model == "NXI-8.0K-T3"


def test_panels():
    batch = odex.read(PANELS)
    assert len(batch.products) == 9 and batch.rejected == []
    assert {product.category for product in batch.products} == {"module"}
    assert [product.manufacturer for product in batch.products] == ["ODEX"] * 5 + [
        "ASTRONERGY",
        "TSUN",
        "JINKO",
        "JINKO",
    ]
    jinko = by_id(batch.products)["odex_inverters_ODEX-PAINEL-JINKO-615W"]
    assert fields(jinko) == {
        "distributor": "odex",
        "product_id": "odex_inverters_ODEX-PAINEL-JINKO-615W",
        "category": "module",
        "name": "Painel Solar Jinko 615W",
        "manufacturer": "JINKO",
        "model": None,  # the file's `model` repeats the manufacturer; the title has no model code
        "power_w": 615.0,
        "price_brl": 510.0,
        "availability": "available",
        "phases": None,
        "voltage_v": None,
        "efficiency_pct": None,
        "url": None,
        "image_url": None,
        "description": "Painel Solar Jinko 615W",
    }


def test_dirty_records_in_a_held_out_file(tmp_path):
    base = {"manufacturer": "Deye", "model": "", "category": "inverters", "source": "plataforma.odex.com.br"}
    records = [
        base | {"id": "1", "name": "Inversor Deye SUN-5K-G 5kW Monofásico 220V", "price": "Indisponível",
                "availability": "indisponivel"},
        base | {"id": "2", "name": "Teste 3", "price": "R$ 10,00"},
        base | {"id": "3", "name": "Inversor Deye SUN-6K-G 6kW", "price": "R$ -5,00"},
        base | {"id": "4", "name": "Inversor Deye SUN-7K-G 7kW", "price": "abc"},
        base | {"id": "5", "name": "Inversor Deye SUN-8K-G 8kW", "price": "Inversor Deye SUN-8K-G 8kW Trifásico"},
        base | {"id": "6", "name": "Inversor Deye SUN-9K-G 9kW", "price": "R$ 1.000,00", "model": "SUN-9K-G03"},
        base | {"id": "6", "name": "Inversor Deye SUN-9K-G 9kW", "price": "R$ 1.000,00"},
        {},
    ]  # fmt: skip
    path = tmp_path / "odex-hybrids.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8-sig")
    batch = odex.read(path)
    assert len(batch.products) + len(batch.rejected) == len(records)
    unavailable, given_model = batch.products
    assert (unavailable.price_brl, unavailable.availability, unavailable.model) == (None, "unavailable", "SUN-5K-G")
    assert given_model.model == "SUN-9K-G03"  # a real `model` field is used as given
    assert {rejected.record: rejected.reason for rejected in batch.rejected} == {
        2: "store test entry 'Teste 3'",
        3: "non-positive price 'R$ -5,00'",
        4: "unparseable price 'abc'",
        5: "fields shifted: price holds text 'Inversor Deye SUN-8K-G 8kW Trifásico' and name holds "
        "'Inversor Deye SUN-8K-G 8kW'; the record's real price is not in it",
        7: "duplicate product id '6' (record 6)",
        8: "empty record",
    }


def test_unrecognised_layouts(tmp_path):
    csv_file = tmp_path / "odex.csv"
    csv_file.write_text("loaded src,title-left,price\n", encoding="utf-8")
    with pytest.raises(
        CatalogFormatError,
        match=r"odex\.csv: not a ODEX catalog: expected one of .*processed JSON list.*found header \['loaded src'",
    ):
        odex.read(csv_file)
    with pytest.raises(CatalogFormatError, match=r"found a JSON list with keys \['kwp', 'sku'\]"):
        json_file = tmp_path / "kits.json"
        json_file.write_text('[{"sku": 1, "kwp": 2}]', encoding="utf-8")
        odex.read(json_file)
    with pytest.raises(CatalogFormatError, match=r"found records from loja\.solfacil\.com\.br"):
        odex.read(FIXTURES / "solfacil_solfacil-batteries.json")
