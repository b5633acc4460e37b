"""Streaming, typed parsing of the ANEEL open-data files (GD units and homologated tariffs).

The published files are hostile in known ways (README of the reference data): the `.csv` URL serves a ZIP, the
encoding changed from cp1252 to UTF-8 with BOM, headers changed names and positions across years, numbers use a
decimal comma, dates carry `1900-…` sentinels. This module turns them into frames whose columns are exactly the
`aneel.generation_units` / `aneel.tariffs` columns, and never drops a row silently: every data line is either
loaded, quarantined (with the reason, the raw line and its 1-based line number) or, for GD units, skipped because
its UF was not asked for.

Speed comes from doing the per-row work in polars: the byte stream is cut into large blocks of whole lines,
transcoded per block, parsed with all columns as text, then typed with vectorized expressions. A typing failure
is "raw value present but typed value null"; the raw line text is only materialized for quarantined rows.
"""

from __future__ import annotations

import bisect
import codecs
import csv
import hashlib
import io
import re
import time
import zipfile
from collections.abc import Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import polars as pl

from ysh_assets.warehouse.versions import ROW_DIGEST

UFS: tuple[str, ...] = (
    "AC", "AL", "AM", "AP", "BA", "CE", "DF", "ES", "GO", "MA", "MG", "MS", "MT", "PA",
    "PB", "PE", "PI", "PR", "RJ", "RN", "RO", "RR", "RS", "SC", "SE", "SP", "TO",
)  # fmt: skip
# IBGE's numeric code of each UF: a municipality's 7-digit code starts with its UF's two digits.
IBGE_UF_CODES: dict[str, int] = {
    "RO": 11, "AC": 12, "AM": 13, "RR": 14, "PA": 15, "AP": 16, "TO": 17, "MA": 21, "PI": 22, "CE": 23,
    "RN": 24, "PB": 25, "PE": 26, "AL": 27, "SE": 28, "BA": 29, "MG": 31, "ES": 32, "RJ": 33, "SP": 35,
    "PR": 41, "SC": 42, "RS": 43, "MS": 50, "MT": 51, "GO": 52, "DF": 53,
}  # fmt: skip
# A typed row whose municipality lies outside its UF.
MUNICIPIO_OUTSIDE_UF = pl.col("cod_municipio_ibge") // 100_000 != pl.col("sig_uf").replace_strict(
    IBGE_UF_CODES, default=None, return_dtype=pl.Int32
)
QUARANTINE_SCHEMA = pl.Schema({"line_number": pl.Int64, "reason": pl.Utf8, "raw_record": pl.Utf8})

ZIP_MAGIC = b"PK\x03\x04"
_SNIFF_BYTES = 1 << 20
_DATE_SENTINEL = "1900-"


class AneelFormatError(ValueError):
    """The file cannot be read as the expected dataset at all (e.g. its header lacks the key columns)."""


@dataclass(frozen=True)
class _Col:
    """One typed output column and where it comes from (`published` name and older aliases, any case)."""

    name: str
    published: str | None  # None: derived by this module, not read from the file
    kind: str = "text"  # text | date | sentinel_date | month | int16 | int32 | decimal | signed_decimal
    aliases: tuple[str, ...] = ()
    int_digits: int = 15  # decimals: at most this many digits before the comma (the table's numeric precision)


_GD = (
    _Col("sig_uf", "SigUF"),
    _Col("cod_empreendimento", "CodEmpreendimento"),
    _Col("dat_geracao_conjunto_dados", "DatGeracaoConjuntoDados", "date"),
    _Col("anm_periodo_referencia", "AnmPeriodoReferencia", "month"),
    _Col("num_cnpj_distribuidora", "NumCNPJDistribuidora"),
    _Col("sig_agente", "SigAgente"),
    _Col("nom_agente", "NomAgente"),
    _Col("cod_classe_consumo", "CodClasseConsumo"),
    _Col("dsc_classe_consumo", "DscClasseConsumo"),
    _Col("cod_sub_grupo_tarifario", "CodSubGrupoTarifario"),
    _Col("dsc_sub_grupo_tarifario", "DscSubGrupoTarifario"),
    _Col("cod_uf_ibge", "CodUFibge", "int16"),
    _Col("cod_regiao", "CodRegiao", "int16"),
    _Col("nom_regiao", "NomRegiao"),
    _Col("cod_municipio_ibge", "CodMunicipioIbge", "int32"),
    _Col("nom_municipio", "NomMunicipio"),
    _Col("cod_cep", "CodCEP"),
    _Col("sig_tipo_consumidor", "SigTipoConsumidor"),
    _Col("num_cpf_cnpj", "NumCPFCNPJ"),
    _Col("nom_titular_empreendimento", "NomTitularEmpreendimento", aliases=("NomeTitularEmpreendimento",)),
    _Col("dth_atualiza_cadastral_empreend", "DthAtualizaCadastralEmpreend", "sentinel_date"),
    _Col("dth_atualiza_cadastral_sentinel", None),
    _Col("sig_modalidade_empreendimento", "SigModalidadeEmpreendimento"),
    _Col("dsc_modalidade_habilitado", "DscModalidadeHabilitado"),
    _Col("qtd_uc_recebe_credito", "QtdUCRecebeCredito", "int32"),
    _Col("sig_tipo_geracao", "SigTipoGeracao"),
    _Col("dsc_fonte_geracao", "DscFonteGeracao"),
    _Col("dsc_porte", "DscPorte"),
    _Col("num_coord_n_empreendimento", "NumCoordNEmpreendimento", "signed_decimal"),
    _Col("num_coord_e_empreendimento", "NumCoordEEmpreendimento", "signed_decimal"),
    _Col("mda_potencia_instalada_kw", "MdaPotenciaInstaladaKW", "decimal", int_digits=11),  # numeric(14, 3)
    _Col("nom_sub_estacao", "NomSubEstacao"),
    _Col("num_coord_e_sub", "NumCoordESub", "signed_decimal"),
    _Col("num_coord_n_sub", "NumCoordNSub", "signed_decimal"),
)

