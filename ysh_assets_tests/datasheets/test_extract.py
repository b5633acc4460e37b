"""Rule-based datasheet extraction checked against hand-read labels of sixteen real sheets, and the table reader,
physics guards and OCR on their own."""

import json
import os
import shutil
from functools import cache
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from ysh_assets.datasheets.accuracy import _match_model, expected_fields, normalize_model, score_sheet
from ysh_assets.datasheets.extract import SPEC_FIELDS, Extraction, extract_pdf, parse_number, records_from_lines
from ysh_assets.datasheets.layout import Cell, Word, lines_from_words, usable_text
from ysh_assets.datasheets.physics import module_violations, non_monotone
from ysh_assets.datasheets.tables import Column, Token, _cell_tokens, assign
from ysh_assets.datasheets.values import parse_value

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PDFS = FIXTURES / "pdfs"  # the six reference sheets
MORE = FIXTURES / "pdfs_more"  # ten more, none of them seen when the first reader was written
LABELS = json.loads((PDFS / "labels.json").read_text(encoding="utf-8"))
MORE_LABELS = json.loads((MORE / "labels.json").read_text(encoding="utf-8"))
JINKO = "JKM550-570M-72HL4-V-F4C1-EN.pdf"
QCELLS = "Q_CELLS_Q.PEAK_DUO_L-G5.2_395.pdf"
SMA = "SMA_SB3000-5000TL-21_DEN1551-V20.pdf"
SUNGROW = "Sungrow_SG3K-D_SG5K-D.pdf"
BYD = "BYD_Battery-Box_Premium_HVS_HVM_Datasheet_V1.5_EN.pdf"
SOFAR = "SOFAR_3.3-12KTL-X_scanned.pdf"
TEXT_PDFS = [JINKO, QCELLS, SMA, SUNGROW, BYD]

# Labelled values the reader does not return, each for a reason printed on the sheet itself. The test fails when
# one of them starts to be read as well, so this list only shrinks on purpose.
KNOWN_MISSES = {
    "module_risen_RSM96-11-475BNDG.pdf": {
        # The text layer drops glyphs of one font subset: Isc reads '1652' (no decimal point), the dimensions
        # 'x1134x30mm' (with the multiplication sign) and the weight '. kg'.
        ("RSM96-11-475BNDG", "isc_a"),
        ("RSM96-11-475BNDG", "length_mm"),
        ("RSM96-11-475BNDG", "width_mm"),
        ("RSM96-11-475BNDG", "thickness_mm"),
        ("RSM96-11-475BNDG", "weight_kg"),
    },
    # 'Voltage 51.2V' under 'MODULE OPERATING PARAMETERS': a bare 'Voltage' label is too vague to call nominal.
    "battery_eg4_WallMount-AllWeather-280Ah.pdf": {("WP-16/280-1AWLL", "nominal_voltage_v")},
    # The 5K column prints '5000 kW'; physics refuses it against the 5 kW in the model name.
    "inverter_solis_S6-EH1P-3.8-11.4K-H-US.pdf": {("S6-EH1P5K-H-US", "ac_power_w")},
    # 'Weight 66.3 kg' sits in a two-column 'lifting / installed' layout the reader does not pair.
    "battery_enphase_IQ-Battery-5P.pdf": {("IQBATTERY-5P-1P-NA", "weight_kg")},
}


def ocr_ready() -> bool:
    if shutil.which("tesseract"):
        return True
    if os.environ.get("YSH_REQUIRE_SERVICES") == "1":
        pytest.fail("tesseract is not installed (.ci/run installs tesseract-ocr tesseract-ocr-por)")
    pytest.skip("tesseract is not installed")


@cache
def extracted(path: Path) -> Extraction:
    """Each PDF is extracted once per test session (about 0.1 s each, 4 s for the OCR page)."""
    return extract_pdf(path)


def by_model(name: str) -> dict[str, dict[str, float]]:
    return {normalize_model(r.model): {k: v.value for k, v in r.fields.items()} for r in extracted(PDFS / name).specs}


def approx(value: float) -> object:
    return pytest.approx(value, rel=1e-6)


# --------------------------------------------------------------------------------------------------------------
# Every labelled sheet, value by value


def _all_sheets() -> list[tuple[Path, dict]]:
    sheets = [(PDFS / name, sheet) for name, sheet in LABELS.items() if name != SOFAR]
    return sheets + [(MORE / name, sheet) for name, sheet in MORE_LABELS.items()]


