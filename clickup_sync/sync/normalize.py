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
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from clickup_sync.clickup.timestamps import parse_ms_timestamp

FieldOrigin = Literal["read", "webhook"]

# Custom field types whose values point at other tasks; task_state turns them into relationships.
RELATIONSHIP_FIELD_TYPES = frozenset({"tasks", "list_relationship"})
# Types whose value is a list of ids of other things (users, tasks, attachments, voters).
REFERENCE_FIELD_TYPES = frozenset({"users", "tasks", "list_relationship", "attachment", "votes"})

_NUMERIC_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
# Beyond this a number cannot be a float in `value` nor fit PostgreSQL numeric comfortably.
_MAX_DECIMAL_EXPONENT = 300
_OPTION_INDEX_CACHE_SIZE = 2048
_MAX_ID = 10**30  # ids sent as numbers are user ids (int) or list ids; anything larger is garbage


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
            name=_text_or_empty(obj.get("name")),
            type=_text_or_empty(obj.get("type")),
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
    handler = _HANDLERS.get(field.type)
    try:
        if handler is None:
            raise _Unnormalizable(f"field type {field.type!r} is not normalized; raw value kept")
        columns = handler(field, raw_value, origin)
    except _Unnormalizable as error:
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
        if not isinstance(entry, Mapping):
            problems.append(f"custom_fields entry is not an object: {short_repr(entry)}")
            continue
        try:
            definition = FieldDefinition.from_clickup(entry)
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


# --- coercions shared with task_state -------------------------------------------------------------


def clickup_id(value: Any) -> str | None:
    """An id as text: ClickUp sends ids as strings in some places and integers in others (§2)."""
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, int | float) and not isinstance(value, bool) and -_MAX_ID < value < _MAX_ID:
        return str(int(value)) if value == int(value) else None
    return None


def decimal_from_clickup(value: Any) -> tuple[Decimal | None, str | None]:
    """A number sent as a JSON number or a numeric string ("8", "-28.5" — §9 item 5).

    Returns (number, None), (None, None) for no value (None or ""), or (None, problem).
    """
    if value is None or value == "":
        return None, None
    number: Decimal
    if isinstance(value, bool):
        return None, f"expected a number, got {value!r}"
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            return None, f"expected a finite number, got {value!r}"
        number = Decimal(repr(value))  # repr keeps the shortest decimal form, not the binary expansion
    elif isinstance(value, str):
        text = value.strip()
        if not _NUMERIC_TEXT.fullmatch(text):
            return None, f"expected a number, got {short_repr(value)}"
        number = Decimal(text)
    elif isinstance(value, Decimal) and value.is_finite():
        number = value
    else:
        return None, f"expected a number, got {short_repr(value)}"
    if number and abs(number.adjusted()) > _MAX_DECIMAL_EXPONENT:
        return None, f"number out of range: {short_repr(value)}"
    return number, None


def json_number(number: Decimal) -> int | float:
    """The JSON form of a number for `value`: an int when integral, else the nearest float."""
    return int(number) if number == number.to_integral_value() else float(number)


def short_repr(value: Any) -> str:
    """A value as it may appear in a problem message: repr, cut to 80 characters, never raising."""
    try:
        shown = repr(value)
    except ValueError:  # an int too long to print (Python refuses over 4300 digits)
        return f"<{type(value).__name__} too large to show>"
    return shown if len(shown) <= 80 else shown[:77] + "..."


# --- per-type handlers (reference §5.3) -------------------------------------------------------------


class _Columns(NamedTuple):
    """What a type handler extracts; normalize_custom_field_value adds the field and the raw value."""

    value: Any
    text: str | None = None
    number: Decimal | None = None
    date: datetime | None = None
    boolean: bool | None = None
    ids: tuple[str, ...] | None = None
    labels: tuple[str, ...] | None = None
    problems: tuple[str, ...] = ()


class _Unnormalizable(Exception):
    """A handler gives up: the raw value is kept as it is, with this problem."""


_Handler = Callable[[FieldDefinition, Any, FieldOrigin], _Columns | None]


