-- Quarantine rows belong to the load that produced them (write-audit-publish): `staged` while the load
-- runs, `accepted` once it is published (earlier loads' rows of its partitions are then removed), and
-- `rejected` when its audit refused it (kept, with the source file's sha256, so operators see why).
ALTER TABLE pipeline.quarantine ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT 'accepted';
ALTER TABLE pipeline.quarantine ALTER COLUMN status SET DEFAULT 'staged';
ALTER TABLE pipeline.quarantine ADD COLUMN IF NOT EXISTS source_sha256 text;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'quarantine_status_known') THEN
        ALTER TABLE pipeline.quarantine ADD CONSTRAINT quarantine_status_known
            CHECK (status IN ('staged', 'accepted', 'rejected'));
    END IF;
END;
$$;
CREATE INDEX IF NOT EXISTS quarantine_run_idx ON pipeline.quarantine (asset_key, run_id, status);