@pytest.mark.parametrize(("path", "sheet"), _all_sheets(), ids=lambda v: v.name if isinstance(v, Path) else "")
def test_labelled_sheet_value_by_value(path, sheet):
    """Every value read equals the label; every labelled value is read, except the documented misses."""
    extraction = extracted(path)
    expected = expected_fields(sheet)
    got: dict[tuple[str, str], float] = {}
    for record in extraction.specs:
        model = _match_model(record.model, expected)
        assert model is not None, f"{record.model} is not a model of {path.name}"
        for name, field_value in record.fields.items():
            got[(model, name)] = field_value.value
    wrong = {
        key: (value, expected[key[0]][key[1]])
        for key, value in got.items()
        if key[1] in expected[key[0]] and value != approx(expected[key[0]][key[1]])
    }
    assert wrong == {}
    missing = {(model, name) for model, fields in expected.items() for name in fields if (model, name) not in got}
    assert missing == KNOWN_MISSES.get(path.name, set())


def test_module_stc_values_come_from_the_stc_table_not_noct_or_rear_gain():
    trina = {r.model: r for r in extracted(MORE / "module_trina_TSM-NEG19RC20.pdf").specs}
    # Pairs 'STC NOCT' side by side, then a backside-gain table whose Pmax row starts at 620.
    assert [r.fields["pmax_w"].value for r in trina.values()] == [590, 595, 600, 605, 610, 615, 620]
    assert trina["TSM-NEG19RC.20 590"].fields["imp_a"].value == approx(15.08)  # not 12.19 (NOCT) or 15.83 (5 %)
    qcells = extracted(MORE / "module_qcells_Q.PEAK-DUO-BLK-ML-G10plus.pdf").specs
    assert [r.model for r in qcells] == [f"Q.PEAK DUO BLK ML-G10+ {p}" for p in (395, 400, 405, 410, 415)]
    assert qcells[0].fields["pmax_w"].value == 395  # not the minimum-NMOT 296.4 W below it


def test_jinko_stc_not_noct_and_sheet_level_fields():
    got = by_model(JINKO)["JKM550M72HL4"]
    assert got["pmax_w"] == 550  # the interleaved NOCT column says 409 Wp
    assert (got["length_mm"], got["width_mm"], got["thickness_mm"]) == (2278, 1134, 35)  # printed '2278x1 134x35mm'
    assert got["temp_coeff_isc_pct_per_c"] == approx(0.048)


def test_bare_power_classes_get_the_series_name():
    assert [r.model for r in extracted(PDFS / QCELLS).specs] == [
        f"Q.PEAK DUO L-G5.2 {p}" for p in (380, 385, 390, 395, 400, 405)
    ]
    assert extracted(PDFS / JINKO).specs[0].model == "JKM550M-72HL4"  # model names printed in full stay so
    assert [r.model for r in extracted(PDFS / SUNGROW).specs] == ["SG3K-D-10", "SG5K-D-10"]


def test_short_column_headers_take_the_full_name_printed_elsewhere():
    solis = extracted(MORE / "inverter_solis_S6-EH1P-3.8-11.4K-H-US.pdf").specs
    assert [r.model for r in solis][:2] == ["S6-EH1P3.8K-H-US", "S6-EH1P5K-H-US"]  # headed '3.8K', '5K'
    merged = {r.model: r.fields["max_efficiency_pct"].value for r in solis}
    assert list(merged.values()) == [97.0, 97.0, 97.6, 97.6, 97.6, 97.6]  # two cells merged over 2 + 4 columns


def test_sma_per_model_ac_power_from_a_header_printed_under_the_table():
    assert {m: f["ac_power_w"] for m, f in by_model(SMA).items()} == {
        "SB3000TL21": 3000,
        "SB3600TL21": 3680,
        "SB4000TL21": 4000,
        "SB5000TL21": 4600,  # rated power, not the 5000 VA apparent power
    }


