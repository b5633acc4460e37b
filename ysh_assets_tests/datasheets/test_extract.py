"""Rule-based datasheet extraction checked against the hand-read labels of the reference PDFs."""

import json
from functools import cache
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from ysh_assets.datasheets.accuracy import expected_fields, normalize_model, score_sheet
from ysh_assets.datasheets.extract import (
    SPEC_FIELDS,
    Extraction,
    _Cell,
    _page_rows,
    _parse_value,
    _Row,
    _series_name,
    extract_pdf,
    page_texts,
    parse_number,
)

PDFS = Path(__file__).resolve().parent.parent / "fixtures" / "pdfs"
LABELS = json.loads((PDFS / "labels.json").read_text(encoding="utf-8"))
JINKO = "JKM550-570M-72HL4-V-F4C1-EN.pdf"
QCELLS = "Q_CELLS_Q.PEAK_DUO_L-G5.2_395.pdf"
SMA = "SMA_SB3000-5000TL-21_DEN1551-V20.pdf"
SUNGROW = "Sungrow_SG3K-D_SG5K-D.pdf"
BYD = "BYD_Battery-Box_Premium_HVS_HVM_Datasheet_V1.5_EN.pdf"
SOFAR = "SOFAR_3.3-12KTL-X_scanned.pdf"
TEXT_PDFS = [JINKO, QCELLS, SMA, SUNGROW, BYD]


@cache
def extracted(name: str) -> Extraction:
    """Each PDF is extracted once per test session (about 0.1 s each)."""
    return extract_pdf(PDFS / name)


def by_model(name: str) -> dict[str, dict[str, float]]:
    return {normalize_model(r.model): {k: v.value for k, v in r.fields.items()} for r in extracted(name).specs}


def approx(value: float) -> object:
    return pytest.approx(value, rel=1e-6)


def test_jinko_stc_table_for_all_five_models():
    models = by_model(JINKO)
    assert len(models) == 5
    for entry in LABELS[JINKO]["stc"]:
        got = models[normalize_model(entry["model"])]
        assert got["pmax_w"] == entry["pmax_w"]
        assert got["vmp_v"] == approx(entry["vmp_v"])
        assert got["imp_a"] == approx(entry["imp_a"])
        assert got["voc_v"] == approx(entry["voc_v"])
        assert got["isc_a"] == approx(entry["isc_a"])
        assert got["efficiency_pct"] == approx(entry["eff_pct"])


def test_jinko_stc_not_noct_and_sheet_level_fields():
    got = by_model(JINKO)["JKM550M72HL4"]
    assert got["pmax_w"] == 550  # the interleaved NOCT column says 409 Wp
    assert (got["length_mm"], got["width_mm"], got["thickness_mm"]) == (2278, 1134, 35)
    assert got["weight_kg"] == 27
    assert got["temp_coeff_pmax_pct_per_c"] == approx(-0.35)
    assert got["temp_coeff_voc_pct_per_c"] == approx(-0.28)
    assert got["temp_coeff_isc_pct_per_c"] == approx(0.048)


def test_qcells_values_printed_before_labels():
    models = by_model(QCELLS)
    assert sorted(models) == [f"QPEAKDUOLG52{p}" for p in (380, 385, 390, 395, 400, 405)]
    for entry in LABELS[QCELLS]["stc_minimum"]:
        got = models["QPEAKDUOLG52" + entry["model"]]
        for key in ("pmax_w", "vmp_v", "imp_a", "voc_v", "isc_a"):
            assert got[key] == approx(entry[key]), (entry["model"], key)
        assert got["efficiency_pct"] == approx(parse_number(entry["eff_pct"]))  # "≥18.9" is a minimum
    got = models["QPEAKDUOLG52395"]
    assert got["pmax_w"] == 395  # STC, not the NMOT row (295.6 W) below it
    assert (got["length_mm"], got["width_mm"], got["thickness_mm"], got["weight_kg"]) == (2015, 1000, 35, 23.5)
    assert got["temp_coeff_pmax_pct_per_c"] == approx(-0.36)  # printed as %/K, same step as %/°C


