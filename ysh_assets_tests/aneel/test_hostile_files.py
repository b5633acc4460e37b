"""Files a hostile or broken source could publish: refused with a clear error, or their bad rows quarantined
with the reason, never a crash, a wrong value loaded, or memory without bound."""

from __future__ import annotations

import codecs
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from ysh_assets.aneel.parsing import AneelFormatError, GdUnitsReader, ReadLimits, read_tariffs, zip_members
from ysh_assets_tests.aneel.test_parsing import TARIFF_FILE, _gd_rows, _line, _read_all, _write_gd


def _read(path: Path, **kwargs):
    return _read_all(GdUnitsReader(path, **kwargs))


@pytest.mark.parametrize(
    ("line", "refusal"),
    [
        (b"a" * (1 << 20), "no line break in the first"),  # one endless line
        (b'"AC";"x"\r\n' * (1 << 17), "inflation ratio above 100|rows could not be read"),  # short lines
    ],
)
def test_a_zip_bomb_is_refused_in_bounded_memory(tmp_path, line, refusal):
    path = tmp_path / "bomb.csv"
    header = _line(_gd_rows()[0]).encode() + b"\r\n"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("gd.csv", "w") as member:
        if b"\n" in line:
            member.write(header)
        for _ in range(100):  # 100 MB inflated from well under 1 MB
            member.write(line[: 1 << 20])
    assert path.stat().st_size < 1_000_000
    tracemalloc.start()
    with pytest.raises(AneelFormatError, match=refusal):
        _read(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 250 << 20


def test_an_inflated_size_above_the_limit_is_refused(tmp_path):
    header, rows = _gd_rows()
    plain = _write_gd(tmp_path / "gd.csv", header, rows)
    path = tmp_path / "gd.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(plain, "gd.csv")
    with pytest.raises(AneelFormatError, match="more than 10000 bytes uncompressed"):
        _read(path, limits=ReadLimits(max_uncompressed_bytes=10_000))


def test_lines_without_an_end_are_refused_not_buffered(tmp_path):
    no_break = tmp_path / "one-line.csv"
    no_break.write_bytes(b"x" * (3 << 20))
    with pytest.raises(AneelFormatError, match="no line break in the first"):
        _read(no_break)
    header, rows = _gd_rows()
    huge_tail = _write_gd(tmp_path / "tail.csv", header, rows[:3], extra_lines=["y" * (40 << 20)])
    with pytest.raises(AneelFormatError, match="a line longer than 1048576 bytes"):
        _read(huge_tail)
    long_row = _write_gd(tmp_path / "long.csv", header, rows[:3], extra_lines=['"' + "y" * (2 << 20)])
    loaded, quarantine = _read(long_row)  # a long line inside a block is one bad row
    assert loaded.height == 3 and quarantine["reason"].to_list() == ["line longer than 1048576 bytes"]


def test_the_zip_member_is_chosen_by_name_and_extra_members_are_listed(tmp_path):
    header, rows = _gd_rows()
    plain = _write_gd(tmp_path / "gd.csv", header, rows)
    path = tmp_path / "with-readme.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("LEIAME.txt", "x" * 2_000_000)  # larger than the CSV: size must not decide
        archive.write(plain, "empreendimento-geracao-distribuida.csv")
    loaded, quarantine = _read(path)
    assert loaded.height == 200 and quarantine.is_empty()
    assert zip_members(path) == ["LEIAME.txt", "empreendimento-geracao-distribuida.csv"]
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as archive:
        archive.write(plain, "a.csv")
        archive.write(plain, "b.csv")
    with pytest.raises(AneelFormatError, match=r"expected one \.csv file in the ZIP, found \['a.csv', 'b.csv'\]"):
        _read(two)


def test_a_body_that_is_not_a_zip_behind_zip_magic_says_so(tmp_path):
    path = tmp_path / "fake.csv"
    path.write_bytes(b"PK\x03\x04" + b"not really a zip" * 100)
    with pytest.raises(AneelFormatError, match="starts like a ZIP but is not a readable ZIP archive"):
        _read(path)


def test_a_utf16_file_says_what_it_is(tmp_path):
    path = tmp_path / "utf16.csv"
    path.write_bytes(codecs.BOM_UTF16_LE + TARIFF_FILE.read_text("utf-8-sig").encode("utf-16-le"))
    with pytest.raises(AneelFormatError, match="UTF-16 text; expected a ';'-separated CSV"):
        read_tariffs(path)


def test_a_header_only_tariffs_file_gives_no_rows_for_the_audit_to_refuse(tmp_path):
    path = tmp_path / "header-only.csv"
    path.write_bytes(TARIFF_FILE.read_bytes().splitlines(keepends=True)[0])
    batch, header = read_tariffs(path)
    assert batch.rows.is_empty() and batch.quarantine.is_empty() and header.variant == "2010-2026"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("32,50", 32.5),
        (",50", 0.5),
        ("1.234,56", 1234.56),
        ("1.500", 1500.0),  # a thousands dot: the published grammar has no decimal point
        ("12.345.678,9", 12345678.9),
        ("inf", None),
        ("NaN", None),
        ("1,234.56", None),
        ("1.5", None),  # a dot not followed by three digits
        ("1e3", None),
        ("-5,00", None),  # installed kW cannot be negative
        ("+5,00", None),
        ("123456789012,0", None),  # would overflow numeric(14, 3)
    ],
)
def test_installed_kw_accepts_exactly_the_published_grammar(tmp_path, text, expected):
    header, rows = _gd_rows()
    at = header.index("MdaPotenciaInstaladaKW")
    row = list(rows[0])
    row[at] = text
    loaded, quarantine = _read(_write_gd(tmp_path / "gd.csv", header, [row, *rows[1:5]]))
    if expected is None:
        assert quarantine["reason"].to_list() == [f"bad unsigned number in MdaPotenciaInstaladaKW: {text}"]
        assert loaded.height == 4
    else:
        assert quarantine.is_empty() and loaded["mda_potencia_instalada_kw"][0] == pytest.approx(expected)


