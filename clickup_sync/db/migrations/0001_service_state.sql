-- Small durable facts the service keeps about itself: cursors, the last run of each job.
CREATE TABLE {schema}.service_state (
    key        text PRIMARY KEY,
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per backfill / reconcile / sweep run, for the admin page and the runbook.
CREATE TABLE {schema}.sync_runs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('backfill', 'reconcile', 'sweep')),
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    status        text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
    stats         jsonb NOT NULL DEFAULT '{}'::jsonb,
    error         text
);
CREATE INDEX sync_runs_kind_started_idx ON {schema}.sync_runs (kind, started_at DESC);
