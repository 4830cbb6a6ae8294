"""The documented queries use indexes on a table of realistic size (docs/schema.md examples)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import create_database, drop_database

SCHEMA = "clickup_sync"

FILL = f"""
INSERT INTO {SCHEMA}.tasks (task_id, name, status, list_id, date_created, date_updated, raw)
SELECT 't' || i, 'Task ' || i, 'open', 'L' || (i % 50), now() - interval '400 days', now(), '{{}}'::jsonb
FROM generate_series(1, 20000) AS i;

INSERT INTO {SCHEMA}.field_changes
    (task_id, field_id, field_name, field_type, old_value, new_value, changed_at, source)
SELECT 't' || (i % 20000),
       CASE WHEN i % 3 = 0 THEN NULL ELSE 'field-' || (i % 40) END,
       CASE WHEN i % 3 = 0 THEN 'status' ELSE 'Field ' || (i % 40) END,
       CASE WHEN i % 3 = 0 THEN NULL ELSE 'number' END,
       to_jsonb(i - 1), to_jsonb(i),
       now() - make_interval(mins => i),
       'poll'
FROM generate_series(1, 300000) AS i;

INSERT INTO {SCHEMA}.task_custom_field_values (task_id, field_id, field_type, value_number, source)
SELECT 't' || i, 'field-' || f, 'number', i, 'backfill'
FROM generate_series(1, 20000) AS i, generate_series(1, 10) AS f;
ANALYZE;
"""

QUERIES = {
    "a task's history": (
        f"SELECT * FROM {SCHEMA}.field_changes WHERE task_id = 't42' ORDER BY changed_at",
        "field_changes_task_idx",
    ),
    "a field's history": (
        f"SELECT * FROM {SCHEMA}.field_changes WHERE field_id = 'field-7' ORDER BY changed_at DESC LIMIT 100",
        "field_changes_field_idx",
    ),
    "value of a field as of a date": (
        f"SELECT DISTINCT ON (task_id) task_id, new_value FROM {SCHEMA}.field_changes "
        "WHERE field_id = 'field-7' AND changed_at <= now() - interval '100 days' "
        "ORDER BY task_id, changed_at DESC, id DESC",
        "field_changes_field_idx",
    ),
    "time in status of a task": (
        f"SELECT * FROM {SCHEMA}.task_time_in_status WHERE task_id = 't42'",
        "field_changes_task_idx",
    ),
    "who changed what this week": (
        f"SELECT * FROM {SCHEMA}.field_changes WHERE changed_at > now() - interval '1 day' "
        "ORDER BY changed_at DESC",
        "field_changes_changed_at_idx",
    ),
    "current value of a field for every task": (
        f"SELECT task_id, value_number FROM {SCHEMA}.task_custom_field_values WHERE field_id = 'field-3'",
        "task_custom_field_values_field_idx",
    ),
}


@pytest.fixture(scope="module")
def realistic_database(postgres_server_dsn: str, template_database: str) -> Iterator[str]:
    name = f"cus_plans_{uuid.uuid4().hex[:8]}"
    dsn = create_database(postgres_server_dsn, name, template=template_database)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(FILL)
    try:
        yield dsn
    finally:
        drop_database(postgres_server_dsn, name)


@pytest.mark.parametrize("name", QUERIES)
def test_documented_query_uses_its_index(realistic_database: str, name: str) -> None:
    query, index = QUERIES[name]
    with psycopg.connect(realistic_database) as conn:
        plan = "\n".join(row[0] for row in conn.execute(f"EXPLAIN {query}"))
    assert index in plan, plan
