-- The shared ClickUp rate budget (table from migration 0002). `{schema}` is the quoted SYNC_SCHEMA.
-- Each block is one statement, named by the `-- name:` line above it. The arithmetic lives in
-- clickup_sync/clickup/ratelimit.py; these statements only lock, read and write the row.

-- name: lock_budget
-- The row lock serialises every process that uses the token. The clock is read in the outer
-- query, after the CTE has taken the lock, so a caller that waited for the lock decides with the
-- time it got it, not the time it asked.
WITH locked AS (
    SELECT window_limit, remaining, resets_at
    FROM {schema}.clickup_rate_budget
    WHERE token_fingerprint = %(fingerprint)s
    FOR UPDATE
)
SELECT window_limit, remaining, resets_at, clock_timestamp() AS now
FROM locked;

-- name: insert_budget_if_missing
-- The first caller for a token starts from the assumed budget (ClickUp's lowest plan). Racing
-- first callers both insert; one wins, the other finds the row on its next lock.
INSERT INTO {schema}.clickup_rate_budget (token_fingerprint, window_limit, remaining, resets_at)
VALUES (
    %(fingerprint)s,
    %(limit)s,
    %(limit)s,
    clock_timestamp() + make_interval(secs => %(window_seconds)s)
)
ON CONFLICT (token_fingerprint) DO NOTHING;

-- name: save_budget
UPDATE {schema}.clickup_rate_budget
SET window_limit = %(limit)s,
    remaining = %(remaining)s,
    resets_at = %(resets_at)s,
    updated_at = clock_timestamp()
WHERE token_fingerprint = %(fingerprint)s;

-- name: read_budget
SELECT window_limit, remaining, resets_at
FROM {schema}.clickup_rate_budget
WHERE token_fingerprint = %(fingerprint)s;
