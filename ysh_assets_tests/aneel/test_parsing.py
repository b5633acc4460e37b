"""ANEEL file parsing: real published layouts (built from the bundled real samples), traps and quarantine."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from ysh_assets.aneel.parsing import (
    GD_COLUMNS,
    GD_HEADER_VARIANTS,
    GD_ROW_DIGEST,
    QUARANTINE_SCHEMA,
    TARIFF_COLUMNS,
    UFS,
    GdUnitsReader,
    _to_utf8,
    open_published_file,
    read_tariffs,
    sniff_encoding,
    tariff_key_text,
    unit_digest,
)
from ysh_assets.aneel.synthetic import write_published_gd_file

SAMPLES = Path(__file__).resolve().parents[2] / "ysh_assets" / "sample_data" / "aneel"
GD_FILE = SAMPLES / "empreendimento-geracao-distribuida.csv"
TARIFF_FILE = SAMPLES / "tarifas-homologadas-distribuidoras-energia-eletrica.csv"


def _gd_rows() -> tuple[list[str], list[list[str]]]:
    with open_published_file(GD_FILE) as stream:
        rows = list(csv.reader(io.StringIO(stream.read().decode("cp1252"), newline=""), delimiter=";"))
    return rows[0], rows[1:]


def _line(fields: list[str]) -> str:
    return ";".join('"' + f.replace('"', '""') + '"' for f in fields)


def _write_gd(path: Path, header: list[str], rows: list[list[str]], *, extra_lines: list[str] = ()) -> Path:
    lines = [_line(header), *(_line(r) for r in rows), *extra_lines]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    return path


def _read_all(reader: GdUnitsReader) -> tuple[pl.DataFrame, pl.DataFrame]:
    batches = list(reader)
    rows = pl.concat([b.rows for b in batches]) if batches else pl.DataFrame()
    return rows, pl.concat([b.quarantine for b in batches])


@pytest.fixture(scope="module")
def bundled() -> tuple[pl.DataFrame, GdUnitsReader]:
    reader = GdUnitsReader(GD_FILE)
    rows, quarantine = _read_all(reader)
    assert quarantine.is_empty()
    return rows, reader


def test_bundled_gd_file_is_a_zip_named_csv_in_cp1252_with_quoted_fields():
    raw = GD_FILE.read_bytes()
    assert GD_FILE.suffix == ".csv" and raw[:4] == b"PK\x03\x04"
    with open_published_file(GD_FILE) as stream:
        text = stream.read()
    assert text.startswith(b'"DatGeracaoConjuntoDados";"AnmPeriodoReferencia";')
    assert b"\r\n" in text and "Radiação".encode("cp1252") in text
    assert sniff_encoding(text) == "cp1252"


def test_gd_typed_values(bundled):
    rows, reader = bundled
    assert reader.header.variant == "2026-31" and reader.header.encoding == "cp1252"
    assert reader.header.unknown_columns == [] and reader.header.missing_columns == []
    assert rows.columns == [*GD_COLUMNS, GD_ROW_DIGEST] and rows.height == 200
    # The digest covers the unit's own columns only: a new publication date leaves it as it was.
    republished = rows.with_columns(dat_geracao_conjunto_dados=pl.lit(None, pl.Date))
    assert unit_digest(republished).equals(rows[GD_ROW_DIGEST])
    assert not unit_digest(rows.with_columns(mda_potencia_instalada_kw=pl.lit(None))).equals(rows[GD_ROW_DIGEST])
    assert reader.rows_read == reader.rows_loaded == 200 and reader.rows_quarantined == 0
    first = rows.row(0, named=True)
    assert first["sig_uf"] == "AC" and first["cod_empreendimento"] == "GD.AC.000.000.590"
    assert first["mda_potencia_instalada_kw"] == 32.5
    assert first["anm_periodo_referencia"] == dt.date(2026, 8, 1)
    assert first["dat_geracao_conjunto_dados"] == dt.date(2026, 8, 19)
    assert first["dth_atualiza_cadastral_empreend"] == dt.date(2016, 8, 31)
    assert first["dth_atualiza_cadastral_sentinel"] is False
    assert first["cod_cep"] == "69912452"  # PJ CEP published with trailing spaces
    assert first["dsc_fonte_geracao"] == "Radiação solar"
    assert (first["cod_uf_ibge"], first["cod_regiao"], first["cod_municipio_ibge"]) == (12, 2, 1200401)
    assert first["cod_sub_grupo_tarifario"] is None and first["num_coord_e_sub"] is None
    pf = rows.filter(pl.col("sig_tipo_consumidor") == "PF").row(0, named=True)
    assert pf["cod_cep"] == "69919***" and pf["num_cpf_cnpj"].startswith("***.") and pf["num_cpf_cnpj"].endswith("-**")
    assert "Coité do Nóia" in rows["nom_municipio"].to_list()
    ba = rows.filter(pl.col("cod_empreendimento") == "GD.BA.000.001.917").row(0, named=True)
    assert (ba["num_coord_e_sub"], ba["num_coord_n_sub"]) == (-39.89, -9.87)
    assert rows["sig_uf"].unique().sort().to_list() == ["AC", "AL", "AM", "AP", "BA"]
    assert rows.schema["dth_atualiza_cadastral_sentinel"] == pl.Boolean
    assert rows["dth_atualiza_cadastral_sentinel"].null_count() == 0


def test_header_variants_map_by_name_to_the_same_result(tmp_path, bundled):
    expected, _ = bundled
    header, rows = _gd_rows()
    power = header.index("MdaPotenciaInstaladaKW")
    variant_33 = GD_HEADER_VARIANTS["2026-33"]
    rows_33 = [[*r[:power], "-9,974", "-67,81", *r[power:]] for r in rows]
    reader = GdUnitsReader(_write_gd(tmp_path / "v33.csv", variant_33, rows_33))
    got, _ = _read_all(reader)
    assert reader.header.variant == "2026-33" and reader.header.missing_columns == []
    coordinates = ("num_coord_n_empreendimento", "num_coord_e_empreendimento", GD_ROW_DIGEST)  # the digest covers them
    assert got.drop(coordinates).equals(expected.drop(coordinates))
    assert got["num_coord_n_empreendimento"].unique().to_list() == [-9.974]

    reader = GdUnitsReader(_write_gd(tmp_path / "v2023.csv", GD_HEADER_VARIANTS["2023"], rows))
    got, _ = _read_all(reader)
    assert reader.header.variant == "2023" and "codUFibge" in reader.header.columns
    assert got.equals(expected)

    # shuffled order, different case, an unknown extra column: still mapped by name
    order = list(reversed(range(len(header))))
    shuffled = [header[i].upper() for i in order] + ["NovaColuna"]
    reader = GdUnitsReader(_write_gd(tmp_path / "v_new.csv", shuffled, [[r[i] for i in order] + ["x"] for r in rows]))
    got, quarantine = _read_all(reader)
    assert reader.header.variant == "custom" and reader.header.unknown_columns == ["NovaColuna"]
    assert quarantine.is_empty() and got.equals(expected)


def test_missing_columns_become_null_and_are_reported(tmp_path, bundled):
    expected, _ = bundled
    header, rows = _gd_rows()
    drop = header.index("NumCPFCNPJ")
    reader = GdUnitsReader(
        _write_gd(tmp_path / "v30.csv", header[:drop] + header[drop + 1 :], [r[:drop] + r[drop + 1 :] for r in rows])
    )
    got, _ = _read_all(reader)
    assert reader.header.missing_columns == ["NumCPFCNPJ"]
    assert got["num_cpf_cnpj"].null_count() == 200
    assert got.drop("num_cpf_cnpj", GD_ROW_DIGEST).equals(expected.drop("num_cpf_cnpj", GD_ROW_DIGEST))


def test_malformed_rows_are_quarantined_with_reason_raw_line_and_line_number(tmp_path):
    header, rows = _gd_rows()
    at = {name: header.index(name) for name in header}
    good = rows[:5]

    def bad(column: str, value: str, base: list[str] = rows[5]) -> list[str]:
        row = list(base)
        row[at[column]] = value
        return row

    sentinel = bad("DthAtualizaCadastralEmpreend", "1900-01-01", rows[6])
    too_few = _line(rows[7][:-1])
    too_many = _line([*rows[8], "extra"])
    stray_quote = '"2026-08-19";"08/2026"x;"oops"'
    path = _write_gd(
        tmp_path / "bad.csv",
        header,
        [
            *good,  # lines 2-6
            bad("MdaPotenciaInstaladaKW", "12,5kW"),  # line 7
            bad("DatGeracaoConjuntoDados", "2026-13-45", rows[9]),  # line 8
            bad("CodEmpreendimento", rows[0][at["CodEmpreendimento"]], rows[10]),  # line 9: a repeated id
            sentinel,  # line 10
            bad("SigUF", "XX", rows[11]),  # line 11
            bad("CodEmpreendimento", "  ", rows[12]),  # line 12
            bad("AnmPeriodoReferencia", "2026-08", rows[13]),  # line 13
        ],
        extra_lines=[too_few, too_many, "", stray_quote],  # lines 14, 15, (16 blank), 17
    )
    reader = GdUnitsReader(path)
    loaded, quarantine = _read_all(reader)
    assert quarantine.schema == QUARANTINE_SCHEMA
    reasons = dict(zip(quarantine["line_number"], quarantine["reason"], strict=True))
    assert reasons == {
        7: "bad unsigned number in MdaPotenciaInstaladaKW: 12,5kW",
        8: "bad date in DatGeracaoConjuntoDados: 2026-13-45",
        11: "unknown SigUF: XX",
        12: "missing CodEmpreendimento",
        13: "bad month in AnmPeriodoReferencia: 2026-08",
        14: "wrong field count: 30 (header has 31)",
        15: "wrong field count: 32 (header has 31)",
        17: "quoting error: a quote inside a field is not doubled",
    }
    raw = dict(zip(quarantine["line_number"], quarantine["raw_record"], strict=True))
    assert raw[14] == too_few and raw[15] == too_many and raw[17] == stray_quote
    assert '"12,5kW"' in raw[7] and "Radiação solar" in raw[7]
    # 5 good lines, the sentinel one and the repeated id (repeats are the warehouse audit's to resolve)
    assert loaded.height == 7
    flagged = loaded.filter(pl.col("dth_atualiza_cadastral_sentinel"))
    assert flagged["cod_empreendimento"].to_list() == [sentinel[at["CodEmpreendimento"]]]
    assert flagged["dth_atualiza_cadastral_empreend"].to_list() == [None]
    assert reader.rows_read == 15 == reader.rows_loaded + reader.rows_quarantined
    assert (reader.rows_loaded, reader.rows_quarantined, reader.rows_skipped) == (7, 8, 0)


def test_batching_does_not_change_the_result_and_repeated_ids_are_passed_on(tmp_path, bundled):
    expected, _ = bundled
    header, rows = _gd_rows()
    path = _write_gd(tmp_path / "dups.csv", header, [*rows, rows[3], rows[150]])
    one, one_q = _read_all(GdUnitsReader(path))
    reader = GdUnitsReader(path, batch_rows=7)
    batches = list(reader)
    assert len(batches) > 20 and max(b.rows.height for b in batches) <= 7
    many = pl.concat([b.rows for b in batches])
    assert one.equals(many) and one_q.is_empty()
    assert many.head(200).equals(expected) and many.height == 202  # the repeats: resolved by the load's audit


def test_uf_filter_skips_other_ufs(bundled):
    expected, _ = bundled
    reader = GdUnitsReader(GD_FILE, ufs=["ba", "AC"])
    got, quarantine = _read_all(reader)
    assert got.equals(expected.filter(pl.col("sig_uf").is_in(["AC", "BA"])))
    assert quarantine.is_empty()
    assert (reader.rows_read, reader.rows_loaded, reader.rows_skipped) == (200, 80, 120)


def test_synthetic_published_file_round_trips(tmp_path):
    path = write_published_gd_file(tmp_path / "empreendimento-geracao-distribuida.csv", 3_000, zip=True, seed=7)
    assert path.read_bytes()[:4] == b"PK\x03\x04"
    with zipfile.ZipFile(path) as archive:
        (member,) = archive.namelist()
        head = archive.read(member)[:2000]
    assert head.count(b"\r\n") > 1 and head.startswith(b'"DatGeracaoConjuntoDados";')
    reader = GdUnitsReader(path, batch_rows=1_000)
    rows, quarantine = _read_all(reader)
    assert quarantine.is_empty() and rows.height == 3_000 and reader.header.variant == "2026-31"
    assert rows["cod_empreendimento"].n_unique() == 3_000
    assert (rows["cod_empreendimento"].str.slice(3, 2) == rows["sig_uf"]).all()
    assert set(rows["sig_uf"]) <= set(UFS) and rows["dsc_fonte_geracao"].is_in(["Radiação solar"]).any()


# --------------------------------------------------------------------------------------------- tariffs


def test_tariffs_utf8_bom_decimal_comma_units_flags():
    assert TARIFF_FILE.read_bytes().startswith(codecs.BOM_UTF8)
    batch, header = read_tariffs(TARIFF_FILE)
    assert header.encoding == "utf-8-sig" and header.columns[0] == "DatGeracaoConjuntoDados"
    assert header.variant == "2010-2026" and header.unknown_columns == header.missing_columns == []
    rows = batch.rows
    assert rows.columns == TARIFF_COLUMNS
    kw = rows.filter(pl.col("dsc_base_tarifaria") == "Base Econômica").row(0, named=True)
    assert (kw["vlr_tusd"], kw["vlr_te"]) == (1.85, 0.0)  # "1,85" and ",00"
    assert kw["dsc_unidade_terciaria"] == "kW" and kw["vlr_tusd_rs_kwh"] is None
    assert kw["is_tarifa_aplicacao"] is False and kw["is_scee"] is False
    assert kw["dat_inicio_vigencia"] == dt.date(2010, 2, 3) and kw["dsc_reh"].startswith("RESOLUÇÃO HOMOLOGATÓRIA Nº")
    scee = rows.filter(pl.col("is_scee") & (pl.col("dat_inicio_vigencia") == dt.date(2026, 1, 1))).row(0, named=True)
    assert (scee["vlr_tusd"], scee["vlr_te"]) == (432.44, 36.98)
    assert scee["vlr_tusd_rs_kwh"] == pytest.approx(0.43244) and scee["vlr_te_rs_kwh"] == pytest.approx(0.03698)
    assert scee["is_tarifa_aplicacao"] is True
    # the sample repeats three rows, values unchanged, in a later publication: loaded once, the repeats counted
    assert rows.height == 11 and rows["tariff_key"].n_unique() == 11
    assert batch.quarantine.is_empty() and batch.republished == 3


def test_tariff_key_is_md5_of_the_natural_key_and_stable():
    first, _ = read_tariffs(TARIFF_FILE)
    again, _ = read_tariffs(TARIFF_FILE)
    assert first.rows["tariff_key"].equals(again.rows["tariff_key"])
    text = tariff_key_text(first.rows.head(1))[0]
    assert text.split("\x1f")[:3] == ["53859112000169", "2010-02-03", "Base Econômica"]
    assert first.rows["tariff_key"][0] == hashlib.md5(text.encode()).hexdigest()


def test_tariffs_2022_latin1_unit_text_year_filter_and_bad_values(tmp_path):
    lines = TARIFF_FILE.read_bytes().decode("utf-8-sig").splitlines()
    old = [lines[0], *(line.replace(";MWh;", ";R$/MWh;") for line in lines[1:])]
    old.append(old[-1].replace(";396,03;", ";3,9x;"))
    path = tmp_path / "tarifas.csv"
    path.write_bytes(("\r\n".join(old) + "\r\n").encode("cp1252"))
    batch, header = read_tariffs(path)
    assert header.encoding == "cp1252"
    rows = batch.rows.filter(pl.col("dat_inicio_vigencia").dt.year().is_in([2022, 2026]))
    assert sorted(set(rows["dat_inicio_vigencia"].dt.year())) == [2022, 2026]
    mwh = rows.filter(pl.col("dsc_unidade_terciaria") == "R$/MWh")
    assert mwh.height == rows.height and mwh["vlr_tusd_rs_kwh"].null_count() == 0
    assert batch.quarantine["reason"].to_list() == ["bad unsigned number in VlrTUSD: 3,9x"]


def test_sniff_encoding():
    assert sniff_encoding(codecs.BOM_UTF8 + b"a;b\r\n") == "utf-8-sig"
    assert sniff_encoding("Radiação;x\n".encode()) == "utf-8"
    assert sniff_encoding("Radiação;x\n".encode("cp1252")) == "cp1252"
    assert sniff_encoding("ok\nRadiação".encode()[:-1]) == "utf-8"  # a character cut by the sample end


@pytest.mark.parametrize(
    "alphabet",
    [bytes(range(0x80)) + bytes(range(0xA0, 0x100)), bytes(range(0x100))],
    ids=["ascii-and-latin1-letters", "every-byte"],
)
def test_cp1252_blocks_transcode_exactly_as_the_codec_does(alphabet):
    """The vectorized path (accented letters only) and the codec path (cp1252-only characters, undefined
    bytes kept as C1 controls) give the codec's bytes on random blocks."""
    rng = np.random.default_rng(7)
    for size in (1, 2, 1000, 100_000):
        block = bytes(rng.choice(np.frombuffer(alphabet, np.uint8), size))
        expected = block.decode("cp1252", "ysh_cp1252_latin1").encode("utf-8")
        assert _to_utf8(block, "cp1252") == expected
    assert _to_utf8("Radiação São Paulo".encode("cp1252"), "cp1252") == "Radiação São Paulo".encode()
    cp1252_only = "\u201cSolar\u201d \u2013 5 \u20ac"  # curly quotes, en dash, euro: outside ISO-8859-1
    assert _to_utf8(cp1252_only.encode("cp1252"), "cp1252") == cp1252_only.encode()
