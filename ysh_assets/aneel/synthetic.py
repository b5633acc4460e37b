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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class NextSnapshot:
    """How the next publication of the same units differs: shares of units removed, changed and new, and the
    publication's own date (on every row: a publication-level change, no change of a unit)."""

    removed: float = 0.005
    changed: float = 0.01
    new: float = 0.005
    published: str = "2026-09-19"
    reference_month: str = "09/2026"


def _write_lines(out: BinaryIO, rows: int, seed: int, next_snapshot: NextSnapshot | None = None) -> None:
    """Header, then blocks of data lines; ids are `GD.<UF>.NNN.NNN.NNN` numbered per UF, hence unique. With
    `next_snapshot`, the same units (same seed) with its removals, changes (another sample row's values under the
    same id) and new units (numbered after the last)."""
    header, templates = _templates()
    if next_snapshot:
        templates = [(uf, _republished(prefix, next_snapshot), suffix) for uf, prefix, suffix in templates]
    out.write(header.encode("cp1252"))
    rng = np.random.default_rng(seed)
    edits = np.random.default_rng(seed + 1)
    same_uf = _same_uf_alternatives(templates)
    next_number: dict[str, int] = {}
    for start in range(0, rows, _BLOCK_ROWS):
        picks = rng.integers(0, len(templates), size=min(_BLOCK_ROWS, rows - start))
        draws = edits.random(len(picks)) if next_snapshot else np.ones(len(picks))
        lines = []
        for pick, draw in zip(picks.tolist(), draws.tolist(), strict=True):
            uf, prefix, suffix = templates[pick]
            n = next_number.get(uf, 0)
            next_number[uf] = n + 1
            if next_snapshot and draw < next_snapshot.removed:
                continue
            if next_snapshot and draw < next_snapshot.removed + next_snapshot.changed:
                _, prefix, suffix = templates[same_uf[pick]]
            lines.append(prefix + _unit_id(uf, n) + suffix)
        out.write(b"".join(lines))
    if next_snapshot:
        for pick in rng.integers(0, len(templates), size=round(rows * next_snapshot.new)).tolist():
            uf, prefix, suffix = templates[pick]
            n = next_number.get(uf, 0)
            next_number[uf] = n + 1
            out.write(prefix + _unit_id(uf, n) + suffix)


def _unit_id(uf: str, n: int) -> bytes:
    digits = f"{n:09d}"
    return f"GD.{uf}.{digits[:3]}.{digits[3:6]}.{digits[6:]}".encode()


def _republished(prefix: bytes, next_snapshot: NextSnapshot) -> bytes:
    """The row's first two fields (generation date, reference month) as the next publication prints them."""
    rest = prefix.split(b";", 2)[2]
    return f'"{next_snapshot.published}";"{next_snapshot.reference_month}";'.encode() + rest


def _same_uf_alternatives(templates: list[tuple[str, bytes, bytes]]) -> list[int]:
    """For each sample row, another one of the same UF whose values differ (itself when its UF has no other)."""
    by_uf: dict[str, list[int]] = {}
    for index, (uf, _, _) in enumerate(templates):
        by_uf.setdefault(uf, []).append(index)
    alternatives = []
    for index, (uf, prefix, suffix) in enumerate(templates):
        others = [i for i in by_uf[uf] if templates[i][1:] != (prefix, suffix)]
        alternatives.append(others[index % len(others)] if others else index)
    return alternatives


def write_published_gd_file(
    path: str | Path, rows: int, *, zip: bool, seed: int = 0, next_snapshot: NextSnapshot | None = None
) -> Path:
    """Write `rows` resampled units as ANEEL publishes them (31 columns); a ZIP when `zip`, whatever the name;
    `next_snapshot`: the next publication of the same units (see `NextSnapshot`)."""
    path = Path(path)
    with ExitStack() as stack:
        if zip:
            archive = stack.enter_context(zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1))
            out = stack.enter_context(archive.open("empreendimento-geracao-distribuida.csv", "w", force_zip64=True))
        else:
            out = stack.enter_context(path.open("wb"))
        _write_lines(out, rows, seed, next_snapshot)
    return path
