-- Request counters per source and Brazilian day, and each source's circuit breaker: the local profile's
-- backend for `ysh_assets.ops.quotas` (the services profile keeps the same in Redis), shared by every run.
CREATE TABLE IF NOT EXISTS pipeline.source_quota (
    source text NOT NULL,
    day date NOT NULL,
    requests bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, day)
);

CREATE TABLE IF NOT EXISTS pipeline.source_breaker (
    source text PRIMARY KEY,
    state text NOT NULL CHECK (state IN ('closed', 'open', 'half_open')),
    failures integer NOT NULL DEFAULT 0,
    open_until timestamptz,
    last_error text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
