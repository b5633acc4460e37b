"""Which file each published partition was loaded from, and the version a load replaced.

A table whose asset asks for it (`keep_previous_version` in its definition metadata) keeps, per partition, the
rows it held before its latest load *from another file* in `previous_table(...)`, so two consecutive snapshots
can be compared without storing a copy of either: PostgreSQL renames the replaced leaf, DuckDB copies the
slice. Reloading the same file keeps the previous version it had, so a re-run compares the same two snapshots.
The sources are recorded in `pipeline.partition_row_counts`, in the publishing transaction.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from ysh_assets.warehouse.sessions import SqlSession, quoted

KEEP_PREVIOUS_VERSION = "keep_previous_version"  # definition metadata key of assets whose tables keep one
ROW_DIGEST = "row_digest"  # the column of such a table holding each row's digest, indexed per version
PREVIOUS_SUFFIX = "__previous"
DIGESTS_TABLE = "pipeline.partition_digests"


def previous_table(qualified: str, partition_key: str) -> str:
    """`schema.<table>_<key>__previous`: the partition's rows before its latest load from another file."""
    schema, table = qualified.split(".")
    return f"{schema}.{table}_{partition_key.lower()}{PREVIOUS_SUFFIX}"


@dataclass(frozen=True)
class PartitionVersion:
    source_sha256: str | None  # the file the published rows were loaded from
    previous_source_sha256: str | None  # the file the previous version was loaded from (None: no previous)


def published_versions(session: SqlSession, table: str, keys: Collection[str]) -> dict[str, PartitionVersion]:
    """The recorded versions of these partitions of `table` (those recorded)."""
    frame = session.frame(
        "SELECT partition_key, source_sha256, previous_source_sha256 FROM pipeline.partition_row_counts "
        "WHERE table_name = %s AND partition_key IN (SELECT unnest(%s::text[]))",
        (table, list(keys)),
    )
    return {key: PartitionVersion(source, previous) for key, source, previous in frame.iter_rows()}


@dataclass(frozen=True)
class Rotation:
    """What a load of `source` does to the previous versions of its partitions."""

    rotate: frozenset[str]  # partitions whose published rows become their previous version
    versions: Mapping[str, PartitionVersion]  # partition -> the versions to record once published


def plan_rotation(
    published: Mapping[str, PartitionVersion], keys: Collection[str], source: str | None, *, keep_previous: bool
) -> Rotation:
    """For a table that keeps previous versions, partitions published from another file than `source` keep those
    rows as their previous version, and a reload of the same file keeps what was previous. A load of unknown
    source rotates nothing and records no previous version (nothing to compare). Other tables record the source
    alone."""
    rotate, versions = set(), {}
    for key in keys:
        now = published.get(key, PartitionVersion(None, None))
        if not keep_previous or source is None:  # an unknown file is no snapshot to compare with
            versions[key] = PartitionVersion(source, None)
        elif now.source_sha256 != source:
            rotate.add(key)
            versions[key] = PartitionVersion(source, now.source_sha256)
        else:
            versions[key] = PartitionVersion(source, now.previous_source_sha256)
    return Rotation(frozenset(rotate), versions)


def copy_to_previous(session: SqlSession, qualified: str, key: str, where: str) -> None:
    """The slice's rows become the partition's previous version (the engines without leaf renames)."""
    previous = quoted(previous_table(qualified, key))
    session.execute(f"DROP TABLE IF EXISTS {previous}")
    session.execute(f"CREATE TABLE {previous} AS SELECT * FROM {quoted(qualified)} WHERE {where}")


def rotation_for(
    session: SqlSession, qualified: str, keys: Collection[str], source: str | None, *, keep_previous: bool
) -> Rotation:
    """`plan_rotation` against what the partitions' publications recorded (none when the table is new)."""
    published = published_versions(session, qualified, keys) if session.table_exists(qualified) else {}
    return plan_rotation(published, keys, source, keep_previous=keep_previous)


def digest_collector(metadata: Mapping, key: Sequence[str], partition_column: str | None) -> DigestCollector | None:
    """A collector for a write to a table that keeps its previous version (its asset's definition `metadata`)."""
    return (
        DigestCollector(key, partition_column)
        if metadata.get(KEEP_PREVIOUS_VERSION) and key and partition_column
        else None
    )


class DigestCollector:
    """Each written row's key and digest, taken from the stream as it is staged: published with the partitions,
    they index each kept version, so comparing two versions reads two small files."""

    def __init__(self, key: Sequence[str], partition_column: str):
        self.key, self.partition_column = list(key), partition_column
        self._frames: list[pl.DataFrame] = []

    def observe(self, frame: pl.DataFrame) -> None:
        self._frames.append(frame.select(*self.key, ROW_DIGEST))

    def empty_index(self) -> pl.DataFrame:
        """The index of a partition the stream had no row of: the key's text columns and the digest."""
        return pl.DataFrame(schema=dict.fromkeys(self.key, pl.String) | {ROW_DIGEST: pl.Int64}).drop(
            self.partition_column
        )

    def by_partition(self) -> dict[str, pl.DataFrame]:
        if not self._frames:
            return {}
        rows = pl.concat(self._frames)
        return {key: part.drop(self.partition_column) for (key,), part in rows.partition_by(
            self.partition_column, as_dict=True).items()}  # fmt: skip


def store_digests(
    session: SqlSession, table: str, collector: DigestCollector, versions: Mapping[str, PartitionVersion]
) -> None:
    """In the publishing transaction: each partition's digests under its new source; only the indexes of the
    published and the previous version are kept."""
    found = collector.by_partition()
    for key, version in versions.items():
        if version.source_sha256 is None:
            continue
        kept = [s for s in (version.source_sha256, version.previous_source_sha256) if s]
        session.execute(
            f"DELETE FROM {DIGESTS_TABLE} WHERE table_name = %s AND partition_key = %s "
            "AND (source_sha256 = %s OR source_sha256 NOT IN (SELECT unnest(%s::text[])))",
            (table, key, version.source_sha256, kept),
        )
        rows = found.get(key, collector.empty_index())
        buffer = io.BytesIO()
        rows.write_parquet(buffer, compression="zstd", compression_level=1, statistics=False)
        session.execute(
            f"INSERT INTO {DIGESTS_TABLE} (table_name, partition_key, source_sha256, row_count, digests) "
            "VALUES (%s, %s, %s, %s, %s)",
            (table, key, version.source_sha256, rows.height, buffer.getvalue()),
        )


def read_digests(session: SqlSession, table: str, key: str, source: str) -> pl.DataFrame | None:
    """The key -> digest index of the partition's version loaded from `source` (None when not kept)."""
    blob = session.blob(
        f"SELECT digests FROM {DIGESTS_TABLE} WHERE table_name = %s AND partition_key = %s AND source_sha256 = %s",
        (table, key, source),
    )
    return None if blob is None else pl.read_parquet(io.BytesIO(blob))
