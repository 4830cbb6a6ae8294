-- The public data model: what analysts query. Names and columns are the product's interface
-- (docs/schema.md); change them only by adding, never by renaming.
-- No foreign keys to tasks on purpose: a webhook may describe a task before any fetch has stored it,
-- and its history must still be recorded. Nothing here references Airbyte's tables.

CREATE TABLE {schema}.tasks (
    task_id             text PRIMARY KEY,
    custom_id           text,
    name                text,
    status              text,
    status_type         text,
    list_id             text,
    folder_id           text,
    space_id            text,
    parent_task_id      text,
    top_level_parent_id text,
    priority            text,
    assignee_ids        text[] NOT NULL DEFAULT '{}',
    watcher_ids         text[] NOT NULL DEFAULT '{}',
    tags                text[] NOT NULL DEFAULT '{}',
    due_date            timestamptz,
    start_date          timestamptz,
    date_created        timestamptz,
    date_updated        timestamptz,
    date_closed         timestamptz,
    date_done           timestamptz,
    time_estimate_ms    bigint,
    points              numeric,
    archived            boolean NOT NULL DEFAULT false,
    deleted_at          timestamptz,
    raw                 jsonb NOT NULL,
    first_seen_at       timestamptz NOT NULL DEFAULT now(),
    synced_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tasks_list_idx ON {schema}.tasks (list_id);
CREATE INDEX tasks_parent_idx ON {schema}.tasks (parent_task_id) WHERE parent_task_id IS NOT NULL;
CREATE INDEX tasks_date_updated_idx ON {schema}.tasks (date_updated);
CREATE INDEX tasks_custom_id_idx ON {schema}.tasks (custom_id) WHERE custom_id IS NOT NULL;

CREATE TABLE {schema}.custom_fields (
    field_id      text PRIMARY KEY,
    name          text NOT NULL,
    type          text NOT NULL,
    type_config   jsonb NOT NULL DEFAULT '{}'::jsonb,
    list_ids      text[] NOT NULL DEFAULT '{}',
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE {schema}.task_custom_field_values (
    task_id      text NOT NULL,
    field_id     text NOT NULL,
    field_type   text NOT NULL,
    raw_value    jsonb,
    value        jsonb,
    value_text   text,
    value_number numeric,
    value_date   timestamptz,
    value_bool   boolean,
    value_ids    text[],
    value_labels text[],
    updated_at   timestamptz NOT NULL DEFAULT now(),
    source       text NOT NULL CHECK (source IN ('webhook', 'poll', 'backfill', 'replay')),
    PRIMARY KEY (task_id, field_id)
);
CREATE INDEX task_custom_field_values_field_idx ON {schema}.task_custom_field_values (field_id);
CREATE INDEX task_custom_field_values_ids_idx ON {schema}.task_custom_field_values USING gin (value_ids);

CREATE TABLE {schema}.task_relationships (
    task_id           text NOT NULL,
    related_task_id   text NOT NULL,
    relationship_type text NOT NULL
        CHECK (relationship_type IN ('waiting_on', 'blocking', 'linked', 'subtask_of', 'custom_field')),
    field_id          text NOT NULL DEFAULT '',  -- the relationship field's id; '' for the other kinds
    created_at        timestamptz,
    source            text NOT NULL CHECK (source IN ('webhook', 'poll', 'backfill', 'replay')),
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, relationship_type, related_task_id, field_id)
);
CREATE INDEX task_relationships_related_idx ON {schema}.task_relationships (related_task_id);

CREATE TABLE {schema}.field_changes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id     text NOT NULL,
    field_id    text,               -- the custom field's id; NULL for built-in fields
    field_name  text NOT NULL,      -- the custom field's name, or a built-in name: status, assignees, …
    field_type  text,
    old_value   jsonb,
    new_value   jsonb,
    changed_at  timestamptz NOT NULL,  -- ClickUp's event time when known, else when the change was seen
    changed_by  text,                  -- ClickUp user id when known
    source      text NOT NULL CHECK (source IN ('webhook', 'poll', 'backfill', 'replay')),
    event_id    text UNIQUE,           -- ClickUp's history item id (idempotency key of webhook items)
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX field_changes_task_idx ON {schema}.field_changes (task_id, changed_at);
CREATE INDEX field_changes_field_idx ON {schema}.field_changes (field_id, changed_at) WHERE field_id IS NOT NULL;
CREATE INDEX field_changes_builtin_idx ON {schema}.field_changes (field_name, changed_at) WHERE field_id IS NULL;
CREATE INDEX field_changes_changed_at_idx ON {schema}.field_changes (changed_at);
CREATE INDEX field_changes_changed_by_idx ON {schema}.field_changes (changed_by, changed_at)
    WHERE changed_by IS NOT NULL;

-- One row per interval a task spent in a status. The first interval starts when the task was
-- created (its status then is the first change's old value, or the current status when it never
-- changed); the last one is open (left_at NULL) unless the task is deleted.
CREATE VIEW {schema}.task_status_history AS
WITH status_changes AS (
    SELECT task_id,
           changed_at,
           old_value #>> '{}' AS old_status,
           new_value #>> '{}' AS new_status,
           row_number() OVER (PARTITION BY task_id ORDER BY changed_at, id) AS position
    FROM {schema}.field_changes
    WHERE field_id IS NULL AND field_name = 'status'
),
intervals AS (
    SELECT t.task_id,
           coalesce(first_change.old_status, t.status) AS status,
           t.date_created AS entered_at,
           first_change.changed_at AS left_at
    FROM {schema}.tasks t
    LEFT JOIN status_changes first_change ON first_change.task_id = t.task_id AND first_change.position = 1
    WHERE t.date_created IS NOT NULL
      AND coalesce(first_change.old_status, t.status) IS NOT NULL
    UNION ALL
    SELECT c.task_id,
           c.new_status,
           c.changed_at,
           lead(c.changed_at) OVER (PARTITION BY c.task_id ORDER BY c.position)
    FROM status_changes c
    WHERE c.new_status IS NOT NULL
)
SELECT i.task_id,
       i.status,
       i.entered_at,
       coalesce(i.left_at, t.deleted_at) AS left_at,
       coalesce(i.left_at, t.deleted_at, now()) - i.entered_at AS duration
FROM intervals i
LEFT JOIN {schema}.tasks t ON t.task_id = i.task_id;

CREATE VIEW {schema}.task_time_in_status AS
SELECT task_id,
       status,
       sum(duration) AS total_time,
       count(*) AS times_entered,
       max(entered_at) AS last_entered_at,
       bool_or(left_at IS NULL) AS is_current
FROM {schema}.task_status_history
GROUP BY task_id, status;
