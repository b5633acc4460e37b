-- Rows per published partition of each table loaded through the warehouse IO managers, written in the
-- publishing transaction: the next load's shrink audit compares against it without recounting the table.
CREATE TABLE IF NOT EXISTS pipeline.partition_row_counts (
    table_name text NOT NULL,
    partition_key text NOT NULL,
    row_count bigint NOT NULL,
    run_id text,
    published_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (table_name, partition_key)
);