def _text(field: FieldDefinition, raw: Any, origin: FieldOrigin) -> _Columns:
    if isinstance(raw, str):
        return _Columns(raw, text=raw)
    number, _ = decimal_from_clickup(raw)
    if number is not None:  # a JSON number (strings were taken above)
        # Text fields reject numbers on write (§9 item 6), but older data may hold one: keep it as text.
        text = str(raw)
        return _Columns(text, text=text, problems=(f"expected text, got the number {text}",))
    raise _Unnormalizable(f"expected text, got {short_repr(raw)}")


def _number(field: FieldDefinition, raw: Any, origin: FieldOrigin) -> _Columns:
    # number, currency and emoji (rating) values arrive as strings or numbers (§5.3, §9 item 5).
    number, problem = decimal_from_clickup(raw)
    if number is None:
        raise _Unnormalizable(problem or "expected a number")
    return _Columns(json_number(number), number=number)


def _formula(field: FieldDefinition, raw: Any, origin: FieldOrigin) -> _Columns:
    # A formula returns text ("N/A" in §5.5) or a number; a numeric result also fills value_number.
    if isinstance(raw, str):
        return _Columns(raw, text=raw, number=decimal_from_clickup(raw)[0])
    number, problem = decimal_from_clickup(raw)
    if number is None:
        raise _Unnormalizable(f"formula result: {problem}")
    value = json_number(number)
    return _Columns(value, text=str(value), number=number)


def _date(field: FieldDefinition, raw: Any, origin: FieldOrigin) -> _Columns:
    when, problem = parse_ms_timestamp(raw)  # a ms string on read and webhook, an int on write (§5.3)
    if when is None:
        raise _Unnormalizable(problem or "expected a millisecond timestamp")
    return _Columns(when.isoformat(), date=when)


def _checkbox(field: FieldDefinition, raw: Any, origin: FieldOrigin) -> _Columns | None:
    # Read "true"/true when ticked; webhooks send "true", and null when unticked (§5.3): unticked = no row.
    word = raw.strip().lower() if isinstance(raw, str) else raw
    if word is True or word == "true":
        return _Columns(True, boolean=True)
    if word is False or word == "false":
        return None
    raise _Unnormalizable(f"expected a checkbox value, got {short_repr(raw)}")


def _progress(percent_key: str, *, also: str | None = None) -> _Handler:
    """automatic_progress: {"percent_complete": 0} (§5.5); manual_progress: {"percent_completed": n,
    "current": "20"} (§5.3; the scale of percent_completed is unconfirmed, so it is stored as sent)."""

    def handle(field: FieldDefinition, raw: Any, origin: FieldOrigin) -> _Columns:
        if not isinstance(raw, Mapping):
            number, _ = decimal_from_clickup(raw)
            if number is None:
                raise _Unnormalizable(f"expected a progress object, got {short_repr(raw)}")
            bare = f"expected a progress object, got the bare number {short_repr(raw)}"
            return _Columns({percent_key: json_number(number)}, number=number, problems=(bare,))
        percent, problem = decimal_from_clickup(raw.get(percent_key))
        problems = [] if percent is not None else [problem or f"progress value has no {percent_key}"]
        value = {percent_key: None if percent is None else json_number(percent)}
        if also is not None:
            extra, extra_problem = decimal_from_clickup(raw.get(also))
            value[also] = None if extra is None else json_number(extra)
            if extra_problem:
                problems.append(f"{also}: {extra_problem}")
        if all(item is None for item in value.values()):
            raise _Unnormalizable(f"progress value has no {percent_key}: {short_repr(raw)}")
        return _Columns(value, number=percent, problems=tuple(problems))

    return handle


def _location(field: FieldDefinition, raw: Any, origin: FieldOrigin) -> _Columns | None:
    # {"location": {"lat", "lng"}, "place_id", "formatted_address"} (§5.3, from go-clickup's parser).
    if not isinstance(raw, Mapping):
        raise _Unnormalizable(f"expected a location object, got {short_repr(raw)}")
    if not raw:
        return None
    point = raw.get("location")
    point = point if isinstance(point, Mapping) else raw  # tolerate lat/lng at the top level
    value: dict[str, Any] = {}
    problems: list[str] = []
    for key in ("lat", "lng"):
        number, problem = decimal_from_clickup(point.get(key))
        value[key] = None if number is None else float(number)
        if problem:
            problems.append(f"{key}: {problem}")
    for key in ("formatted_address", "place_id"):
        text = raw.get(key)
        value[key] = text if isinstance(text, str) and text else None
    if all(item is None for item in value.values()):
        raise _Unnormalizable(f"location value has no coordinates or address: {short_repr(raw)}")
    return _Columns(value, text=value["formatted_address"], problems=tuple(problems))


