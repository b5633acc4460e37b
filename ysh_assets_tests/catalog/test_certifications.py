"""Certification list readers: CEC module/inverter lists (SAM/pvlib layout) and INMETRO registration lists."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import polars as pl
import pytest

from ysh_assets.catalog.certifications import (
    CEC_EXTRA_COLUMNS,
    CERTIFICATION_COLUMNS,
    canonical_manufacturer,
    load_cec,
    load_inmetro_csv,
    load_inmetro_xlsx,
    read_cec,
    read_inmetro_csv,
    read_inmetro_xlsx,
)
from ysh_assets.catalog.records import CatalogFormatError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "catalog"
CEC_MODULES = FIXTURES / "cec_modules_subset.csv"  # the 3 header rows + 233 rows of the 2021-12-01 CEC module list
CEC_INVERTERS = FIXTURES / "cec_inverters_subset.csv"  # the 3 header rows + 148 rows of the 2019-03-05 list
INMETRO = FIXTURES / "inverter_certifications_unofficial.csv"


def _data_lines(path: Path) -> int:
    return sum(1 for _ in path.open(encoding="utf-8")) - 3


def _row(frame: pl.DataFrame, **where: object) -> dict:
    found = frame.filter(pl.all_horizontal([pl.col(k) == v for k, v in where.items()]))
    assert found.height == 1, (where, found)
    return found.row(0, named=True)


# ------------------------------------------------------------------------------------------------ CEC


def test_cec_modules_every_row_loaded_but_units_and_sam_rows():
    batch = load_cec(CEC_MODULES, "module")
    frame = batch.certifications
    assert _data_lines(CEC_MODULES) == 233
    assert frame.height == 232  # one duplicated Name in the list (Silfab SIL370MT-W twice)
    assert batch.rejected.height == 0
    assert batch.duplicates_resolved == 1
    assert "SIL370MT-W" in batch.duplicates["reason"][0]
    assert frame.columns == [*CERTIFICATION_COLUMNS, *CEC_EXTRA_COLUMNS]
    assert not frame.filter(
        pl.col("cec_name").is_in(["Units", "[0]"]) | pl.col("model").is_in(["", "lib_manufacturer"])
    ).height
    assert frame["certifier"].unique().to_list() == ["CEC"]
    assert frame["equipment_type"].unique().to_list() == ["module"]
    assert frame["source"].unique().to_list() == ["cec_modules_subset.csv"]
    assert frame.select(pl.struct("manufacturer", "model").is_unique().all()).item()


def test_cec_module_rows_match_the_list_and_the_datasheets():
    frame = read_cec(CEC_MODULES, "module")
    sunpower = _row(frame, cec_name="SunPower SPR-X21-345")
    assert sunpower["manufacturer"] == "SUNPOWER"
    assert sunpower["model"] == "SPR-X21-345"
    assert sunpower["rated_power_w"] == pytest.approx(344.95, abs=0.01)
    assert (sunpower["v_oc_ref"], sunpower["i_sc_ref"], sunpower["v_mp_ref"], sunpower["i_mp_ref"]) == (
        68.2,
        6.39,
        57.3,
        6.02,
    )
    qcells = _row(frame, cec_name="Hanwha Q CELLS Q.PEAK DUO L-G5.2 395")
    assert qcells["manufacturer"] == "Q CELLS"
    assert qcells["holder"] == "Hanwha Q CELLS"
    assert qcells["model"] == "Q.PEAK DUO L-G5.2 395"
    assert qcells["rated_power_w"] == pytest.approx(394.887, abs=0.01)  # STC, not PTC
    assert qcells["registered_year"] == 2021
    assert "72 cells" in qcells["description"] and "PTC 366 W" in qcells["description"]
    lg = _row(frame, cec_name="LG Electronics Inc. LG260S1C-A3")
    assert (lg["v_oc_ref"], lg["i_sc_ref"], lg["v_mp_ref"], lg["i_mp_ref"]) == (38.1, 9.05, 31.1, 8.38)
    # listed manufacturer spellings meet their canonical names; the CEC `_` for a comma is restored in the holder
    assert set(frame.filter(pl.col("holder").str.starts_with("Jinko"))["manufacturer"]) == {"JINKO"}
    assert set(frame.filter(pl.col("holder").str.starts_with("LONGi"))["manufacturer"]) == {"LONGI"}
    assert set(frame.filter(pl.col("holder").str.starts_with("CSI Solar"))["manufacturer"]) == {"CANADIAN SOLAR"}
    assert "Jinko Solar Co., Ltd" in frame["holder"].to_list()


def test_cec_inverters_split_manufacturer_and_model_at_the_colon():
    batch = load_cec(CEC_INVERTERS, "inverter")
    frame = batch.certifications
    assert _data_lines(CEC_INVERTERS) == 148
    # Fronius International GmbH and Fronius USA both list `Fronius Primo 3.8-1 208-240` at 208 V and 240 V
    assert batch.duplicates_resolved == 2
    assert frame.height == 146
    assert frame.filter(pl.col("cec_name").is_in(["Units", "[0]"])).height == 0
    abb = _row(frame, cec_name="ABB: MICRO-0.25-I-OUTD-US-208 [208V]")
    assert (abb["manufacturer"], abb["model"], abb["rated_power_w"], abb["vac_v"]) == (
        "ABB",
        "MICRO-0.25-I-OUTD-US-208 [208V]",
        250.0,
        208.0,
    )
    assert abb["v_oc_ref"] is None and abb["registered_year"] is None  # CEC_Date n/a
    growatt = _row(frame, cec_name="Shenzhen Growatt New Energy Technology Co - Ltd: GROWATT 5000MTLP-US [240V]")
    assert (growatt["manufacturer"], growatt["model"], growatt["rated_power_w"]) == (
        "GROWATT",
        "GROWATT 5000MTLP-US [240V]",
        5070.0,
    )
    spaced = _row(frame, cec_name="Altenergy Power System Inc : QS1 [240V]")
    assert spaced["model"] == "QS1 [240V]" and spaced["holder"] == "Altenergy Power System Inc"
    assert _row(frame, cec_name="Beacon Power: M4")["model"] == "M4"  # no voltage suffix: kept as is
    primo = frame.filter(pl.col("model").str.starts_with("Fronius Primo 3.8-1"))
    assert primo["holder"].to_list() == ["Fronius International GmbH", "Fronius International GmbH"]
    assert set(frame.filter(pl.col("holder").str.contains("Ginlong"))["manufacturer"]) == {"SOLIS"}


def test_cec_file_without_units_rows_and_bad_names(tmp_path):
    path = tmp_path / "inverters.csv"
    path.write_text(
        "Name,Vac,Paco,CEC_Date\n"
        "SMA America: SB5000TL-US-22 [240V],240,5000,10/1/2016\n"
        "no separator here,240,300,n/a\n",
        encoding="utf-8",
    )
    batch = load_cec(path, "inverter")
    assert batch.certifications["model"].to_list() == ["SB5000TL-US-22 [240V]"]
    assert batch.certifications["registered_year"].to_list() == [2016]
    assert batch.rejected["record"].to_list() == [2]
    assert "<manufacturer>: <model>" in batch.rejected["reason"][0]


def test_cec_wrong_layout_names_the_file_and_the_expected_layout(tmp_path):
    with pytest.raises(CatalogFormatError, match=r"cec_inverters_subset\.csv: not a CEC module list \(it looks like"):
        read_cec(CEC_INVERTERS, "module")
    with pytest.raises(CatalogFormatError, match=r"inverter_certifications_unofficial\.csv.*Units"):
        read_cec(INMETRO, "inverter")
    with pytest.raises(ValueError, match="equipment_type"):
        read_cec(CEC_MODULES, "battery")


# ------------------------------------------------------------------------------------------------ INMETRO


def test_inmetro_csv_rows():
    batch = load_inmetro_csv(INMETRO)
    frame = batch.certifications
    assert frame.height == 37
    assert batch.rejected.height == 0 and batch.duplicates_resolved == 0
    assert frame.columns == list(CERTIFICATION_COLUMNS)
    neo = _row(frame, registration_id="019270/2024")
    assert neo == {
        "equipment_type": "inverter",
        "certifier": "INMETRO",
        "manufacturer": "GROWATT",
        "model": "NEO 800M-X",
        "registration_id": "019270/2024",
        "brand": "Growatt",
        "holder": "Growatt New Energy Brazil",
        "regulation": "Portaria 140/2022 + 515/2023",
        "status": None,
        "registered_year": 2024,
        "rated_power_w": 800.0,
        "description": "Microinversor monofásico 220V",
        "source": "inverter_certifications_unofficial.csv",
    }
    assert _row(frame, model="NEO 1000M-X")["rated_power_w"] == 1000.0  # `1 kW`
    goodwe = _row(frame, registration_id="011532/2023")
    assert (goodwe["manufacturer"], goodwe["model"], goodwe["regulation"], goodwe["rated_power_w"]) == (
        "GOODWE",
        "GW3300-XS-11/B11",
        "Portaria 140/2022",
        3300.0,
    )
    assert _row(frame, model="MOD 12KTL3-X2(Pro)")["rated_power_w"] == 12000.0
    assert frame["rated_power_w"].null_count() == 0


def test_inmetro_malformed_registration_is_rejected_with_reason(tmp_path):
    lines = INMETRO.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace("000517/2024", "517/2024")  # third record
    lines[10] = lines[10].replace("002622/2024", "")  # tenth record
    path = tmp_path / "inmetro.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    batch = load_inmetro_csv(path)
    assert batch.certifications.height == 35
    assert batch.rejected["record"].to_list() == [3, 10]
    assert batch.rejected["reason"].to_list() == [
        "malformed registration number '517/2024' (expected NNNNNN/AAAA)",
        "no registration number",
    ]
    assert '"title": "NEO 1600M-X"' in batch.rejected["raw_record"][0]
    assert "517/2024" not in batch.certifications["registration_id"].to_list()


def test_inmetro_portuguese_header_semicolons_status_and_duplicates(tmp_path):
    path = tmp_path / "registros.csv"
    path.write_text(
        "Marca;Modelo;Registro;Portaria;Detentor;Ano;Potência;Descrição;Situação\n"
        "Growatt;MIN 5000TL-X;001474/2024;Portaria 140/2022;Growatt New Energy Brazil;2024;5 kW;String;Ativo\n"
        "Growatt;MIN 5000TL-X;001000/2022;Portaria 004/2011;Growatt New Energy Brazil;2022;5 kW;String;Cancelado\n"
        "Sofar Solar;SOFAR 3.3KTLM-G3;123456/2023;Portaria 140/2022;Sofar;2023;3,3 kW;String;Ativo\n",
        encoding="cp1252",
    )
    batch = load_inmetro_csv(path)
    frame = batch.certifications
    assert frame["registration_id"].to_list() == ["001474/2024", "123456/2023"]  # the latest registration kept
    assert frame["status"].to_list() == ["Ativo", "Ativo"]
    assert frame["manufacturer"].to_list() == ["GROWATT", "SOFAR"]
    assert frame["rated_power_w"].to_list() == [5000.0, 3300.0]
    assert batch.duplicates_resolved == 1 and "record 1" in batch.duplicates["reason"][0]


def test_inmetro_unknown_layout(tmp_path):
    path = tmp_path / "catalog.csv"
    path.write_text("sku,name,price\n1,Painel 550W,R$ 899,00\n", encoding="utf-8")
    with pytest.raises(
        CatalogFormatError, match=r"catalog\.csv: not an INMETRO registration list: expected .*registro"
    ):
        read_inmetro_csv(path)
    with pytest.raises(CatalogFormatError, match=r"not an INMETRO registration list"):
        read_inmetro_csv(CEC_MODULES)
    with pytest.raises(CatalogFormatError, match=r"catalog\.csv: not an XLSX workbook"):
        read_inmetro_xlsx(path)


# ------------------------------------------------------------------------------------------------ XLSX


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _write_xlsx(path: Path, rows: list[list[object]]) -> None:
    """A minimal XLSX (one sheet; text as shared strings, numbers as numbers) written with the standard library."""
    shared: list[str] = []
    sheet_rows = []
    for r, row in enumerate(rows, start=1):
        cells = []
        for c, value in enumerate(row):
            ref = f"{_column_letter(c)}{r}"
            if value is None:
                continue
            if isinstance(value, int | float):
                cells.append(f'<c r="{ref}"><v>{value}</v></c>')
            else:
                shared.append(str(value))
                cells.append(f'<c r="{ref}" t="s"><v>{len(shared) - 1}</v></c>')
        sheet_rows.append(f'<row r="{r}">{"".join(cells)}</row>')
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel_ns = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
    package_rels = "http://schemas.openxmlformats.org/package/2006/relationships"
    office = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    with zipfile.ZipFile(path, "w") as archive:
        sheetml = "application/vnd.openxmlformats-officedocument.spreadsheetml"
        overrides = "".join(
            f'<Override PartName="{part}" ContentType="{sheetml}.{kind}+xml"/>'
            for part, kind in (
                ("/xl/workbook.xml", "sheet.main"),
                ("/xl/worksheets/sheet1.xml", "worksheet"),
                ("/xl/sharedStrings.xml", "sharedStrings"),
            )
        )
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            f'<Default Extension="xml" ContentType="application/xml"/>{overrides}</Types>',
        )
        archive.writestr(
            "_rels/.rels",
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{package_rels}">'
            f'<Relationship Id="rId1" Type="{office}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><workbook {ns} {rel_ns}><sheets>'
            '<sheet name="Registros" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{package_rels}">'
            f'<Relationship Id="rId1" Type="{office}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{office}/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/worksheets/sheet1.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><worksheet {ns}>'
            f"<sheetData>{''.join(sheet_rows)}</sheetData></worksheet>",
        )
        strings = "".join(f"<si><t>{escape(s)}</t></si>" for s in shared)
        archive.writestr(
            "xl/sharedStrings.xml",
            f'<?xml version="1.0" encoding="UTF-8"?>'
            f'<sst {ns} count="{len(shared)}" uniqueCount="{len(shared)}">{strings}</sst>',
        )


def _inmetro_rows() -> list[list[object]]:
    with INMETRO.open(encoding="utf-8", newline="") as handle:
        rows: list[list[object]] = [list(row) for row in csv.reader(handle)]
    for row in rows[1:]:
        row[5] = int(row[5])  # the year as a number, as a spreadsheet holds it
    return rows


def test_inmetro_xlsx_reads_like_the_csv(tmp_path):
    path = tmp_path / "registros.xlsx"
    rows = _inmetro_rows()
    _write_xlsx(path, [["Registros INMETRO - inversores"], [], *rows, [], [None, None, "12345/2024"]])
    batch = load_inmetro_xlsx(path)
    expected = read_inmetro_csv(INMETRO).drop("source")
    assert batch.certifications.drop("source").equals(expected)
    assert batch.certifications["source"].unique().to_list() == ["registros.xlsx"]
    assert batch.rejected["reason"].to_list() == ["malformed registration number '12345/2024' (expected NNNNNN/AAAA)"]


def test_inmetro_xlsx_with_openpyxl(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in _inmetro_rows():
        sheet.append(row)
    path = tmp_path / "registros.xlsx"
    workbook.save(path)
    assert read_inmetro_xlsx(path).drop("source").equals(read_inmetro_csv(INMETRO).drop("source"))


def test_canonical_manufacturer():
    assert canonical_manufacturer("Shenzhen Growatt New Energy Technology Co - Ltd") == "GROWATT"
    assert canonical_manufacturer("SMA America") == "SMA"
    assert canonical_manufacturer("Fronius International GmbH") == "FRONIUS"
    assert canonical_manufacturer("LONGi Green Energy Technology Co., Ltd.") == "LONGI"
    assert canonical_manufacturer("GROWATT") == "GROWATT"
    assert canonical_manufacturer("Silfab Solar Inc.") == "SILFAB SOLAR INC."
    assert canonical_manufacturer(None) is None
