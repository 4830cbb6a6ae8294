-- The ClickUp rate-limit budget, shared by every process that uses the same token: one row per
-- token fingerprint (never the token itself). Processes take from it under a row lock so that
-- all of them together stay under ClickUp's per-token limit.
CREATE TABLE {schema}.clickup_rate_budget (
    token_fingerprint text PRIMARY KEY,
    window_limit      integer NOT NULL,
    remaining         integer NOT NULL,
    resets_at         timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
