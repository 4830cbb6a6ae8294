"""`clickup-sync views refresh`: one view per list with one column per custom field.

Column and view names are derived from ClickUp names but are always quoted identifiers built with
`psycopg.sql.Identifier`, and field ids enter the SQL only as literals: a field called
`x"; DROP TABLE tasks; --` gives an odd column name, never SQL. Names are unique per view (a suffix
resolves duplicates) and at most 63 bytes (PostgreSQL would silently truncate longer ones and make
them collide).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.types.json import Jsonb

MAX_IDENTIFIER_BYTES = 63
# Columns every generated view starts with; custom field columns never take these names.
BASE_COLUMNS = (
    "task_id", "custom_id", "task_name", "status", "priority", "assignee_ids", "tags",
    "due_date", "date_created", "date_updated", "date_closed", "archived", "parent_task_id",
)  # fmt: skip

# Which typed column of task_custom_field_values a view shows for each field type.
_TYPED_COLUMN = {
    "number": "value_number", "currency": "value_number", "emoji": "value_number",
    "automatic_progress": "value_number", "manual_progress": "value_number", "votes": "value_number",
    "date": "value_date", "checkbox": "value_bool",
    "short_text": "value_text", "text": "value_text", "url": "value_text", "email": "value_text",
    "phone": "value_text", "formula": "value_text", "location": "value_text",
    "labels": "value_labels", "users": "value_labels", "tasks": "value_labels",
    "list_relationship": "value_labels", "attachment": "value_labels",
}  # fmt: skip


def slug_identifier(name: str) -> str:
    """Lowercase letters and digits of any script, other runs as `_`; '' when nothing is left
    (an emoji-only name)."""
    folded = unicodedata.normalize("NFKC", name).lower()
    slug = re.sub(r"[^\w]+", "_", folded, flags=re.UNICODE).strip("_")
    return slug


def _fit(name: str, suffix: str = "") -> str:
    """Cut `name` so that name + suffix fits in 63 bytes of UTF-8, never inside a character."""
    budget = MAX_IDENTIFIER_BYTES - len(suffix.encode())
    encoded = name.encode()[:budget]
    return encoded.decode("utf-8", errors="ignore").rstrip("_") + suffix


def unique_column_names(fields: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Map field id → a unique column name, in the given (field id, field name) order."""
    used = set(BASE_COLUMNS)
    chosen: dict[str, str] = {}
    for field_id, field_name in fields:
        base = slug_identifier(field_name) or f"field_{slug_identifier(field_id)[:8]}"
        candidate = _fit(base)
        counter = 2
        while candidate in used:
            candidate = _fit(base, f"_{counter}")
            counter += 1
        used.add(candidate)
        chosen[field_id] = candidate
    return chosen


@dataclass(frozen=True)
class ListView:
    view_name: str
    list_id: str
    columns: list[dict[str, str]]  # column, field_id, field_name, field_type
    definition: sql.Composed
    definition_hash: str


def view_name_for(list_id: str, list_name: str) -> str:
    slug = slug_identifier(list_name)
    suffix = f"_{slug_identifier(list_id)}"
    return _fit(f"list_{slug}" if slug else "list", suffix)


