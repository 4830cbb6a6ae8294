"""One task as the admin page shows it: current fields, custom field values, relationships and
the history timeline (who changed what, when, from which source). Reads only our tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

TIMELINE_LIMIT: Final = 500  # newest first; older history is in the Changes page and its export
SEARCH_LIMIT: Final = 25

# The current fields shown, in this order (`raw` is left out: it is the whole task JSON).
TASK_COLUMNS: Final = (
    "task_id", "custom_id", "name", "status", "status_type", "priority", "list_id", "folder_id", "space_id",
    "parent_task_id", "top_level_parent_id", "assignee_ids", "watcher_ids", "tags", "due_date", "start_date",
    "date_created", "date_updated", "date_closed", "date_done", "time_estimate_ms", "points", "archived",
    "deleted_at", "first_seen_at", "synced_at",
)  # fmt: skip

_TASK = "SELECT {columns} FROM {s}.tasks WHERE task_id = %(task_id)s"
_VALUES = """
SELECT v.field_id, coalesce(f.name, v.field_id) AS field_name, v.field_type, v.value, v.value_labels,
       v.source, v.updated_at
FROM {s}.task_custom_field_values v LEFT JOIN {s}.custom_fields f ON f.field_id = v.field_id
WHERE v.task_id = %(task_id)s ORDER BY field_name, v.field_id
"""
_RELATIONSHIPS = """
SELECT r.relationship_type, r.related_task_id, related.name AS related_name, r.field_id,
       f.name AS field_name, r.source, r.created_at
FROM {s}.task_relationships r
LEFT JOIN {s}.tasks related ON related.task_id = r.related_task_id
LEFT JOIN {s}.custom_fields f ON f.field_id = nullif(r.field_id, '')
WHERE r.task_id = %(task_id)s
UNION ALL
SELECT 'subtask', r.task_id, child.name, '', NULL, r.source, r.created_at
FROM {s}.task_relationships r LEFT JOIN {s}.tasks child ON child.task_id = r.task_id
WHERE r.related_task_id = %(task_id)s AND r.relationship_type = 'subtask_of'
ORDER BY 1, 2
"""
_TIMELINE = """
SELECT id, changed_at, changed_by, source, field_name, field_id, field_type, old_value, new_value,
       event_id, recorded_at
FROM {s}.field_changes WHERE task_id = %(task_id)s
ORDER BY changed_at DESC, id DESC LIMIT %(limit)s
"""
# Exact ids first (task id, custom id in any case), then names containing the text.
_SEARCH = """
SELECT task_id, custom_id, name, status, deleted_at FROM (
    SELECT task_id, custom_id, name, status, deleted_at, 0 AS rank FROM {s}.tasks
    WHERE task_id = %(text)s OR custom_id = %(text)s OR custom_id = upper(%(text)s)
    UNION
    SELECT task_id, custom_id, name, status, deleted_at, 1 FROM {s}.tasks
    WHERE name ILIKE %(pattern)s ESCAPE '\\'
) AS found
ORDER BY rank, name, task_id LIMIT %(limit)s
"""


@dataclass(frozen=True)
class TaskMatch:
    task_id: str
    custom_id: str | None
    name: str | None
    status: str | None
    deleted_at: datetime | None


@dataclass(frozen=True)
class TaskDetail:
    fields: dict[str, Any]  # TASK_COLUMNS → value
    custom_values: list[dict[str, Any]]
    relationships: list[dict[str, Any]]
    timeline: list[dict[str, Any]]  # newest first, at most TIMELINE_LIMIT
    timeline_truncated: bool


async def search_tasks(pool: AsyncConnectionPool[Any], schema: str, text: str) -> list[TaskMatch]:
    text = text.strip()
    if not text:
        return []
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    async with pool.connection() as conn:
        rows = await (
            await conn.execute(
                sql.SQL(_SEARCH).format(s=sql.Identifier(schema)),
                {"text": text, "pattern": pattern, "limit": SEARCH_LIMIT},
            )
        ).fetchall()
    return [TaskMatch(*row) for row in rows]


async def read_task(pool: AsyncConnectionPool[Any], schema: str, task_id: str) -> TaskDetail | None:
    s = sql.Identifier(schema)
    columns = sql.SQL(", ").join(sql.Identifier(column) for column in TASK_COLUMNS)
    params = {"task_id": task_id, "limit": TIMELINE_LIMIT + 1}
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(sql.SQL(_TASK).format(columns=columns, s=s), params)
        fields = await cursor.fetchone()
        await cursor.execute(sql.SQL(_TIMELINE).format(s=s), params)
        timeline = await cursor.fetchall()
        if fields is None and not timeline:
            return None
        await cursor.execute(sql.SQL(_VALUES).format(s=s), params)
        values = await cursor.fetchall()
        await cursor.execute(sql.SQL(_RELATIONSHIPS).format(s=s), params)
        relationships = await cursor.fetchall()
    return TaskDetail(
        # History can exist before the first fetch stored the task (webhooks come first).
        fields=fields if fields is not None else {"task_id": task_id},
        custom_values=values,
        relationships=relationships,
        timeline=timeline[:TIMELINE_LIMIT],
        timeline_truncated=len(timeline) > TIMELINE_LIMIT,
    )
