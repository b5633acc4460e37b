"""Which rows of a table a write covers: the WHERE clause of a Dagster table slice, whole or per partition.

The SQL is rendered without a connection and is accepted by both PostgreSQL and DuckDB.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

import dagster as dg
from dagster._core.definitions.partitions.utils import TimeWindow
from dagster._core.storage.db_io_manager import TablePartitionDimension, TableSlice
from psycopg import sql


def base_type(column_type: str) -> str:
    """`numeric(14,3)` -> `numeric`; DuckDB's upper-case names lowered."""
    return column_type.split("(", 1)[0].strip().lower()


def _window_bound(value: datetime, column_type: str) -> Any:
    """A time-window bound typed like the partition column, in the partition's own time zone."""
    base = base_type(column_type)
    if base == "date":
        return value.date()
    if base in ("timestamp without time zone", "timestamp"):
        return value.replace(tzinfo=None)
    return value


def partition_where(table_slice: TableSlice, column_types: Mapping[str, str]) -> sql.Composable:
    """WHERE clause selecting the slice's partitions; partition_expr must name a column."""
    clauses: list[sql.Composable] = []
    for dimension in table_slice.partition_dimensions or []:
        column = sql.Identifier(dimension.partition_expr)
        if isinstance(dimension.partitions, TimeWindow):
            column_type = column_types.get(dimension.partition_expr, "timestamp with time zone")
            start, end = dimension.partitions
            clauses.append(
                sql.SQL("{col} >= {start} AND {col} < {end}").format(
                    col=column,
                    start=sql.Literal(_window_bound(start, column_type)),
                    end=sql.Literal(_window_bound(end, column_type)),
                )
            )
        else:
            keys = list(cast("Sequence[str]", dimension.partitions))
            clauses.append(
                sql.SQL("{} IN ({})").format(column, sql.SQL(", ").join(map(sql.Literal, keys)))
                if keys
                else sql.SQL("FALSE")
            )
    return sql.SQL(" AND ").join(clauses) if clauses else sql.SQL("TRUE")


def partition_scopes(
    context: dg.OutputContext, table_slice: TableSlice, column_types: Mapping[str, str]
) -> dict[str, str]:
    """Partition key -> WHERE clause of its rows, for each partition the write covers.

    Unpartitioned writes have the single key ''; multi-dimensional ones are audited as a whole, under their
    partition key when they write one partition (else '').
    """
    dimensions = table_slice.partition_dimensions or []
    if not context.has_asset_partitions:
        return {"": partition_where(table_slice, column_types).as_string(None)}
    if len(dimensions) != 1:
        keys = context.asset_partition_keys
        return {keys[0] if len(keys) == 1 else "": partition_where(table_slice, column_types).as_string(None)}
    (dimension,) = dimensions
    definition = context.asset_partitions_def
    scopes = {}
    for key in context.asset_partition_keys:
        partitions = (
            cast("dg.TimeWindowPartitionsDefinition", definition).time_window_for_partition_key(key)
            if isinstance(dimension.partitions, TimeWindow)
            else [key]
        )
        one = TableSlice(
            table=table_slice.table,
            schema=table_slice.schema,
            database=table_slice.database,
            partition_dimensions=[TablePartitionDimension(dimension.partition_expr, partitions)],
        )
        scopes[key] = partition_where(one, column_types).as_string(None)
    return scopes


def static_partition_column(table_slice: TableSlice) -> str | None:
    """The column holding the partition key, when the slice has one static dimension."""
    dimensions = table_slice.partition_dimensions or []
    if len(dimensions) == 1 and not isinstance(dimensions[0].partitions, TimeWindow):
        return dimensions[0].partition_expr
    return None
