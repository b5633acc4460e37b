"""The Solfácil adapter on the real scrape CSV and processed JSON files (fixture copies) and on dirty variants."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ysh_assets.catalog import fields as rules
from ysh_assets.catalog.distributors import solfacil
from ysh_assets.catalog.records import CatalogFormatError, Product, parse_power_w

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "catalog"
SCRAPE = FIXTURES / "solfacil_https___loja.solfacil.com.br_s_1.csv"
INVERTERS = FIXTURES / "solfacil_solfacil-inverters.json"
PANELS = FIXTURES / "solfacil_solfacil-panels.json"
BATTERIES = FIXTURES / "solfacil_solfacil-batteries.json"
HEADER = "loaded src,title-left,title-right,subtitle,price\n"
IMG = "https://cdn-ecommerce.solfacil.com.br/contents/products/{}/images/image.png"


def fields(product: Product) -> dict:
    row = product.as_row()
    row.pop("raw_record")
    return row


def by_id(products: list[Product]) -> dict[str, Product]:
    return {product.product_id: product for product in products}


def test_scrape_csv_counts_and_categories():
    batch = solfacil.read(SCRAPE)
    assert (batch.distributor, batch.file) == ("solfacil", SCRAPE.name)
    assert len(batch.products) == 83 and batch.rejected == [] and batch.kits == []
    categories = [product.category for product in batch.products]
    assert categories.count("microinverter") == 2
    assert categories.count("hybrid_inverter") == 11
    assert categories.count("other") == 1  # the EZLOGGER PRO smart meter
    assert categories.count("inverter") == 69
    assert len({product.product_id for product in batch.products}) == 83


def test_scrape_csv_exact_records():
    products = by_id(solfacil.read(SCRAPE).products)
    first = products["600340"]
    assert fields(first) == {
        "distributor": "solfacil",
        "product_id": "600340",
        "category": "microinverter",
        "name": "ENPHASE IQ8P-72-2-BR",
        "manufacturer": "ENPHASE",
        "model": "IQ8P-72-2-BR",
        "power_w": 475.0,  # `0.475KW`: a decimal, not 475 kW
        "price_brl": 1347.65,
        "availability": None,
        "phases": 1,
        "voltage_v": 220,
        "efficiency_pct": None,
        "url": None,
        "image_url": "https://cdn-ecommerce.solfacil.com.br/contents/products/600340/images/IMAGE_PRODUCT_600340.jpeg",
        "description": "MICRO INVERSOR FOTOVOLTAICO IQ8P-72-2-BR - SUL EX 0.475KW ENPHASE MONO 220V",
    }
    assert json.loads(first.raw_record)["price"] == "R$\xa01.347,65"
    goodwe = products["600246"]
    assert (goodwe.name, goodwe.model, goodwe.power_w, goodwe.price_brl) == (
        "GOODWE GW 5000-DNS-30 (16A) - AFCI",
        "GW5000-DNS-30",
        5000.0,
        4509.73,
    )
    hybrid = products["600361"]
    assert (hybrid.category, hybrid.phases, hybrid.voltage_v) == ("hybrid_inverter", 1, 127)
    big = products["600143"]
    assert (big.model, big.power_w, big.phases, big.voltage_v, big.price_brl) == (
        "GW250KN-HT",
        250000.0,
        3,
        800,
        86184.83,
    )


def test_scrape_row_without_brand_model_or_image():
    products = solfacil.read(SCRAPE).products
    livoltek = next(product for product in products if product.manufacturer == "LIVOLTEK")
    assert fields(livoltek) == {
        "distributor": "solfacil",
        "product_id": livoltek.product_id,
        "category": "inverter",
        "name": "INVERSOR FOTOVOLTAICO GT3-60K 60KW LIVOLTEK TRI 380V",
        "manufacturer": "LIVOLTEK",
        "model": "GT3-60K",
        "power_w": 60000.0,
        "price_brl": 8887.5,
        "availability": None,
        "phases": 3,
        "voltage_v": 380,
        "efficiency_pct": None,
        "url": None,
        "image_url": None,
        "description": "INVERSOR FOTOVOLTAICO GT3-60K 60KW LIVOLTEK TRI 380V",
    }
    assert livoltek.product_id == "414043ce0d18b61c"  # sha1 of distributor + name + model + title: stable
    assert solfacil.read(SCRAPE).products[19].product_id == livoltek.product_id
    assert json.loads(livoltek.raw_record)["title-left"] == ""


def test_processed_inverters():
    batch = solfacil.read(INVERTERS)
    assert len(batch.products) == 82 and batch.rejected == []
    products = by_id(batch.products)
    assert fields(products["solfacil_inverters_5"]) == {
        "distributor": "solfacil",
        "product_id": "solfacil_inverters_5",
        "category": "inverter",
        "name": "GOODWE GW 3300-XS-30 - AFCI",
        "manufacturer": "GOODWE",
        "model": "GW3300-XS-30",
        "power_w": 3300.0,
        "price_brl": 3585.88,
        "availability": "available",
        "phases": 1,
        "voltage_v": 220,
        "efficiency_pct": None,
        "url": None,
        "image_url": None,  # `/catalog/images/…` is a path inside the exporting project, not a URL
        "description": "INVERSOR FOTOVOLTAICO GW3300-XS-30 - AFCI SUL EX 3.3KW GOODWE MONO 220V",
    }
    assert products["solfacil_inverters_1"].category == "microinverter"
    assert products["solfacil_inverters_1"].power_w == 475.0
    assert products["solfacil_inverters_2"].category == "other"  # MEDIDOR INTELIGENTE, filed under inverters
    assert products["solfacil_inverters_30"].category == "hybrid_inverter"
    assert products["solfacil_inverters_16"].model == "MID 20KTL3 XL2"


def test_processed_batteries_and_placeholder_manufacturer():
    batch = solfacil.read(BATTERIES)
    assert len(batch.products) == 4 and batch.rejected == []
    products = by_id(batch.products)
    assert {product.category for product in batch.products} == {"battery"}
    # `manufacturer: SOLFACIL` is the distributor, not a brand: the title's brand replaces it, or None
    assert products["solfacil_batteries_3"].manufacturer == "UNIPOWER"
    assert products["solfacil_batteries_1"].manufacturer is None
    assert products["solfacil_batteries_1"].model == "PCU-F52"
    assert products["solfacil_batteries_4"].model == "LXU 5.0-30"
    assert fields(products["solfacil_batteries_2"]) == {
        "distributor": "solfacil",
        "product_id": "solfacil_batteries_2",
        "category": "battery",
        "name": "BATERIA LFP LYNX F (G2) LX F3.2-20 - 3.2KWH - GOODWE",
        "manufacturer": "GOODWE",
        "model": "F3.2-20",
        "power_w": None,  # 3.2 kWh is energy, not power
        "price_brl": 5983.17,
        "availability": "available",
        "phases": None,
        "voltage_v": None,
        "efficiency_pct": None,
        "url": None,
        "image_url": None,
        "description": "BATERIA LFP LYNX F (G2) LX F3.2-20 - 3.2KWH - GOODWE",
    }


def test_processed_panels_are_shifted_and_rejected():
    batch = solfacil.read(PANELS)
    assert batch.products == [] and len(batch.rejected) == 6
    assert [rejected.record for rejected in batch.rejected] == [1, 2, 3, 4, 5, 6]
    assert all(rejected.reason.startswith("fields shifted: price holds text") for rejected in batch.rejected)
    assert "MODULO FOTOVOLTAICO 585W - HANERSUN - EF. 22.6% - HN18N-72H IMP" in batch.rejected[0].reason
    assert json.loads(batch.rejected[1].raw_record)["name"] == "HANERSUN"


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_dirty_scrape_rows(tmp_path):
    rows = [
        f'{IMG.format(1)},DEYE,SUN-5K-G,INVERSOR FOTOVOLTAICO SUN-5K-G EX 5KW DEYE MONO 220V,"R$ 3.531,60"',
        ",,,,",
        f'{IMG.format(2)},TESTE,Teste 3,Teste 3,"R$ 1,00"',
        f'{IMG.format(3)},,,,"R$ 10,00"',
        f"{IMG.format(4)},GOODWE,GW5000-NS,INVERSOR GW5000-NS 5KW GOODWE MONO 220V,Indisponível",
        f'{IMG.format(5)},GOODWE,GW6000-NS,INVERSOR GW6000-NS 6KW GOODWE MONO 220V,"R$ 0,00"',
        f"{IMG.format(6)},GOODWE,GW7000-NS,INVERSOR GW7000-NS 7KW GOODWE MONO 220V,1,347.65",
        f"{IMG.format(7)},GOODWE,GW8000-NS,INVERSOR GW8000-NS 8KW GOODWE MONO 220V,consulte",
        f'{IMG.format(8)},GOODWE,GW9000-NS,"R$ 9,00",INVERSOR GW9000-NS 9KW GOODWE MONO 220V',
        f'{IMG.format(1)},DEYE,SUN-5K-G,INVERSOR FOTOVOLTAICO SUN-5K-G EX 5KW DEYE MONO 220V,"R$ 3.531,60"',
        "",
    ]
    batch = solfacil.read(write(tmp_path, "other-name.csv", HEADER + "\n".join(rows) + "\n"))
    assert len(batch.products) + len(batch.rejected) == 11
    assert [product.product_id for product in batch.products] == ["1", "4"]
    unavailable = batch.products[1]
    assert (unavailable.price_brl, unavailable.availability) == (None, "unavailable")
    reasons = {rejected.record: rejected.reason for rejected in batch.rejected}
    assert reasons[2] == "empty row"
    assert reasons[3] == "store test entry 'TESTE Teste 3'"
    assert reasons[4] == "no name (brand, model and title are empty)"
    assert reasons[6] == "non-positive price 'R$ 0,00'"
    assert reasons[7] == "broken row: 6 fields, the header has 5"
    assert reasons[8] == "unparseable price 'consulte'"
    assert reasons[9].startswith("fields shifted: price holds text 'INVERSOR GW9000-NS")
    assert reasons[10] == "duplicate product id '1' (record 1)"
    assert reasons[11] == "empty row"


def test_dirty_processed_records_and_cp1252(tmp_path):
    records = [
        {"id": "a", "name": "GOODWE GW5000-NS", "manufacturer": "GOODWE", "category": "inverters",
         "price": "R$ 4.000,00", "source": "loja.solfacil.com.br", "availability": "Indisponível",
         "description": "INVERSOR GW5000-NS 5KW GOODWE MONOFÁSICO 220V", "pricing": {"price": 4000.0}},
        {"id": "b", "name": "", "price": "R$ 1,00", "source": "loja.solfacil.com.br"},
        {"id": "c", "name": "produto teste", "price": "R$ 1,00", "source": "loja.solfacil.com.br"},
        {"id": "d", "name": "X", "price": "R$ 2.000,00", "pricing": {"price": 1999.0}, "source": "solfacil"},
        ["not", "a", "record"],
        {"id": "f", "name": "Y", "price": "R$ 5,00", "pricing": {"price": 5, "currency": "USD"}, "source": "x"},
        {"id": "g", "name": "Painel Canadian 550W", "price": "", "source": "loja.solfacil.com.br"},
        {"name": " ", "price": None, "source": ""},
    ]  # fmt: skip
    path = write(tmp_path, "held-out.json", json.dumps(records, ensure_ascii=False), encoding="cp1252")
    batch = solfacil.read(path)
    assert len(batch.products) + len(batch.rejected) == len(records)
    first, panel = batch.products
    assert (first.availability, first.price_brl, first.phases, first.category) == ("unavailable", 4000.0, 1, "inverter")
    assert (panel.category, panel.manufacturer, panel.power_w, panel.price_brl) == (
        "module",
        "CANADIAN SOLAR",
        550.0,
        None,
    )
    reasons = {rejected.record: rejected.reason for rejected in batch.rejected}
    assert reasons == {
        2: "no name",
        3: "store test entry 'produto teste'",
        4: "price 'R$ 2.000,00' disagrees with pricing.price 1999.0",
        5: "not a JSON object (list)",
        6: "price in USD, not BRL",
        8: "empty record",
    }


def test_unrecognised_layouts(tmp_path):
    with pytest.raises(CatalogFormatError, match=r"x\.csv: not a Solfácil catalog: expected one of .*raw scrape CSV"):
        solfacil.read(write(tmp_path, "x.csv", "Modelo,Fabricante\nA,B\n"))
    with pytest.raises(CatalogFormatError, match=r"found header \['Modelo', 'Fabricante'\]"):
        solfacil.read(write(tmp_path, "x.csv", "Modelo,Fabricante\nA,B\n"))
    with pytest.raises(CatalogFormatError, match=r"found a JSON object with keys \['kits'\]"):
        solfacil.read(write(tmp_path, "y.json", '{"kits": []}'))
    with pytest.raises(CatalogFormatError, match=r"found records from plataforma\.odex\.com\.br"):
        solfacil.read(FIXTURES / "odex_odex-panels.json")
    with pytest.raises(CatalogFormatError, match="invalid JSON"):
        solfacil.read(write(tmp_path, "z.json", "[{"))


def test_oversized_file_refused_before_reading(tmp_path):
    path = tmp_path / "huge.csv"
    with path.open("wb") as handle:
        handle.truncate(rules.MAX_FILE_BYTES + 1)
    assert os.path.getsize(path) > 50 << 20
    with pytest.raises(CatalogFormatError, match="more than a Solfácil catalog file may hold"):
        solfacil.read(path)


@pytest.mark.parametrize(
    ("texts", "label", "category"),
    [
        (["MICRO INVERSOR FOTOVOLTAICO IQ8P"], None, "microinverter"),
        (["Microinversor Deye SUN-M80G4 800W 2 painéis"], "inverters", "microinverter"),
        (["Inversor Híbrido Growatt SPH 3000"], None, "hybrid_inverter"),
        (["Hybrid inverter 5kW"], None, "hybrid_inverter"),
        (["Inversor Grid-Tie SAJ R5-3K-T2 2 MPPT"], None, "inverter"),
        (["MODULO FOTOVOLTAICO 585W"], None, "module"),
        (["Painel Solar Odex 585W"], None, "module"),
        (["Controlador de Carga MPPT 40A Epever"], None, "charge_controller"),
        (["Estrutura para telhado cerâmico"], None, "structure"),
        (["UNIDADE DE CONTROLE - PARA BATERIA LX"], None, "battery"),
        (["GOODWE GW2000-MIS", "MICRO INVERSOR GW2000-MIS"], "inverters", "microinverter"),
        (["GOODWE GW10K"], "inverters", "inverter"),
        (["ABC 123"], "panels", "module"),
        (["ABC 123"], "cables", "other"),
        (["MEDIDOR INTELIGENTE - EZLOGGER PRO"], "inverters", "other"),
    ],
)
def test_category_rules(texts, label, category):
    assert rules.classify_category(texts, label) == category


@pytest.mark.parametrize(
    ("text", "brand", "model"),
    [
        ("Inversor Grid-Tie SAJ R5-3K-T2 BRL 3kW Monofásico 220V 2 MPPT", "SAJ", "R5-3K-T2"),
        ("HUAWEI ON-GRID 75KW - 220V - 7 MPPT - AFCI (SUN2000-75K-MGL0-BR)", "HUAWEI", "SUN2000-75K-MGL0-BR"),
        ("Inversor Grid-Tie Growatt MIN 3000TL-X 3kW Monofásico 220V", "Growatt", "MIN 3000TL-X"),
        ("Inversor Híbrido Growatt SPH 3000 3kW Monofásico 220V 48V", "Growatt", "SPH 3000"),
        ("Painel Solar Jinko 610W", "Jinko", None),
        ("INVERSOR FOTOVOLTAICO GT3-60K 60KW LIVOLTEK TRI 380V", "LIVOLTEK", "GT3-60K"),
    ],
)
def test_model_rules(text, brand, model):
    assert rules.extract_model(text, brand) == model


def test_value_rules():
    assert rules.normalize_availability("Disponível") == "available"
    assert rules.normalize_availability("disponivel") == "available"
    assert rules.normalize_availability("Indisponível") == "unavailable"
    assert rules.normalize_availability("Esgotado") == "unavailable"
    assert rules.normalize_availability("sob encomenda") is None
    assert rules.parse_phases("Trifásico 380V") == 3
    assert rules.parse_phases("GOODWE MONO 220V") == 1
    assert rules.parse_phases("Bifásico 220V") is None
    assert rules.parse_phases("MONOCRISTALINO TRINA") is None
    assert rules.parse_voltage("5kW Monofásico 220V 48V 2 MPPT") == 220
    assert rules.parse_voltage("BATERIA 48V 100AH") is None
    assert rules.parse_efficiency("MODULO 585W - EF. 22.6% - HN18N") == 22.6
    assert rules.parse_efficiency("570W N-TYPE (22,1% EF.)") == 22.1
    assert parse_power_w("EX 0.475KW ENPHASE") == 475.0  # a leading 0 is never a thousands group
    assert parse_power_w("2,25 kW") == 2250.0
