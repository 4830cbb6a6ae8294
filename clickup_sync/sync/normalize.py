"""Normalize ClickUp custom field values into the columns of `task_custom_field_values`.

One function, `normalize_custom_field_value`, serves task reads and webhook `before`/`after` values,
so a value reached through different encodings (a drop-down's orderindex on read, its option id on a
webhook) lands in the same columns. It is pure and never raises on bad input: what cannot be
normalized is kept in `raw_value` (and `value`) and described in `problems`.

Choices the product relies on:
- "No value" means no row: `None`, a missing `value` key, `""`, an empty list, an unticked checkbox.
  An empty string counts as no value for every type (text included): ClickUp shows `""` and an unset
  field identically, and keeping `""` rows would make the diff report a change nobody can see.
- `value` (jsonb) only holds JSON types: numbers are an `int` when integral, else a `float` (the exact
  number is in `value_number`); dates are ISO 8601 UTC strings; ids are strings.
- A value that cannot be normalized (unknown type, unexpected shape) keeps every typed column NULL
  and carries a JSON-safe copy of the raw value in `value`, so the diff still sees it change.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from clickup_sync.sync.coercions import (
    clickup_id,
    decimal_from_clickup,
    json_number,
    short_repr,
    text_or_empty,
)
from clickup_sync.sync.value_handlers import HANDLERS, Unnormalizable

__all__ = [
    "REFERENCE_FIELD_TYPES",
    "RELATIONSHIP_FIELD_TYPES",
    "FieldDefinition",
    "FieldOrigin",
    "NormalizedValue",
    "TaskCustomFields",
    "clickup_id",
    "custom_field_values_from_task",
    "decimal_from_clickup",
    "json_number",
    "normalize_custom_field_value",
    "read_task_custom_fields",
    "short_repr",
]

FieldOrigin = Literal["read", "webhook"]

# Custom field types whose values point at other tasks; task_state turns them into relationships.
RELATIONSHIP_FIELD_TYPES = frozenset({"tasks", "list_relationship"})
# Types whose value is a list of ids of other things (users, tasks, attachments, voters).
REFERENCE_FIELD_TYPES = frozenset({"users", "tasks", "list_relationship", "attachment", "votes"})

_DEFINITION_CACHE_SIZE = 4096


@dataclass(frozen=True)
class FieldDefinition:
    """A custom field definition: from a task's `custom_fields[]` entry, a `/list/{id}/field` entry,
    or a webhook history item's `custom_field` object (reference §5.1, §7.4)."""

    field_id: str
    name: str
    type: str
    type_config: Mapping[str, Any] = dataclasses.field(hash=False)

    @classmethod
    def from_clickup(cls, obj: Mapping[str, Any]) -> FieldDefinition:
        """Read a definition; raises ValueError only when it has no usable `id` (nothing to key it by)."""
        field_id = clickup_id(obj.get("id")) if isinstance(obj, Mapping) else None
        if field_id is None:
            raise ValueError(f"custom field definition has no usable 'id': {short_repr(obj)}")
        type_config = obj.get("type_config")
        return cls(
            field_id=field_id,
            name=text_or_empty(obj.get("name")),
            type=text_or_empty(obj.get("type")),
            type_config=type_config if isinstance(type_config, Mapping) else {},
        )


@dataclass(frozen=True)
class NormalizedValue:
    """One row of `task_custom_field_values` (without task_id, updated_at, source)."""

    field_id: str
    field_type: str
    raw_value: Any = dataclasses.field(hash=False)  # exactly as received
    value: Any = dataclasses.field(hash=False)  # normalized, JSON-serialisable
    value_text: str | None = None
    value_number: Decimal | None = None
    value_date: datetime | None = None
    value_bool: bool | None = None
    value_ids: tuple[str, ...] | None = None
    value_labels: tuple[str, ...] | None = None  # aligned with value_ids; "" where an item has no label
    problems: tuple[str, ...] = ()  # what could not be normalized, for logs and counters

    def same_value(self, other: NormalizedValue) -> bool:
        """True when both normalize to the same thing, however ClickUp encoded them (raw_value and
        problems are ignored): the diff engine's test for "did this field change"."""
        return self._normalized_parts() == other._normalized_parts()

    def _normalized_parts(self) -> tuple[Any, ...]:
        if self.field_type in REFERENCE_FIELD_TYPES:
            # These hold references; the names beside them are descriptions that ClickUp sends on reads
            # but not in webhooks (bare ids), and that change when the referenced user or task is
            # renamed. The value is the set of ids, in order.
            return (self.field_id, self.field_type, self.value_ids)
        return (
            self.field_id,
            self.field_type,
            self.value,
            self.value_text,
            self.value_number,
            self.value_date,
            self.value_bool,
            self.value_ids,
            self.value_labels,
        )


class TaskCustomFields(NamedTuple):
    definitions: list[FieldDefinition]
    values: list[NormalizedValue]
    problems: list[str]  # entries that could not be read at all (not an object, no id, duplicate id)


