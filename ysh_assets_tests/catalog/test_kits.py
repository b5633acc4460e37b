"""General kit parsing: compositions, titles, quantity derivation, stable ids and the accuracy measure."""

from __future__ import annotations

import pytest

from ysh_assets.catalog.fields import extract_model, parse_voltage
from ysh_assets.catalog.kits import (
    category_of,
    derive_inverter_quantity,
    derive_module_quantity,
    kit_accuracy,
    kit_check,
    parse_composition,
    parse_kit_title,
    stable_kit_id,
)
from ysh_assets.catalog.records import CATEGORIES, Kit, KitComponent


def _summary(components: list[KitComponent]) -> list[tuple]:
    return [(c.category, c.quantity, c.power_w, c.manufacturer) for c in components]


def test_neosolar_composition_with_sem_inversor():
    components = parse_composition("2x 620Wp DAH | 1x 40A MPPT Epever | 1x 100Ah/48V Lítio Ztroon | Sem Inversor")
    assert _summary(components) == [
        ("module", 2, 620.0, "DAH SOLAR"),
        ("charge_controller", 1, None, "EPEVER"),
        ("battery", 1, None, "ZTROON"),
    ]  # `Sem Inversor`: no inverter component at all
    assert [c.description for c in components] == ["2x 620Wp DAH", "1x 40A MPPT Epever", "1x 100Ah/48V Lítio Ztroon"]
    assert not any(c.quantity_derived for c in components)


@pytest.mark.parametrize(
    "text",
    [
        "2x 620Wp DAH | 1x 40A MPPT Epever | 1x 100Ah/48V Lítio Ztroon |Sem Inversor",  # glued separator
        "2x 620Wp DAH|| 1x 40A MPPT Epever ||1x 100Ah/48V Lítio Ztroon|Sem Inversor",  # doubled separators
        "2 x 620Wp DAH | 1 x 40A MPPT Epever | 1un 100Ah/48V Lítio Ztroon | Sem Inversor",  # `2 x`, `1un`
    ],
)
def test_separators_and_quantity_spellings(text):
    assert _summary(parse_composition(text)) == [
        ("module", 2, 620.0, "DAH SOLAR"),
        ("charge_controller", 1, None, "EPEVER"),
        ("battery", 1, None, "ZTROON"),
    ]


def test_battery_with_two_capacities_is_one_component():
    components = parse_composition(
        "1x 160Wp Ztroon | 1x Bateria Estácionaria 12V 165Ah / 150Ah \xa0| 1x 10A PWM Epever"
    )
    assert _summary(components) == [
        ("module", 1, 160.0, "ZTROON"),
        ("battery", 1, None, None),
        ("charge_controller", 1, None, "EPEVER"),
    ]
    assert components[1].description == "1x Bateria Estácionaria 12V 165Ah / 150Ah"


def test_thousands_dot_versus_decimal_kwp():
    assert parse_composition("1x 2.220Wp Ztroon")[0].power_w == 2220.0  # dots in groups of three: thousands
    assert parse_composition("1x 2.32kWp Ztroon")[0].power_w == 2320.0
    assert parse_kit_title("Kit Energia Solar Fotovoltaica 1.320Wp 48Vcc - até 4.080 Wh/dia").kwp == 1.32
    assert parse_kit_title("Kit Energia Solar Off Grid s/ Inversor - 1.16kWp 100Ah 48V Lítio (22692)").kwp == 1.16


def test_ten_modules_and_spelled_quantities():
    assert parse_composition("10x 620Wp DAH")[0].quantity == 10
    assert parse_composition("10 x 620Wp DAH")[0].quantity == 10
    assert parse_composition("10un 620Wp DAH")[0].quantity == 10
    components = parse_composition(
        "Energia disponível: 3.917 Wh/dia ou 117,5 kWh/mês | Vsist: 24V | Composição: 3 Painéis Solares de 330Wp "
        "+ 1 Controlador de Carga MPPT de 40A."
    )
    assert _summary(components) == [("module", 3, 330.0, None), ("charge_controller", 1, None, None)]


def test_inverters_in_compositions():
    inverter = parse_composition("1x 5500W Inv-carregador Must")[0]
    assert (inverter.category, inverter.quantity, inverter.power_w, inverter.manufacturer) == (
        "inverter", 1, 5500.0, "MUST"
    )  # fmt: skip
    inverter = parse_composition("1x 1000W 127V Ztroon")[0]
    assert (inverter.category, inverter.power_w, inverter.manufacturer) == ("inverter", 1000.0, "ZTROON")
    # a singular `Inversor` without a count is one unit, marked derived
    inverter = parse_composition("Inversor 2000W 48Vcc / 127Vca")[0]
    assert (inverter.category, inverter.quantity, inverter.quantity_derived, inverter.power_w) == (
        "inverter", 1, True, 2000.0
    )  # fmt: skip
    battery = parse_composition("4x 100Ah/48V\xa0 Marca: Unipower")[0]
    assert (battery.category, battery.quantity, battery.manufacturer) == ("battery", 4, "UNIPOWER")