def _drop_down(field: FieldDefinition, raw: Any, origin: FieldOrigin) -> _Columns:
    # Reads return the option orderindex (an int, sometimes a numeric string); webhooks send the option
    # id (uuid). Both resolve through type_config.options to the same option (§5.3 drop_down row).
    option, problem = _option_index(field).resolve(raw, origin)
    if option is None:
        option = _unknown_option(raw)
        if option.id is None and option.orderindex is None:
            raise _Unnormalizable(problem)
    ids, labels = _ids_and_labels([] if option.id is None else [(option.id, option.label)])
    value = {"id": option.id, "name": option.label, "orderindex": option.orderindex}
    return _Columns(value, ids=ids, labels=labels, problems=(problem,) if problem else ())


def _labels(field: FieldDefinition, raw: Any, origin: FieldOrigin) -> _Columns:
    # Every selected option, in order: the original service kept only the first one (the bug fixed here).
    if not isinstance(raw, list | tuple):
        raise _Unnormalizable(f"expected a list of label option ids, got {short_repr(raw)}")
    index = _option_index(field)
    value: list[dict[str, Any]] = []
    problems: list[str] = []
    for item in raw:
        option, problem = index.resolve(item, origin)
        if option is None:
            problems.append(problem)
            option = _unknown_option(item)
        value.append({"id": option.id, "label": option.label, "orderindex": option.orderindex})
    ids, labels = _ids_and_labels([(entry["id"], entry["label"]) for entry in value if entry["id"]])
    return _Columns(value, ids=ids, labels=labels, problems=tuple(problems))


def _references(label_key: str | None, label_sources: tuple[str, ...] = ()) -> _Handler:
    """Lists of referenced objects (users, tasks, list_relationship, attachment, votes): their ids, and
    their labels when present. Bare ids are accepted too (webhook shapes are unconfirmed, §5.3)."""

    def handle(field: FieldDefinition, raw: Any, origin: FieldOrigin) -> _Columns:
        if not isinstance(raw, list | tuple):
            raise _Unnormalizable(f"expected a list, got {short_repr(raw)}")
        problems: list[str] = []
        pairs: list[tuple[str, str | None]] = []
        for item in raw:
            item_id = clickup_id(item.get("id") if isinstance(item, Mapping) else item)
            if item_id is None:
                problems.append(f"list item without a usable id: {short_repr(item)}")
                continue
            label = None
            if isinstance(item, Mapping):
                label = next((item[key] for key in label_sources if isinstance(item.get(key), str)), None)
            pairs.append((item_id, label))
        ids, labels = _ids_and_labels(pairs)
        if label_key is None:  # votes: the voters' ids, and how many voted
            return _Columns(list(ids or ()), number=Decimal(len(pairs)), ids=ids, problems=tuple(problems))
        value = [{"id": item_id, label_key: label} for item_id, label in pairs]
        return _Columns(value, ids=ids, labels=labels, problems=tuple(problems))

    return handle


_HANDLERS: dict[str, _Handler] = {
    "short_text": _text,
    "text": _text,
    "url": _text,
    "email": _text,
    "phone": _text,
    "number": _number,
    "currency": _number,
    "emoji": _number,
    "formula": _formula,
    "date": _date,
    "checkbox": _checkbox,
    "automatic_progress": _progress("percent_complete"),
    "manual_progress": _progress("percent_completed", also="current"),
    "location": _location,
    "drop_down": _drop_down,
    "labels": _labels,
    "users": _references("username", ("username", "name", "email")),
    "tasks": _references("name", ("name",)),
    "list_relationship": _references("name", ("name",)),
    "attachment": _references("title", ("title", "name")),
    "votes": _references(None),
}