_TARIFFS = (
    _Col("dat_inicio_vigencia", "DatInicioVigencia", "date"),
    _Col("tariff_key", None),
    _Col("dat_fim_vigencia", "DatFimVigencia", "date"),
    _Col("dat_geracao_conjunto_dados", "DatGeracaoConjuntoDados", "date"),
    _Col("dsc_reh", "DscREH"),
    _Col("sig_agente", "SigAgente"),
    _Col("num_cnpj_distribuidora", "NumCNPJDistribuidora"),
    _Col("dsc_base_tarifaria", "DscBaseTarifaria"),
    _Col("dsc_sub_grupo", "DscSubGrupo"),
    _Col("dsc_modalidade_tarifaria", "DscModalidadeTarifaria"),
    _Col("dsc_classe", "DscClasse"),
    _Col("dsc_sub_classe", "DscSubClasse"),
    _Col("dsc_detalhe", "DscDetalhe"),
    _Col("nom_posto_tarifario", "NomPostoTarifario"),
    _Col("dsc_unidade_terciaria", "DscUnidadeTerciaria"),
    _Col("sig_agente_acessante", "SigAgenteAcessante"),
    _Col("vlr_tusd", "VlrTUSD", "decimal", int_digits=12),  # numeric(18, 6)
    _Col("vlr_te", "VlrTE", "decimal", int_digits=12),
    _Col("vlr_tusd_rs_kwh", None),
    _Col("vlr_te_rs_kwh", None),
    _Col("is_tarifa_aplicacao", None),
    _Col("is_scee", None),
)

GD_COLUMNS: list[str] = [c.name for c in _GD]
GD_UNIT_KEY = ("sig_uf", "cod_empreendimento")
# Columns that describe the publication, not the unit: they move on every row of every publication.
GD_PUBLICATION_COLUMNS = ("dat_geracao_conjunto_dados", "anm_periodo_referencia")
# A unit's own columns: what a change between two snapshots is made of.
GD_UNIT_COLUMNS: list[str] = [c for c in GD_COLUMNS if c not in GD_UNIT_KEY + GD_PUBLICATION_COLUMNS]
GD_ROW_DIGEST = ROW_DIGEST  # the column the warehouse indexes per kept version
TARIFF_COLUMNS: list[str] = [c.name for c in _TARIFFS]

_GD_2026_31 = [
    "DatGeracaoConjuntoDados",
    "AnmPeriodoReferencia",
    "NumCNPJDistribuidora",
    "SigAgente",
    "NomAgente",
    "CodClasseConsumo",
    "DscClasseConsumo",
    "CodSubGrupoTarifario",
    "DscSubGrupoTarifario",
    "CodUFibge",
    "SigUF",
    "CodRegiao",
    "NomRegiao",
    "CodMunicipioIbge",
    "NomMunicipio",
    "CodCEP",
    "SigTipoConsumidor",
    "NumCPFCNPJ",
    "NomTitularEmpreendimento",
    "CodEmpreendimento",
    "DthAtualizaCadastralEmpreend",
    "SigModalidadeEmpreendimento",
    "DscModalidadeHabilitado",
    "QtdUCRecebeCredito",
    "SigTipoGeracao",
    "DscFonteGeracao",
    "DscPorte",
    "MdaPotenciaInstaladaKW",
    "NomSubEstacao",
    "NumCoordESub",
    "NumCoordNSub",
]
_power_at = _GD_2026_31.index("MdaPotenciaInstaladaKW")
GD_HEADER_VARIANTS: dict[str, list[str]] = {
    "2026-31": _GD_2026_31,
    "2026-33": [
        *_GD_2026_31[:_power_at],
        "NumCoordNEmpreendimento",
        "NumCoordEEmpreendimento",
        *_GD_2026_31[_power_at:],
    ],
    "2023": [
        {"CodUFibge": "codUFibge", "CodRegiao": "codRegiao"}.get(n, n).replace("NomTitular", "NomeTitular")
        for n in _GD_2026_31
    ],
}
TARIFF_HEADER_VARIANTS: dict[str, list[str]] = {
    "2010-2026": [
        "DatGeracaoConjuntoDados",
        "DscREH",
        "SigAgente",
        "NumCNPJDistribuidora",
        "DatInicioVigencia",
        "DatFimVigencia",
        "DscBaseTarifaria",
        "DscSubGrupo",
        "DscModalidadeTarifaria",
        "DscClasse",
        "DscSubClasse",
        "DscDetalhe",
        "NomPostoTarifario",
        "DscUnidadeTerciaria",
        "SigAgenteAcessante",
        "VlrTUSD",
        "VlrTE",
    ],
}


