"""The admin pages and the dashboard stay cheap on large tables: their queries reach the indexes,
never a full scan of `field_changes` or `webhook_deliveries` (the tables that grow)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg import sql

from clickup_sync.ops import status, task_view
from clickup_sync.ops.changes import ChangeFilter, filtered_query
from tests.integration.admin.conftest import SCHEMA, execute

pytestmark = pytest.mark.anyio

FILL = """
INSERT INTO {s}.custom_fields (field_id, name, type) SELECT 'field-' || i, 'Field ' || i, 'number'
FROM generate_series(0, 39) AS i;
INSERT INTO {s}.field_changes (task_id, field_id, field_name, new_value, changed_at, changed_by, source)
SELECT 't' || (i % 20000),
       CASE WHEN i % 3 = 0 THEN NULL ELSE 'field-' || (i % 40) END,
       CASE WHEN i % 3 = 0 THEN (CASE WHEN i % 3000 = 0 THEN 'archived' ELSE 'status' END)
            ELSE 'Field ' || (i % 40) END,
       to_jsonb(i), now() - make_interval(mins => i), 'u' || (i % 500), 'poll'
FROM generate_series(1, 150000) AS i;
INSERT INTO {s}.webhook_deliveries (received_at, webhook_id, event, task_id, body, status)
SELECT now() - make_interval(mins => i), 'w1', 'taskUpdated', 't' || i, '{}',
       CASE WHEN i % 5000 = 0 THEN 'dead' ELSE 'processed' END
FROM generate_series(1, 60000) AS i;
ANALYZE;
"""


@pytest.fixture
def filled(database_url: str) -> str:
    execute(database_url, FILL)
    return database_url


async def plan(conn: psycopg.AsyncConnection[Any], query: sql.Composable, params: Any = None) -> str:
    rows = await (await conn.execute(sql.SQL("EXPLAIN ") + sql.Composed([query]), params)).fetchall()
    return "\n".join(str(row[0]) for row in rows)


CHANGE_FILTERS = {
    "a rare built-in field": ChangeFilter(field="archived"),
    "a custom field by name": ChangeFilter(field="Field 7"),
    "a custom field by id": ChangeFilter(field="field-7"),
    "a user": ChangeFilter(user="u42"),
    "a task": ChangeFilter(task_id="t42"),
}


async def test_admin_queries_use_indexes(filled: str) -> None:
    s = sql.Identifier(SCHEMA)
    async with await psycopg.AsyncConnection.connect(filled) as conn:
        for name, change_filter in CHANGE_FILTERS.items():
            query, params = await filtered_query(conn, SCHEMA, change_filter)
            explained = await plan(conn, query + sql.SQL(" LIMIT 200"), params)
            assert "Seq Scan on field_changes" not in explained, f"changes of {name}:\n{explained}"
        timeline = await plan(
            conn, sql.SQL(task_view._TIMELINE).format(s=s), {"task_id": "t42", "limit": 500}
        )
        scalars = await plan(
            conn, sql.SQL(status._SCALARS).format(s=s), {"process_delivery": "process_delivery"}
        )
        last_hour = await plan(conn, sql.SQL(status._DELIVERIES_LAST_HOUR).format(s=s))
    assert "Seq Scan on field_changes" not in timeline, timeline
    assert "Seq Scan on webhook_deliveries" not in scalars, scalars
    assert "Seq Scan on webhook_deliveries" not in last_hour, last_hour
