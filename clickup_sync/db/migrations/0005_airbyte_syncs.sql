-- Airbyte syncs as this service detects them (clickup_sync/airbyte/detect.py), and what it last saw
-- of Airbyte's tables so that detection survives restarts and agrees across replicas.
-- Airbyte's tables are named here by text only, never referenced: no foreign key, view or trigger
-- on them, because their overwrite sync runs DROP TABLE without CASCADE and a dependent object makes
-- that sync fail (reference airbyte.md §3.9, §7).

-- One row per detected sync of one Airbyte table (e.g. 'public.clickup_task').
CREATE TABLE {schema}.airbyte_syncs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    airbyte_table    text NOT NULL,
    -- The best estimate we have; details->>'started_at_basis' says where it came from.
    started_at       timestamptz NOT NULL,
    ended_at         timestamptz,                 -- NULL while the sync runs
    -- How it was seen: while running (temp_table, raw_table, lock, api), by its effect on the table
    -- (table_oid, extracted_at, generation_id, sync_id), or told (notification).
    detected_by      text[] NOT NULL DEFAULT '{}' CHECK (
        detected_by <@ ARRAY['temp_table', 'raw_table', 'lock', 'api', 'table_oid', 'extracted_at',
                             'generation_id', 'sync_id', 'notification']::text[]
    ),
    outcome          text CHECK (outcome IN ('succeeded', 'failed', 'cancelled')),  -- NULL: not told
    sync_id          text,                        -- _airbyte_meta->>'sync_id' of the rows it wrote
    job_id           text,                        -- Airbyte's job id, from its API or notification
    table_oid_before bigint,
    table_oid_after  bigint,
    records          bigint,                      -- rows it left in the table it swapped in (overwrite)
    last_seen_at     timestamptz NOT NULL DEFAULT now(),
    details          jsonb NOT NULL DEFAULT '{}'::jsonb,
    CHECK (ended_at IS NULL OR ended_at >= started_at)
);
-- At most one running sync per table, whatever the number of replicas polling.
CREATE UNIQUE INDEX airbyte_syncs_one_running_idx ON {schema}.airbyte_syncs (airbyte_table)
    WHERE ended_at IS NULL;
-- A job reported twice (API and notification, or a redelivered notification) is one sync.
CREATE UNIQUE INDEX airbyte_syncs_job_idx ON {schema}.airbyte_syncs (airbyte_table, job_id)
    WHERE job_id IS NOT NULL;
CREATE INDEX airbyte_syncs_started_idx ON {schema}.airbyte_syncs (airbyte_table, started_at DESC);

-- The last observation of one Airbyte table. Pollers take this row FOR UPDATE, so replicas record
-- each start and end once. observed_at is NULL until the first observation.
CREATE TABLE {schema}.airbyte_observations (
    airbyte_table       text PRIMARY KEY,
    observed_at         timestamptz,
    table_oid           bigint,
    max_extracted_at    timestamptz,
    max_generation_id   bigint,
    max_sync_id         bigint,
    row_estimate        bigint,
    -- The staging tables present (names, OIDs, write counters): a change means Airbyte is writing.
    staging_fingerprint text NOT NULL DEFAULT '',
    staging_changed_at  timestamptz
);