@dataclass(frozen=True)
class _Layout:
    columns: tuple[_Col, ...]
    variants: dict[str, list[str]]
    expected: tuple[str, ...]  # published names every current file has: reported when missing
    required: tuple[str, ...]  # output columns a row cannot be loaded without


_GD_LAYOUT = _Layout(_GD, GD_HEADER_VARIANTS, tuple(GD_HEADER_VARIANTS["2026-31"]), ("sig_uf", "cod_empreendimento"))
_TARIFF_LAYOUT = _Layout(
    _TARIFFS,
    TARIFF_HEADER_VARIANTS,
    tuple(TARIFF_HEADER_VARIANTS["2010-2026"]),
    ("dat_inicio_vigencia", "num_cnpj_distribuidora"),
)


@dataclass
class ParsedBatch:
    rows: pl.DataFrame  # typed, GD_COLUMNS (+ GD_ROW_DIGEST) or TARIFF_COLUMNS
    quarantine: pl.DataFrame  # QUARANTINE_SCHEMA
    republished: int = 0  # tariffs: later copies of a row with the same values, dropped


@dataclass
class HeaderReport:
    encoding: str
    columns: list[str]  # as published
    unknown_columns: list[str]
    missing_columns: list[str]
    variant: str  # a key of the *_HEADER_VARIANTS dicts, or 'custom'


# --------------------------------------------------------------------------------------------- bytes and text


def _cp1252_gap_to_latin1(err: UnicodeDecodeError) -> tuple[str, int]:
    """cp1252 leaves 5 bytes undefined; ISO-8859-1 maps them to C1 controls. Keep them instead of failing."""
    return err.object[err.start : err.end].decode("latin-1"), err.end


codecs.register_error("ysh_cp1252_latin1", _cp1252_gap_to_latin1)


def sniff_encoding(sample: bytes) -> str:
    """'utf-8-sig' when the BOM is there, 'utf-8' when the sample decodes as UTF-8, else 'cp1252'.

    UTF-16 (a BOM, or NUL bytes between the characters) is refused: the published files never were."""
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or sample[:4096].count(b"\x00") > 64:
        raise AneelFormatError("the file is UTF-16 text; expected a ';'-separated CSV in UTF-8 or cp1252")
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    cut = sample.rfind(b"\n") + 1 or len(sample)  # never judge a multi-byte character cut by the sample end
    try:
        sample[:cut].decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def _to_utf8(block: bytes, encoding: str) -> bytes:
    """The block as UTF-8. Published cp1252 text is ASCII but for accented letters (0xA0-0xFF, where cp1252 is
    ISO-8859-1): each becomes two bytes by one vectorized insert, which is faster than the codec and leaves the
    GIL to the parser. A block holding a character only cp1252 has (0x80-0x9F: curly quotes, dashes, euro) goes
    through the codec."""
    if encoding != "cp1252" or block.isascii():
        return block
    data = np.frombuffer(block, np.uint8)
    at = np.flatnonzero(data >= 0x80)
    high = data[at]
    if high.min() < 0xA0:
        return block.decode("cp1252", "ysh_cp1252_latin1").encode("utf-8")
    utf8 = np.insert(data, at + 1, 0x80 | (high & 0x3F))
    utf8[at + np.arange(len(at))] = 0xC0 | (high >> 6)
    return utf8.tobytes()


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on what a published file may make the parser read: a crafted ZIP or a file without line breaks
    is refused with a clear error instead of exhausting memory. The real GD file inflates 110 MB -> 1.4 GB
    (ratio ~13) with lines of ~300 bytes."""

    max_uncompressed_bytes: int = 8 << 30
    max_ratio: float = 100.0  # inflated size / compressed size of the ZIP member
    max_line_bytes: int = 1 << 20
    max_lines_per_block: int = 400_000  # a block of tiny lines would otherwise mean millions of rows at once
    max_quarantined_rows: int = 100_000  # past this the file is not the expected layout: stop reading it


DEFAULT_LIMITS = ReadLimits()


class _BoundedMember(io.RawIOBase):
    """A ZIP member stream that refuses to inflate past the limits (the declared sizes can lie)."""

    def __init__(self, member: BinaryIO, info: zipfile.ZipInfo, limits: ReadLimits, where: str):
        self._member, self._where = member, where
        self._limit = min(limits.max_uncompressed_bytes, int(max(info.compress_size, 1) * limits.max_ratio))
        self._why = (
            f"more than {limits.max_uncompressed_bytes} bytes uncompressed"
            if self._limit == limits.max_uncompressed_bytes
            else f"an inflation ratio above {limits.max_ratio:g} ({info.compress_size} compressed bytes)"
        )
        self._read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._member.read(len(buffer))
        self._read += len(data)
        if self._read > self._limit:
            raise AneelFormatError(f"{self._where}: refused, the ZIP member expands to {self._why}")
        buffer[: len(data)] = data
        return len(data)


@contextmanager
def open_published_file(path: str | Path, limits: ReadLimits = DEFAULT_LIMITS) -> Iterator[BinaryIO]:
    """Open a download as a binary stream of the CSV inside: a ZIP is detected by its magic bytes, not its name.

    The GD units URL ends in `.csv` but serves a ZIP holding the one CSV, inflated while read within `limits`.
    The member is chosen by name (the one `.csv`); a ZIP with none, or several, is refused.
    """
    with open(path, "rb") as raw:
        if raw.read(4) != ZIP_MAGIC:
            raw.seek(0)
            yield raw
            return
        raw.seek(0)
        try:
            archive = zipfile.ZipFile(raw)
        except zipfile.BadZipFile as error:
            raise AneelFormatError(f"{path}: starts like a ZIP but is not a readable ZIP archive ({error})") from None
        with archive:
            files = [m for m in archive.infolist() if not m.is_dir()]
            csvs = [m for m in files if m.filename.lower().endswith(".csv")]
            if len(csvs) != 1:
                names = [m.filename for m in files] or "no files"
                raise AneelFormatError(f"{path}: expected one .csv file in the ZIP, found {names}")
            with archive.open(csvs[0]) as member:
                yield io.BufferedReader(_BoundedMember(member, csvs[0], limits, str(path)), 1 << 20)


def zip_members(path: str | Path) -> list[str]:
    """The file names inside a ZIP download ([] for a plain file), for the materialization's metadata."""
    with open(path, "rb") as raw:
        if raw.read(4) != ZIP_MAGIC:
            return []
    with zipfile.ZipFile(path) as archive:
        return [m.filename for m in archive.infolist() if not m.is_dir()]