def test_coordinates_may_be_negative(tmp_path):
    header, rows = _gd_rows()
    header = [*header, "NumCoordNEmpreendimento"]
    rows = [[*row, "-9,974"] for row in rows[:3]]
    loaded, quarantine = _read(_write_gd(tmp_path / "gd.csv", header, rows))
    assert quarantine.is_empty() and loaded["num_coord_n_empreendimento"].to_list() == [-9.974] * 3


def test_a_nul_byte_quarantines_its_row_only(tmp_path):
    header, rows = _gd_rows()
    at = header.index("NomMunicipio")
    bad = list(rows[1])
    bad[at] = "Rio\x00Branco"
    loaded, quarantine = _read(_write_gd(tmp_path / "gd.csv", header, [rows[0], bad, *rows[2:10]]))
    assert loaded.height == 9
    assert quarantine.select("line_number", "reason").rows() == [
        (3, "NUL byte in the line (PostgreSQL cannot store it)")
    ]


def test_quoting_errors_are_reported_as_such_one_row_each(tmp_path):
    header, rows = _gd_rows()
    at = header.index("NomMunicipio")
    stray = _line(rows[1]).replace(f'"{rows[1][at]}"', '"Rio "Bran"co"')
    broken = _line(rows[2]).replace(f'"{rows[2][at]}"', '"Rio\r\nBranco"')
    lines = [_line(rows[0]), stray, broken, *(_line(r) for r in rows[3:10])]
    path = tmp_path / "gd.csv"
    path.write_bytes(("\r\n".join([_line(header), *lines]) + "\r\n").encode("cp1252"))
    loaded, quarantine = _read(path)
    assert loaded.height == 8
    assert quarantine.select("line_number", "reason").rows() == [
        (3, "quoting error: a quote inside a field is not doubled"),
        (4, "line break inside a quoted field (the record continues on the next line)"),
    ]
