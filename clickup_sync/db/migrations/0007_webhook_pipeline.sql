-- The real-time pipeline: ClickUp webhook subscriptions, every delivery kept durably, history-item
-- deduplication, outcome counters, and changes parked while Airbyte lacks a task's base record.

-- ClickUp webhooks this service registered (or adopted); their secrets verify X-Signature.
CREATE TABLE {schema}.webhooks (
    webhook_id      text PRIMARY KEY,
    team_id         text NOT NULL,
    endpoint        text NOT NULL,
    events          text[] NOT NULL DEFAULT '{*}',
    space_id        text,
    secret          text NOT NULL,
    health_status   text NOT NULL DEFAULT 'active' CHECK (health_status IN ('active', 'failing', 'suspended', 'unknown')),
    fail_count      integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_checked_at timestamptz,
    deleted_at      timestamptz           -- deleted in ClickUp; kept so late deliveries still verify
);

-- Each reactivation of a suspended webhook (at most 3 an hour).
CREATE TABLE {schema}.webhook_reactivations (
    webhook_id     text NOT NULL,
    reactivated_at timestamptz NOT NULL DEFAULT now(),
    result         text NOT NULL
);
CREATE INDEX webhook_reactivations_idx ON {schema}.webhook_reactivations (webhook_id, reactivated_at DESC);

-- Every delivery with a valid signature, stored before it is acknowledged. `body` holds the exact
-- bytes (replay, inspection; malformed ones too).
CREATE TABLE {schema}.webhook_deliveries (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at      timestamptz NOT NULL DEFAULT now(),
    webhook_id       text,
    event            text,
    task_id          text,
    body             bytea NOT NULL,
    status           text NOT NULL DEFAULT 'received'
        CHECK (status IN ('received', 'processed', 'duplicate', 'malformed', 'parked', 'dead')),
    history_item_ids text[] NOT NULL DEFAULT '{}',
    attempts         integer NOT NULL DEFAULT 0,
    last_error       text,
    processed_at     timestamptz,
    flags            text[] NOT NULL DEFAULT '{}'   -- e.g. 'base_record_wait_exceeded'
);
CREATE INDEX webhook_deliveries_status_idx ON {schema}.webhook_deliveries (status, received_at)
    WHERE status IN ('received', 'parked', 'dead', 'malformed');
CREATE INDEX webhook_deliveries_task_idx ON {schema}.webhook_deliveries (task_id, received_at);
CREATE INDEX webhook_deliveries_received_idx ON {schema}.webhook_deliveries (received_at);

-- Deduplication: a history item (ClickUp's idempotency key webhook_id:history_item_id) is owned by
-- the first delivery that carried it; the same item under taskUpdated and the specific event, or
-- redelivered, is recorded once. taskDeleted has no items: its key is 'taskDeleted:<task id>'.
CREATE TABLE {schema}.webhook_history_items (
    webhook_id      text NOT NULL,
    history_item_id text NOT NULL,
    delivery_id     bigint NOT NULL REFERENCES {schema}.webhook_deliveries (id) ON DELETE CASCADE,
    PRIMARY KEY (webhook_id, history_item_id)
);
CREATE INDEX webhook_history_items_delivery_idx ON {schema}.webhook_history_items (delivery_id);

-- Outcome counters per minute, shared by every replica (bad signatures are counted, never stored).
CREATE TABLE {schema}.delivery_counters (
    minute  timestamptz NOT NULL,
    outcome text NOT NULL,
    count   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (minute, outcome)
);

-- Deliveries waiting for Airbyte's base record of their task (AIRBYTE_MODE on).
CREATE TABLE {schema}.parked_changes (
    delivery_id    bigint NOT NULL REFERENCES {schema}.webhook_deliveries (id) ON DELETE CASCADE,
    task_id        text NOT NULL,
    parked_at      timestamptz NOT NULL DEFAULT now(),
    released_at    timestamptz,
    release_reason text CHECK (release_reason IN ('base_record', 'max_wait', 'airbyte_off', 'replay')),
    PRIMARY KEY (delivery_id)
);
CREATE INDEX parked_changes_waiting_idx ON {schema}.parked_changes (task_id) WHERE released_at IS NULL;
