"""The Fortlev adapter on the real fortlevsolar.app files (byte-for-byte copies in fixtures/catalog/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ysh_assets.catalog.distributors import fortlev
from ysh_assets.catalog.records import CATEGORIES, CatalogFormatError, Kit, KitComponent, Product, raw_json

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "catalog"
INVERTERS = FIXTURES / "fortlev_fortlev-inverters.json"
PANELS = FIXTURES / "fortlev_fortlev-panels.json"
BATTERIES = FIXTURES / "fortlev_fortlev-batteries.json"
KITS = FIXTURES / "fortlev_fortlev-kits-enhanced.json"


def _records(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))


def _source(path: Path, source_id: str) -> dict:
    return next(record for record in _records(path) if record["id"] == source_id)


def _product(batch, product_id: str) -> Product:
    return next(product for product in batch.products if product.product_id == product_id)


def _write(tmp_path: Path, records, name: str = "some-export.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("path", "products", "kits", "rejected"),
    [(INVERTERS, 149, 0, 4), (PANELS, 4, 0, 0), (BATTERIES, 3, 0, 1), (KITS, 0, 5, 0)],
)
def test_every_record_is_accounted_for(path, products, kits, rejected):
    batch = fortlev.read(path)
    total = len(_records(path))
    assert (len(batch.products), len(batch.kits), len(batch.rejected)) == (products, kits, rejected)
    assert products + kits + rejected == total
    assert batch.distributor == "fortlev" and batch.file == path.name
    assert all(product.category in CATEGORIES and product.category != "kit" for product in batch.products)
    assert len({product.product_id for product in batch.products}) == len(batch.products)


def test_inverter_with_parenthesized_model():
    product = _product(fortlev.read(INVERTERS), "fortlev_inverters_IIN00384")
    assert product == Product(
        distributor="fortlev",
        product_id="fortlev_inverters_IIN00384",
        category="inverter",
        name="HUAWEI ON-GRID 75KW - 220V - 7 MPPT - AFCI (SUN2000-75K-MGL0-BR)",
        manufacturer="HUAWEI",
        model="SUN2000-75K-MGL0-BR",
        power_w=75000.0,
        price_brl=49856.68,
        availability="available",
        phases=None,
        voltage_v=220,
        efficiency_pct=None,
        url=None,
        image_url="https://prod-platform-api.s3.amazonaws.com/components/68c008be7a9dce9e6f130faa/IIN00384.png",
        description="HUAWEI ON-GRID 75KW - 220V - 7 MPPT - AFCI (SUN2000-75K-MGL0-BR)",
        raw_record=raw_json(_source(INVERTERS, "fortlev_inverters_IIN00384")),
    )


def test_inverter_name_whitespace_is_collapsed_and_decimal_kw_parsed():
    batch = fortlev.read(INVERTERS)
    huawei = _product(batch, "fortlev_inverters_IIN00214")
    assert huawei.name == "HUAWEI ON-GRID 250KW - 800V - 6 MPPT - AFCI (SUN2000-250KTL-H1)"
    assert (huawei.power_w, huawei.voltage_v, huawei.model) == (250000.0, 800, "SUN2000-250KTL-H1")
    foxess = _product(batch, "fortlev_inverters_IIN00261")
    assert (foxess.manufacturer, foxess.model, foxess.power_w, foxess.price_brl) == (
        "FOXESS",
        "VL37.5",
        37500.0,
        23326.6,
    )
    off_grid = _product(batch, "fortlev_inverters_IIN00182")
    assert (off_grid.category, off_grid.model, off_grid.power_w) == ("inverter", "SPF5000ES", 5000.0)


def test_inverter_model_after_the_brand_and_none_when_unsure():
    batch = fortlev.read(INVERTERS)
    assert _product(batch, "fortlev_inverters_IIN00358").model == "MAC-36KTL3-XL2"
    assert _product(batch, "fortlev_inverters_IIN00310").model == "110K-5G-PRO"
    assert _product(batch, "fortlev_inverters_IIN00104").model == "GW50KN-MT"
    neo = _product(batch, "fortlev_inverters_IIN00209")  # GROWATT NEO 2000M - X - 2000W - 220V
    assert (neo.model, neo.power_w, neo.voltage_v) == (None, 2000.0, 220)
    # "(MC4)" is a connector standard, not the model: the code in the title is
    assert _product(batch, "fortlev_inverters_IIN00282").model == "PVG-3-20A-L"


def test_accessories_in_the_inverter_section_are_other():
    batch = fortlev.read(INVERTERS)
    other = {
        "fortlev_inverters_IIN00373",  # MEDIDOR TRIF. SOLIS
        "fortlev_inverters_IIN00372",  # CONTROLADOR DE EXPORTAÇÃO
        "fortlev_inverters_IIN00278",  # NEP CONTROLADOR DE TENSÃO ... P/ INVERSOR
        "fortlev_inverters_IIN00040",  # CAIXA DE MONITORAMENTO PARA INVERSORES
        "fortlev_inverters_IIN00334",  # SMART METER FOXESS
        "fortlev_inverters_IIN00369",  # HUAWEI LOGGER
        "fortlev_inverters_IIN00354",  # CONEXTOR AC MACHO (sic)
        "fortlev_inverters_IIN00093",  # EV KIT, CABLE
    }
    for product_id in other:
        assert _product(batch, product_id).category == "other", product_id
    assert sum(product.category == "inverter" for product in batch.products) == 114
    assert sum(product.category == "other" for product in batch.products) == 35
    meter = _product(batch, "fortlev_inverters_IIN00373")
    assert (meter.manufacturer, meter.phases, meter.model) == ("SOLIS", 3, None)
    assert _product(batch, "fortlev_inverters_IIN00174").phases == 3  # TRIFASICO
    assert _product(batch, "fortlev_inverters_IIN00168").phases is None  # MONO 220 / TRI 380V: both


def test_unknown_manufacturer_falls_back_to_the_name():
    batch = fortlev.read(INVERTERS)
    assert _product(batch, "fortlev_inverters_IIN00355").manufacturer is None  # "Unknown", no brand in name
    assert _product(batch, "fortlev_inverters_IIN00300").manufacturer is None


def test_panels_exact():
    batch = fortlev.read(PANELS)
    longi = _product(batch, "fortlev_panels_IMO00132")
    assert longi == Product(
        distributor="fortlev",
        product_id="fortlev_panels_IMO00132",
        category="module",
        name="PAINEL LONGI LR7-72HTH-630M HORIZON",
        manufacturer="LONGI",
        model="LR7-72HTH-630M",
        power_w=None,  # the name states no power, only the model code
        price_brl=695.83,
        availability="available",
        phases=None,
        voltage_v=None,
        efficiency_pct=None,
        url=None,
        image_url="https://prod-platform-api.s3.amazonaws.com/components/68cbfb5b8434a2f72c363a4f/LONGI-630Wp_v2.png",
        description="PAINEL LONGI LR7-72HTH-630M HORIZON",
        raw_record=raw_json(_source(PANELS, "fortlev_panels_IMO00132")),
    )
    dmegc = _product(batch, "fortlev_panels_IMO00135")
    assert (dmegc.manufacturer, dmegc.model, dmegc.power_w, dmegc.price_brl) == (
        "DMEGC",
        "DM610G12RT-B66HSW",
        610.0,
        567.71,
    )
    byd = _product(batch, "fortlev_panels_IMO00131")
    assert (byd.manufacturer, byd.model, byd.power_w) == ("BYD", "BYD-530W-MLK-36", 530.0)


def test_batteries_exact_and_rejections():
    batch = fortlev.read(BATTERIES)
    assert _product(batch, "fortlev_batteries_IBT00004") == Product(
        distributor="fortlev",
        product_id="fortlev_batteries_IBT00004",
        category="battery",
        name="BATERIA FOXESS EP11",
        manufacturer="FOXESS",
        model="EP11",
        power_w=None,
        price_brl=16666.67,
        availability="available",
        phases=None,
        voltage_v=None,
        efficiency_pct=None,
        url=None,
        image_url="https://prod-platform-api.s3.amazonaws.com/components/678950349ecacc7047df66f4/IBT00004.png",
        description="BATERIA FOXESS EP11",
        raw_record=raw_json(_source(BATTERIES, "fortlev_batteries_IBT00004")),
    )
    # a base and a cable *for* a battery are accessories, not batteries
    assert _product(batch, "fortlev_batteries_IBT00003").category == "other"
    assert _product(batch, "fortlev_batteries_IBT00002").category == "other"
    [rejected] = batch.rejected
    assert rejected.record == 4
    assert rejected.reason == "unparseable price 'De:' (pricing.price 0.0)"
    assert json.loads(rejected.raw_record)["id"] == "fortlev_batteries_IBT00001"


def test_inverter_rejections_keep_position_reason_and_record():
    batch = fortlev.read(INVERTERS)
    records = _records(INVERTERS)
    assert [r.record for r in batch.rejected] == [86, 112, 119, 148]
    for rejected in batch.rejected:
        assert rejected.reason == "unparseable price 'De:' (pricing.price 0.0)"
        assert rejected.raw_record == raw_json(records[rejected.record - 1])
    assert json.loads(batch.rejected[0].raw_record)["name"] == "SOLAREDGE SE100K SYNERGY - 380V"


def test_kit_exact_with_components():
    batch = fortlev.read(KITS)
    kit = next(kit for kit in batch.kits if kit.source_kit_id == "fortlev_kit_002")
    assert kit == Kit(
        distributor="fortlev",
        kit_id=kit.kit_id,
        source_kit_id="fortlev_kit_002",
        name="Kit 2.52kWp - Longi + Growatt",
        kwp=2.52,
        price_brl=3163.7,
        kit_type=None,
        mounting_structure=None,
        distribution_center=None,
        url=None,
        components=[
            KitComponent(
                category="module",
                quantity=4,
                description="panel LONGi 630W",
                power_w=630.0,
                manufacturer="LONGI",
                model=None,  # the AI vision_analysis "model" is never used
            ),
            KitComponent(
                category="inverter",
                quantity=1,
                description="inverter Growatt 2kW",
                power_w=2000.0,
                manufacturer="GROWATT",
                model=None,
            ),
        ],
        raw_record=raw_json(_records(KITS)[1]),
    )
    assert len(kit.kit_id) == 16 and int(kit.kit_id, 16) >= 0
    assert "vision_analysis" in kit.raw_record


def test_kits_never_take_values_from_vision_analysis():
    batch = fortlev.read(KITS)
    by_source = {kit.source_kit_id: kit for kit in batch.kits}
    first = by_source["fortlev_kit_001"]  # panel power_w/quantity null; vision says 530 W
    assert (first.components[0].power_w, first.components[0].quantity) == (None, None)
    fourth = by_source["fortlev_kit_004"]  # inverter power_kw null; vision says 5.0 kW
    assert fourth.components[1].power_w is None
    assert fourth.components[1].description == "inverter Growatt"
    # "2.92" refined by the details' "2.925kWp" (5 x 585 W)
    assert by_source["fortlev_kit_005"].kwp == 2.925
    assert by_source["fortlev_kit_005"].price_brl == 4222.76


def test_kit_ids_are_stable_and_distinct(tmp_path):
    kits = fortlev.read(KITS).kits
    assert len({kit.kit_id for kit in kits}) == 5
    assert [kit.kit_id for kit in fortlev.read(KITS).kits] == [kit.kit_id for kit in kits]
    records = _records(KITS)
    repriced = json.loads(json.dumps(records))
    repriced[2]["total_price"], repriced[2]["pricing"]["total"] = "R$ 3.900,00", 3900.0
    repriced[2]["components"]["panel"]["vision_analysis"]["power_w"] = 999
    again = fortlev.read(_write(tmp_path, repriced, "fortlev-kits-later.json")).kits
    assert [kit.kit_id for kit in again] == [kit.kit_id for kit in kits]
    assert again[2].price_brl == 3900.0
    # the source reusing an id for a different kit still yields a different id
    changed = json.loads(json.dumps(records))
    changed[2]["components"]["panel"]["quantity"] = 5
    assert fortlev.read(_write(tmp_path, changed, "other.json")).kits[2].kit_id != kits[2].kit_id


def test_layout_is_detected_from_content_not_name(tmp_path):
    copy = tmp_path / "catalogo-2025-11-02.json"
    copy.write_bytes(PANELS.read_bytes())
    assert len(fortlev.read(copy).products) == 4
    kits = tmp_path / "fortlev-inverters.json"  # a kits file under a product file's name
    kits.write_bytes(KITS.read_bytes())
    assert len(fortlev.read(kits).kits) == 5


def test_unknown_layout_is_refused(tmp_path):
    path = _write(tmp_path, [{"title": "PAINEL X 550W", "valor": "R$ 500,00"}], "fortlev_fortlev-panels.json")
    with pytest.raises(CatalogFormatError) as error:
        fortlev.read(path)
    message = str(error.value)
    assert message.startswith("fortlev_fortlev-panels.json: not a Fortlev catalog: expected one of ")
    assert "found keys title, valor" in message
    not_json = tmp_path / "broken.json"
    not_json.write_text("id;name;price\n1;x;2\n", encoding="utf-8")
    with pytest.raises(CatalogFormatError, match="not a Fortlev catalog"):
        fortlev.read(not_json)
    with pytest.raises(CatalogFormatError, match="found keys"):
        fortlev.read(_write(tmp_path, {"products": []}, "object.json"))


def test_oversized_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.json"
    with path.open("wb") as handle:
        handle.truncate((50 << 20) + 1)
    with pytest.raises(CatalogFormatError, match="more than a Fortlev catalog file may hold"):
        fortlev.read(path)


def _item(**overrides):
    record = {
        "id": "fortlev_panels_X1",
        "name": "PAINEL JINKO JKM575N-72HL4-V 575W",
        "manufacturer": "Jinko",
        "category": "panels",
        "price": "R$ 750,00",
        "image": None,
        "source": "fortlevsolar.app",
        "availability": "Disponível",
        "description": "PAINEL JINKO JKM575N-72HL4-V 575W",
        "pricing": {"price": 750.0, "currency": "BRL"},
    }
    record.update(overrides)
    return record


def test_rejection_rules(tmp_path):
    records = [
        _item(),
        {},
        _item(id="t", name="Teste 3", description="Teste 3"),
        _item(id="n", name="  "),
        _item(id="d", price="R$ 750,00", pricing={"price": 705.0, "currency": "BRL"}),
        _item(id="z", price="R$ 0,00", pricing={"price": 0.0, "currency": "BRL"}),
        _item(id="u", price=None, pricing=None, availability="Indisponível"),
        _item(id="m", price=None, pricing=None),
        _item(id="c", price="R$ 750,01", pricing={"price": 750.0, "currency": "BRL"}),
        _item(),
    ]
    batch = fortlev.read(_write(tmp_path, records))
    assert [p.product_id for p in batch.products] == ["fortlev_panels_X1", "u", "c"]
    reasons = {r.record: r.reason for r in batch.rejected}
    assert reasons == {
        2: "empty record",
        3: "store test entry: 'Teste 3'",
        4: "missing name",
        5: "price 'R$ 750,00' (750.00) and pricing.price 705.0 disagree",
        6: "non-positive price 'R$ 0,00'",
        8: "missing price (and the product is not marked unavailable)",
    }
    assert batch.repeated == 1  # record 10 is an identical copy of record 1: counted, not rejected
    assert len(batch.products) + len(batch.rejected) + batch.repeated == len(records)
    unavailable = _product(batch, "u")
    assert (unavailable.price_brl, unavailable.availability) == (None, "unavailable")
    jinko = batch.products[0]
    assert (jinko.manufacturer, jinko.model, jinko.power_w, jinko.image_url) == (
        "JINKO",
        "JKM575N-72HL4-V",
        575.0,
        None,
    )


def test_cp1252_file_and_name_rules(tmp_path):
    records = [
        _item(
            id="h",
            name="INVERSOR HÍBRIDO DEYE SUN-5K-SG03LP1 5KW MONOFÁSICO 220V",
            manufacturer="Unknown",
            category="inverters",
        ),
        _item(id="mi", name="MICROINVERSOR HOYMILES HMS-2000-4T 2000W 220V", category="inverters"),
        _item(id="cc", name="CONTROLADOR DE CARGA EPEVER 40A MPPT 12/24V", category="inverters"),
        _item(id="e", name="ESTRUTURA P/ TELHADO CERÂMICO 4 PAINÉIS", category="inverters"),
        _item(id="ef", name="PAINEL ZNSHINE 550W EF. 21,3% ZXM7-SHLDD144", category="panels"),
    ]
    path = tmp_path / "legacy.json"
    path.write_bytes(json.dumps(records, ensure_ascii=False).encode("cp1252"))
    batch = fortlev.read(path)
    by_id = {p.product_id: p for p in batch.products}
    assert by_id["h"].name.startswith("INVERSOR HÍBRIDO")
    assert (by_id["h"].category, by_id["h"].phases, by_id["h"].voltage_v, by_id["h"].manufacturer) == (
        "hybrid_inverter",
        1,
        220,
        "DEYE",  # "Unknown" in the record: taken from the name
    )
    assert (by_id["mi"].category, by_id["mi"].power_w) == ("microinverter", 2000.0)
    assert by_id["cc"].category == "charge_controller"
    assert by_id["e"].category == "structure"
    assert (by_id["ef"].efficiency_pct, by_id["ef"].power_w, by_id["ef"].voltage_v) == (21.3, 550.0, None)
