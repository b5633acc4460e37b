"""What the warehouse IO managers accept, and the metadata they all report."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from queue import Empty, Full, Queue
from typing import Any, TypeVar

import dagster as dg
import polars as pl

# Asset metadata naming where an asset is stored ("warehouse", "objects", "hot_cache"): the definitions add
# the kind of the profile's backend for it, so the UI's kinds say what this deployment really runs.
STORAGE = "ysh/storage"

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
        finally:  # stops an upstream stage (e.g. another prefetched generator) at once, from its own thread
            if hasattr(items, "close"):
                items.close()

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
    context: dg.OutputContext,
    *,
    columns: Iterable[tuple[str, str]],
    rows_by_partition: Mapping[str, int],
    partition_metadata: Mapping[str, Mapping[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The standard Dagster table metadata: row counts and column schema.

    Unpartitioned: `dagster/row_count`. Partitioned: each partition's materialization gets its own
    `dagster/partition_row_count` (and `partition_metadata`), also when a single-run range writes 27 at once;
    what this returns is shared by all of them, so run-wide totals are named as such (`run_rows_written`).
    """
    shared: dict[str, Any] = {
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name=name, type=type_) for name, type_ in columns]
        ),
        **(extra or {}),
    }
    total = sum(rows_by_partition.values())
    if not context.has_asset_partitions:
        return {"dagster/row_count": dg.MetadataValue.int(total), **shared}
    keys = context.asset_partition_keys
    if set(rows_by_partition) >= set(keys):  # counted per partition
        for key in keys:
            own = {"dagster/partition_row_count": rows_by_partition[key], **(partition_metadata or {}).get(key, {})}
            context.step_context.add_asset_metadata(own, asset_key=context.asset_key, partition_key=key)
    elif len(keys) == 1:
        shared["dagster/partition_row_count"] = dg.MetadataValue.int(total)
    if len(keys) > 1:
        shared["run_rows_written"] = dg.MetadataValue.int(total)
        shared["run_partitions"] = len(keys)
    return shared
