-- Lists as found by the hierarchy walk (folderless and archived ones included): names for the
-- generated per-list views, and the ground for coverage reports.
CREATE TABLE {schema}.lists (
    list_id     text PRIMARY KEY,
    name        text NOT NULL,
    space_id    text NOT NULL,
    folder_id   text,            -- NULL for a folderless list
    archived    boolean NOT NULL DEFAULT false,
    last_seen_at timestamptz NOT NULL DEFAULT now()
);

-- The per-list views `clickup-sync views refresh` generates, so it can replace or drop exactly
-- those and nothing a user created.
CREATE TABLE {schema}.generated_views (
    view_name   text PRIMARY KEY,
    list_id     text NOT NULL,
    definition_hash text NOT NULL,
    columns     jsonb NOT NULL,   -- [{"column": ..., "field_id": ..., "field_name": ...}]
    refreshed_at timestamptz NOT NULL DEFAULT now()
);