def test_notes_are_not_components_and_bare_totals_stay_unknown():
    components = parse_composition(
        "Diário: 10h |Máx: 30h  | 320 Wp | 220Ah/12V Chumbo | 20A PWM | 600/12V | kit instal"
    )
    assert [c.category for c in components] == ["module", "battery", "charge_controller", "other", "other"]
    module = components[0]
    assert module.quantity is None and module.power_w is None  # `320 Wp` may be the array: not a unit power
    assert all(c.category in CATEGORIES and c.category != "kit" for c in components)


def test_neosolar_title():
    title = parse_kit_title("Kit Energia Solar Off Grid - 1,24kWp 100Ah/48V Lítio (27314)")
    assert (title.kwp, title.kit_type, title.source_id) == (1.24, "off_grid", "27314")
    title = parse_kit_title("Kit Energia Solar Off Grid - 680Wp 100Ah/24V Lítio 1000W/127V Ztroon")
    assert (title.kwp, title.kit_type, title.source_id) == (0.68, "off_grid", None)
    assert parse_kit_title("Kit Energia Solar para Starlink - 10h/dia (até 1.280 Wh/dia) - Chumbo (25131)").kwp is None


def test_fotus_title():
    title = parse_kit_title(
        "KP04 - ASTRONERGY | TIER 1 | 600W N-TYPE BIFACIAL (22,2% EF.) - MICROINVERSOR DEYE 2.25KW - 1,20 kWp - "
        "Cerâmico - CD ESPÍRITO SANTO"
    )
    assert (title.code, title.kwp, title.mounting_structure, title.distribution_center) == (
        "KP04", 1.2, "Cerâmico", "CD ESPÍRITO SANTO"
    )  # fmt: skip
    assert (title.module.manufacturer, title.module.power_w) == ("ASTRONERGY", 600.0)
    assert title.module.description == "ASTRONERGY | TIER 1 | 600W N-TYPE BIFACIAL (22,2% EF.)"
    assert (title.inverter.category, title.inverter.manufacturer, title.inverter.power_w) == (
        "microinverter", "DEYE", 2250.0
    )  # fmt: skip
    # dashes glued on one side, `|` glued in the CD, a brand glued to its power
    title = parse_kit_title(
        "KP02 -TRINA | TIER 1 | 710W N-TYPE BIFACIAL- MICROINVERSOR TSUNESS2250W - 1,42 kWp - Mini Trilho - "
        "CD SUDESTE| PRONTA ENTREGA"
    )
    assert (title.module.manufacturer, title.module.power_w, title.kwp) == ("TRINA", 710.0, 1.42)
    assert (title.inverter.manufacturer, title.inverter.power_w) == ("TSUNESS", 2250.0)
    assert (title.mounting_structure, title.distribution_center) == ("Mini Trilho", "CD SUDESTE | PRONTA ENTREGA")


def test_module_quantity_derived_only_when_unambiguous():
    module = KitComponent(category="module", quantity=None, description="600W", power_w=600.0)
    derive_module_quantity([module], 1.20)
    assert (module.quantity, module.quantity_derived) == (2, True)
    module = KitComponent(category="module", quantity=None, description="570W", power_w=570.0)
    derive_module_quantity([module], 1.20)  # 2.105 modules: no integer within 1%
    assert (module.quantity, module.quantity_derived) == (None, False)
    module = KitComponent(category="module", quantity=None, description="620W", power_w=620.0)
    derive_module_quantity([module], 2.5)  # 4.03: within 1% of 4
    assert module.quantity == 4
    given = KitComponent(category="module", quantity=3, description="3x 600W", power_w=600.0)
    derive_module_quantity([given], 1.20)  # a stated count is never overwritten
    assert (given.quantity, given.quantity_derived) == (3, False)
    two = [KitComponent(category="module", quantity=None, description=d, power_w=600.0) for d in ("a", "b")]
    derive_module_quantity(two, 1.20)  # two module lines without counts: ambiguous
    assert [c.quantity for c in two] == [None, None]


def test_inverter_quantity_derivation():
    micro = KitComponent("microinverter", None, "MICROINVERSOR DEYE 2.25KW (SUN-M225G4) MONOFÁSICO 220V (4 MLPE)")
    derive_inverter_quantity(micro, 3.42, 6)
    assert (micro.quantity, micro.quantity_derived) == (2, True)
    string = KitComponent("inverter", None, "INVERSOR SOLIS 3KW", power_w=3000.0)
    derive_inverter_quantity(string, 3.99, 7)
    assert (string.quantity, string.quantity_derived) == (1, True)
    unknown = KitComponent("inverter", None, "INVERSOR GOODWE GW3300 (XS-30)")
    derive_inverter_quantity(unknown, 4.56, 8)
    assert unknown.quantity is None


