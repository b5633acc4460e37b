"""What the warehouse IO managers accept, and the metadata they all report."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import dagster as dg
import polars as pl

# Large frames are written in slices of this many rows so a COPY buffer never holds a whole table.
WRITE_SLICE_ROWS = 100_000


class FrameStream:
    """A table delivered as a sequence of DataFrame batches, so a 4.7M-row asset never sits whole in memory.

    All batches must have the same columns. `summary` is called once the IO manager has consumed every
    batch and returns extra output metadata (what was skipped or quarantined is only known then).
    """

    def __init__(
        self,
        batches: Iterable[pl.DataFrame],
        *,
        summary: Callable[[], Mapping[str, Any]] | None = None,
    ):
        self._batches = batches
        self._summary = summary

    def __iter__(self) -> Iterator[pl.DataFrame]:
        return iter(self._batches)

    def summary(self) -> Mapping[str, Any]:
        return dict(self._summary()) if self._summary else {}


WarehouseOutput = pl.DataFrame | pl.LazyFrame | FrameStream


def iter_write_slices(obj: WarehouseOutput) -> Iterator[pl.DataFrame]:
    """Yields the output as bounded DataFrame slices, whatever form the asset returned it in."""
    if isinstance(obj, pl.LazyFrame):
        obj = obj.collect()
    frames = [obj] if isinstance(obj, pl.DataFrame) else obj
    for frame in frames:
        yield from frame.iter_slices(WRITE_SLICE_ROWS) if frame.height > WRITE_SLICE_ROWS else [frame]


def table_output_metadata(
    *,
    columns: Iterable[tuple[str, str]],
    rows: int,
    partitioned: bool,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The standard Dagster table metadata: row count (per partition when partitioned) and column schema."""
    count_key = "dagster/partition_row_count" if partitioned else "dagster/row_count"
    return {
        count_key: dg.MetadataValue.int(rows),
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name=name, type=type_) for name, type_ in columns]
        ),
        **(extra or {}),
    }
