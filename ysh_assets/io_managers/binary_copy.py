"""Frames as PostgreSQL binary COPY (`pgpq`): no text to format on the client, none to parse on the server.

Binary COPY needs every value in the exact type of its column, so each batch is cast to the table's own
types first. Numerics get the text path's value exactly: a float becomes its shortest decimal text (what the
text COPY sends) and is rounded to the column's scale half away from zero (what PostgreSQL does with that
text), never through float arithmetic. A table with a column type outside `exact_type` is written as text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import pgpq
import polars as pl

from ysh_assets.io_managers.slices import base_type

BLOCK_BYTES = 8 << 20  # per write: measured faster than 32 MB blocks (the socket and the encoder overlap)
_NUMERIC = re.compile(r"^numeric\((\d+),\s*(\d+)\)$")
# PostgreSQL column types and the polars types that hold their values exactly (numeric(p, s) aside).
EXACT_TYPES = {
    "smallint": pl.Int16(),
    "integer": pl.Int32(),
    "bigint": pl.Int64(),
    "real": pl.Float32(),
    "double precision": pl.Float64(),
    "boolean": pl.Boolean(),
    "date": pl.Date(),
    "text": pl.String(),
    "character varying": pl.String(),
    "timestamp without time zone": pl.Datetime("us"),
    "timestamp with time zone": pl.Datetime("us", "UTC"),
}


def exact_type(pg_type: str) -> pl.DataType | None:
    """The polars type whose Arrow form pgpq encodes as `pg_type`, or None when there is none here."""
    numeric = _NUMERIC.match(pg_type)
    if numeric:
        return pl.Decimal(int(numeric[1]), int(numeric[2]))
    return EXACT_TYPES.get(base_type(pg_type))


def _as_numeric(column: str, dtype: pl.Decimal, source: pl.DataType) -> pl.Expr:
    """`column` as numeric(p, s), rounded half away from zero at the scale, from its decimal text."""
    if isinstance(source, pl.Decimal) and source.scale <= dtype.scale:
        return pl.col(column).cast(dtype)
    scale = dtype.scale
    text = pl.col(column).cast(pl.String)  # floats: the shortest text that reads back as the same float
    # One digit beyond the scale, truncated, decides the rounding exactly (a 5 there means "at least half").
    digits = text.cast(pl.Decimal(38, scale + 1)).cast(pl.String).str.replace(".", "", literal=True).cast(pl.Int128)
    magnitude = (digits.abs() + 5) // 10
    parts = [pl.when(digits < 0).then(pl.lit("-")).otherwise(pl.lit("")), (magnitude // 10**scale).cast(pl.String)]
    if scale:
        parts += [pl.lit("."), (magnitude % 10**scale).cast(pl.String).str.zfill(scale)]
    return pl.concat_str(parts).cast(dtype).alias(column)


def _within_scale(column: str, scale: int) -> pl.Expr:
    """True when each float of `column` is a decimal of at most `scale` places, exactly representable as an
    integer count of 10^-scale below 2^53: its shortest text then has no digit to round, and a direct cast to
    the decimal type gives that very number (the published figures, with two decimals, always are)."""
    units = pl.col(column) * 10**scale
    return ((units.abs() < 2**53) & (units.round() / 10**scale == pl.col(column))).or_(pl.col(column).is_null()).all()


def exact_frame(frame: pl.DataFrame, types: dict[str, pl.DataType]) -> pl.DataFrame:
    """The frame in its columns' exact types (a failed cast raises: the text path would have refused it too)."""
    casts = []
    floats_within_scale = [
        _within_scale(name, dtype.scale).alias(name)
        for name, dtype in types.items()
        if isinstance(dtype, pl.Decimal) and frame.schema[name].is_float()
    ]
    direct = frame.select(floats_within_scale).row(0, named=True) if floats_within_scale else {}
    for name, dtype in types.items():
        source = frame.schema[name]
        if source == dtype:
            continue
        if isinstance(dtype, pl.Decimal) and not direct.get(name):
            casts.append(_as_numeric(name, dtype, source))
        else:
            casts.append(pl.col(name).cast(dtype, strict=True))
    return frame.with_columns(casts) if casts else frame


def binary_types(names: Sequence[str], pg_types: dict[str, str]) -> dict[str, pl.DataType] | None:
    """Each written column's exact type, or None when one has no binary encoding here (write text)."""
    types = {name: exact_type(pg_types[name]) for name in names}
    return None if any(t is None for t in types.values()) else types


def encode(frames: Iterator[pl.DataFrame], types: dict[str, pl.DataType]) -> Iterator[tuple[int, bytes]]:
    """(rows, bytes) blocks of one binary COPY stream: the header with the first block, the trailer last."""
    encoder = None
    for frame in frames:
        # string views: no copy of the text into Arrow's offset layout, and pgpq encodes them faster
        table = exact_frame(frame, types).to_arrow(compat_level=pl.CompatLevel.newest())
        if encoder is None:
            encoder = pgpq.ArrowToPostgresBinaryEncoder(table.schema)
            yield 0, encoder.write_header()
        per_row = max(1, table.nbytes // max(1, table.num_rows))
        for batch in table.to_batches(max_chunksize=max(1, BLOCK_BYTES // per_row)):
            yield batch.num_rows, encoder.write_batch(batch)
    if encoder is not None:
        yield 0, encoder.finish()
