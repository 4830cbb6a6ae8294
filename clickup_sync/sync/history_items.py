"""A webhook delivery's history items → history rows (`field_changes`) and patches for the mirror.

Pure. `webhook_delivery.parse_delivery` reads the body ClickUp posts (reference §7.2); `item_effect`
reads one element of its `history_items` (§7.4, shapes in §7.6) into the row it adds to
`field_changes` and what it says about the task's built-in columns (`TaskPatch`) or one custom field
value (`ValuePatch`). It never raises on an odd item: what it cannot read is kept as sent and
described in `problems`.

Only task events describe a task: a `listUpdated` item with `field: "name"` renames a list, so the
caller applies patches only when `is_task_event(delivery.event)`.

Values in `old_value` / `new_value` have the JSON forms of `diff.builtin_field_values` (built-ins) and
of `NormalizedValue.value` (custom fields), with these webhook-only forms:
- `assignees`, `watchers`, `tags`: an item names one change, not the whole set, so `old_value` is null
  and `new_value` is `{"add": [...]}` or `{"remove": [...]}` (sorted user ids as text, or tag names).
- `created` (`task_creation`): `false` → `true`.
- anything else (`content`, `comment`, `duration`, `time_spent`, `attachments`, `checklist_*`, fields
  ClickUp adds later): `field_name` is ClickUp's `field`, the values are `before` / `after` as sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

from clickup_sync.clickup.timestamps import parse_ms_timestamp
from clickup_sync.sync.diff import ChangeSource, FieldChange
from clickup_sync.sync.normalize import (
    FieldDefinition,
    NormalizedValue,
    clickup_id,
    decimal_from_clickup,
    json_number,
    normalize_custom_field_value,
    short_repr,
)
from clickup_sync.sync.webhook_delivery import history_item_key, json_safe

# ClickUp's fixed priorities (reference §2).
_PRIORITY_NAMES = {1: "urgent", 2: "high", 3: "normal", 4: "low"}


# --- history items --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskPatch:
    """What one history item says about one built-in column of the mirror's `tasks` row."""

    column: str  # a TaskRow column: status, status_type, name, priority, assignee_ids, watcher_ids, tags,
    # due_date, start_date, time_estimate_ms, points, archived, list_id, folder_id, space_id
    operation: Literal["set", "add", "remove"]  # add/remove: the array columns; `value` is one element
    value: Any  # the column's Python value: datetime for dates, Decimal for points, str ids, None = NULL


@dataclass(frozen=True)
class ValuePatch:
    """A custom field value to write to `task_custom_field_values`; `value` None deletes the row."""

    field: FieldDefinition
    value: NormalizedValue | None


@dataclass(frozen=True)
class ItemEffect:
    """One history item read: its `field_changes` row and its patches for the mirror."""

    item_id: str
    changed_at: datetime
    changed_by: str | None
    field_name: str
    field_id: str | None
    field_type: str | None
    old_value: Any  # JSON, as the module docstring describes
    new_value: Any
    task_patches: tuple[TaskPatch, ...]
    value_patch: ValuePatch | None
    problems: tuple[str, ...]

    def field_change(self, task_id: str, *, source: ChangeSource = "webhook") -> FieldChange:
        """The `field_changes` row; its `event_id` is the history item id."""
        return FieldChange(
            task_id=task_id,
            field_id=self.field_id,
            field_name=self.field_name,
            field_type=self.field_type,
            old_value=self.old_value,
            new_value=self.new_value,
            changed_at=self.changed_at,
            changed_by=self.changed_by,
            source=source,
            event_id=self.item_id,
        )


