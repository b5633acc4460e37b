"""Synthetic GD-units files in the real published layout, for load benchmarks and tests.

Rows are resampled from the bundled real sample (so value distributions, accents and masking look real) and
written exactly like ANEEL publishes them: every field double-quoted, `;`, cp1252, CRLF, optionally inside a
ZIP served under a `.csv` name. Rows are produced and written in blocks, so memory does not grow with `rows`.
"""

from __future__ import annotations

import csv
import io
import zipfile
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ysh_assets.aneel.parsing import open_published_file

BUNDLED_GD_FILE = (
    Path(__file__).resolve().parent.parent / "sample_data" / "aneel" / "empreendimento-geracao-distribuida.csv"
)
_BLOCK_ROWS = 50_000


def _quoted(fields: list[str]) -> str:
    return ";".join('"' + f.replace('"', '""') + '"' for f in fields)


def _templates() -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """Header line and, per sample row, (UF, bytes before the unit id, bytes after it)."""
    with open_published_file(BUNDLED_GD_FILE) as stream:
        text = stream.read().decode("cp1252")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    header, body = rows[0], rows[1:]
    uf_at, id_at = header.index("SigUF"), header.index("CodEmpreendimento")
    templates = [
        (
            row[uf_at],
            (_quoted(row[:id_at]) + ';"').encode("cp1252"),
            ('";' + _quoted(row[id_at + 1 :]) + "\r\n").encode("cp1252"),
        )
        for row in body
    ]
    return _quoted(header) + "\r\n", templates


def _write_lines(out: BinaryIO, rows: int, seed: int) -> None:
    """Header, then blocks of data lines; ids are `GD.<UF>.NNN.NNN.NNN` numbered per UF, hence unique."""
    header, templates = _templates()
    out.write(header.encode("cp1252"))
    rng = np.random.default_rng(seed)
    next_number: dict[str, int] = {}
    for start in range(0, rows, _BLOCK_ROWS):
        picks = rng.integers(0, len(templates), size=min(_BLOCK_ROWS, rows - start))
        lines = []
        for pick in picks.tolist():
            uf, prefix, suffix = templates[pick]
            n = next_number.get(uf, 0)
            next_number[uf] = n + 1
            digits = f"{n:09d}"
            lines.append(prefix + f"GD.{uf}.{digits[:3]}.{digits[3:6]}.{digits[6:]}".encode() + suffix)
        out.write(b"".join(lines))


def write_published_gd_file(path: str | Path, rows: int, *, zip: bool, seed: int = 0) -> Path:
    """Write `rows` resampled units as ANEEL publishes them (31 columns); a ZIP when `zip`, whatever the name."""
    path = Path(path)
    with ExitStack() as stack:
        if zip:
            archive = stack.enter_context(zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1))
            out = stack.enter_context(archive.open("empreendimento-geracao-distribuida.csv", "w", force_zip64=True))
        else:
            out = stack.enter_context(path.open("wb"))
        _write_lines(out, rows, seed)
    return path