@pytest.mark.parametrize(
    ("path", "manufacturer", "equipment_type"),
    [
        (PDFS / JINKO, "Jinko Solar", "module"),
        (PDFS / QCELLS, "Q CELLS", "module"),
        (PDFS / SMA, "SMA", "inverter_string"),
        (PDFS / SUNGROW, "Sungrow", "inverter_string"),
        (PDFS / BYD, "BYD", "battery"),
        (MORE / "module_trina_TSM-NEG19RC20.pdf", "Trina Solar", "module"),
        (MORE / "inverter_solaredge_EnergyHub-SExxxxH-US.pdf", "SolarEdge", "inverter_hybrid"),
        (MORE / "battery_dawnice_PowerFly-6.0.pdf", "Dawnice", "battery"),
    ],
)
def test_document_level_facts(path, manufacturer, equipment_type):
    result = extracted(path)
    assert result.has_text_layer and result.ocr_pages == []
    assert (result.manufacturer, result.equipment_type) == (manufacturer, equipment_type)


def test_certifications_are_normalized():
    assert extracted(PDFS / JINKO).certifications == ["IEC 61215", "IEC 61730"]
    assert {"IEC 61727", "VDE-AR-N 4105", "VDE 0126-1-1"} <= set(extracted(PDFS / SMA).certifications)
    assert not any(
        c.startswith(("IEC 60904", "IEC 60529")) for name in TEXT_PDFS for c in extracted(PDFS / name).certifications
    )


def test_page_provenance():
    for record in extracted(PDFS / JINKO).specs:
        assert {fv.page for fv in record.fields.values()} == {2}
    pages = {r.model: {fv.page for fv in r.fields.values()} for r in extracted(PDFS / SMA).specs}
    assert pages == {"SB 3000TL-21": {2}, "SB 3600TL-21": {2}, "SB 4000TL-21": {3}, "SB 5000TL-21": {3}}
    assert all(
        fv.source == "rules" for name in TEXT_PDFS for r in extracted(PDFS / name).specs for fv in r.fields.values()
    )


def test_to_json_is_json_ready_with_units():
    payload = extracted(PDFS / JINKO).to_json()
    json.dumps(payload)
    assert payload["specs"][0]["fields"]["pmax_w"] == {"value": 550, "unit": "W", "page": 2, "source": "rules"}
    assert {"ocr_pages", "rejected", "no_specs_reason"} <= set(payload)
    assert all(name in SPEC_FIELDS for spec in payload["specs"] for name in spec["fields"])


def text_layer(path: Path) -> list[str]:
    """Each page's text layer as pdfium gives it, without OCR."""
    doc = pdfium.PdfDocument(str(path))
    try:
        return [doc[i].get_textpage().get_text_range() for i in range(len(doc))]
    finally:
        doc.close()


def test_page_texts_reads_every_page():
    texts = extracted(PDFS / SMA).page_texts
    assert len(texts) == 4 and "Sunny Boy" in texts[0]


# --------------------------------------------------------------------------------------------------------------
# OCR


def test_scanned_sheet_is_read_by_ocr_with_rated_power_per_model():
    ocr_ready()
    result = extracted(PDFS / SOFAR)
    assert result.ocr_pages == [1] and result.has_text_layer is False
    rated = {r.model: r.fields["ac_power_w"] for r in result.specs}
    assert {m: fv.value for m, fv in rated.items()} == {
        "3.3KTL-X": 3000,
        "4.4KTL-X": 4000,
        "5.5KTL-X": 5000,
        "6.6KTL-X": 6000,
        "8.8KTL-X": 8000,
        "11KTL-X": 10000,
        "12KTL-X": 12000,
    }
    assert {(fv.source, fv.page) for fv in rated.values()} == {("ocr", 1)}
    assert score_sheet(result, LABELS[SOFAR])["wrong_values"] == []


def test_outlined_text_layer_counts_as_unusable():
    (sofar,) = text_layer(PDFS / SOFAR)
    assert sofar.strip() and not usable_text(sofar)  # a few stray labels: not empty, yet not readable
    assert all(usable_text(text) for text in text_layer(PDFS / JINKO))


def test_without_ocr_the_scanned_sheet_says_why_it_has_no_specs():
    result = extract_pdf(PDFS / SOFAR, ocr=False)
    assert result.specs == [] and result.unreadable_pages == [1]
    assert result.no_specs_reason == "no usable text layer and no OCR: OCR turned off"


# --------------------------------------------------------------------------------------------------------------
# The table reader on tables built word by word


def line(y: float, *cells: tuple[float, str], size: float = 8.0) -> list[Word]:
    """Words of one printed line: each cell at its x, words 0.5 em per character apart by one space."""
    words = []
    for x, text in cells:
        for word in text.split():
            width = 0.5 * size * len(word)
            words.append(Word(x, x + width, y - size / 2, y + size / 2, word, size))
            x += width + 0.25 * size
    return words


