"""Asset checks as SQL over the warehouse (both profiles): a check is the query of its offending rows.

A check never loads a table into memory; a failure reports how many rows offend and a sample of them. It is
evaluated, and recorded, for each partition of the run (a single-run range of 27 UFs gives 27 results).
"""

from collections.abc import Callable, Sequence

import dagster as dg
import polars as pl
from psycopg import sql as pgsql

from ysh_assets.check_results import PartitionCheck, log_partition_checks
from ysh_assets.warehouse.sql import Warehouse

SAMPLE_ROWS = 5

# The rows of one partition: a WHERE clause with `%s` placeholders, and its parameters.
Scope = Callable[[dg.PartitionsDefinition, str], tuple[str, list]]


def partition_column_scope(column: str) -> Scope:
    """Rows of one partition whose key is stored in `column`."""
    return lambda _definition, key: (f"{column} = %s", [key])


def time_window_scope(column: str) -> Scope:
    """Rows of one time-window partition, by the date in `column`."""

    def scope(definition: dg.PartitionsDefinition, key: str) -> tuple[str, list]:
        window = definition.time_window_for_partition_key(key)  # type: ignore[attr-defined]
        return f"{column} >= %s AND {column} < %s", [window.start.date(), window.end.date()]

    return scope


def offending_rows_result(warehouse: Warehouse, table: str, rows_sql: str, params: Sequence) -> PartitionCheck:
    """Passes when `rows_sql` (the offending rows) returns nothing; reports their count and a sample."""
    if not warehouse.table_exists(table):
        return PartitionCheck(passed=False, metadata={"error": f"{table} does not exist"})
    count = warehouse.scalar(f"SELECT count(*) FROM ({rows_sql}) AS offending", params)
    metadata: dict = {"offending_rows": count}
    if count:
        sample = warehouse.query(f"{rows_sql} LIMIT {SAMPLE_ROWS}", params)
        metadata["sample"] = dg.MetadataValue.json(sample.cast(dict.fromkeys(sample.columns, pl.String)).to_dicts())
    return PartitionCheck(passed=count == 0, metadata=metadata)


def sql_check(
    *,
    asset: dg.AssetKey,
    partitions_def: dg.PartitionsDefinition,
    name: str,
    description: str,
    scope: Scope,
    rows_sql: str,
    params: Callable[[], list] = list,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
    table: str | None = None,
) -> dg.AssetChecksDefinition:
    """A check whose offending rows are `rows_sql`: {table} is the checked table (quoted; by default the
    asset key's `schema.name`) and {scope} one partition's clause."""
    table = table or ".".join(asset.path)
    quoted = pgsql.Identifier(*table.split(".")).as_string(None)

    @dg.asset_check(asset=asset, name=name, description=description, partitions_def=partitions_def)
    def check(context: dg.AssetCheckExecutionContext, warehouse: Warehouse):
        results = {}
        for key in context.op_execution_context.partition_keys:
            clause, scope_params = scope(partitions_def, key)
            statement = rows_sql.format(table=quoted, scope=clause)
            results[key] = offending_rows_result(warehouse, table, statement, [*scope_params, *params()])
        log_partition_checks(context.op_execution_context, asset, {name: (results, severity)})
        yield dg.Output(None)

    return check
