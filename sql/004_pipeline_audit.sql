-- Operational tables. The three append-only logs are range-partitioned by month so old months can be
-- detached or dropped cheaply; `ysh migrate` keeps partitions ready ahead of time, and a DEFAULT
-- partition catches anything outside them.

CREATE TABLE IF NOT EXISTS pipeline.ingestion_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    asset_key text NOT NULL,
    partition_key text,
    run_id text,
    source_url text,
    sha256 text,
    size_bytes bigint,
    rows_loaded bigint,
    rows_quarantined bigint,
    status text NOT NULL CHECK (status IN ('loaded', 'unchanged', 'stale', 'failed')),
    details jsonb NOT NULL DEFAULT '{}'::jsonb,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX IF NOT EXISTS ingestion_log_asset_idx ON pipeline.ingestion_log (asset_key, partition_key, started_at DESC);

CREATE TABLE IF NOT EXISTS pipeline.quarantine (
    quarantined_at timestamptz NOT NULL DEFAULT now(),
    id bigint GENERATED ALWAYS AS IDENTITY,
    asset_key text NOT NULL,
    partition_key text,
    run_id text,
    source text,
    line_number bigint,
    reason text NOT NULL,
    raw_record text,
    PRIMARY KEY (quarantined_at, id)
) PARTITION BY RANGE (quarantined_at);
CREATE TABLE IF NOT EXISTS pipeline.quarantine_default PARTITION OF pipeline.quarantine DEFAULT;
CREATE INDEX IF NOT EXISTS quarantine_asset_idx ON pipeline.quarantine (asset_key, partition_key, quarantined_at);

CREATE TABLE IF NOT EXISTS pipeline.data_quality_checks (
    checked_at timestamptz NOT NULL DEFAULT now(),
    id bigint GENERATED ALWAYS AS IDENTITY,
    asset_key text NOT NULL,
    check_name text NOT NULL,
    partition_key text,
    run_id text,
    passed boolean NOT NULL,
    severity text NOT NULL CHECK (severity IN ('WARN', 'ERROR')),
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (checked_at, id)
) PARTITION BY RANGE (checked_at);
CREATE TABLE IF NOT EXISTS pipeline.data_quality_checks_default PARTITION OF pipeline.data_quality_checks DEFAULT;
CREATE INDEX IF NOT EXISTS data_quality_checks_asset_idx
    ON pipeline.data_quality_checks (asset_key, check_name, checked_at DESC);

CREATE TABLE IF NOT EXISTS audit.change_log (
    changed_at timestamptz NOT NULL DEFAULT now(),
    id bigint GENERATED ALWAYS AS IDENTITY,
    asset_key text NOT NULL,
    partition_key text,
    entity_id text NOT NULL,
    change_type text NOT NULL CHECK (change_type IN ('insert', 'update', 'delete')),
    old_values jsonb,
    new_values jsonb,
    run_id text,
    PRIMARY KEY (changed_at, id)
) PARTITION BY RANGE (changed_at);
CREATE TABLE IF NOT EXISTS audit.change_log_default PARTITION OF audit.change_log DEFAULT;
CREATE INDEX IF NOT EXISTS change_log_entity_idx ON audit.change_log (asset_key, entity_id, changed_at);
