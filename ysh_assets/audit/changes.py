"""Units new, removed and changed between two GD snapshots of one UF.

Two passes keep this fast at 4.7M units: the two versions' id -> digest indexes (kept by the warehouse with
each publication) give the candidates, the units whose digest of id and values is not in the other version,
and only those are read in full, from both versions, and compared column by column. A candidate is
classified by what the two versions hold, never by its digest, so a digest that moved for no real change (a
new hashing version) or an id the staging resolved as a duplicate never makes a wrong change row.
"""

from dataclasses import dataclass

import polars as pl

from ysh_assets.aneel.parsing import GD_ROW_DIGEST, GD_UNIT_COLUMNS

UNIT_ID = "cod_empreendimento"
# The units' columns in the warehouse's text form: exact comparison and JSON of what the tables hold.
UNIT_TEXT_SCHEMA = pl.Schema(dict.fromkeys((UNIT_ID, *GD_UNIT_COLUMNS), pl.String))
CHANGE_SCHEMA = pl.Schema(
    {
        "partition_key": pl.String,
        "entity_id": pl.String,
        "change_type": pl.String,
        "old_values": pl.String,
        "new_values": pl.String,
    }
)
_OLD = "__old"
_CHANGED = "__changed"


@dataclass(frozen=True)
class Candidates:
    """Ids to look at, from the two versions' indexes (frames of `cod_empreendimento` and `row_digest`)."""

    new: pl.Series  # digest and id only in the current version: new units, read from it
    changed: pl.Series  # a digest missing on either side, id in both: read in full from both versions
    gone: pl.Series  # digest and id only in the previous version: removed units, read from it

    @property
    def count(self) -> int:
        return self.new.len() + self.changed.len() + self.gone.len()


def candidates(current: pl.DataFrame, previous: pl.DataFrame) -> Candidates:
    """The units whose digest (of id and values) the other version lacks, split by where their id is (anti
    joins: polars' hash joins, several times faster here than membership tests on 1M ids)."""
    added = current.join(previous, on=GD_ROW_DIGEST, how="anti").select(UNIT_ID).unique()
    lost = previous.join(current, on=GD_ROW_DIGEST, how="anti").select(UNIT_ID).unique()
    new = added.join(previous, on=UNIT_ID, how="anti")
    gone = lost.join(current, on=UNIT_ID, how="anti")
    either = pl.concat([added, lost]).unique()
    changed = either.join(pl.concat([new, gone]), on=UNIT_ID, how="anti")
    return Candidates(new=new[UNIT_ID], changed=changed[UNIT_ID], gone=gone[UNIT_ID])


def _fragment(column: str, source: str) -> pl.Expr:
    """`"column":<JSON value>` of the `source` column."""
    encoded = pl.struct(pl.col(source).alias(column)).struct.json_encode()
    return encoded.str.slice(1, encoded.str.len_chars() - 2)


def _whole_row(suffix: str) -> pl.Expr:
    """All the unit's columns (of one version: `suffix`) as one JSON object."""
    return pl.struct(pl.col(c + suffix).alias(c) for c in GD_UNIT_COLUMNS).struct.json_encode()


def _json_object(fragments: list[pl.Expr]) -> pl.Expr:
    return pl.concat_str([pl.lit("{"), pl.concat_str(fragments, separator=",", ignore_nulls=True), pl.lit("}")])


def unit_changes(uf: str, now: pl.DataFrame, before: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, int]]:
    """CHANGE_SCHEMA rows of one UF from the candidates' rows in each version (UNIT_TEXT_SCHEMA): a new unit
    by its id (its values are its row in the table), a removed unit with its last values, and a changed one
    with the columns that changed, old -> new; candidates that changed nothing are dropped. Also how many
    updates touched each column."""
    rows = now.with_columns(_now=True).join(
        before.with_columns(_before=True), on=UNIT_ID, how="full", coalesce=True, suffix=_OLD
    )
    present, was = pl.col("_now").fill_null(False), pl.col("_before").fill_null(False)
    kind = pl.when(~was).then(pl.lit("insert")).when(~present).then(pl.lit("delete")).otherwise(pl.lit("update"))
    rows = rows.with_columns(change_type=kind)
    updates = rows.filter(pl.col("change_type") == "update")
    updates = updates.with_columns(
        pl.col(c).ne_missing(pl.col(c + _OLD)).alias(c + _CHANGED) for c in GD_UNIT_COLUMNS
    ).filter(pl.any_horizontal(c + _CHANGED for c in GD_UNIT_COLUMNS))  # a moved digest alone is no change
    changed = {c: pl.col(c + _CHANGED) for c in GD_UNIT_COLUMNS}
    kinds = pl.col("change_type")
    removed = rows.filter(kinds == "delete")  # a removed unit's last values
    changes = pl.concat(
        [
            rows.filter(kinds == "insert").select(
                partition_key=pl.lit(uf),
                entity_id=UNIT_ID,
                change_type=pl.lit("insert"),
                old_values=pl.lit(None, pl.String),
                new_values=pl.lit(None, pl.String),
            ),
            removed.select(
                partition_key=pl.lit(uf),
                entity_id=UNIT_ID,
                change_type=kinds,
                old_values=_whole_row(_OLD),
                new_values=pl.lit(None, pl.String),
            ),
            updates.select(
                partition_key=pl.lit(uf),
                entity_id=UNIT_ID,
                change_type=kinds,
                old_values=_json_object([pl.when(m).then(_fragment(c, c + _OLD)) for c, m in changed.items()]),
                new_values=_json_object([pl.when(m).then(_fragment(c, c)) for c, m in changed.items()]),
            ),
        ]
    ).cast(dict(CHANGE_SCHEMA))
    counts = updates.select(pl.col(c + _CHANGED).sum().alias(c) for c in GD_UNIT_COLUMNS).row(0, named=True)
    return changes, {c: n for c, n in counts.items() if n}