def page(*lines: list[Word]) -> list:
    return lines_from_words([w for ws in lines for w in ws], 1)


TABLE = [
    (100, "Maximum Power (Pmax/W)", ["400", "405", "410"]),
    (112, "Optimum Operating Voltage (Vmp/V)", ["31.20", "31.35", "31.50"]),
    (124, "Optimum Operating Current (Imp/A)", ["12.82", "12.92", "13.02"]),
    (136, "Open Circuit Voltage (Voc/V)", ["37.10", "37.25", "37.40"]),
    (148, "Short Circuit Current (Isc/A)", ["13.70", "13.80", "13.90"]),
    (160, "Module Efficiency (%)", ["20.5", "20.7", "21.0"]),
]


def module_page(rows=TABLE, header=("Model", ["XY-400M", "XY-405M", "XY-410M"]), dims=True) -> list:
    printed = [line(88, (40, header[0]), *((250 + 60 * i, name) for i, name in enumerate(header[1])))]
    for y, label, values in rows:
        printed.append(line(y, (40, label), *((250 + 60 * i, v) for i, v in enumerate(values))))
    if dims:
        printed.append(line(180, (40, "Dimensions"), (250, "1762 x 1134 x 30 mm")))
    return page(*printed)


def records(lines, family="module"):
    specs, rejected = records_from_lines(lines, family)
    return {r.model: {k: v.value for k, v in r.fields.items()} for r in specs}, rejected


def test_a_plain_table_reads_every_field():
    got, rejected = records(module_page())
    assert rejected == []
    assert got["XY-405M"] == {
        "pmax_w": 405,
        "vmp_v": 31.35,
        "imp_a": 12.92,
        "voc_v": 37.25,
        "isc_a": 13.8,
        "efficiency_pct": 20.7,
        "length_mm": 1762,
        "width_mm": 1134,
        "thickness_mm": 30,
    }


def test_a_swapped_column_is_refused_by_physics():
    swapped = [list(r) for r in TABLE]
    swapped[1][2], swapped[3][2] = TABLE[3][2], TABLE[1][2]  # Vmp and Voc rows exchanged
    got, rejected = records(module_page([tuple(r) for r in swapped]))
    assert all("vmp_v" not in fields and "voc_v" not in fields for fields in got.values())
    assert all("pmax_w" not in fields for fields in got.values())  # 37.1 V x 12.82 A is not 400 W either
    reasons = {(r.model, r.field): r.reason for r in rejected}
    assert "Voc 31.2 V is not above Vmp 37.1 V" in reasons[("XY-400M", "voc_v")]


def test_a_row_shifted_by_one_column_breaks_the_trend_over_power_classes_and_is_dropped():
    shifted = [list(r) for r in TABLE]
    shifted[2][2] = ["12.92", "13.02", "12.82"]  # Imp rotated by one column: each value still within 3 % of P/V
    got, rejected = records(module_page([tuple(r) for r in shifted]))
    assert all("imp_a" not in fields and fields["pmax_w"] for fields in got.values())
    assert {(r.field, r.reason) for r in rejected} == {("imp_a", "breaks the trend over the power classes")}


def test_efficiency_must_agree_with_power_over_area():
    wrong = [list(r) for r in TABLE]
    wrong[5][2] = ["22.5", "22.7", "23.0"]  # 2 points above 400 W / (1.762 m x 1.134 m)
    got, rejected = records(module_page([tuple(r) for r in wrong]))
    assert all("efficiency_pct" not in fields for fields in got.values())
    assert any("Pmax / area" in r.reason for r in rejected)


def test_descending_power_classes():
    rows = [(y, label, list(reversed(values))) for y, label, values in TABLE]
    got, rejected = records(module_page(rows, header=("Model", ["XY-410M", "XY-405M", "XY-400M"])))
    assert rejected == []
    assert got["XY-410M"]["pmax_w"] == 410 and got["XY-410M"]["vmp_v"] == 31.5


def test_power_class_header_and_portuguese_labels():
    rows = [
        (100, "Potência Máxima (Pmax)", ["400 W", "405 W", "410 W"]),
        (112, "Tensão de Máxima Potência (Vmp)", ["31,20 V", "31,35 V", "31,50 V"]),
        (124, "Corrente de Máxima Potência (Imp)", ["12,82 A", "12,92 A", "13,02 A"]),
        (136, "Tensão de Circuito Aberto (Voc)", ["37,10 V", "37,25 V", "37,40 V"]),
        (148, "Corrente de Curto-Circuito (Isc)", ["13,70 A", "13,80 A", "13,90 A"]),
    ]
    got, _ = records(module_page(rows, header=("Classe de potência", ["400", "405", "410"]), dims=False))
    assert got["400 W"] == {"pmax_w": 400, "vmp_v": 31.2, "imp_a": 12.82, "voc_v": 37.1, "isc_a": 13.7}


