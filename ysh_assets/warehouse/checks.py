"""Asset checks as SQL over the warehouse (both profiles): a check is the query of its offending rows.

A check never loads a table into memory; a failure reports how many rows offend and a sample of them.
"""

from collections.abc import Callable, Sequence

import dagster as dg
import polars as pl
from psycopg import sql as pgsql

from ysh_assets.warehouse.sql import Warehouse

SAMPLE_ROWS = 5

Scope = Callable[[dg.AssetCheckExecutionContext], tuple[str, list]]


def partition_keys_scope(column: str) -> Scope:
    """Rows of the run's partitions, for partitions whose keys are stored in `column`."""

    def scope(context: dg.AssetCheckExecutionContext) -> tuple[str, list]:
        return f"{column} IN (SELECT unnest(%s::text[]))", [list(context.op_execution_context.partition_keys)]

    return scope


def offending_rows_result(
    warehouse: Warehouse, table: str, rows_sql: str, params: Sequence, severity: dg.AssetCheckSeverity
) -> dg.AssetCheckResult:
    """Passes when `rows_sql` (the offending rows) returns nothing; reports their count and a sample."""
    if not warehouse.table_exists(table):
        return dg.AssetCheckResult(passed=False, severity=severity, metadata={"error": f"{table} does not exist"})
    count = warehouse.scalar(f"SELECT count(*) FROM ({rows_sql}) AS offending", params)
    metadata: dict = {"offending_rows": count}
    if count:
        sample = warehouse.query(f"{rows_sql} LIMIT {SAMPLE_ROWS}", params)
        metadata["sample"] = dg.MetadataValue.json(sample.cast(dict.fromkeys(sample.columns, pl.String)).to_dicts())
    return dg.AssetCheckResult(passed=count == 0, severity=severity, metadata=metadata)


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
    asset key's `schema.name`) and {scope} the run's partitions clause."""
    table = table or ".".join(asset.path)
    quoted = pgsql.Identifier(*table.split(".")).as_string(None)

    @dg.asset_check(asset=asset, name=name, description=description, partitions_def=partitions_def)
    def check(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        clause, scope_params = scope(context)
        statement = rows_sql.format(table=quoted, scope=clause)
        return offending_rows_result(warehouse, table, statement, [*scope_params, *params()], severity)

    return check
