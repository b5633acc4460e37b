-- Schemas: one per domain. The asset group names the schema (see DESIGN.md), except the catalog
-- domain, whose tables live in `products` (products, kits) and `aneel` (regulatory certifications).
CREATE SCHEMA IF NOT EXISTS aneel;
CREATE SCHEMA IF NOT EXISTS products;
CREATE SCHEMA IF NOT EXISTS pipeline;
CREATE SCHEMA IF NOT EXISTS audit;

-- Creates the monthly range partitions of a table partitioned by a timestamptz column, for the
-- months in [from_month, from_month + months). Idempotent: existing partitions are left alone.
-- Rows outside the created months land in the table's DEFAULT partition, so an insert never fails.
CREATE OR REPLACE FUNCTION pipeline.ensure_monthly_partitions(parent regclass, from_month date, months integer)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    parent_schema text;
    parent_name text;
    month_start date;
    child_name text;
    created integer := 0;
BEGIN
    SELECT n.nspname, c.relname INTO parent_schema, parent_name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = parent;
    FOR i IN 0 .. months - 1 LOOP
        month_start := (date_trunc('month', from_month) + make_interval(months => i))::date;
        child_name := parent_name || '_' || to_char(month_start, 'YYYY_MM');
        IF to_regclass(format('%I.%I', parent_schema, child_name)) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                parent_schema, child_name, parent,
                month_start, (month_start + interval '1 month')::date
            );
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END;
$$;