def _line_blocks(stream: BinaryIO, first: bytes, block_bytes: int, limits: ReadLimits) -> Iterator[tuple[bytes, int]]:
    """Blocks of whole lines (each ends with a newline) and their line counts, about `block_bytes` long and at
    most `max_lines_per_block` lines; a line longer than `max_line_bytes` is refused rather than buffered."""
    most = limits.max_lines_per_block
    for block in _whole_line_blocks(stream, first, block_bytes, limits.max_line_bytes):
        lines = block.count(b"\n")
        while lines > most:
            cut = -1
            for _ in range(most):
                cut = block.index(b"\n", cut + 1)
            yield block[: cut + 1], most
            block, lines = block[cut + 1 :], lines - most
        yield block, lines


def _whole_line_blocks(stream: BinaryIO, first: bytes, block_bytes: int, max_line_bytes: int) -> Iterator[bytes]:
    rest = first
    while True:
        data = stream.read(block_bytes)
        if not data:
            if rest:
                yield rest if rest.endswith(b"\n") else rest + b"\r\n"
            return
        rest += data
        cut = rest.rfind(b"\n") + 1
        if not cut and len(rest) > max_line_bytes:
            raise AneelFormatError(f"a line longer than {max_line_bytes} bytes: not a CSV of the expected layout")
        if cut and len(rest) >= block_bytes:
            yield rest[:cut]
            rest = rest[cut:]
            if len(rest) > max_line_bytes:
                raise AneelFormatError(f"a line longer than {max_line_bytes} bytes: not a CSV of the expected layout")


# --------------------------------------------------------------------------------------------- header


def _header(stream: BinaryIO, layout: _Layout) -> tuple[HeaderReport, dict[str, int], bytes]:
    """Read and map the header by name; returns the report, output column -> field index, and the bytes after it."""
    sample = stream.read(_SNIFF_BYTES)
    encoding = sniff_encoding(sample)
    end = sample.find(b"\n")
    if end < 0:
        if len(sample) >= _SNIFF_BYTES:
            raise AneelFormatError(f"no line break in the first {_SNIFF_BYTES} bytes: not a CSV of the expected layout")
        end = len(sample)
    line = sample[:end].decode(encoding, "ysh_cp1252_latin1" if encoding == "cp1252" else "replace")
    names = [n.strip() for n in next(csv.reader([line.strip("\r\n")], delimiter=";"))]
    by_key = {alias.lower(): c for c in layout.columns for alias in (c.published, *c.aliases) if alias}
    index: dict[str, int] = {}
    unknown = []
    for i, name in enumerate(names):
        col = by_key.get(name.lower())
        if col is None or col.name in index:
            unknown.append(name)
        else:
            index[col.name] = i
    known = {c.published.lower(): c.name for c in layout.columns if c.published}
    missing = [name for name in layout.expected if known[name.lower()] not in index]
    lowered = [n.lower() for n in names]
    variant = next((v for v, cols in layout.variants.items() if [c.lower() for c in cols] == lowered), "custom")
    report = HeaderReport(encoding, names, unknown, missing, variant)
    absent = [c for c in layout.required if c not in index]
    if absent:
        raise AneelFormatError(f"header lacks required columns {absent}: {names}")
    return report, index, sample[end + 1 :]


# --------------------------------------------------------------------------------------------- block parsing


@dataclass
class _Block:
    """Whole lines of the file as UTF-8 (`data`), the first of them being line `first_line` of the file."""

    data: bytes
    n_lines: int
    first_line: int
    _lines: list[bytes] | None = None

    def line(self, line_number: int) -> str:
        """Text of one line, for the rare rows that need it (quarantine, field-count checks)."""
        if self._lines is None:
            self._lines = self.data.split(b"\n")
        return self._lines[line_number - self.first_line].rstrip(b"\r").decode("utf-8", "replace")