def test_bare_power_classes_get_the_series_name():
    assert [r.model for r in extracted(QCELLS).specs] == [
        f"Q.PEAK DUO L-G5.2 {p}" for p in (380, 385, 390, 395, 400, 405)
    ]
    # Model names printed in full stay as printed.
    assert extracted(JINKO).specs[0].model == "JKM550M-72HL4"
    assert [r.model for r in extracted(SUNGROW).specs] == ["SG3K-D-10", "SG5K-D-10"]
    assert extracted(BYD).specs[0].model == "HVS 5.1"


def _text_rows(*lines: tuple[float, float, str]) -> list[_Row]:
    return [_Row(1, y, [_Cell(x, x + 100, text)]) for y, x, text in lines]


def test_series_name_needs_the_sheets_own_power_range():
    classes = [380, 385, 390, 395, 400, 405]
    title = _text_rows((209, 29, "Q.PEAK DUO L-G5.2"), (236, 29, "380-405"))
    assert _series_name(title, classes) == "Q.PEAK DUO L-G5.2"
    footer = _text_rows((516, 300, "Q.PEAK DUO L-G5.2_380-405_2019-03_Rev02_NA"))
    assert _series_name(footer, classes) == "Q.PEAK DUO L-G5.2"
    # An award badge with one power, another range, a distant title or a sentence are not the series.
    assert _series_name(_text_rows((277, 29, "Q.PRO-G2 235")), classes) is None
    assert _series_name(_text_rows((209, 29, "Q.PEAK DUO L-G5.2"), (236, 29, "380-400")), classes) is None
    assert _series_name(_text_rows((100, 29, "Q.PEAK DUO L-G5.2"), (236, 29, "380-405")), classes) is None
    assert _series_name(_text_rows((209, 29, "Power classes from"), (236, 29, "380-405")), classes) is None
    # Two different series next to the same range: not sure, keep the bare power classes.
    both = title + _text_rows((516, 300, "Q.PEAK DUO L-G5.1_380-405"))
    assert _series_name(both, classes) is None
    assert _series_name(title, [395]) is None


def test_sma_per_model_ac_power_and_mppt():
    models = by_model(SMA)
    assert {m: f["ac_power_w"] for m, f in models.items()} == {
        "SB3000TL21": 3000,
        "SB3600TL21": 3680,
        "SB4000TL21": 4000,
        "SB5000TL21": 4600,  # rated power, not the 5000 VA apparent power
    }
    for fields in models.values():
        assert fields["mppt_count"] == 2
        assert (fields["mppt_min_v"], fields["mppt_max_v"]) == (175, 500)
        assert fields["max_dc_voltage_v"] == 750
        assert fields["max_efficiency_pct"] == 97  # "97 % / 96,4 %": the first part of the paired label
        assert fields["phases"] == 1


def test_sungrow_two_models_share_single_column_values():
    models = by_model(SUNGROW)
    assert models["SG3KD10"]["ac_power_w"] == 3000
    assert models["SG5KD10"]["ac_power_w"] == 4990
    for fields in models.values():
        assert fields["max_dc_voltage_v"] == 600
        assert (fields["mppt_min_v"], fields["mppt_max_v"]) == (90, 560)
        assert fields["mppt_count"] == 2
        assert fields["max_efficiency_pct"] == approx(98.4)
        assert fields["weight_kg"] == approx(11.5)
    assert {"ABNT NBR 16149", "ABNT NBR 16150", "IEC 62109-1", "IEC 62109-2"} <= set(extracted(SUNGROW).certifications)


def test_byd_usable_energy_for_both_stacks():
    models = by_model(BYD)
    assert len(models) == 10
    for entry in LABELS[BYD]["models"]:
        got = models[normalize_model(entry["model"])]
        assert got["usable_kwh"] == approx(entry["usable_kwh"])
        assert got["nominal_voltage_v"] == approx(entry["nominal_v"])
        assert got["weight_kg"] == entry["weight_kg"]