def test_stable_kit_id():
    name = "KP04 - X - MICROINVERSOR DEYE 2.25KW - 1,14 kWp - Cerâmico - CD ESPÍRITO SANTO"
    first = stable_kit_id("fotus", "FOTUS-KP04-114kWp-Ceramico-kits", name, "CD ESPÍRITO SANTO")
    assert first == stable_kit_id("fotus", "FOTUS-KP04-114kWp-Ceramico-kits", name, "CD ESPÍRITO SANTO")
    assert first.startswith("fotus-FOTUS-KP04-114kWp-Ceramico-kits-")
    assert first == stable_kit_id("fotus", "FOTUS-KP04-114kWp-Ceramico-kits", name.lower(), "CD  ESPIRITO SANTO")
    other = stable_kit_id("fotus", "FOTUS-KP04-114kWp-Ceramico-kits", name.replace("DEYE", "TSUNESS"), "CD ES")
    assert other != first
    assert stable_kit_id("x", "1", "a", "CD SUDESTE| PRONTA ENTREGA") == stable_kit_id(
        "x", "1", "a", "CD SUDESTE | PRONTA ENTREGA"
    )


def _kit(name: str, components: list[KitComponent]) -> Kit:
    return Kit(
        distributor="t", kit_id=name, source_kit_id=None, name=name, kwp=None, price_brl=None, components=components
    )


def test_kit_accuracy():
    good = _kit(
        "Kit Off Grid - 1,24kWp",
        parse_composition("2x 620Wp DAH | 1x 40A MPPT Epever | 1x 100Ah/48V Lítio Ztroon | Sem Inversor"),
    )
    rounded = _kit("Kit Off Grid - 1,9kWp", parse_composition("3x 620Wp DAH | 1x 5500W Inv-carregador Epever"))
    wrong = _kit("Kit Off Grid - 1,24kWp", parse_composition("4x 620Wp DAH | 1x 40A MPPT Epever"))
    missing = _kit("Kit - 1,24kWp", parse_composition("2x 620Wp DAH | 220Ah/12V Chumbo"))
    unchecked = _kit("Kit Starlink", parse_composition("320 Wp | 20A PWM"))
    assert kit_check(good) == {"kwp": True, "modules": True, "quantities": True, "exact": True}
    assert kit_check(rounded)["exact"]  # 1.86 kWp written `1,9kWp`: within the title's own rounding
    assert kit_check(wrong) == {"kwp": False, "modules": False, "quantities": True, "exact": False}
    assert kit_check(missing) == {"kwp": True, "modules": True, "quantities": False, "exact": False}
    assert kit_check(unchecked) is None
    result = kit_accuracy([good, rounded, wrong, missing, unchecked])
    assert result == {
        "kits": 5,
        "checkable": 4,
        "kwp_exact": 0.75,
        "modules_exact": 0.75,
        "quantities_exact": 0.75,
        "exact": 0.5,
        "failures": [wrong.kit_id, missing.kit_id],
    }
    assert kit_accuracy([])["exact"] is None


def test_text_helpers():
    assert category_of("Microinversor Deye SUN2250 G4") == "microinverter"
    assert category_of("Inversor Híbrido On + Off Grid Deye SUN5K") == "hybrid_inverter"
    assert category_of("Inversor Off Grid Senoidal Epever para bateria de lítio") == "inverter"
    assert category_of("Painel Solar 550W") == "module"
    assert category_of("Controlador de Carga MPPT 40A") == "charge_controller"
    assert category_of("Cabo solar 6mm") == "other"
    assert extract_model("Inversor On Grid Livoltek 7,5kW 220V Monofásico - GT1-7K5T2") == "GT1-7K5T2"
    assert extract_model("Inversor Off Grid Senoidal ZTROON ZT1000-11 - 1000W - 12/127V") == "ZT1000-11"
    assert extract_model("Inversor 2000W 48/220V") is None
    assert parse_voltage("Inversor Híbrido Deye SUN5K (US) - 5000W - 48/120-240V") == 120
    assert parse_voltage("Microinversor 2250W - 220V") == 220
    assert parse_voltage("Bateria 48V") is None


def test_a_structures_roof_is_not_its_manufacturer():
    parsed = parse_composition("8x 550Wp Jinko | 1x Estrutura Telhado Cerâmico | 1x Estrutura Solo Romagnole")
    assert [(c.category, c.manufacturer) for c in parsed] == [
        ("module", "JINKO"),
        ("structure", None),
        ("structure", "ROMAGNOLE"),
    ]
