"""Per-list views: one typed column per custom field, names derived safely from ClickUp names."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from clickup_sync.sync.hierarchy import ListInfo
from clickup_sync.sync.store import MirrorStore
from clickup_sync.sync.task_state import snapshot_from_task_json
from clickup_sync.sync.views import refresh_list_views, unique_column_names
from tests.integration.sync.test_store import NOW, task_json

pytestmark = pytest.mark.anyio
SCHEMA = "clickup_sync"

EVIL = 'x"; DROP TABLE tasks; --'
FIELDS = [
    {"id": "f-evil", "name": EVIL, "type": "short_text", "type_config": {}, "value": "still text"},
    {"id": "f-cal", "name": "🗓️ Add to calendar", "type": "checkbox", "type_config": {}, "value": "true"},
    {"id": "f-only-emoji", "name": "💯", "type": "number", "type_config": {}, "value": "42"},
    {"id": "f-dup-a", "name": "Owner", "type": "short_text", "type_config": {}, "value": "a"},
    {"id": "f-dup-b", "name": "owner", "type": "short_text", "type_config": {}, "value": "b"},
    {"id": "f-status", "name": "Status", "type": "short_text", "type_config": {}, "value": "clash"},
    {"id": "f-cjk", "name": "PM 期望完成日", "type": "date", "type_config": {}, "value": "1700006400000"},
]


async def seed(dsn: str, fields: list[dict[str, Any]]) -> None:
    store = MirrorStore(SCHEMA)
    async with await psycopg.AsyncConnection.connect(dsn) as conn, conn.transaction():
        await store.upsert_lists(conn, [ListInfo("L1", "Sprint Backlog 🚀", "S1", "F1", False)])
        await store.apply_snapshots(
            conn,
            [snapshot_from_task_json(task_json(custom_fields=fields))],
            source="backfill",
            observed_at=NOW,
        )


async def refresh(dsn: str) -> Any:
    async with await psycopg.AsyncConnection.connect(dsn) as conn, conn.transaction():
        return await refresh_list_views(conn, SCHEMA)


def test_column_names_are_unique_and_fit_postgres_limits() -> None:
    names = unique_column_names(
        [("a", "Owner"), ("b", "owner"), ("c", "🔥"), ("d", "task_id"), ("e", "é" * 80), ("f", "é" * 80)]
    )
    assert names["a"] == "owner"
    assert names["b"] == "owner_2"
    assert names["c"].startswith("field_")
    assert names["d"] == "task_id_2"  # never shadows a base column
    assert len(set(names.values())) == 6
    assert all(len(n.encode()) <= 63 for n in names.values())


async def test_refresh_builds_a_typed_view_per_list(database_url: str) -> None:
    await seed(database_url, FIELDS)
    result = await refresh(database_url)
    assert (result.created, result.replaced, result.dropped) == (1, 0, 0)
    with psycopg.connect(database_url) as conn:
        (view_name,) = conn.execute(f"SELECT view_name FROM {SCHEMA}.generated_views").fetchone() or ("",)
        assert view_name == "list_sprint_backlog_l1"
        cursor = conn.execute(psycopg.sql.SQL("SELECT * FROM {}.{}").format(
            psycopg.sql.Identifier(SCHEMA), psycopg.sql.Identifier(view_name)))  # fmt: skip
        columns = [c.name for c in cursor.description or []]
        row = dict(zip(columns, cursor.fetchone() or (), strict=True))
        # the tasks table is intact and the odd name is just a column
        assert conn.execute(f"SELECT count(*) FROM {SCHEMA}.tasks").fetchone() == (1,)
    assert row["task_id"] == "t1"
    assert row["x_drop_table_tasks"] == "still text"
    assert row["add_to_calendar"] is True
    assert row["owner"] == "a" and row["owner_2"] == "b"
    assert row["status"] == "to do" and row["status_2"] == "clash"
    assert row["pm_期望完成日"].year == 2023
    emoji_column = next(c for c in columns if c.startswith("field_"))
    assert row[emoji_column] == 42


async def test_refresh_is_idempotent_and_follows_definition_changes(database_url: str) -> None:
    await seed(database_url, FIELDS)
    await refresh(database_url)
    again = await refresh(database_url)
    assert (again.created, again.replaced, again.unchanged) == (0, 0, 1)
    renamed = [{**f, "name": "Renamed owner"} if f["id"] == "f-dup-a" else f for f in FIELDS]
    await seed(database_url, renamed)
    changed = await refresh(database_url)
    assert changed.replaced == 1
    with psycopg.connect(database_url) as conn:
        cursor = conn.execute(f"SELECT * FROM {SCHEMA}.list_sprint_backlog_l1")
        assert "renamed_owner" in [c.name for c in cursor.description or []]
