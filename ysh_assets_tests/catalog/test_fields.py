"""The shared product-field rules (fields.py), with the edge cases the adapters' tests pinned."""

from __future__ import annotations

import pytest

from ysh_assets.catalog import fields
from ysh_assets.catalog.records import CatalogFormatError


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("MICROINVERSOR HOYMILES HMS-2000-4T 2000W 220V", "microinverter"),
        ("HUAWEI ON-GRID 75KW - 220V - 7 MPPT", "inverter"),
        ("INVERSOR HÍBRIDO DEYE SUN-5K-SG03LP1", "hybrid_inverter"),
        ("Inversor Off Grid Senoidal Epever para bateria de lítio", "inverter"),  # the earliest word wins
        ("PAINEL ZNSHINE 550W", "module"),
        ("Bateria Estácionaria 12V 165Ah", "battery"),
        ("CONTROLADOR DE CARGA EPEVER 40A MPPT", "charge_controller"),
        ("1 Controlador de Carga de 30A", "charge_controller"),
        ("CONTROLADOR DE EXPORTAÇÃO", "other"),  # a controller, not a charge controller
        ("ESTRUTURA P/ TELHADO CERÂMICO 4 PAINÉIS", "structure"),
        ("CABO P/ PAINEL", "other"),  # what a part is for does not name it
        ("UNIDADE DE CONTROLE - PARA BATERIA LX", "battery"),  # ... unless nothing before it names anything
        ("EV KIT, CABLE 7.6M", "other"),  # `kit` only when nothing more specific is named
        ("Kit Energia Solar Off Grid", "kit"),
    ],
)
def test_category_in(text, category):
    assert fields.category_in(text) == category


def test_category_falls_back_to_the_label():
    assert fields.category_in("ABC 123") is None
    assert fields.classify_category(["ABC 123"], "panels") == "module"
    assert fields.classify_category(["ABC 123"], "charge-controllers") == "charge_controller"
    assert fields.classify_category(["ABC 123"], "cables") == "other"
    assert fields.category_from_label("Painel") == "module"


@pytest.mark.parametrize(
    ("text", "brand", "model"),
    [
        ("HUAWEI ON-GRID 75KW - 220V - 7 MPPT - AFCI (SUN2000-75K-MGL0-BR)", "HUAWEI", "SUN2000-75K-MGL0-BR"),
        ("GROWATT ON-GRID 25KW - 380V (MID 25KTL3-X2)", "GROWATT", "MID 25KTL3-X2"),
        ("Inversor Grid-Tie Growatt MIN 3000TL-X 3kW", "Growatt", "MIN 3000TL-X"),
        ("PAINEL DMEGC 610 WP DM610G12RT-B66HSW", "DMEGC", "DM610G12RT-B66HSW"),  # powers after the brand skipped
        ("SOLIS-EPM3-5G-PRO", "SOLIS", "SOLIS-EPM3-5G-PRO"),  # the brand-prefixed code itself
        ("GROWATT NEO 2000M - X - 2000W - 220V", "GROWATT", None),  # a code split by a spaced dash: unsure
        ("Painel Solar Jinko 610W", "Jinko", None),
        ("INVERSOR X 5KW (MC4)", "X", None),  # a connector standard
        ("Inversor Off Grid Senoidal ZTROON ZT1000-11 - 1000W - 12/127V", None, "ZT1000-11"),
        ("Inversor 2000W 48/220V", None, None),  # measurements are not models
    ],
)
def test_extract_model(text, brand, model):
    assert fields.extract_model(text, brand) == model


def test_phases():
    assert fields.parse_phases("MONOFÁSICO 220V") == 1
    assert fields.parse_phases("GOODWE MONO 220V") == 1
    assert fields.parse_phases("MEDIDOR TRIF. SOLIS") == 3
    assert fields.parse_phases("MONO 220 / TRI 380V") is None  # both named: a range
    assert fields.parse_phases("Bifásico 220V") is None
    assert fields.parse_phases("MONOCRISTALINO") is None


def test_voltage():
    assert fields.parse_voltage("5kW Monofásico 220V 48V 2 MPPT") == 220
    assert fields.parse_voltage("HUAWEI 250KW - 800V") == 800
    assert fields.parse_voltage("Inversor 1000W - 12/127V") == 127  # DC/AC
    assert fields.parse_voltage("Deye SUN5K - 48/120-240V") == 120
    assert fields.parse_voltage("TC ENPHASE P/ ENVOY IQ 127/220V") == 127  # two AC voltages: the first
    assert fields.parse_voltage("127Vca") == 127
    assert fields.parse_voltage("BATERIA 48V 100AH") is None


def test_efficiency():
    assert fields.parse_efficiency("MODULO 585W - EF. 22.6% - HN18N") == 22.6
    assert fields.parse_efficiency("570W N-TYPE (22,1% EF.)") == 22.1
    assert fields.parse_efficiency("eficiência de 21,3%") == 21.3
    assert fields.parse_efficiency("desconto de 10%") is None  # a percentage with no efficiency word


def test_availability():
    assert fields.normalize_availability("Disponível") == "available"
    assert fields.normalize_availability("Indisponível") == "unavailable"
    assert fields.normalize_availability("Sob consulta") == "unavailable"
    assert fields.normalize_availability("sob encomenda") is None
    assert fields.is_unavailable_label("Indisponível")
    assert not fields.is_unavailable_label("Produto indisponível no momento para entrega")


def test_text_and_ids():
    assert fields.clean(" a\xa0 b\u200b ") == "a b"
    assert fields.clean(None) == ""
    assert fields.optional_text({"a": 1}) is None and fields.optional_text("  ") is None
    assert fields.fold("Híbrido ÇÃ") == "hibrido ca"
    assert fields.derived_id("x", "Painel  Canadian") == fields.derived_id("x", "painel canadian")
    assert len(fields.derived_id("x", "a")) == 16
    assert fields.content_id({"b": 1, "a": 2}) == fields.content_id({"a": 2, "b": 1})
    assert fields.http_url("/catalog/images/a.png") is None


def test_read_text(tmp_path, monkeypatch):
    utf8 = tmp_path / "a.csv"
    utf8.write_bytes("\ufeffPainel Híbrido".encode())
    assert fields.read_text(utf8) == "Painel Híbrido"
    legacy = tmp_path / "b.csv"
    legacy.write_bytes("Painel Híbrido".encode("cp1252"))
    assert fields.read_text(legacy) == "Painel Híbrido"
    binary = tmp_path / "c.csv"
    binary.write_bytes(b"\x00\x01")
    with pytest.raises(CatalogFormatError, match=r"c\.csv: not a X catalog: .*binary data"):
        fields.read_text(binary, "X")
    monkeypatch.setattr(fields, "MAX_FILE_BYTES", 3)
    with pytest.raises(CatalogFormatError, match=r"a\.csv: \d+ bytes, more than a X catalog file may hold"):
        fields.read_text(utf8, "X")