def normalize_custom_field_value(
    field: FieldDefinition, raw_value: Any, *, origin: FieldOrigin
) -> NormalizedValue | None:
    """Normalize one value of `field`. None means the field has no value (no row). Never raises."""
    if raw_value is None or raw_value == "" or (isinstance(raw_value, list | tuple) and not raw_value):
        return None
    handler = HANDLERS.get(field.type)
    try:
        if handler is None:
            raise Unnormalizable(f"field type {field.type!r} is not normalized; raw value kept")
        columns = handler(field, raw_value, origin)
    except Unnormalizable as error:
        return _unnormalized(field, raw_value, str(error))
    except Exception as error:  # a safety net: one odd value must never stop a sync; it is reported
        return _unnormalized(field, raw_value, f"normalizing failed: {type(error).__name__}: {error}")
    return None if columns is None else NormalizedValue(field.field_id, field.type, raw_value, *columns)


def read_task_custom_fields(task_json: Mapping[str, Any]) -> TaskCustomFields:
    """The definitions on a task, one value per field that has one, and what could not be read."""
    entries = task_json.get("custom_fields") if isinstance(task_json, Mapping) else None
    definitions: list[FieldDefinition] = []
    values: list[NormalizedValue] = []
    problems: list[str] = []
    if entries is None:
        return TaskCustomFields(definitions, values, problems)
    if not isinstance(entries, list):
        return TaskCustomFields(definitions, values, [f"custom_fields is not a list: {short_repr(entries)}"])
    seen: set[str] = set()
    for entry in entries:
        # `type(entry) is dict` first: parsed JSON is always a dict, and the ABC check is slow.
        if type(entry) is not dict and not isinstance(entry, Mapping):
            problems.append(f"custom_fields entry is not an object: {short_repr(entry)}")
            continue
        try:
            definition = _definition_of(entry)
        except ValueError as error:
            problems.append(str(error))
            continue
        if definition.field_id in seen:
            problems.append(f"custom field {definition.field_id} appears twice; the first entry is kept")
            continue
        seen.add(definition.field_id)
        definitions.append(definition)
        # An unset field has no "value" key at all (reference §3.2); `"value": null` is also no value.
        if "value" in entry:
            normalized = normalize_custom_field_value(definition, entry["value"], origin="read")
            if normalized is not None:
                values.append(normalized)
    return TaskCustomFields(definitions, values, problems)


def custom_field_values_from_task(
    task_json: Mapping[str, Any],
) -> tuple[list[FieldDefinition], list[NormalizedValue]]:
    """The definitions seen on the task, and one NormalizedValue per field that has a value."""
    read = read_task_custom_fields(task_json)
    return read.definitions, read.values


# --- definitions repeated on every task -------------------------------------------------------------


class _KnownDefinition(NamedTuple):
    name: str  # `name`, `type` and `type_config` exactly as received, to recognise the next copy
    type: str
    type_config: dict[str, Any] | None
    definition: FieldDefinition


# raw field id → the definition last read for it
_known_definitions: dict[str, _KnownDefinition] = {}


def _definition_of(entry: Mapping[str, Any]) -> FieldDefinition:
    """`FieldDefinition.from_clickup(entry)`, reusing the definition read from an earlier task.

    Every task repeats the definitions of its ~20 fields, so a backfill reads the same definition
    thousands of times; building each one anew was a tenth of its time. A known definition is reused
    only when the entry's id, name, type and type_config are equal to what it was read from (compared
    as parsed JSON, in C: cheaper than building it, though it takes 1, 1.0 and true inside type_config
    as equal); anything else is read afresh and replaces it. Only the common shapes (text name and
    type, an object or null type_config) are cached, so that Python's `1 == True` can never make two
    differently shown names or types look alike."""
    field_id, name, kind = entry.get("id"), entry.get("name"), entry.get("type")
    type_config = entry.get("type_config")
    if (
        type(field_id) is not str
        or type(name) is not str
        or type(kind) is not str
        or not (type_config is None or type(type_config) is dict)
    ):
        return FieldDefinition.from_clickup(entry)
    known = _known_definitions.get(field_id)
    if known is not None and known.name == name and known.type == kind and known.type_config == type_config:
        return known.definition
    definition = FieldDefinition.from_clickup(entry)
    # A private copy: the definition outlives this task's JSON, which its caller may change later.
    private_config = copy.deepcopy(type_config)
    definition = dataclasses.replace(definition, type_config=private_config or {})
    if len(_known_definitions) >= _DEFINITION_CACHE_SIZE:
        _known_definitions.clear()
    _known_definitions[definition.field_id] = _KnownDefinition(name, kind, private_config, definition)
    return definition


# --- values that cannot be normalized ---------------------------------------------------------------


def _unnormalized(field: FieldDefinition, raw: Any, problem: str) -> NormalizedValue:
    return NormalizedValue(field.field_id, field.type, raw, _json_safe(raw), problems=(problem,))


def _json_safe(value: Any) -> Any:
    """A copy of `value` that json.dumps accepts and PostgreSQL jsonb stores (no NaN, no Decimal)."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, Decimal):
        number, _ = decimal_from_clickup(value)
        return str(value) if number is None else json_number(number)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return repr(value)