@pytest.mark.parametrize(
    ("name", "manufacturer", "equipment_type"),
    [
        (JINKO, "Jinko Solar", "module"),
        (QCELLS, "Q CELLS", "module"),
        (SMA, "SMA", "inverter_string"),
        (SUNGROW, "Sungrow", "inverter_string"),
        (BYD, "BYD", "battery"),
    ],
)
def test_document_level_facts(name, manufacturer, equipment_type):
    result = extracted(name)
    assert result.has_text_layer
    assert (result.manufacturer, result.equipment_type) == (manufacturer, equipment_type)
    assert all(r.manufacturer == manufacturer and r.equipment_type == equipment_type for r in result.specs)


def test_certifications_are_normalized():
    assert extracted(JINKO).certifications == ["IEC 61215", "IEC 61730"]
    assert {"IEC 61215", "IEC 61730", "UL 1703"} == set(extracted(QCELLS).certifications)
    assert {"IEC 61727", "VDE-AR-N 4105", "VDE 0126-1-1"} <= set(extracted(SMA).certifications)
    # Test-method references are not certifications (IEC 60904-3 on Q CELLS, IEC 60529 on SMA).
    assert not any(
        c.startswith(("IEC 60904", "IEC 60529")) for name in TEXT_PDFS for c in extracted(name).certifications
    )


def test_page_provenance():
    for record in extracted(JINKO).specs:
        assert {fv.page for fv in record.fields.values()} == {2}
    pages = {r.model: {fv.page for fv in r.fields.values()} for r in extracted(SMA).specs}
    assert pages == {"SB 3000TL-21": {2}, "SB 3600TL-21": {2}, "SB 4000TL-21": {3}, "SB 5000TL-21": {3}}
    assert all(fv.source == "rules" for name in TEXT_PDFS for r in extracted(name).specs for fv in r.fields.values())


def test_decimal_commas_and_glued_footnotes():
    assert parse_number("96,4") == approx(96.4)
    assert parse_number("1,500") == 1500
    assert parse_number("\u22120,27") == approx(-0.27)
    assert _parse_value("max_efficiency_pct", "96,4 %", "") == approx(96.4)
    assert _parse_value("ac_power_w", "5,5 kW", "") == 5500
    assert _parse_value("ac_power_w", "5000 VA", "") is None  # apparent power is not rated power
    # "5250 W³" on the SMA sheet: the superscript footnote must not become part of the number.
    assert "5250 W3" not in "\n".join(r.text for r in _rows(SMA, 3))


def _rows(name: str, page: int):
    doc = pdfium.PdfDocument(str(PDFS / name))
    try:
        return _page_rows(doc[page - 1], page)
    finally:
        doc.close()


def test_scanned_sheet_has_no_text_layer_and_no_specs():
    result = extracted(SOFAR)
    assert result.pages == 1
    assert result.has_text_layer is False
    assert result.specs == []
    assert result.to_json()["specs"] == []


@pytest.mark.parametrize("name", TEXT_PDFS)
def test_no_extracted_value_contradicts_labels(name):
    score = score_sheet(extracted(name), LABELS[name])
    assert score["wrong_values"] == []
    assert score["recalled"] >= 0.8 * score["labelled"]


def test_expected_fields_maps_label_names():
    fields = expected_fields(LABELS[SMA])["SB 5000TL-21"]
    assert fields["ac_power_w"] == 4600
    assert (fields["mppt_min_v"], fields["mppt_max_v"], fields["mppt_count"], fields["phases"]) == (175, 500, 2, 1)
    module = expected_fields(LABELS[JINKO])["JKM550M-72HL4(-V)"]
    assert (module["length_mm"], module["temp_coeff_pmax_pct_per_c"]) == (2278, -0.35)


def test_to_json_is_json_ready_with_units():
    payload = extracted(JINKO).to_json()
    json.dumps(payload)
    field = payload["specs"][0]["fields"]["pmax_w"]
    assert field == {"value": 550, "unit": "W", "page": 2, "source": "rules"}
    assert set(payload) == {"pages", "has_text_layer", "manufacturer", "equipment_type", "certifications", "specs"}
    assert all(name in SPEC_FIELDS for spec in payload["specs"] for name in spec["fields"])


def test_page_texts_reads_every_page():
    texts = page_texts(PDFS / SMA)
    assert len(texts) == 4
    assert "Sunny Boy" in texts[0]
