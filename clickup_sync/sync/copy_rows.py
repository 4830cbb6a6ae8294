"""Rows for the COPY streams of `bulk_write.py`, in its column orders, cheap to encode.

A backfill page is ~100 task rows and ~900 value rows; these builders run once per row, so each
value is handed over in the form psycopg's C encoder sends without help: text, numbers, datetimes,
booleans, None. Arrays are written here as PostgreSQL array literals (text), because psycopg's list
dumper is Python code that cost more than the rest of the row. NUL characters are dropped on the
way, as `clickup_sync.db.params` does for query parameters (PostgreSQL rejects them in text).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clickup_sync.db.params import json_text

if TYPE_CHECKING:
    from clickup_sync.sync.diff import ChangeSource
    from clickup_sync.sync.normalize import NormalizedValue
    from clickup_sync.sync.task_state import Relationship, TaskRow, TaskSnapshot


@dataclass(frozen=True)
class NewTaskRows:
    """Every row a task writes on its first sighting (nothing stored yet: all of it is new).

    The backfill builds these while the previous page is being written, so the write itself only
    sends them; `MirrorStore.apply_snapshots` uses them when the task proves to be new."""

    snapshot: TaskSnapshot  # what they were built from
    source: ChangeSource
    task: tuple[Any, ...]
    values: list[tuple[Any, ...]]
    relationships: list[tuple[Any, ...]]


def new_task_rows(snapshot: TaskSnapshot, source: ChangeSource) -> NewTaskRows:
    task_id = snapshot.row.task_id
    return NewTaskRows(
        snapshot,
        source,
        task_copy_row(snapshot.row),
        [value_copy_row(task_id, value, source) for value in snapshot.values.values()],
        [relationship_copy_row(relationship, source) for relationship in snapshot.relationships],
    )


def task_copy_row(row: TaskRow) -> tuple[Any, ...]:
    """One `tasks` row in `bulk_write.TASK_COLUMNS` order."""
    return (
        _text(row.task_id),
        _text(row.custom_id),
        _text(row.name),
        _text(row.status),
        _text(row.status_type),
        _text(row.list_id),
        _text(row.folder_id),
        _text(row.space_id),
        _text(row.parent_task_id),
        _text(row.top_level_parent_id),
        _text(row.priority),
        text_array(row.assignee_ids),
        text_array(row.watcher_ids),
        text_array(row.tags),
        row.due_date,
        row.start_date,
        row.date_created,
        row.date_updated,
        row.date_closed,
        row.date_done,
        row.time_estimate_ms,
        row.points,
        row.archived,
        json_text(row.raw),
    )


def value_copy_row(task_id: str, value: NormalizedValue, source: ChangeSource) -> tuple[Any, ...]:
    """One `task_custom_field_values` row in `bulk_write.VALUE_COLUMNS` order."""
    return (
        _text(task_id),
        _text(value.field_id),
        _text(value.field_type),
        json_text(value.raw_value),
        json_text(value.value),
        _text(value.value_text),
        value.value_number,
        value.value_date,
        value.value_bool,
        text_array(value.value_ids),
        text_array(value.value_labels),
        source,
    )


def relationship_copy_row(relationship: Relationship, source: ChangeSource) -> tuple[Any, ...]:
    """One `task_relationships` row in `bulk_write.RELATIONSHIP_COLUMNS` order."""
    return (
        _text(relationship.task_id),
        relationship.relationship_type,
        _text(relationship.related_task_id),
        _text(relationship.field_id or ""),
        relationship.created_at,
        source,
    )


def text_array(items: Iterable[str] | None) -> str | None:
    """A `text[]` literal: every element quoted, so that no element (empty, "NULL", with commas,
    braces or spaces) is ever read as anything but itself."""
    if items is None:
        return None
    return "{" + ",".join(map(_array_element, items)) + "}"


def _array_element(item: str) -> str:
    if "\\" in item or '"' in item or "\x00" in item:
        item = item.replace("\x00", "").replace("\\", "\\\\").replace('"', '\\"')
    return f'"{item}"'


def _text(value: str | None) -> str | None:
    # `in` first: the common case allocates nothing.
    if value is not None and "\x00" in value:
        return value.replace("\x00", "")
    return value
