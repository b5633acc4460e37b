-- What the GD change log and the ingestion log need.
--
-- `row_digest`: a 64-bit hash of a unit's own columns (publication-level columns such as the generation date
-- left out), computed while the units are parsed, so comparing two snapshots reads two narrow columns instead
-- of every column of 4.7M rows; candidates are then compared column by column.
ALTER TABLE aneel.generation_units ADD COLUMN IF NOT EXISTS row_digest bigint;

-- Which source file each published partition was loaded from, and (for tables that keep the version they
-- replaced, like the GD units) which file that previous version came from: two snapshots are consecutive
-- when these two differ, and a reload of the same file keeps the previous version it had.
ALTER TABLE pipeline.partition_row_counts ADD COLUMN IF NOT EXISTS source_sha256 text;
ALTER TABLE pipeline.partition_row_counts ADD COLUMN IF NOT EXISTS previous_source_sha256 text;

-- Each kept partition version's key -> row digest index (a Parquet file of the key columns and the digest),
-- written with the publication: two snapshots are compared by reading two of these, not millions of rows.
CREATE TABLE IF NOT EXISTS pipeline.partition_digests (
    table_name text NOT NULL,
    partition_key text NOT NULL,
    source_sha256 text NOT NULL,
    row_count bigint NOT NULL,
    digests bytea NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (table_name, partition_key, source_sha256)
);

-- The snapshots a change lies between (`<previous sha256>..<new sha256>`, or the day for daily snapshots): a
-- partition's changes are replaced per pair, so re-runs never log a change twice and earlier pairs' changes stay.
ALTER TABLE audit.change_log ADD COLUMN IF NOT EXISTS snapshot text;
CREATE INDEX IF NOT EXISTS change_log_snapshot_idx ON audit.change_log (asset_key, partition_key, snapshot);

-- One row per asset materialization (or failed attempt) with what it read, loaded and quarantined.
ALTER TABLE pipeline.ingestion_log ADD COLUMN IF NOT EXISTS rows_read bigint;
ALTER TABLE pipeline.ingestion_log ADD COLUMN IF NOT EXISTS stale boolean NOT NULL DEFAULT false;
ALTER TABLE pipeline.ingestion_log ADD COLUMN IF NOT EXISTS error text;