def item_effect(item: Mapping[str, Any], *, received_at: datetime) -> ItemEffect:
    """Read one history item. `received_at` (aware) dates an item whose `date` is missing or garbage.
    Never raises on the item's shape; raises ValueError for a naive `received_at`."""
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        raise ValueError(f"received_at must be an aware datetime, got {received_at.isoformat()}")
    fallback_time = received_at.astimezone(UTC)
    problems: list[str] = []
    item_id = history_item_key(item)
    if not isinstance(item, Mapping):
        problems.append(f"history item is not an object: {short_repr(item)}")
        item = {}
    elif item_id.startswith("sha256:"):
        problems.append(f"history item has no usable id (got {short_repr(item.get('id'))}); keyed by content")
    changed_at, problem = parse_ms_timestamp(item.get("date"))  # an ms string (§7.4)
    if changed_at is None:
        problems.append(f"date: {problem or 'missing'}; the delivery's arrival time is used")
    changed_by = _changed_by(item.get("user"), problems)

    field = item.get("field")
    before, after = item.get("before"), item.get("after")  # assignee_add has no `before` key (§7.6)
    handler = _HANDLERS.get(field) if isinstance(field, str) else None
    field_name = field if isinstance(field, str) and field else "unknown"
    if handler is None:
        if field_name == "unknown":
            problems.append(f"history item has no usable field (got {short_repr(field)})")
        reading = _Reading(field_name, json_safe(before), json_safe(after))
    else:
        try:
            reading = handler(item, before, after)
        except Exception as error:  # a safety net: one odd item must never stop a delivery; it is reported
            failure = f"{field_name}: reading failed ({type(error).__name__}: {error}); kept as sent"
            reading = _Reading(field_name, json_safe(before), json_safe(after), problems=(failure,))
    return ItemEffect(
        item_id=item_id,
        changed_at=changed_at or fallback_time,
        changed_by=changed_by,
        field_name=reading.field_name,
        field_id=reading.field_id,
        field_type=reading.field_type,
        old_value=reading.old,
        new_value=reading.new,
        task_patches=reading.task_patches,
        value_patch=reading.value_patch,
        problems=(*problems, *reading.problems),
    )


def _changed_by(user: Any, problems: list[str]) -> str | None:
    if user is None:
        return None
    user_id = clickup_id(user.get("id") if isinstance(user, Mapping) else user)  # an int (§7.2)
    if user_id is None:
        problems.append(f"user: no usable id in {short_repr(user)}")
    return user_id


class _Reading(NamedTuple):
    field_name: str
    old: Any
    new: Any
    task_patches: tuple[TaskPatch, ...] = ()
    problems: tuple[str, ...] = ()
    field_id: str | None = None
    field_type: str | None = None
    value_patch: ValuePatch | None = None


_Handler = Callable[[Mapping[str, Any], Any, Any], _Reading]


class _OddShape(Exception):
    """A before/after value a converter cannot read; it is kept as sent."""


class _Converted(NamedTuple):
    column: Any  # for the `tasks` column
    json: Any  # for field_changes


_Converter = Callable[[Any], _Converted]


def _convert_side(
    convert: _Converter, raw: Any, label: str, problems: list[str]
) -> tuple[Any, _Converted | None]:
    try:
        converted = convert(raw)
    except _OddShape as error:
        problems.append(f"{label}: {error}; kept as sent")
        return json_safe(raw), None
    return converted.json, converted


def _set_field(field_name: str, column: str, convert: _Converter) -> _Handler:
    """A built-in with a single value: old/new converted, and `set` the column to the new value."""

    def handle(item: Mapping[str, Any], before: Any, after: Any) -> _Reading:
        problems: list[str] = []
        old, _ = _convert_side(convert, before, f"{field_name} before", problems)
        new, converted = _convert_side(convert, after, f"{field_name} after", problems)
        patches = () if converted is None else (TaskPatch(column, "set", converted.column),)
        return _Reading(field_name, old, new, patches, tuple(problems))

    return handle


def _text(raw: Any) -> _Converted:
    if isinstance(raw, str):
        return _Converted(raw, raw)
    raise _OddShape(f"expected text, got {short_repr(raw)}")


def _priority(raw: Any) -> _Converted:
    # null or {"id": "2", "priority": "high", "color": …, "orderindex": "2"} (§7.6); a bare name or 1-4 too.
    if raw is None:
        return _Converted(None, None)
    name = raw.get("priority") if isinstance(raw, Mapping) else raw
    if isinstance(name, str) and name in _PRIORITY_NAMES.values():
        return _Converted(name, name)
    number, _ = decimal_from_clickup(raw.get("id") if isinstance(raw, Mapping) else raw)
    if number is not None and number in _PRIORITY_NAMES:
        return _Converted(_PRIORITY_NAMES[int(number)], _PRIORITY_NAMES[int(number)])
    raise _OddShape(f"not a known priority: {short_repr(raw)}")


