"""One Get Task JSON → everything the mirror keeps for that task: the `tasks` row, the custom field
values, and the task's relationships seen from its own side.

Pure and tolerant: a missing key, a null where an object was, an id sent as a number or a number sent
as a string is stored as faithfully as possible and described in `problems`. Only a task without a
usable `id` is refused (ValueError): there would be nothing to key it by.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from clickup_sync.clickup.timestamps import parse_ms_timestamp
from clickup_sync.sync.normalize import (
    RELATIONSHIP_FIELD_TYPES,
    FieldDefinition,
    NormalizedValue,
    clickup_id,
    decimal_from_clickup,
    read_task_custom_fields,
    short_repr,
)

RelationshipType = Literal["waiting_on", "blocking", "linked", "subtask_of", "custom_field"]

# Priority is fixed in ClickUp: 1 urgent, 2 high, 3 normal, 4 low (reference §2).
_PRIORITY_NAMES = {1: "urgent", 2: "high", 3: "normal", 4: "low"}
_DATE_KEYS = ("due_date", "start_date", "date_created", "date_updated", "date_closed", "date_done")


@dataclass(frozen=True)
class TaskRow:
    """The columns of the public `tasks` table."""

    task_id: str
    custom_id: str | None
    name: str | None
    status: str | None
    status_type: str | None
    list_id: str | None
    folder_id: str | None  # None for a folderless list (ClickUp puts it in a hidden folder, §3.2)
    space_id: str | None
    parent_task_id: str | None
    top_level_parent_id: str | None
    priority: str | None  # the name: "urgent", "high", "normal" or "low"
    assignee_ids: tuple[str, ...]
    watcher_ids: tuple[str, ...]
    tags: tuple[str, ...]
    due_date: datetime | None
    start_date: datetime | None
    date_created: datetime | None
    date_updated: datetime | None
    date_closed: datetime | None
    date_done: datetime | None
    archived: bool
    time_estimate_ms: int | None
    points: Decimal | None
    raw: Mapping[str, Any] = dataclasses.field(hash=False, repr=False)


@dataclass(frozen=True)
class Relationship:
    """An edge from `task_id` (always the fetched task) to another task. Equality ignores `created_at`
    so that a diff only sees edges appear and disappear."""

    task_id: str
    related_task_id: str
    relationship_type: RelationshipType
    field_id: str | None = None  # set for "custom_field" edges
    created_at: datetime | None = dataclasses.field(default=None, compare=False)


@dataclass(frozen=True)
class TaskSnapshot:
    """Everything the mirror keeps for one task, derived from one Get Task JSON."""

    row: TaskRow
    field_definitions: tuple[FieldDefinition, ...]
    values: Mapping[str, NormalizedValue] = dataclasses.field(hash=False)  # by field_id
    relationships: frozenset[Relationship]
    problems: tuple[str, ...]


def snapshot_from_task_json(task: Mapping[str, Any]) -> TaskSnapshot:
    """Derive the snapshot of one task. Raises ValueError only when the task has no usable `id`."""
    task_id = clickup_id(task.get("id")) if isinstance(task, Mapping) else None
    if task_id is None:
        shown = short_repr(task.get("id")) if isinstance(task, Mapping) else type(task).__name__
        raise ValueError(f"task JSON has no usable 'id' (got {shown}); it cannot be mirrored")
    problems: list[str] = []
    row = _task_row(task_id, task, problems)
    custom_fields = read_task_custom_fields(task)
    problems.extend(custom_fields.problems)
    for value in custom_fields.values:
        problems.extend(f"custom field {value.field_id} ({value.field_type}): {p}" for p in value.problems)
    relationships = _relationships(row, task, custom_fields.values, problems)
    return TaskSnapshot(
        row=row,
        field_definitions=tuple(custom_fields.definitions),
        values={value.field_id: value for value in custom_fields.values},
        relationships=frozenset(relationships),
        problems=tuple(problems),
    )


def _task_row(task_id: str, task: Mapping[str, Any], problems: list[str]) -> TaskRow:
    status = task.get("status")
    if isinstance(status, Mapping):
        status_name, status_type = _text(status, "status", problems), _text(status, "type", problems)
    else:  # tolerate a bare status name
        status_name, status_type = _text(task, "status", problems), None
    dates = {key: _date(task, key, problems) for key in _DATE_KEYS}
    return TaskRow(
        task_id=task_id,
        custom_id=_text(task, "custom_id", problems),
        name=_text(task, "name", problems),
        status=status_name,
        status_type=status_type,
        list_id=_container_id(task, "list", problems),
        folder_id=_folder_id(task, problems),
        space_id=_container_id(task, "space", problems),
        parent_task_id=_task_ref(task, "parent", problems),
        top_level_parent_id=_task_ref(task, "top_level_parent", problems),
        priority=_priority(task.get("priority"), problems),
        assignee_ids=_ids(task, "assignees", problems),
        watcher_ids=_ids(task, "watchers", problems),
        tags=_tags(task, problems),
        due_date=dates["due_date"],
        start_date=dates["start_date"],
        date_created=dates["date_created"],
        date_updated=dates["date_updated"],
        date_closed=dates["date_closed"],
        date_done=dates["date_done"],
        archived=_archived(task.get("archived"), problems),
        time_estimate_ms=_time_estimate(task.get("time_estimate"), problems),
        points=_points(task.get("points"), problems),
        raw=task,
    )


def _relationships(
    row: TaskRow, task: Mapping[str, Any], values: list[NormalizedValue], problems: list[str]
) -> list[Relationship]:
    task_id = row.task_id
    found: list[Relationship] = []
    # An entry means `task_id` waits on `depends_on`; direction is read relative to the fetched task,
    # never from the unconfirmed `type` (§6.1).
    for entry in _entries(task, "dependencies", problems):
        waiting, blocker = clickup_id(entry.get("task_id")), clickup_id(entry.get("depends_on"))
        created_at = _date(entry, "date_created", problems)
        if waiting == task_id and blocker is not None and blocker != task_id:
            found.append(Relationship(task_id, blocker, "waiting_on", None, created_at))
        elif blocker == task_id and waiting is not None and waiting != task_id:
            found.append(Relationship(task_id, waiting, "blocking", None, created_at))
        else:
            problems.append(f"dependency entry does not link this task to another: {short_repr(entry)}")
    # Links are symmetric: `task_id` is one side, `link_id` the other (§6.1).
    for entry in _entries(task, "linked_tasks", problems):
        side_a, side_b = clickup_id(entry.get("task_id")), clickup_id(entry.get("link_id"))
        other = side_b if side_a == task_id else side_a if side_b == task_id else None
        if other is None or other == task_id:
            problems.append(f"linked_tasks entry does not link this task to another: {short_repr(entry)}")
            continue
        found.append(Relationship(task_id, other, "linked", None, _date(entry, "date_created", problems)))
    if row.parent_task_id is not None and row.parent_task_id != task_id:
        found.append(Relationship(task_id, row.parent_task_id, "subtask_of"))
    for value in values:
        if value.field_type in RELATIONSHIP_FIELD_TYPES:
            found.extend(
                Relationship(task_id, related, "custom_field", value.field_id)
                for related in value.value_ids or ()
                if related != task_id
            )
    return found


# --- tolerant readers; each appends what it could not read to `problems` ---------------------------


def _text(obj: Mapping[str, Any], key: str, problems: list[str]) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return short_repr(value)  # a name sent as a number; repr is str for numbers, and never raises
    problems.append(f"{key}: expected text, got {short_repr(value)}")
    return None


def _container_id(task: Mapping[str, Any], key: str, problems: list[str]) -> str | None:
    container = task.get(key)
    if container is None:
        return None
    found = clickup_id(container.get("id") if isinstance(container, Mapping) else container)
    if found is None:
        problems.append(f"{key}: no usable id in {short_repr(container)}")
    return found


def _folder_id(task: Mapping[str, Any], problems: list[str]) -> str | None:
    # `project` is the legacy name of `folder` (§3.2); a folderless list sits in a hidden folder that
    # users never see in ClickUp, so the task has no folder.
    key = "folder" if task.get("folder") is not None else "project"
    folder = task.get(key)
    if isinstance(folder, Mapping) and folder.get("hidden") is True:
        return None
    return _container_id(task, key, problems)


def _task_ref(task: Mapping[str, Any], key: str, problems: list[str]) -> str | None:
    value = task.get(key)
    found = clickup_id(value.get("id") if isinstance(value, Mapping) else value)
    if found is None and value is not None:
        problems.append(f"{key}: expected a task id, got {short_repr(value)}")
    return found


def _priority(priority: Any, problems: list[str]) -> str | None:
    # {"id": "3", "priority": "normal", ...} or null (§2); a bare name or number 1-4 is tolerated.
    if priority is None:
        return None
    if isinstance(priority, Mapping):
        name = priority.get("priority")
        if isinstance(name, str) and name:
            return name
        priority = priority.get("id")
    if isinstance(priority, str) and priority in _PRIORITY_NAMES.values():
        return priority
    number, _ = decimal_from_clickup(priority)
    name = _PRIORITY_NAMES.get(int(number)) if number is not None and number in _PRIORITY_NAMES else None
    if name is None:
        problems.append(f"priority: not a known priority: {short_repr(priority)}")
    return name


def _ids(task: Mapping[str, Any], key: str, problems: list[str]) -> tuple[str, ...]:
    """User ids (ints in user objects, §2) as text, in the order ClickUp lists them."""
    found: list[str] = []
    for item in _list(task, key, problems):
        # `type(item) is dict` first: parsed JSON is always a dict, and the ABC check is slow.
        is_object = type(item) is dict or isinstance(item, Mapping)
        user_id = clickup_id(item.get("id") if is_object else item)
        if user_id is None:
            problems.append(f"{key}: entry without a usable id: {short_repr(item)}")
        else:
            found.append(user_id)
    return tuple(found)


def _tags(task: Mapping[str, Any], problems: list[str]) -> tuple[str, ...]:
    found: list[str] = []
    for tag in _list(task, "tags", problems):
        name = tag.get("name") if isinstance(tag, Mapping) else tag
        if isinstance(name, str) and name:
            found.append(name)
        else:
            problems.append(f"tags: entry without a name: {short_repr(tag)}")
    return tuple(found)


def _date(obj: Mapping[str, Any], key: str, problems: list[str]) -> datetime | None:
    when, problem = parse_ms_timestamp(obj.get(key))  # ms strings, sometimes numbers (§2)
    if problem:
        problems.append(f"{key}: {problem}")
    return when


def _archived(value: Any, problems: list[str]) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False  # unset booleans may be null instead of false (§9 item 18)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    problems.append(f"archived: expected a boolean, got {short_repr(value)}; taken as false")
    return False


def _time_estimate(value: Any, problems: list[str]) -> int | None:
    # A ms string ("8640000") in the spec example, though time_spent is a number (§2).
    if type(value) is str and len(value) <= 18 and value.isascii() and value.isdigit():
        return int(value)  # the common case, without going through Decimal
    number, problem = decimal_from_clickup(value)
    if number is None:
        if problem:
            problems.append(f"time_estimate: {problem}")
        return None
    if number != number.to_integral_value():
        problems.append(f"time_estimate: fractional milliseconds {short_repr(value)} rounded down")
    return int(number)


def _points(value: Any, problems: list[str]) -> Decimal | None:
    number, problem = decimal_from_clickup(value)
    if problem:
        problems.append(f"points: {problem}")
    return number


def _entries(task: Mapping[str, Any], key: str, problems: list[str]) -> list[Mapping[str, Any]]:
    entries: list[Mapping[str, Any]] = []
    for entry in _list(task, key, problems):
        if isinstance(entry, Mapping):
            entries.append(entry)
        else:
            problems.append(f"{key}: entry is not an object: {short_repr(entry)}")
    return entries


def _list(obj: Mapping[str, Any], key: str, problems: list[str]) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if type(value) is list:  # parsed JSON: read as it is, no copy (nothing here changes it)
        return value
    if isinstance(value, list | tuple):
        return list(value)
    problems.append(f"{key}: expected a list, got {short_repr(value)}")
    return []