def build_list_view(
    schema: str, list_id: str, list_name: str, fields: list[tuple[str, str, str]]
) -> ListView:
    """The view for one list. `fields` = (field id, name, type), in a stable order."""
    names = unique_column_names((field_id, name) for field_id, name, _ in fields)
    s = sql.Identifier(schema)
    selects: list[sql.Composable] = [
        sql.SQL(
            "t.task_id, t.custom_id, t.name AS task_name, t.status, t.priority, t.assignee_ids, t.tags,"
            " t.due_date, t.date_created, t.date_updated, t.date_closed, t.archived, t.parent_task_id"
        )
    ]
    columns = []
    for field_id, field_name, field_type in fields:
        typed = _TYPED_COLUMN.get(field_type, "value")
        expression: sql.Composable
        if field_type == "drop_down":
            expression = sql.SQL("v.value_labels[1]")
        else:
            expression = sql.SQL("v.{}").format(sql.Identifier(typed))
        selects.append(
            sql.SQL(
                "(SELECT {expr} FROM {s}.task_custom_field_values v WHERE v.task_id = t.task_id"
                " AND v.field_id = {fid}) AS {col}"
            ).format(expr=expression, s=s, fid=sql.Literal(field_id), col=sql.Identifier(names[field_id]))
        )
        columns.append({"column": names[field_id], "field_id": field_id, "field_name": field_name,
                        "field_type": field_type})  # fmt: skip
    view_name = view_name_for(list_id, list_name)
    definition = sql.SQL(
        "SELECT {selects} FROM {s}.tasks t WHERE t.list_id = {lid} AND t.deleted_at IS NULL"
    ).format(selects=sql.SQL(", ").join(selects), s=s, lid=sql.Literal(list_id))
    digest = hashlib.sha256(json.dumps([view_name, columns], sort_keys=True).encode()).hexdigest()
    return ListView(view_name, list_id, columns, definition, digest)


@dataclass
class RefreshResult:
    created: int = 0
    replaced: int = 0
    dropped: int = 0
    unchanged: int = 0


async def refresh_list_views(conn: AsyncConnection[Any], schema: str) -> RefreshResult:
    """Bring the generated views in line with the current lists and field definitions. Views whose
    definition did not change are left alone; views of lists that disappeared are dropped."""
    s = sql.Identifier(schema)
    lists = await (
        await conn.execute(sql.SQL("SELECT list_id, name FROM {}.lists ORDER BY list_id").format(s))
    ).fetchall()
    field_rows = await (
        await conn.execute(
            sql.SQL(
                "SELECT l, field_id, name, type FROM {}.custom_fields, unnest(list_ids) AS l"
                " ORDER BY l, name, field_id"
            ).format(s)
        )
    ).fetchall()
    fields_by_list: dict[str, list[tuple[str, str, str]]] = {}
    for list_id, field_id, name, field_type in field_rows:
        fields_by_list.setdefault(list_id, []).append((field_id, name, field_type))
    wanted = {
        view.view_name: view
        for view in (build_list_view(schema, lid, name, fields_by_list.get(lid, [])) for lid, name in lists)
    }
    existing = dict(
        await (
            await conn.execute(sql.SQL("SELECT view_name, definition_hash FROM {}.generated_views").format(s))
        ).fetchall()
    )
    result = RefreshResult()
    for view_name in existing.keys() - wanted.keys():
        await conn.execute(sql.SQL("DROP VIEW IF EXISTS {}.{}").format(s, sql.Identifier(view_name)))
        await conn.execute(
            sql.SQL("DELETE FROM {}.generated_views WHERE view_name = %s").format(s), (view_name,)
        )
        result.dropped += 1
    for view_name, view in wanted.items():
        if existing.get(view_name) == view.definition_hash:
            result.unchanged += 1
            continue
        # DROP + CREATE (not CREATE OR REPLACE): a replaced view cannot drop or rename columns.
        await conn.execute(sql.SQL("DROP VIEW IF EXISTS {}.{}").format(s, sql.Identifier(view_name)))
        await conn.execute(
            sql.SQL("CREATE VIEW {}.{} AS ").format(s, sql.Identifier(view_name)) + view.definition
        )
        await conn.execute(
            sql.SQL(
                "INSERT INTO {}.generated_views (view_name, list_id, definition_hash, columns)"
                " VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (view_name) DO UPDATE SET definition_hash = excluded.definition_hash,"
                " columns = excluded.columns, refreshed_at = now()"
            ).format(s),
            (view_name, view.list_id, view.definition_hash, Jsonb(view.columns)),
        )
        if view_name in existing:
            result.replaced += 1
        else:
            result.created += 1
    return result