def _date(raw: Any) -> _Converted:
    when, problem = parse_ms_timestamp(raw)  # ms strings or null (§7.4 due_date, start_date)
    if problem:
        raise _OddShape(problem)
    return _Converted(when, when.isoformat() if when is not None else None)


def _milliseconds(raw: Any) -> _Converted:
    number, problem = decimal_from_clickup(raw)  # "5400000" (§7.6 time_estimate)
    if problem:
        raise _OddShape(problem)
    if number is not None and number != number.to_integral_value():
        raise _OddShape(f"fractional milliseconds {short_repr(raw)}")
    whole = None if number is None else int(number)
    return _Converted(whole, whole)


def _points(raw: Any) -> _Converted:
    number, problem = decimal_from_clickup(raw)  # UNCONFIRMED item (§7.4); our emulator sends numbers
    if problem:
        raise _OddShape(problem)
    return _Converted(number, None if number is None else json_number(number))


def _archived(raw: Any) -> _Converted:
    # UNCONFIRMED item; our emulator sends "true"/"false". Unset booleans may be null (§7.2): false.
    word = raw.strip().lower() if isinstance(raw, str) else raw
    if word is None or word in (False, "false"):
        return _Converted(False, False)
    if word in (True, "true"):
        return _Converted(True, True)
    raise _OddShape(f"expected a boolean, got {short_repr(raw)}")


def _list_id(raw: Any) -> _Converted:
    # A list object {"id", "name", "category" (folder), "project" (space)} (§7.6 taskMoved).
    list_id = clickup_id(raw.get("id") if isinstance(raw, Mapping) else raw)
    if list_id is None:
        raise _OddShape(f"no list id in {short_repr(raw)}")
    return _Converted(list_id, list_id)


def _status(item: Mapping[str, Any], before: Any, after: Any) -> _Reading:
    # Status objects {status, color, orderindex, type}; on creation `before` has "status": null (§7.6).
    problems: list[str] = []
    old = _status_name(before, "status before", problems)
    new = _status_name(after, "status after", problems)
    if new is None:
        problems.append(f"status after: no status name in {short_repr(after)}; nothing to apply")
        return _Reading("status", old, new, (), tuple(problems))
    status_type = after.get("type") if isinstance(after, Mapping) else None
    data = item.get("data")
    if not isinstance(status_type, str) and isinstance(data, Mapping):
        status_type = data.get("status_type")  # data repeats the new type (§7.4)
    patches = [TaskPatch("status", "set", new)]
    if isinstance(status_type, str) and status_type:
        patches.append(TaskPatch("status_type", "set", status_type))
    else:
        problems.append(f"status after: no status type in {short_repr(after)}")
    return _Reading("status", old, new, tuple(patches), tuple(problems))


def _status_name(raw: Any, label: str, problems: list[str]) -> str | None:
    name = raw.get("status") if isinstance(raw, Mapping) else raw  # tolerate a bare name
    if name is None or isinstance(name, str):
        return name
    problems.append(f"{label}: expected a status, got {short_repr(raw)}")
    return None


def _section_moved(item: Mapping[str, Any], before: Any, after: Any) -> _Reading:
    reading = _set_field("list", "list_id", _list_id)(item, before, after)
    if not reading.task_patches or not isinstance(after, Mapping):
        return reading
    patches = list(reading.task_patches)
    # The list object names its folder (`category`) and space (`project`) (§7.4): a move between folders
    # or spaces changes them too. A hidden folder holds a folderless list: the task has no folder.
    folder = after.get("category")
    if isinstance(folder, Mapping) and folder.get("hidden") is True:
        patches.append(TaskPatch("folder_id", "set", None))
    elif isinstance(folder, Mapping) and (folder_id := clickup_id(folder.get("id"))) is not None:
        patches.append(TaskPatch("folder_id", "set", folder_id))
    space = after.get("project")
    if isinstance(space, Mapping) and (space_id := clickup_id(space.get("id"))) is not None:
        patches.append(TaskPatch("space_id", "set", space_id))
    return reading._replace(task_patches=tuple(patches))


def _user_element(raw: Any) -> str | None:
    return clickup_id(raw.get("id") if isinstance(raw, Mapping) else raw)  # user objects, id an int (§7.6)


def _tag_element(raw: Any) -> str | None:
    name = raw.get("name") if isinstance(raw, Mapping) else raw  # [{"name": "def", "tag_fg": …}] (§7.6)
    return name if isinstance(name, str) and name else None


