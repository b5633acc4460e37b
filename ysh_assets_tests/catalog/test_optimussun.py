"""The OptimusSun adapter on the real technical-sheet CSV exports (fixture copies) and on dirty variants."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ysh_assets.catalog.distributors import optimussun
from ysh_assets.catalog.records import CatalogFormatError, Product

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "catalog"
MODULES = FIXTURES / "optimussun_modules.csv"
INVERTERS = FIXTURES / "optimussun_inverters.csv"
FRONT = FIXTURES / "optimussun_Inicio.csv"


def fields(product: Product) -> dict:
    row = product.as_row()
    row.pop("raw_record")
    return row


def by_model(products: list[Product]) -> dict[str, Product]:
    return {product.model: product for product in products}


def test_modules():
    batch = optimussun.read(MODULES)
    assert (batch.distributor, batch.file) == ("optimussun", MODULES.name)
    assert len(batch.products) == 96 and batch.rejected == []
    assert {product.category for product in batch.products} == {"module"}
    assert {product.manufacturer for product in batch.products} == {
        "ASTRONERGY", "TRINA", "RISEN", "BYD", "JINKO", "SUNOVA", "TALESUN",
    }  # fmt: skip
    assert all(product.price_brl is None and product.availability is None for product in batch.products)
    assert len({product.product_id for product in batch.products}) == 96
    first = batch.products[0]
    assert fields(first) == {
        "distributor": "optimussun",
        "product_id": first.product_id,
        "category": "module",
        "name": "ASTRONERGY CHSM72M-HC-405",
        "manufacturer": "ASTRONERGY",
        "model": "CHSM72M-HC-405",
        "power_w": 405.0,
        "price_brl": None,
        "availability": None,
        "phases": None,
        "voltage_v": None,
        "efficiency_pct": 20.03,  # 405 W / (2.018 m x 1.002 m x 1000 W/m²)
        "url": None,
        "image_url": None,
        "description": None,
    }
    assert len(first.product_id) == 16
    assert json.loads(first.raw_record)["Voc (V)"] == "49.53"
    trina = by_model(batch.products)["TSM-605DEG20C.20"]
    assert (trina.manufacturer, trina.name, trina.power_w, trina.efficiency_pct) == (
        "TRINA",
        "TRINA SOLAR TSM-605DEG20C.20",
        605.0,
        21.38,
    )


def test_inverters_two_header_rows():
    batch = optimussun.read(INVERTERS)
    assert len(batch.products) + len(batch.rejected) == 107
    assert len(batch.products) == 106
    (broken,) = batch.rejected
    assert (broken.record, broken.reason) == (8, "inconsistent powers: nominal 1000 W, maximum 11000 VA")
    assert json.loads(broken.raw_record)["Modelo"] == "SUN2000-10KTL"
    assert {product.category for product in batch.products} == {"inverter"}
    assert {product.manufacturer for product in batch.products} == {"HUAWEI", "GOODWE", "FOXESS", "PHB"}
    products = by_model(batch.products)
    first = products["SUN2000L-2KTL"]
    assert fields(first) == {
        "distributor": "optimussun",
        "product_id": first.product_id,
        "category": "inverter",
        "name": "HUAWEI SUN2000L-2KTL",
        "manufacturer": "HUAWEI",
        "model": "SUN2000L-2KTL",
        "power_w": 2000.0,
        "price_brl": None,
        "availability": None,
        "phases": 1,
        "voltage_v": 220,
        "efficiency_pct": None,
        "url": None,
        "image_url": None,
        "description": None,
    }
    big = products["SUN2000-60KTL-M0"]
    assert (big.power_w, big.phases, big.voltage_v) == (60000.0, 3, 220)
    phb = products["PHB60K-MT"]
    assert (phb.manufacturer, phb.power_w, phb.phases, phb.voltage_v) == ("PHB", 60000.0, 3, 220)
    assert products["GW3600D-NS"].power_w == 3680.0  # nominal slightly above the 3600 VA maximum: kept


def test_front_sheet_is_not_a_catalog():
    with pytest.raises(CatalogFormatError, match=r"optimussun_Inicio\.csv: not a OptimusSun catalog: .*front sheet"):
        optimussun.read(FRONT)


def test_unrecognised_layouts(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("loaded src,title-left,title-right,subtitle,price\n", encoding="utf-8")
    with pytest.raises(CatalogFormatError, match=r"x\.csv: not a OptimusSun catalog: expected one of .*module sheet.*"
                       r"found header \['loaded src'"):  # fmt: skip
        optimussun.read(path)
    with pytest.raises(CatalogFormatError, match="found JSON"):
        optimussun.read(FIXTURES / "odex_odex-panels.json")


def test_dirty_rows_in_a_held_out_sheet(tmp_path):
    header = "Modelo,Fabricante,Comprimento (mm),Largura (mm),Potência Nominal (Wp)\n"
    rows = [
        "ABC-550M,Canadian,2278,1134,550",
        ",,,,",
        ",JINKO,2278,1134,550",
        "TESTE,JINKO,2278,1134,550",
        "JKM-0,JINKO,2278,1134,0",
        "JKM-X,JINKO,2278,1134,n/d",
        "JKM-9000,JINKO,2278,1134,9000",
        "JKM-1,JINKO,2278,1134",
        "ABC-550M,CANADIAN SOLAR,2278,1134,550",
        'JKM-575N,,2278,1134,"575,5"',
    ]
    path = tmp_path / "modulos-2024.csv"
    path.write_bytes((header + "\n".join(rows) + "\n").encode("cp1252"))
    batch = optimussun.read(path)
    assert len(batch.products) + len(batch.rejected) == len(rows)
    canadian, unbranded = batch.products
    assert (canadian.manufacturer, canadian.power_w, canadian.efficiency_pct) == ("CANADIAN SOLAR", 550.0, 21.29)
    assert (unbranded.manufacturer, unbranded.name, unbranded.power_w) == (None, "JKM-575N", 575.5)
    assert {rejected.record: rejected.reason for rejected in batch.rejected} == {
        2: "empty row",
        3: "no model name",
        4: "test entry 'TESTE'",
        5: "no positive nominal power ('0')",
        6: "no positive nominal power ('n/d')",
        7: "inconsistent fields: 9000 Wp on 2278 x 1134 mm is 348.4% efficient",
        8: "broken row: 4 fields, the header has 5",
        9: "conflicting copy of record 1 (same manufacturer and model, other values)",  # its name is spelled otherwise
    }
