"""Linking products to certifications: exact, family, fuzzy, none — never across power classes."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from ysh_assets.bench.catalog import bench_matching
from ysh_assets.catalog.certifications import read_cec, read_inmetro_csv
from ysh_assets.catalog.matching import (
    MATCH_COLUMNS,
    match_certifications,
    normalize_model,
    same_power_class,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "catalog"

CERTS = pl.DataFrame(
    [
        ("module", "CEC", "CANADIAN SOLAR", "CS6K-290MS", None, 290.31),
        ("module", "CEC", "LONGI", "LR7-72HTH-625M", None, 625.12),
        ("module", "CEC", "JINKO", "JKM575N-72HL4-BDV", None, 574.9),
        ("module", "CEC", "TRINA", "TSM-DE19-550", None, 550.0),
        ("module", "CEC", "TRINA", "TSM-DE19-555", None, 555.0),
        ("inverter", "CEC", "ABB", "MICRO-0.25-I-OUTD-US-208 [208V]", None, 250.0),
        ("inverter", "CEC", "ABB", "MICRO-0.25-I-OUTD-US-240 [240V]", None, 250.0),
        ("inverter", "CEC", "GROWATT", "GROWATT 5000MTLP-US [208V]", None, 4590.0),
        ("inverter", "CEC", "GROWATT", "GROWATT 5000MTLP-US [240V]", None, 5070.0),
        ("inverter", "INMETRO", "GROWATT", "MIN 5000TL-X", "001474/2024", 5000.0),
        ("inverter", "CEC", "GROWATT", "MIN 5000TL-X", None, 5000.0),
    ],
    schema=["equipment_type", "certifier", "manufacturer", "model", "registration_id", "rated_power_w"],
    orient="row",
)


def _match(*products: tuple) -> list[dict]:
    frame = pl.DataFrame(
        list(products), schema=["manufacturer", "model", "category", "power_w"], orient="row"
    ).with_columns(pl.col("power_w").cast(pl.Float64))
    return match_certifications(frame, CERTS).to_dicts()


def test_normalize_model():
    assert normalize_model("MICRO-0.25-I-OUTD-US-208 [208V]") == "MICRO025IOUTDUS208"
    assert normalize_model("cs6k 290ms") == "CS6K290MS"
    assert normalize_model("Inversor Growatt MIN 5000TL-X", "GROWATT") == "MIN5000TLX"
    assert normalize_model("Módulo Fotovoltaico TSM-DE19-550") == "TSMDE19550"
    assert normalize_model(None) == ""


def test_power_classes():
    assert same_power_class("module", 395, 394.887)
    assert not same_power_class("module", 625, 630)  # one 5 W step apart
    assert same_power_class("inverter", 5000, 5070)
    assert not same_power_class("inverter", 5000, 4590)


def test_exact():
    canadian, abb, inmetro, no_power = _match(
        ("Canadian Solar", "cs6k 290ms", "module", 290),
        ("ABB", "MICRO-0.25-I-OUTD-US-208", "microinverter", 250),
        ("GROWATT", "Inversor Growatt MIN 5000TL-X", "inverter", 5000),
        ("CANADIAN", "CS6K-290MS", "module", None),
    )
    assert (canadian["match_kind"], canadian["confidence"], canadian["certified_model"]) == ("exact", 1.0, "CS6K-290MS")
    assert canadian["certifier"] == "CEC" and canadian["certified_power_w"] == 290.31
    assert (abb["match_kind"], abb["certified_model"]) == ("exact", "MICRO-0.25-I-OUTD-US-208 [208V]")
    # the same model certified by INMETRO and by CEC: INMETRO wins the tie
    assert (inmetro["match_kind"], inmetro["certifier"], inmetro["registration_id"]) == (
        "exact",
        "INMETRO",
        "001474/2024",
    )
    assert (no_power["match_kind"], no_power["confidence"]) == ("exact", 0.95)


def test_exact_picks_the_variant_of_the_same_power_class():
    (growatt,) = _match(("Growatt", "5000MTLP-US", "inverter", 5000))
    assert (growatt["match_kind"], growatt["certified_model"]) == ("exact", "GROWATT 5000MTLP-US [240V]")


def test_family():
    longer, shorter = _match(
        ("Canadian Solar", "CS6K-290MS-AG", "module", 290),
        ("JINKO", "JKM575N-72HL4", "module", 575),
    )
    assert (longer["match_kind"], longer["certified_model"]) == ("family", "CS6K-290MS")
    assert 0.75 <= longer["confidence"] < 0.95
    assert (shorter["match_kind"], shorter["certified_model"]) == ("family", "JKM575N-72HL4-BDV")


def test_fuzzy():
    typo, dropped = _match(
        ("LONGi Green Energy", "LR7-72HTH-625N", "module", 625),
        ("Jinko Solar", "JKM575N-72H4-BDV", "module", 575),
    )
    assert (typo["match_kind"], typo["certified_model"]) == ("fuzzy", "LR7-72HTH-625M")
    assert (dropped["match_kind"], dropped["certified_model"]) == ("fuzzy", "JKM575N-72HL4-BDV")
    assert 0 < typo["confidence"] <= 0.8


def test_none():
    unknown, other_type, no_model = _match(
        ("HANERSUN", "HN21-66HT 620W", "module", 620),
        ("ABB", "MICRO-0.25-I-OUTD-US-208", "module", 250),  # certified as an inverter, not a module
        ("LONGI", None, "module", 625),
    )
    for row in (unknown, other_type, no_model):
        assert row["match_kind"] == "none" and row["confidence"] == 0.0
        assert row["certifier"] is None and row["certified_model"] is None


def test_different_power_class_is_never_linked():
    rows = _match(
        ("LONGI", "LR7-72HTH-630M", "module", 630),  # a sibling of 625M: fuzzy-close, other power
        ("LONGI", "LR7-72HTH-625M", "module", 630),  # the model, with a power of another class
        ("Canadian Solar", "CS6K-290MS-AG", "module", 295),  # family spelling, other power
        ("GROWATT", "MIN 5000TL-X", "inverter", 6000),
        ("TRINA", "TSM-DE19-560", "module", 560),  # 550 and 555 are listed, not 560
    )
    assert [row["match_kind"] for row in rows] == ["none"] * 5
    (trina,) = _match(("TRINA", "TSM-DE19-555", "module", 555))
    assert trina["certified_model"] == "TSM-DE19-555"


def test_without_manufacturer_or_power_only_exact():
    exact, family, fuzzy, ambiguous = _match(
        (None, "MIN 5000TL-X", "inverter", None),
        (None, "CS6K-290MS-AG", "module", 290),
        ("Canadian Solar", "CS6K-290MS-AG", "module", None),
        (None, "MICRO-0.25-I-OUTD-US-208", "inverter", 250),
    )
    assert (exact["match_kind"], exact["confidence"], exact["certifier"]) == ("exact", 0.9, "INMETRO")
    assert family["match_kind"] == "none" and fuzzy["match_kind"] == "none"
    assert (ambiguous["match_kind"], ambiguous["certified_manufacturer"]) == ("exact", "ABB")


def test_output_keeps_product_columns():
    products = pl.DataFrame(
        {
            "product_id": ["a", "b"],
            "manufacturer": ["CANADIAN SOLAR", None],
            "model": ["CS6K-290MS", "X"],
            "category": ["module", "module"],
            "power_w": [290.0, None],
        }
    )
    matched = match_certifications(products, CERTS)
    assert matched.columns == [*products.columns, *MATCH_COLUMNS]
    assert matched["product_id"].to_list() == ["a", "b"]
    assert matched["match_kind"].to_list() == ["exact", "none"]
    with pytest.raises(ValueError, match="match_kind"):
        match_certifications(matched, CERTS)


def test_certifications_without_equipment_type():
    products = pl.DataFrame(
        {"manufacturer": ["CANADIAN SOLAR"], "model": ["CS6K-290MS"], "category": ["module"], "power_w": [290.0]}
    )
    matched = match_certifications(products, CERTS.drop("equipment_type", "certifier"))
    assert matched["match_kind"].to_list() == ["exact"]
    assert matched["certifier"].to_list() == [None]


def test_match_against_real_lists():
    certifications = pl.concat(
        [
            read_cec(FIXTURES / "cec_modules_subset.csv", "module"),
            read_cec(FIXTURES / "cec_inverters_subset.csv", "inverter"),
            read_inmetro_csv(FIXTURES / "inverter_certifications_unofficial.csv"),
        ],
        how="diagonal_relaxed",
    )
    products = pl.DataFrame(
        {
            "manufacturer": ["SunPower", "Hanwha Q CELLS", "Growatt", "GoodWe", "Fronius", "Q CELLS"],
            "model": [
                "SPR-X21-345",
                "Q.PEAK DUO L-G5.2 395",
                "NEO 2000M-X",
                "GW5000-DNS-30",
                "Primo 3.8-1 208-240",
                "Q.PEAK DUO L-G5.2 400",
            ],
            "category": ["module", "module", "microinverter", "inverter", "inverter", "module"],
            "power_w": [345.0, 395.0, 2000.0, 5000.0, 3800.0, 400.0],
        }
    )
    matched = match_certifications(products, certifications)
    assert matched["match_kind"].to_list() == ["exact", "exact", "exact", "family", "exact", "none"]
    assert matched["certifier"].to_list()[:4] == ["CEC", "CEC", "INMETRO", "INMETRO"]
    assert matched["registration_id"].to_list()[2:4] == ["008475/2023", "001501/2024"]


def test_bench_matching_on_the_fixture_lists():
    result = bench_matching(
        n_products=300,
        modules_path=FIXTURES / "cec_modules_subset.csv",
        inverters_path=FIXTURES / "cec_inverters_subset.csv",
    )
    assert result["products"] == 300
    assert result["precision"] >= 0.9 and result["recall"] >= 0.8
    assert result["seconds"] < 5