def _utf8_blocks(
    stream: BinaryIO, rest: bytes, encoding: str, block_bytes: int, limits: ReadLimits = DEFAULT_LIMITS
) -> Iterator[_Block]:
    """Blocks of whole lines transcoded to UTF-8. The next block is read, inflated and transcoded in a thread
    while the caller parses the current one (polars releases the GIL): on 2 cores that hides most of the I/O."""

    def produce(blocks: Iterator[tuple[bytes, int]]) -> tuple[bytes, int] | None:
        block = next(blocks, None)
        return None if block is None else (_to_utf8(block[0], encoding), block[1])

    blocks = _line_blocks(stream, rest, block_bytes, limits)
    first_line = 2
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(produce, blocks)
        while (produced := pending.result()) is not None:
            pending = pool.submit(produce, blocks)
            block = _Block(*produced, first_line=first_line)
            yield block
            first_line += block.n_lines


def _split_line(line: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=";"), [])
    except csv.Error:  # a field over csv's size limit: the line is quarantined by _line_problems
        return line.split(";")


# A line whose quoting is sound: each field bare (no quote) or wholly quoted with inner quotes doubled.
_WELL_QUOTED = re.compile(r'(?:"(?:[^"]|"")*"|[^";]*)(?:;(?:"(?:[^"]|"")*"|[^";]*))*')


def _line_problems(block: _Block, n_fields: int, max_line_bytes: int) -> tuple[dict[int, str], set[int]]:
    """Lines (as offsets in the block) that cannot be loaded whatever their fields say: a NUL byte (PostgreSQL
    refuses it), broken quoting, a line break inside a quoted field (its continuation line is returned apart,
    so the record is reported once). Cheap when the block is clean: the quote count of a fully quoted block is
    checked first, and only lines that hold a quote are looked at one by one."""
    data = block.data
    has_nul = b"\x00" in data
    if not has_nul and data.count(b'"') == 2 * n_fields * block.n_lines:
        return {}, set()
    problems: dict[int, str] = {}
    continuations: set[int] = set()
    lines = data.split(b"\n")[: block.n_lines]
    for i, raw in enumerate(lines):
        if i in continuations:
            continue
        if len(raw) > max_line_bytes:
            problems[i] = f"line longer than {max_line_bytes} bytes"
            continue
        if has_nul and b"\x00" in raw:
            problems[i] = "NUL byte in the line (PostgreSQL cannot store it)"
            continue
        if b'"' not in raw:
            continue
        line = raw.rstrip(b"\r").decode("utf-8", "replace")
        if line.count('"') % 2:
            if i + 1 < len(lines) and lines[i + 1].count(b'"') % 2:
                problems[i] = "line break inside a quoted field (the record continues on the next line)"
                continuations.add(i + 1)
            else:
                problems[i] = "quoting error: a quoted field is not closed"
        elif not _WELL_QUOTED.fullmatch(line):
            problems[i] = "quoting error: a quote inside a field is not doubled"
    return problems, continuations


