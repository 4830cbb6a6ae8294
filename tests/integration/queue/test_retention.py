"""Old processed webhook bodies are pruned; what still needs attention, and the history, stay."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from clickup_sync.db.connection import Database
from clickup_sync.queue.retention import prune_deliveries
from clickup_sync.runtime import service_runtime
from clickup_sync.settings import load_settings

pytestmark = pytest.mark.anyio
SCHEMA = "clickup_sync"


def store(conn: psycopg.Connection, status: str, days_ago: int, item: str) -> int:
    row = conn.execute(
        f"INSERT INTO {SCHEMA}.webhook_deliveries (webhook_id, event, task_id, body, status, received_at)"
        " VALUES ('w1', 'taskUpdated', 't1', '{}', %s, now() - make_interval(days => %s)) RETURNING id",
        (status, days_ago),
    ).fetchone()
    assert row is not None
    conn.execute(f"INSERT INTO {SCHEMA}.webhook_history_items VALUES ('w1', %s, %s)", (item, row[0]))
    return int(row[0])


async def test_only_old_settled_deliveries_are_pruned_with_their_keys(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        old = {status: store(conn, status, 40, f"old-{status}") for status in
               ("processed", "duplicate", "malformed", "dead", "parked", "received")}  # fmt: skip
        recent = store(conn, "processed", 2, "recent")
        conn.execute(
            f"INSERT INTO {SCHEMA}.field_changes (task_id, field_name, changed_at, source, event_id)"
            " VALUES ('t1', 'status', now() - interval '40 days', 'webhook', 'old-processed')"
        )
        conn.execute(
            f"INSERT INTO {SCHEMA}.delivery_counters VALUES"
            " (date_trunc('minute', now() - interval '40 days'), 'bad_signature', 3),"
            " (date_trunc('minute', now()), 'bad_signature', 1)"
        )

    settings = load_settings(database_url=database_url)
    async with service_runtime(settings, Database(database_url, SCHEMA)) as runtime:
        report = await prune_deliveries(runtime, older_than=timedelta(days=30), batch=2)  # several batches

    with psycopg.connect(database_url) as conn:
        kept = {r[0] for r in conn.execute(f"SELECT id FROM {SCHEMA}.webhook_deliveries").fetchall()}
        keys = {r[0] for r in conn.execute(f"SELECT history_item_id FROM {SCHEMA}.webhook_history_items")}
        history = conn.execute(f"SELECT count(*) FROM {SCHEMA}.field_changes").fetchone()
        counters = conn.execute(f"SELECT sum(count) FROM {SCHEMA}.delivery_counters").fetchone()
    assert (report.deliveries, report.counter_rows) == (3, 1)
    assert kept == {old["dead"], old["parked"], old["received"], recent}
    assert keys == {"old-dead", "old-parked", "old-received", "recent"}
    assert history == (1,)  # the history itself is never pruned
    assert counters == (1,)
