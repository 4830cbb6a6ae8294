"""Diff two states of one task into field changes: the history written on every fetch.

Pure. The stored side is what the mirror holds now (rebuilt from its tables by `store.py`), so a
change that a webhook history item already applied is not recorded a second time when the re-fetch
arrives. Built-in fields are compared through `builtin_field_values`, whose JSON form is also what
`field_changes.old_value` / `new_value` hold for them (documented in docs/schema.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from clickup_sync.sync.normalize import NormalizedValue
from clickup_sync.sync.task_state import Relationship, TaskRow, TaskSnapshot

ChangeSource = Literal["webhook", "poll", "backfill", "replay"]

# Built-in fields whose changes are recorded, in a stable order.
BUILTIN_FIELDS = (
    "name",
    "status",
    "priority",
    "assignees",
    "watchers",
    "tags",
    "due_date",
    "start_date",
    "time_estimate",
    "points",
    "parent",
    "list",
    "archived",
    "dependencies",
    "linked_tasks",
)


@dataclass(frozen=True)
class FieldChange:
    """One row of `field_changes` (without id and recorded_at)."""

    task_id: str
    field_id: str | None
    field_name: str
    field_type: str | None
    old_value: Any
    new_value: Any
    changed_at: datetime
    changed_by: str | None
    source: ChangeSource
    event_id: str | None = None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _related(relationships: frozenset[Relationship], kind: str) -> list[str]:
    return sorted(r.related_task_id for r in relationships if r.relationship_type == kind)


def builtin_field_values(row: TaskRow, relationships: frozenset[Relationship]) -> dict[str, Any]:
    """The JSON value of every built-in field, as stored in `field_changes`."""
    return {
        "name": row.name,
        "status": row.status,
        "priority": row.priority,
        "assignees": sorted(row.assignee_ids),
        "watchers": sorted(row.watcher_ids),
        "tags": sorted(row.tags),
        "due_date": _iso(row.due_date),
        "start_date": _iso(row.start_date),
        "time_estimate": row.time_estimate_ms,
        "points": _number(row.points),
        "parent": row.parent_task_id,
        "list": row.list_id,
        "archived": row.archived,
        "dependencies": {
            "waiting_on": _related(relationships, "waiting_on"),
            "blocking": _related(relationships, "blocking"),
        },
        "linked_tasks": _related(relationships, "linked"),
    }


def diff_task_states(
    stored: TaskSnapshot | None,
    fetched: TaskSnapshot,
    *,
    observed_at: datetime,
    source: ChangeSource,
    field_names: Mapping[str, str] | None = None,
) -> list[FieldChange]:
    """One change per field that differs between the stored state and the fetched one.

    A first sighting (`stored is None`) records nothing: the mirror did not know the task before, so
    there is no "before". Poll-detected changes are dated with the task's `date_updated` (ClickUp's
    time of its latest change, the best known event time) or, when absent, with `observed_at`.
    `field_names` supplies names for custom fields that the fetched JSON no longer carries.
    """
    if stored is None:
        return []
    changed_at = fetched.row.date_updated or observed_at
    task_id = fetched.row.task_id
    changes: list[FieldChange] = []

    old_builtin = builtin_field_values(stored.row, stored.relationships)
    new_builtin = builtin_field_values(fetched.row, fetched.relationships)
    for name in BUILTIN_FIELDS:
        if old_builtin[name] != new_builtin[name]:
            changes.append(
                FieldChange(
                    task_id, None, name, None, old_builtin[name], new_builtin[name], changed_at, None, source
                )
            )

    names = {d.field_id: d.name for d in stored.field_definitions}
    names.update(field_names or {})
    names.update({d.field_id: d.name for d in fetched.field_definitions})
    for field_id in sorted(stored.values.keys() | fetched.values.keys()):
        before = stored.values.get(field_id)
        after = fetched.values.get(field_id)
        if before is not None and after is not None and before.same_value(after):
            continue
        changes.append(
            FieldChange(
                task_id=task_id,
                field_id=field_id,
                field_name=names.get(field_id, field_id),
                field_type=_field_type(before, after),
                old_value=before.value if before is not None else None,
                new_value=after.value if after is not None else None,
                changed_at=changed_at,
                changed_by=None,
                source=source,
            )
        )
    return changes


def _field_type(before: NormalizedValue | None, after: NormalizedValue | None) -> str | None:
    chosen = after or before
    return chosen.field_type if chosen is not None else None


def is_stale(stored: TaskSnapshot | None, fetched: TaskSnapshot) -> bool:
    """True when the fetched state is older than the stored one (ClickUp's `date_updated`): it must
    not overwrite newer state. Equal times are not stale (the same state re-applied writes nothing)."""
    if stored is None or stored.row.date_updated is None or fetched.row.date_updated is None:
        return False
    return fetched.row.date_updated < stored.row.date_updated