def _raw_fields(block: _Block, n_fields: int, max_line_bytes: int = DEFAULT_LIMITS.max_line_bytes) -> pl.DataFrame:
    """Text fields `c0..c<n>` and `_line_number` of each non-blank line; `_n_fields` is the line's field count.

    Column `c<n_fields>` only catches surplus fields. Polars parses the block. A line with too few fields shows
    as a null last field, which is also what an empty unquoted last field looks like: only those few lines are
    re-split in Python to count exactly (blank lines are dropped there). If polars cannot parse the block (stray
    quote) or its rows do not line up with the lines (quoted newline), every line is split in Python instead.
    """
    schema = {f"c{i}": pl.Utf8 for i in range(n_fields + 1)}
    n_lines = block.n_lines
    try:
        fields = pl.read_csv(
            block.data,
            has_header=False,
            separator=";",
            quote_char='"',
            schema=schema,
            truncate_ragged_lines=True,
            missing_columns="insert",
            encoding="utf8-lossy",
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError:
        fields = None
    line_numbers = pl.int_range(block.first_line, block.first_line + n_lines, dtype=pl.Int64)
    if fields is None or fields.height != n_lines:
        split = [_split_line(block.line(block.first_line + i)) for i in range(n_lines)]
        rows = [[*(r + [None] * n_fields)[:n_fields], ";".join(r[n_fields:]) or None] for r in split]
        fields = pl.DataFrame(rows, schema=schema, orient="row").with_columns(
            _n_fields=pl.Series([len(r) for r in split], dtype=pl.Int32)
        )
    else:
        suspect = (fields[f"c{n_fields}"].is_not_null() | fields[f"c{n_fields - 1}"].is_null()).arg_true()
        counts = pl.repeat(n_fields, fields.height, dtype=pl.Int32, eager=True)
        if len(suspect):
            exact = [len(_split_line(block.line(block.first_line + i))) for i in suspect.to_list()]
            counts = counts.scatter(suspect, exact)
        fields = fields.with_columns(_n_fields=counts)
    fields = fields.with_columns(_line_number=line_numbers, _problem=pl.lit(None, pl.Utf8))
    problems, continuations = _line_problems(block, n_fields, max_line_bytes)
    if problems or continuations:
        offsets = pl.int_range(0, n_lines, dtype=pl.Int64)
        fields = fields.with_columns(
            _problem=offsets.replace_strict(problems, default=None, return_dtype=pl.Utf8)
        ).filter(~offsets.is_in(list(continuations)))
    return fields.filter(pl.col("_n_fields") > 0) if (fields["_n_fields"] == 0).any() else fields


# The published number grammar: decimal comma, thousands dots only in whole groups of three, a bare leading
# comma (`,00`); a sign only where the quantity can be negative. Anything else (`1,234.56`, `1e3`, `inf`,
# `NaN`, `-5` kW) is refused, never guessed.


def _number_grammar(*, signed: bool, int_digits: int) -> str:
    """The regex of one column's numbers; at most `int_digits` digits before the comma (dotted or not)."""
    groups = max(0, (int_digits - 3) // 3)
    whole = f"[0-9]{{1,{int_digits}}}" + (f"|[0-9]{{1,3}}(?:\\.[0-9]{{3}}){{1,{groups}}}" if groups else "")
    return f"^{'-?' if signed else ''}(?:(?:{whole})(?:,[0-9]+)?|,[0-9]+)$"


def _decimal(s: pl.Expr, *, signed: bool, int_digits: int) -> pl.Expr:
    """`1.234,56` / `32,50` / `,00` (and `-39,89` when signed) -> float; null when the text breaks the grammar
    or has more than `int_digits` digits before the comma (it would overflow the table's numeric type)."""
    valid = s.str.contains(_number_grammar(signed=signed, int_digits=int_digits))
    number = s.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)
    return pl.when(valid).then(number.cast(pl.Float64, strict=False))


def _typed(col: _Col, s: pl.Expr) -> pl.Expr:
    if col.kind == "date":
        return s.str.to_date("%Y-%m-%d", strict=False)
    if col.kind == "sentinel_date":  # documented as a timestamp, published as a date; `1900-…` means unknown
        date = s.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
        return pl.when(~s.str.starts_with(_DATE_SENTINEL)).then(date)
    if col.kind == "month":
        return ("01/" + s).str.to_date("%d/%m/%Y", strict=False)
    if col.kind in ("int16", "int32"):  # codes and counts: digits only
        dtype = pl.Int16 if col.kind == "int16" else pl.Int32
        value = s.cast(dtype, strict=False)
        return pl.when(value >= 0).then(value)
    if col.kind in ("decimal", "signed_decimal"):
        return _decimal(s, signed=col.kind == "signed_decimal", int_digits=col.int_digits)
    return s


_KIND_WORD = {
    "date": "date",
    "sentinel_date": "date",
    "month": "month",
    "decimal": "unsigned number",
    "signed_decimal": "number",
}


def _type_block(
    raw: pl.DataFrame,
    layout: _Layout,
    header: HeaderReport,
    index: dict[str, int],
    from_text: dict[str, pl.Expr] | None = None,
) -> pl.DataFrame:
    """Typed columns of `layout` plus `_reason` (first problem of the row, null when loadable), `_line_number`.

    Text is stripped of surrounding spaces (only in the columns where this batch has any: stripping every
    column costs more than the whole typing) and empty text becomes null. `from_text` adds columns computed
    from the cleaned text, before typing (e.g. the sentinel flag).
    """
    n_fields = len(header.columns)
    source = {c.name: f"c{index[c.name]}" for c in layout.columns if c.name in index}
    padded = raw.select(
        [(pl.col(f).str.starts_with(" ") | pl.col(f).str.ends_with(" ")).any().alias(f) for f in source.values()]
    ).row(0, named=True)
    clean: dict[str, pl.Expr] = {}
    for col in layout.columns:
        if col.published is None:
            continue
        if col.name not in source:
            clean[col.name] = pl.lit(None, pl.Utf8)
            continue
        s = pl.col(source[col.name])
        if padded[source[col.name]]:
            s = s.str.strip_chars(" ")
        clean[col.name] = pl.when(s.str.len_bytes() > 0).then(s)
    reasons = [
        pl.col("_problem"),
        pl.when(pl.col("_n_fields") != n_fields).then(
            pl.format("wrong field count: {} (header has {})", pl.col("_n_fields"), pl.lit(n_fields))
        ),
    ]
    for name in layout.required:
        reasons.append(pl.when(pl.col(name).is_null()).then(pl.lit(f"missing {_published(header, index, name)}")))
    typed = []
    for col in layout.columns:
        if col.published is None or col.kind == "text":
            continue
        value = _typed(col, pl.col(col.name))
        label = f"bad {_KIND_WORD.get(col.kind, 'integer')} in {_published(header, index, col.name)}: "
        fails = pl.col(col.name).is_not_null() & value.is_null()
        if col.kind == "sentinel_date":
            fails &= ~pl.col(col.name).str.starts_with(_DATE_SENTINEL)
        reasons.append(pl.when(fails).then(pl.lit(label) + pl.col(col.name)))
        typed.append(value.alias(col.name))
    return (
        raw.lazy()
        .select(*[e.alias(n) for n, e in clean.items()], "_n_fields", "_line_number", "_problem")
        .with_columns(_reason=pl.coalesce(reasons), **(from_text or {}))
        .with_columns(typed)
        .collect()
    )


def _published(header: HeaderReport, index: dict[str, int], name: str) -> str:
    """The column's name as this file publishes it, for quarantine reasons."""
    if name in index:
        return header.columns[index[name]]
    return next(c.published for c in (*_GD, *_TARIFFS) if c.name == name and c.published)


def _split(frame: pl.DataFrame, columns: list[str], blocks: list[_Block]) -> ParsedBatch:
    """Loadable rows in `columns`, and the quarantined ones with their original line text."""
    bad = frame.filter(pl.col("_reason").is_not_null())
    starts = [b.first_line for b in blocks]
    raw = [blocks[bisect.bisect_right(starts, n) - 1].line(n) for n in bad["_line_number"].to_list()]
    quarantine = bad.select(line_number="_line_number", reason="_reason").with_columns(
        raw_record=pl.Series(raw, dtype=pl.Utf8)
    )
    return ParsedBatch(frame.filter(pl.col("_reason").is_null()).select(columns), quarantine)


# --------------------------------------------------------------------------------------------- GD units


class GdUnitsReader:
    """Stream the GD units file as typed batches of at most `batch_rows` rows, in bounded memory.

    Only rows of `ufs` are returned (all when None); rows of other UFs are counted in `rows_skipped`. Rows that
    cannot be loaded come back in each batch's `quarantine`; after the iteration
    `rows_read == rows_loaded + rows_quarantined + rows_skipped`. `header` is set once iteration started, or by
    `open_header()`. `read_seconds` is the time spent inflating, transcoding, parsing and typing (not waiting
    for the consumer).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        ufs: Collection[str] | None = None,
        batch_rows: int = 100_000,
        limits: ReadLimits = DEFAULT_LIMITS,
    ):
        self.path = Path(path)
        self.limits = limits
        self.ufs = None if ufs is None else frozenset(u.upper() for u in ufs)
        self.batch_rows = batch_rows
        self.block_bytes = max(1 << 12, min(batch_rows * 300, 32 << 20))  # ~300 bytes per published line
        self.header: HeaderReport | None = None
        self.rows_read = self.rows_loaded = self.rows_quarantined = self.rows_skipped = 0

    def open_header(self) -> HeaderReport:
        """Read only the header (one block), e.g. to report schema drift before loading."""
        with open_published_file(self.path, self.limits) as stream:
            self.header, _, _ = _header(stream, _GD_LAYOUT)
        return self.header

    def __iter__(self) -> Iterator[ParsedBatch]:
        self.rows_read = self.rows_loaded = self.rows_quarantined = self.rows_skipped = 0
        self.read_seconds = 0.0
        resumed = time.monotonic()
        with open_published_file(self.path, self.limits) as stream:
            self.header, index, rest = _header(stream, _GD_LAYOUT)
            blocks_of = _utf8_blocks(stream, rest, self.header.encoding, self.block_bytes, self.limits)
            with closing(blocks_of) as blocks:
                for block in blocks:
                    raw = _raw_fields(block, len(self.header.columns), self.limits.max_line_bytes)
                    self.rows_read += raw.height
                    for start in range(0, raw.height, self.batch_rows):
                        batch = self._parse(raw.slice(start, self.batch_rows), block, index)
                        self.rows_loaded += batch.rows.height
                        self.rows_quarantined += batch.quarantine.height
                        if self.rows_quarantined > self.limits.max_quarantined_rows:
                            raise AneelFormatError(
                                f"{self.path.name}: more than {self.limits.max_quarantined_rows} rows could not "
                                f"be read (of {self.rows_read} so far): not a GD units file of the expected layout"
                            )
                        self.read_seconds += time.monotonic() - resumed
                        yield batch
                        resumed = time.monotonic()

    def _parse(self, raw: pl.DataFrame, block: _Block, index: dict[str, int]) -> ParsedBatch:
        if self.ufs is not None and not self.ufs.issuperset(UFS):  # skip other UFs before typing (unknown UFs stay)
            uf = pl.col(f"c{index['sig_uf']}").str.strip_chars(" ")
            kept = raw.filter(uf.is_in(self.ufs) | ~uf.is_in(UFS) | (pl.col("_n_fields") != len(self.header.columns)))
            self.rows_skipped += raw.height - kept.height
            raw = kept
        sentinel = pl.col("dth_atualiza_cadastral_empreend").str.starts_with(_DATE_SENTINEL).fill_null(False)
        frame = _type_block(raw, _GD_LAYOUT, self.header, index, {"dth_atualiza_cadastral_sentinel": sentinel})
        name_of = {c: self.header.columns[i] for c, i in index.items()}
        unknown_uf = pl.lit(f"unknown {name_of['sig_uf']}: ") + pl.col("sig_uf")
        municipio = name_of.get("cod_municipio_ibge", "CodMunicipioIbge")
        elsewhere = pl.format(
            "{} {} lies in another UF than {} {}", pl.lit(municipio), pl.col("cod_municipio_ibge"),
            pl.lit(name_of["sig_uf"]), pl.col("sig_uf"),
        )  # fmt: skip
        frame = frame.with_columns(
            _reason=pl.coalesce(
                "_reason",
                pl.when(~pl.col("sig_uf").is_in(UFS)).then(unknown_uf),
                pl.when(MUNICIPIO_OUTSIDE_UF).then(elsewhere),
            )
        )
        batch = _split(frame, GD_COLUMNS, [block])
        return ParsedBatch(batch.rows.with_columns(unit_digest(batch.rows)), batch.quarantine)


def unit_digest(rows: pl.DataFrame) -> pl.Series:
    """A 64-bit hash of each row's unit id and unit columns (`GD_ROW_DIGEST`): two snapshots hold the same
    unit unchanged exactly when both have its digest (up to a 2^-64 chance), so comparing them reads two narrow
    columns. Polars keeps `hash_rows` stable within one version only, so after an upgrade every unit is a
    candidate once; candidates are always confirmed column by column, so results stay exact."""
    columns = ["cod_empreendimento", *GD_UNIT_COLUMNS]
    return rows.select(columns).hash_rows(seed=0).reinterpret(signed=True).alias(GD_ROW_DIGEST)


# --------------------------------------------------------------------------------------------- tariffs

_TARIFF_NATURAL_KEY = (
    "num_cnpj_distribuidora",
    "dat_inicio_vigencia",
    "dsc_base_tarifaria",
    "dsc_sub_grupo",
    "dsc_modalidade_tarifaria",
    "dsc_classe",
    "dsc_sub_classe",
    "dsc_detalhe",
    "nom_posto_tarifario",
    "dsc_unidade_terciaria",
    "sig_agente_acessante",
    "dsc_reh",
)


def tariff_key_text(frame: pl.DataFrame) -> pl.Series:
    """The text hashed into `tariff_key`: natural-key fields joined by U+001F, nulls as ''; dates ISO.

    Spelled out so the key can be recomputed elsewhere, e.g. in PostgreSQL as `md5(concat_ws(chr(31), ...))`.
    """
    return frame.select(
        pl.concat_str([pl.col(c).cast(pl.Utf8).fill_null("") for c in _TARIFF_NATURAL_KEY], separator="\x1f")
    ).to_series()


def read_tariffs(path: str | Path, *, limits: ReadLimits = DEFAULT_LIMITS) -> tuple[ParsedBatch, HeaderReport]:
    """Read the whole tariffs file (318k rows fit in memory).

    Values stay in the published unit (R$/MWh or R$/kW); `vlr_*_rs_kwh` are given where the unit is MWh.
    `tariff_key` = md5 hex of `tariff_key_text`; a key repeated later in the file is dropped when its values are
    the same (a republication, counted in `republished`) and quarantined when they differ.
    """
    with open_published_file(path, limits) as stream:
        header, index, rest = _header(stream, _TARIFF_LAYOUT)
        with closing(_utf8_blocks(stream, rest, header.encoding, 32 << 20, limits)) as stream_blocks:
            # a header-only file gives no rows (the load's audit refuses a source without data rows)
            blocks = list(stream_blocks) or [_Block(b"", 0, first_line=2)]
    width = len(header.columns)
    frame = pl.concat(
        [_type_block(_raw_fields(b, width, limits.max_line_bytes), _TARIFF_LAYOUT, header, index) for b in blocks]
    )
    unit = pl.col("dsc_unidade_terciaria").str.to_lowercase()
    in_mwh = unit.is_in(["mwh", "r$/mwh"])
    md5 = [hashlib.md5(t.encode(), usedforsecurity=False).hexdigest() for t in tariff_key_text(frame).to_list()]
    frame = frame.with_columns(
        tariff_key=pl.Series(md5, dtype=pl.Utf8),
        vlr_tusd_rs_kwh=pl.when(in_mwh).then(pl.col("vlr_tusd") / 1000),
        vlr_te_rs_kwh=pl.when(in_mwh).then(pl.col("vlr_te") / 1000),
        is_tarifa_aplicacao=(pl.col("dsc_base_tarifaria") == "Tarifa de Aplicação").fill_null(False),
        is_scee=(pl.col("dsc_detalhe") == "SCEE").fill_null(False),
    )
    # ANEEL republishes tariff positions in later publications of the same file. The first row stands; a later
    # copy with the same values (only its publication date moved) is dropped and counted, a copy with other
    # values is quarantined.
    loadable = pl.col("_reason").is_null()
    repeated = loadable & ~pl.col("tariff_key").is_first_distinct().over(loadable)
    values = [c for c in TARIFF_COLUMNS if c not in ("tariff_key", "dat_geracao_conjunto_dados")]
    same_values = pl.struct(values).hash() == pl.struct(values).hash().first().over(["tariff_key", loadable])
    frame = frame.with_columns(
        _republished=repeated & same_values,
        _reason=pl.when(repeated & ~same_values)
        .then(pl.lit("duplicate tariff_key with other values: ") + pl.col("tariff_key"))
        .otherwise("_reason"),
    )
    republished = int(frame["_republished"].sum())
    frame = frame.filter(~pl.col("_republished"))
    batch = _split(frame, TARIFF_COLUMNS, blocks)
    batch.republished = republished
    return batch, header