def test_transposed_table_with_models_as_rows():
    printed = [line(88, (40, "Model"), (150, "Pmax (W)"), (210, "Vmp (V)"), (270, "Imp (A)"), (330, "Voc (V)"))]
    for i, (model, *values) in enumerate(
        [("AB-550", "550", "41.8", "13.16", "49.6"), ("AB-555", "555", "42.0", "13.22", "49.8")]
    ):
        printed.append(line(100 + 12 * i, (40, model), *((150 + 60 * j, v) for j, v in enumerate(values))))
    got, rejected = records(page(*printed))
    assert rejected == []
    assert got == {
        "AB-550": {"pmax_w": 550, "vmp_v": 41.8, "imp_a": 13.16, "voc_v": 49.6},
        "AB-555": {"pmax_w": 555, "vmp_v": 42.0, "imp_a": 13.22, "voc_v": 49.8},
    }


def test_two_module_formats_side_by_side_under_one_header_line():
    printed = [
        line(88, (40, "Model"), (150, "AB-400"), (200, "AB-405"), (300, "Model"), (400, "CD-330"), (450, "CD-335"))
    ]
    rows = [
        ("Pmax (W)", ["400", "405"], ["330", "335"]),
        ("Vmp (V)", ["31.20", "31.35"], ["34.10", "34.30"]),
        ("Imp (A)", ["12.82", "12.92"], ["9.68", "9.77"]),
    ]
    for i, (label, left, right) in enumerate(rows):
        y = 100 + 12 * i
        printed.append(
            line(y, (40, label), (150, left[0]), (200, left[1]), (300, label), (400, right[0]), (450, right[1]))
        )
    got, rejected = records(page(*printed))
    assert rejected == []
    assert got["AB-405"] == {"pmax_w": 405, "vmp_v": 31.35, "imp_a": 12.92}
    assert got["CD-330"] == {"pmax_w": 330, "vmp_v": 34.1, "imp_a": 9.68}


def test_spanish_and_german_labels():
    rows = [
        (100, "Potencia máxima (Pmax)", ["400 W", "405 W"]),
        (112, "Tensión en el punto de máxima potencia (Vmp)", ["31,20 V", "31,35 V"]),
        (124, "MPP-Strom (Impp)", ["12,82 A", "12,92 A"]),
        (136, "Leerlaufspannung (Uoc)", ["37,10 V", "37,25 V"]),
    ]
    got, _ = records(module_page(rows, header=("Modelo", ["XY-400M", "XY-405M"]), dims=False))
    assert got["XY-400M"] == {"pmax_w": 400, "vmp_v": 31.2, "imp_a": 12.82, "voc_v": 37.1}


def test_a_titled_header_row_names_the_models():
    models = ["SUN2000-3KTL-M1", "SUN2000-4KTL-M1", "SUN2000-5KTL-M1"]
    printed = [line(88, (40, "Technical Specification"), *((250 + 90 * i, m) for i, m in enumerate(models)))]
    rows = [
        ("Max. Efficiency", ["98.2%", "98.3%", "98.4%"]),
        ("Rated AC Active Power", ["3,000 W", "4,000 W", "5,000 W"]),
        ("Number of MPP Trackers", ["2"]),
        ("Max. Input Voltage", ["1,100 V"]),
    ]
    for i, (label, values) in enumerate(rows):
        xs = [250 + 90 * j for j in range(len(values))] if len(values) > 1 else [340]
        printed.append(line(100 + 12 * i, (40, label), *zip(xs, values, strict=True)))
    got, rejected = records(page(*printed), "inverter")
    assert rejected == []
    assert got["SUN2000-4KTL-M1"] == {
        "max_efficiency_pct": 98.3,
        "ac_power_w": 4000,
        "mppt_count": 2,
        "max_dc_voltage_v": 1100,
    }


