-- name: rows_per_table
-- Rows of every table loaded through the warehouse IO managers, summed over its published partitions.
SELECT table_name, sum(row_count)::bigint AS row_count, count(*)::bigint AS partitions
FROM pipeline.partition_row_counts
GROUP BY table_name
ORDER BY table_name;

-- name: changes_per_uf
-- What audit/gd_changes logged during the day (partition_key is the UF), per kind of change.
SELECT partition_key AS uf,
       count(*) FILTER (WHERE change_type = 'insert')::bigint AS inserted,
       count(*) FILTER (WHERE change_type = 'update')::bigint AS updated,
       count(*) FILTER (WHERE change_type = 'delete')::bigint AS deleted
FROM audit.change_log
WHERE asset_key = 'audit/gd_changes' AND changed_at >= %s AND changed_at < %s
GROUP BY partition_key
ORDER BY partition_key;

-- name: quarantine_by_reason
-- Rows quarantined during the day by loads that finished (published: accepted; refused: rejected).
SELECT asset_key, reason, status, count(*)::bigint AS quarantined
FROM pipeline.quarantine
WHERE status IN ('accepted', 'rejected') AND quarantined_at >= %s AND quarantined_at < %s
GROUP BY asset_key, reason, status
ORDER BY quarantined DESC, asset_key, reason, status;