def _array_change(
    field_name: str, column: str, operation: Literal["add", "remove"], element: Callable[[Any], str | None]
) -> _Handler:
    """assignee_add/_rem, watcher_add/_rem, tag/tag_removed: one element added or removed, so the
    history row holds `{"add": [...]}` / `{"remove": [...]}` and old_value null (module docstring).

    Added elements are in `after`, removed ones in `before` (§7.4; the tag_removed and watcher shapes are
    UNCONFIRMED): the other side is read when that one is empty. A single object or a list is accepted."""
    primary_is_after = operation == "add"

    def handle(item: Mapping[str, Any], before: Any, after: Any) -> _Reading:
        sides = (after, before) if primary_is_after else (before, after)
        raw = next((side for side in sides if side not in (None, "", [], {})), None)
        entries = raw if isinstance(raw, list | tuple) else [] if raw is None else [raw]
        found = [element(entry) for entry in entries]
        elements = sorted({value for value in found if value is not None})
        problems = tuple(
            f"{field_name}: entry without a usable {'name' if column == 'tags' else 'id'}: "
            + short_repr(entry)
            for entry, value in zip(entries, found, strict=True)
            if value is None
        )
        if not elements:
            problem = f"{field_name}: nothing to {operation} in {short_repr(raw)}; kept as sent"
            return _Reading(field_name, json_safe(before), json_safe(after), (), (*problems, problem))
        patches = tuple(TaskPatch(column, operation, value) for value in elements)
        return _Reading(field_name, None, {operation: elements}, patches, problems)

    return handle


def _custom_field(item: Mapping[str, Any], before: Any, after: Any) -> _Reading:
    # before/after are raw values (§5.3 H column) and the item carries the definition (§7.4): a
    # drop_down sends the option id where a read has its orderindex; normalize resolves both.
    raw_definition = item.get("custom_field")
    try:
        if not isinstance(raw_definition, Mapping):
            raise ValueError(f"no custom_field definition object (got {short_repr(raw_definition)})")
        definition = FieldDefinition.from_clickup(raw_definition)
    except ValueError as error:
        problem = f"custom_field: {error}; the value cannot be applied"
        return _Reading("custom_field", json_safe(before), json_safe(after), problems=(problem,))
    old = normalize_custom_field_value(definition, before, origin="webhook")
    new = normalize_custom_field_value(definition, after, origin="webhook")
    label = f"custom field {definition.field_id} ({definition.type})"
    problems = [f"{label} before: {p}" for p in (old.problems if old else ())]
    problems += [f"{label} after: {p}" for p in (new.problems if new else ())]
    return _Reading(
        field_name=definition.name or definition.field_id,  # the name byte for byte, emoji and all
        old=old.value if old is not None else None,
        new=new.value if new is not None else None,
        problems=tuple(problems),
        field_id=definition.field_id,
        field_type=definition.type,
        value_patch=ValuePatch(definition, new),
    )


def _task_creation(item: Mapping[str, Any], before: Any, after: Any) -> _Reading:
    return _Reading("created", False, True)  # before/after are both null (§7.6 taskCreated)


_HANDLERS: dict[str, _Handler] = {
    "status": _status,
    "name": _set_field("name", "name", _text),
    "priority": _set_field("priority", "priority", _priority),
    "assignee_add": _array_change("assignees", "assignee_ids", "add", _user_element),
    "assignee_rem": _array_change("assignees", "assignee_ids", "remove", _user_element),
    "watcher_add": _array_change("watchers", "watcher_ids", "add", _user_element),
    "watcher_rem": _array_change("watchers", "watcher_ids", "remove", _user_element),
    "due_date": _set_field("due_date", "due_date", _date),
    "start_date": _set_field("start_date", "start_date", _date),
    "tag": _array_change("tags", "tags", "add", _tag_element),
    "tag_removed": _array_change("tags", "tags", "remove", _tag_element),
    "time_estimate": _set_field("time_estimate", "time_estimate_ms", _milliseconds),
    "points": _set_field("points", "points", _points),
    "archived": _set_field("archived", "archived", _archived),
    "section_moved": _section_moved,
    "custom_field": _custom_field,
    "task_creation": _task_creation,
}
