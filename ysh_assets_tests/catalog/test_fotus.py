"""The Fotus adapter on the real app.fotus.com.br kits JSON (byte-for-byte copy in fixtures/catalog/)."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path

import pytest

from ysh_assets.catalog.distributors import fotus
from ysh_assets.catalog.kits import kit_accuracy
from ysh_assets.catalog.records import CATEGORIES, CatalogFormatError, raw_json

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "catalog"
KITS = FIXTURES / "fotus_kits.json"


def _records() -> list[dict]:
    return json.loads(KITS.read_text(encoding="utf-8"))


def _write(tmp_path: Path, records, name: str = "export.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


def _components(kit) -> list[tuple]:
    return [(c.category, c.quantity, c.power_w, c.manufacturer, c.quantity_derived) for c in kit.components]


def test_every_record_is_accounted_for():
    batch = fotus.read(KITS)
    assert (len(batch.products), len(batch.kits), len(batch.rejected)) == (0, 150, 0)
    assert batch.distributor == "fotus" and batch.file == "fotus_kits.json"
    assert all(k.raw_record == raw_json(r) for k, r in zip(batch.kits, _records(), strict=True))


def test_microinverter_kit_module_from_title():
    kit = fotus.read(KITS).kits[3]
    assert kit.name == (
        "KP04 - ASTRONERGY | TIER 1 | 600W N-TYPE BIFACIAL (22,2% EF.) - MICROINVERSOR DEYE 2.25KW - 1,20 kWp - "
        "Cerâmico - CD ESPÍRITO SANTO"
    )
    assert (kit.source_kit_id, kit.kwp, kit.price_brl, kit.kit_type) == (
        "FOTUS-KP04-120kWp-Ceramico-kits", 1.2, 2588.63, "grid_tie"
    )  # fmt: skip
    assert (kit.mounting_structure, kit.distribution_center) == ("Cerâmico", "CD ESPÍRITO SANTO")
    # `panels` is empty: the module is the title's, 1,20 kWp / 600 W = 2 modules (derived); the source's inverter
    # count (2, the module count) is implausible for a 4-input microinverter: one serves both modules
    assert _components(kit) == [
        ("module", 2, 600.0, "ASTRONERGY", True),
        ("microinverter", 1, 2250.0, "DEYE", True),
    ]
    assert kit.components[0].description == "ASTRONERGY | TIER 1 | 600W N-TYPE BIFACIAL (22,2% EF.)"
    assert kit.components[1].model == "SUN-M225G4-EU-Q0-I"


def test_string_inverter_kit():
    batch = fotus.read(KITS)
    kit = next(k for k in batch.kits if "INVERSOR SOLIS 3KW" in k.name and k.mounting_structure == "Cerâmico")
    assert kit.kwp == 3.99
    assert _components(kit) == [
        ("module", 7, 570.0, "SOLAR N PLUS", True),
        ("inverter", 1, 3000.0, "SOLIS", True),  # power from the description, not power_kw (2.0)
    ]
    kit = next(k for k in batch.kits if "AUXSOL" in k.name)
    assert kit.components[1].manufacturer == "AUXSOL"  # `brand` says INVERSOR


def test_unknown_inverter_power_leaves_quantity_unknown():
    kit = next(k for k in fotus.read(KITS).kits if "GOODWE GW3300" in k.name)
    assert _components(kit) == [
        ("module", 8, 570.0, "SOLAR N PLUS", True),
        ("inverter", None, None, "GOODWE", False),  # the source's 8 is the module count; 3.3 kW is not written
    ]


def test_microinverters_for_six_modules():
    kit = next(k for k in fotus.read(KITS).kits if k.kwp == 3.42 and "DEYE" in k.name)
    assert _components(kit) == [("module", 6, 570.0, "SOLAR N PLUS", True), ("microinverter", 2, 2250.0, "DEYE", True)]


def test_reused_source_ids_get_distinct_stable_ids():
    batch = fotus.read(KITS)
    reused = Counter(k.source_kit_id for k in batch.kits)
    assert sum(1 for n in reused.values() if n > 1) == 29
    assert len({k.kit_id for k in batch.kits}) == 150
    pair = [k for k in batch.kits if k.source_kit_id == "FOTUS-KP04-114kWp-Ceramico-kits"]
    assert len(pair) == 2 and pair[0].kit_id != pair[1].kit_id
    assert {c.manufacturer for k in pair for c in k.components if c.category == "microinverter"} == {"DEYE", "TSUNESS"}
    assert all(k.kit_id.startswith("fotus-FOTUS-KP04-114kWp-Ceramico-kits-") for k in pair)
    again = fotus.read(KITS)  # stable: the same ids on every read (and every day)
    assert [k.kit_id for k in again.kits] == [k.kit_id for k in batch.kits]


def test_price_change_keeps_the_id(tmp_path):
    records = _records()[:1]
    changed = copy.deepcopy(records)
    changed[0]["price_brl"] = 2999.0
    assert fotus.read(_write(tmp_path, records, "a.json")).kits[0].kit_id == (
        fotus.read(_write(tmp_path, changed, "b.json")).kits[0].kit_id
    )


def test_distribution_centre_spelling_is_normalized():
    centres = {k.distribution_center for k in fotus.read(KITS).kits}
    assert centres == {"CD ESPÍRITO SANTO", "CD SUDESTE | PRONTA ENTREGA"}


def test_broken_hybrid_component_fields_are_rejected(tmp_path):
    good = _records()[0]
    broken = copy.deepcopy(good)
    broken["name"] = broken["name"].replace("MICROINVERSOR DEYE", "INVERSOR HÍBRIDO DEYE")
    broken["inverters"][0]["brand"] = "1"
    broken["batteries"] = [{"brand": "BATERIA", "description": "2", "quantity": 1}]
    no_price = copy.deepcopy(good)
    no_price["price_brl"] = "sob consulta"
    negative = copy.deepcopy(good)
    negative["price_brl"] = -5
    unnamed = copy.deepcopy(good)
    unnamed["name"] = " "
    repriced = copy.deepcopy(good)
    repriced["price_brl"] = good["price_brl"] + 100
    batch = fotus.read(_write(tmp_path, [good, broken, no_price, negative, unnamed, {}, good, repriced]))
    assert len(batch.kits) == 1 and batch.repeated == 1  # record 7 is an identical copy of record 1
    assert [(r.record, r.reason) for r in batch.rejected] == [
        (2, "broken component fields: inverters[0].brand='1'"),
        (3, "unparseable price 'sob consulta'"),
        (4, "non-positive price -5"),
        (5, "missing name"),
        (6, "empty record"),
        (8, f"conflicting copy of record 1 (same kit {batch.kits[0].kit_id}, other values)"),
    ]
    assert batch.rejected[0].raw_record == raw_json(broken)


def test_hybrid_kit_with_batteries(tmp_path):
    record = copy.deepcopy(_records()[0])
    record["name"] = record["name"].replace("MICROINVERSOR DEYE 2.25KW", "INVERSOR HÍBRIDO DEYE 5KW")
    record["inverters"] = [
        {"brand": "INVERSOR", "power_kw": 2.0, "quantity": 1, "description": "INVERSOR HÍBRIDO DEYE 5KW"}
    ]
    record["batteries"] = [{"brand": "DEYE", "description": "BATERIA DEYE 5,12KWH 51,2V", "quantity": 2}]
    kit = fotus.read(_write(tmp_path, [record])).kits[0]
    assert kit.kit_type == "hybrid"
    assert _components(kit) == [
        ("module", 2, 570.0, "SOLAR N PLUS", True),
        ("hybrid_inverter", 1, 5000.0, "DEYE", False),
        ("battery", 2, None, "DEYE", False),
    ]
    assert all(c.category in CATEGORIES and c.category != "kit" for c in kit.components)


def test_kit_accuracy_on_the_file():
    result = kit_accuracy(fotus.read(KITS).kits)
    assert result["checkable"] == 150
    assert result["kwp_exact"] == 1.0 and result["modules_exact"] == 1.0
    assert result["exact"] >= 0.95


def test_unknown_layout(tmp_path):
    path = _write(tmp_path, [{"sku": "1", "title": "Painel"}], name="fotus_kits.json")
    with pytest.raises(
        CatalogFormatError, match=r"fotus_kits\.json: not a Fotus catalog: expected one of .*found keys"
    ):
        fotus.read(path)
    path = tmp_path / "broken.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(CatalogFormatError, match="not a Fotus catalog"):
        fotus.read(path)


def test_adapter_contract():
    assert fotus.DISTRIBUTOR == "fotus"
    assert fotus.LAYOUTS and all(isinstance(x, str) for x in fotus.LAYOUTS)
