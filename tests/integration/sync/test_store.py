"""Writing fetched task states: the mirror holds the latest state and one history row per change."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from clickup_sync.sync.store import MirrorStore
from clickup_sync.sync.task_state import snapshot_from_task_json

pytestmark = pytest.mark.anyio
SCHEMA = "clickup_sync"
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

LABELS = {
    "id": "lab-field",
    "name": "🏷️ Área",
    "type": "labels",
    "type_config": {
        "options": [
            {"id": "l1", "label": "Alpha", "color": "#fff", "orderindex": 0},
            {"id": "l2", "label": "Beta", "color": "#fff", "orderindex": 1},
            {"id": "l3", "label": "Gamma", "color": "#fff", "orderindex": 2},
        ]
    },
}
DROP_DOWN = {
    "id": "dd-field",
    "name": "PM 期望完成日",
    "type": "drop_down",
    "type_config": {
        "options": [
            {"id": "o0", "name": "Low", "color": None, "orderindex": 0},
            {"id": "o1", "name": "High", "color": None, "orderindex": 1},
        ]
    },
}


def task_json(**overrides: Any) -> dict[str, Any]:
    task: dict[str, Any] = {
        "id": "t1",
        "custom_id": None,
        "name": "Fix login bug",
        "status": {"status": "to do", "color": "#d3d3d3", "orderindex": 0, "type": "open"},
        "date_created": "1700000000000",
        "date_updated": "1700000001000",
        "date_closed": None,
        "date_done": None,
        "archived": False,
        "assignees": [{"id": 183, "username": "Alex"}],
        "watchers": [],
        "tags": [{"name": "bug"}],
        "parent": None,
        "top_level_parent": None,
        "priority": {"id": "3", "priority": "normal", "color": "#f8ae00", "orderindex": "3"},
        "due_date": None,
        "start_date": None,
        "points": None,
        "time_estimate": None,
        "custom_fields": [
            {**LABELS, "value": ["l1", "l3"]},
            {**DROP_DOWN, "value": 1},
        ],
        "dependencies": [],
        "linked_tasks": [],
        "list": {"id": "L1"},
        "folder": {"id": "F1", "hidden": False},
        "space": {"id": "S1"},
    }
    task.update(overrides)
    return task


def bumped(task: dict[str, Any], ms: int) -> dict[str, Any]:
    changed = copy.deepcopy(task)
    changed["date_updated"] = str(int(task["date_updated"]) + ms)
    return changed


async def apply(dsn: str, *tasks: dict[str, Any], source: str = "poll") -> Any:
    store = MirrorStore(SCHEMA)
    async with await psycopg.AsyncConnection.connect(dsn) as conn, conn.transaction():
        return await store.apply_snapshots(
            conn,
            [snapshot_from_task_json(t) for t in tasks],
            source=source,
            observed_at=NOW,  # type: ignore[arg-type]
        )


def rows(dsn: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query).fetchall()


async def test_first_sighting_stores_everything_and_records_no_change(database_url: str) -> None:
    result = await apply(database_url, task_json(), source="backfill")
    assert (result.tasks_new, result.changes) == (1, [])
    assert rows(database_url, f"SELECT name, status, priority, assignee_ids, tags FROM {SCHEMA}.tasks") == [
        ("Fix login bug", "to do", "normal", ["183"], ["bug"])
    ]
    values = rows(
        database_url,
        f"SELECT field_id, value_ids, value_labels FROM {SCHEMA}.task_custom_field_values ORDER BY field_id",
    )
    assert values == [("dd-field", ["o1"], ["High"]), ("lab-field", ["l1", "l3"], ["Alpha", "Gamma"])]
    assert rows(database_url, f"SELECT name FROM {SCHEMA}.custom_fields ORDER BY name") == [
        ("PM 期望完成日",),
        ("🏷️ Área",),
    ]
    assert rows(database_url, f"SELECT count(*) FROM {SCHEMA}.field_changes") == [(0,)]


async def test_reapplying_the_same_json_writes_no_change(database_url: str) -> None:
    await apply(database_url, task_json())
    result = await apply(database_url, task_json())
    assert result.changes == []
    assert result.tasks_unchanged == 1
    assert rows(database_url, f"SELECT count(*) FROM {SCHEMA}.field_changes") == [(0,)]


async def test_each_changed_field_becomes_one_history_row(database_url: str) -> None:
    original = task_json()
    await apply(database_url, original)
    changed = bumped(original, 60_000)
    changed["status"] = {"status": "in progress", "color": "#000", "orderindex": 1, "type": "custom"}
    changed["custom_fields"] = [{**LABELS, "value": ["l2", "l1", "l3"]}, {**DROP_DOWN}]  # drop-down cleared
    changed["dependencies"] = [
        {"task_id": "t1", "depends_on": "t9", "type": 1, "date_created": "1700000000500"}
    ]
    result = await apply(database_url, changed)
    by_field = {c.field_name: (c.old_value, c.new_value) for c in result.changes}
    assert by_field["status"] == ("to do", "in progress")
    assert by_field["dependencies"] == (
        {"waiting_on": [], "blocking": []},
        {"waiting_on": ["t9"], "blocking": []},
    )
    old_labels, new_labels = by_field["🏷️ Área"]
    assert [o["label"] for o in old_labels] == ["Alpha", "Gamma"]
    assert [o["label"] for o in new_labels] == ["Beta", "Alpha", "Gamma"]
    assert by_field["PM 期望完成日"][1] is None
    assert set(by_field) == {"status", "dependencies", "🏷️ Área", "PM 期望完成日"}
    stored = rows(
        database_url,
        f"SELECT field_name, changed_at, source FROM {SCHEMA}.field_changes ORDER BY field_name",
    )
    assert {row[0] for row in stored} == set(by_field)
    assert all(row[1] == datetime.fromtimestamp(1700000061, UTC) and row[2] == "poll" for row in stored)
    # clearing a value deletes its row; every label is kept, in order
    assert rows(database_url, f"SELECT field_id, value_labels FROM {SCHEMA}.task_custom_field_values") == [
        ("lab-field", ["Beta", "Alpha", "Gamma"])
    ]
    assert rows(
        database_url, f"SELECT related_task_id, relationship_type FROM {SCHEMA}.task_relationships"
    ) == [("t9", "waiting_on")]


async def test_a_stale_state_never_overwrites_a_newer_one(database_url: str) -> None:
    newer = bumped(task_json(), 10_000)
    newer["name"] = "Newer name"
    await apply(database_url, newer)
    result = await apply(database_url, task_json())  # older date_updated
    assert result.tasks_stale == 1
    assert result.changes == []
    assert rows(database_url, f"SELECT name FROM {SCHEMA}.tasks") == [("Newer name",)]


async def test_removed_relationship_deletes_the_row_and_records_a_change(database_url: str) -> None:
    linked = task_json(linked_tasks=[{"task_id": "t1", "link_id": "t5", "date_created": "1700000000000"}])
    await apply(database_url, linked)
    unlinked = bumped(linked, 1000)
    unlinked["linked_tasks"] = []
    result = await apply(database_url, unlinked)
    assert [(c.field_name, c.old_value, c.new_value) for c in result.changes] == [
        ("linked_tasks", ["t5"], [])
    ]
    assert rows(database_url, f"SELECT count(*) FROM {SCHEMA}.task_relationships") == [(0,)]


async def test_nul_characters_do_not_fail_the_write(database_url: str) -> None:
    """PostgreSQL rejects NUL in text and jsonb; ClickUp stores whatever a user pasted."""
    task = task_json(name="bad\x00name", custom_fields=[{**LABELS, "value": ["l1"]}])
    task["description"] = "pasted \x00 from a PDF"
    result = await apply(database_url, task)
    assert result.tasks_new == 1
    assert rows(database_url, f"SELECT name, raw->>'description' FROM {SCHEMA}.tasks") == [
        ("badname", "pasted  from a PDF")
    ]


async def test_unexpected_shapes_are_stored_counted_and_logged(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    odd = task_json(
        status=None,
        priority="urgent-ish",
        assignees=[None, {"id": "not-a-number"}],
        custom_fields=[
            {**LABELS, "value": "l1"},  # a string where a list belongs
            {
                "id": "btn",
                "name": "Ship it",
                "type": "button",
                "type_config": {},
                "value": True,
            },  # unknown type
            {**DROP_DOWN, "value": 9},  # an option that does not exist
        ],
    )
    with caplog.at_level("WARNING", logger="clickup_sync.sync.store"):
        result = await apply(database_url, odd)
    assert result.tasks_new == 1
    assert result.problems
    assert all(p.startswith("task t1: ") for p in result.problems)
    logged = [r.getMessage() for r in caplog.records]
    assert any("btn" in m for m in logged) and any("dd-field" in m for m in logged)
    raw = rows(database_url, f"SELECT field_id, raw_value FROM {SCHEMA}.task_custom_field_values ORDER BY 1")
    assert ("btn", True) in raw  # an unknown type keeps its raw value


async def test_a_field_that_leaves_a_task_keeps_its_name_when_another_task_of_the_batch_still_has_it(
    database_url: str,
) -> None:
    """A task moved to a list without the field no longer carries its definition: the change is
    named from the stored definition, whether or not another task of the same page carries it."""
    moved, stays = task_json(id="t1"), task_json(id="t2")
    await apply(database_url, moved, stays)
    moved_later = bumped(moved, 60_000)
    moved_later["custom_fields"] = [{**LABELS, "value": ["l1", "l3"]}]  # the drop-down is gone with its value
    result = await apply(database_url, moved_later, bumped(stays, 60_000))
    assert [(c.task_id, c.field_id, c.field_name) for c in result.changes] == [
        ("t1", "dd-field", "PM 期望完成日")
    ]