def test_one_cell_listing_a_value_per_model():
    models = ["GW3000-NS", "GW3600-NS", "GW5000-NS"]
    printed = [line(88, (40, "Model"), *((250 + 90 * i, m) for i, m in enumerate(models)))]
    printed.append(line(100, (40, "Nominal Output Power"), (300, "3000/3600/5000 W")))
    printed.append(line(112, (40, "Max. Input Voltage"), (300, "600 V")))
    got, _ = records(page(*printed), "inverter")
    assert {m: f["ac_power_w"] for m, f in got.items()} == {"GW3000-NS": 3000, "GW3600-NS": 3600, "GW5000-NS": 5000}
    assert {f["max_dc_voltage_v"] for f in got.values()} == {600}


def test_a_page_with_no_spec_table_gives_no_specs():
    prose = page(
        line(100, (40, "Our monocrystalline modules are built for decades of reliable generation.")),
        line(112, (40, "Contact your distributor for the datasheet of each power class.")),
    )
    assert records(prose) == ({}, [])


def test_a_sheet_with_no_spec_table_says_so(tmp_path):
    path = tmp_path / "brochure.pdf"
    path.write_bytes(
        _text_pdf([f"Line {i}: our monocrystalline solar module brochure tells the factory story." for i in range(30)])
    )
    result = extract_pdf(path)
    assert result.has_text_layer and result.specs == []
    assert result.no_specs_reason == "no spec table found: no labelled row of values matched a model column"


def _text_pdf(text_lines: list[str]) -> bytes:
    """A one-page PDF with a real text layer (Helvetica), built by hand."""
    content = "BT /F1 9 Tf 40 800 Td 12 TL " + " ".join(f"({t}) '" for t in text_lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


# --------------------------------------------------------------------------------------------------------------
# Pieces


def test_numbers_split_or_glued_by_the_text_layer():
    def tokens(*words: str) -> list[str]:
        cell_words = [Word(10 * i, 10 * i + 8, 0, 8, w, 8) for i, w in enumerate(words)]
        return [t.text for t in _cell_tokens(Cell(0, 10 * len(words), " ".join(words), cell_words))]

    assert tokens("31.", "21") == ["31.21"]  # a number split by a space
    assert tokens("40.2437.90") == ["40.24", "37.90"]  # two numbers printed without a gap
    assert tokens("≥", "20.4", "≥", "20.6") == ["≥20.4", "≥20.6"]
    assert tokens("80", "-", "520", "V") == ["80 - 520 V"]  # a range stays one value


def test_merged_cells_span_the_columns_they_are_centred_over():
    columns = [Column(x, x + 20, f"M{i}") for i, x in enumerate((220, 280, 340, 400, 460, 520))]
    merged = assign(columns, [Token(240, 280, "97.0%"), Token(420, 450, "97.6%")])
    assert [cols for cols, _ in merged] == [[0, 1], [2, 3, 4, 5]]
    assert [cols for cols, _ in assign(columns, [Token(360, 400, "600 V")])] == [[0, 1, 2, 3, 4, 5]]
    assert assign(columns, [Token(0, 5, "1"), Token(900, 905, "2")]) == []  # fits no run of columns


def test_values_units_and_ranges():
    assert parse_number("96,4") == approx(96.4)
    assert parse_number("1,500") == 1500
    assert parse_number("- 0.29") == approx(-0.29)
    assert parse_value("max_efficiency_pct", "96,4 %") == approx(96.4)
    assert parse_value("ac_power_w", "5,5 kW") == 5500
    assert parse_value("ac_power_w", "5000 VA") is None  # apparent power is not rated power
    assert parse_value("vmp_v", "31.20", "v") == approx(31.2)  # unit from the label or a unit column


def test_monotone_check_names_the_outlier():
    assert non_monotone([31.0, 31.2, 35.9, 31.5, 31.7]) == {2}
    assert non_monotone([45.3, 45.2, 45.1]) == set()  # one-way down is a trend too
    assert non_monotone([1.0, 3.0, 2.0, 4.0, 3.5, 5.0]) == {0, 1, 2, 3, 4, 5}  # too many: the field goes


def test_module_violations_cover_power_and_order():
    good = {"pmax_w": 400, "vmp_v": 31.2, "imp_a": 12.82, "voc_v": 37.1, "isc_a": 13.7}
    assert module_violations(good) == {}
    assert set(module_violations({**good, "isc_a": 12.0})) == {"imp_a", "isc_a"}
    assert set(module_violations({**good, "pmax_w": 450})) == {"pmax_w", "vmp_v", "imp_a"}
