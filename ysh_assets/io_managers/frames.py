"""What the warehouse IO managers accept, and the metadata they all report."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from queue import Empty, Full, Queue
from typing import Any, TypeVar

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
T = TypeVar("T")


def prefetched(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Produces `items` in a worker thread, at most `depth` ahead of the consumer.

    The next batch is parsed and encoded while the current one is sent to the database (polars and the
    socket both release the GIL), and memory stays bounded by `depth` batches whatever the table size.
    An error on either side stops the other.
    """
    queue: Queue[tuple[str, Any]] = Queue(maxsize=depth)
    stop = threading.Event()

    def put(kind: str, value: Any) -> bool:
        while not stop.is_set():
            try:
                queue.put((kind, value), timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put("item", item):
                    return
            put("done", None)
        except BaseException as error:  # handed to the consumer, which re-raises it
            put("error", error)

    worker = threading.Thread(target=produce, name="ysh-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            try:
                kind, value = queue.get(timeout=0.1)
            except Empty:
                if not worker.is_alive():
                    raise RuntimeError("prefetch worker stopped without a result") from None
                continue
            if kind == "item":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        stop.set()
        worker.join()


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
    partitions: int,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The standard Dagster table metadata: row count and column schema.

    `partitions` is how many partitions the write covered (0: unpartitioned). A single-run range writes
    several at once and Dagster copies the output metadata to each of them, so there the count is
    reported as `rows_written` (the whole range) rather than as a misleading per-partition count.
    """
    count_key = {0: "dagster/row_count", 1: "dagster/partition_row_count"}.get(partitions, "rows_written")
    return {
        count_key: dg.MetadataValue.int(rows),
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name=name, type=type_) for name, type_ in columns]
        ),
        **(extra or {}),
    }


def partitions_written(context: dg.OutputContext) -> int:
    return len(context.asset_partition_keys) if context.has_asset_partitions else 0