# --- drop_down / labels options ---------------------------------------------------------------------


class _Option(NamedTuple):
    id: str | None
    label: str | None  # drop_down options call it "name", labels options "label" (§5.3)
    orderindex: int | str | None  # an int in reads, a string ("0") in some type_config examples


class _OptionIndex:
    def __init__(self, options: Any, label_keys: tuple[str, ...]) -> None:
        self.by_id: dict[str, _Option] = {}
        self.by_orderindex: dict[int, _Option] = {}
        for entry in options if isinstance(options, list) else ():
            if not isinstance(entry, Mapping):
                continue
            label = next((entry[key] for key in label_keys if isinstance(entry.get(key), str)), None)
            raw_orderindex = entry.get("orderindex")
            orderindex = _integer_or_none(raw_orderindex)
            kept_orderindex = (
                raw_orderindex if orderindex is None and isinstance(raw_orderindex, str) else orderindex
            )
            option = _Option(clickup_id(entry.get("id")), label, kept_orderindex)
            if option.id is not None:
                self.by_id.setdefault(option.id, option)
            if orderindex is not None:
                self.by_orderindex.setdefault(orderindex, option)

    def resolve(self, raw: Any, origin: FieldOrigin) -> tuple[_Option | None, str]:
        """The option `raw` designates: an option id (string), an orderindex (int or numeric string),
        or an option object. Ids are tried first: a uuid never looks like an integer."""
        if isinstance(raw, Mapping):
            raw = raw.get("id", raw.get("orderindex"))
        if isinstance(raw, str) and raw in self.by_id:
            return self.by_id[raw], ""
        orderindex = _integer_or_none(raw)
        if orderindex is not None:
            option = self.by_orderindex.get(orderindex)
            return option, "" if option else f"unknown option orderindex {orderindex} ({origin})"
        if isinstance(raw, str):
            return None, f"unknown option id {raw!r} ({origin})"
        return None, f"expected an option id or orderindex, got {short_repr(raw)}"


# field id and type → (the options the index was built from, the index)
_option_index_cache: dict[tuple[str, str], tuple[Any, _OptionIndex]] = {}


def _option_index(field: FieldDefinition) -> _OptionIndex:
    # Every task in a backfill carries its own copy of the same definitions: build each lookup once,
    # and rebuild it when the options change (comparing lists is far cheaper than hashing them).
    options = field.type_config.get("options")
    key = (field.field_id, field.type)
    cached = _option_index_cache.get(key)
    if cached is not None and cached[0] == options:
        return cached[1]
    if len(_option_index_cache) >= _OPTION_INDEX_CACHE_SIZE:
        _option_index_cache.clear()
    label_keys = ("label", "name") if field.type == "labels" else ("name", "label")
    index = _OptionIndex(options, label_keys)
    # A private copy: a caller mutating its payload later must not change what the index was built from.
    _option_index_cache[key] = (copy.deepcopy(options), index)
    return index


def _unknown_option(raw: Any) -> _Option:
    """What is known of an option missing from type_config: its id (a uuid) or its orderindex."""
    unknown_id = raw if isinstance(raw, str) and not _is_integer_text(raw) else None
    return _Option(unknown_id, None, _integer_or_none(raw))


# --- small helpers ----------------------------------------------------------------------------------


def _ids_and_labels(
    pairs: Sequence[tuple[str, str | None]],
) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """value_ids in order, and value_labels aligned with them ("" where an item has no label), or None
    for the labels when no item has one."""
    if not pairs:
        return None, None
    ids = tuple(item_id for item_id, _ in pairs)
    if all(label is None for _, label in pairs):
        return ids, None
    return ids, tuple(label or "" for _, label in pairs)


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


def _integer_or_none(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value if -_MAX_ID < value < _MAX_ID else None
    if isinstance(value, str) and _is_integer_text(value):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _is_integer_text(text: str) -> bool:
    stripped = text.strip().removeprefix("-")
    return stripped.isascii() and stripped.isdigit() and len(stripped) <= 18


def _text_or_empty(value: Any) -> str:
    if isinstance(value, str):
        return value
    return "" if value is None else short_repr(value)
