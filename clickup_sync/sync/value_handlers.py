"""One handler per custom field type (reference §5.3): a raw value → the typed columns it fills.

`normalize.normalize_custom_field_value` picks the handler and wraps the result; a handler raises
`Unnormalizable` to keep the raw value as it is, with a problem.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from clickup_sync.clickup.timestamps import parse_ms_timestamp
from clickup_sync.sync.coercions import clickup_id, decimal_from_clickup, json_number, short_repr
from clickup_sync.sync.field_options import option_index, unknown_option

if TYPE_CHECKING:
    from clickup_sync.sync.normalize import FieldDefinition, FieldOrigin


class Columns(NamedTuple):
    """What a type handler extracts; normalize_custom_field_value adds the field and the raw value."""

    value: Any
    text: str | None = None
    number: Decimal | None = None
    date: datetime | None = None
    boolean: bool | None = None
    ids: tuple[str, ...] | None = None
    labels: tuple[str, ...] | None = None
    problems: tuple[str, ...] = ()


class Unnormalizable(Exception):
    """A handler gives up: the raw value is kept as it is, with this problem."""


Handler = Callable[["FieldDefinition", Any, "FieldOrigin"], Columns | None]


def _text(field: FieldDefinition, raw: Any, origin: FieldOrigin) -> Columns:
    if isinstance(raw, str):
        return Columns(raw, text=raw)
    number, _ = decimal_from_clickup(raw)
    if number is not None:  # a JSON number (strings were taken above)
        # Text fields reject numbers on write (§9 item 6), but older data may hold one: keep it as text.
        text = str(raw)
        return Columns(text, text=text, problems=(f"expected text, got the number {text}",))
    raise Unnormalizable(f"expected text, got {short_repr(raw)}")


def _number(field: FieldDefinition, raw: Any, origin: FieldOrigin) -> Columns:
    # number, currency and emoji (rating) values arrive as strings or numbers (§5.3, §9 item 5).
    number, problem = decimal_from_clickup(raw)
    if number is None:
        raise Unnormalizable(problem or "expected a number")
    return Columns(json_number(number), number=number)


def _formula(field: FieldDefinition, raw: Any, origin: FieldOrigin) -> Columns:
    # A formula returns text ("N/A" in §5.5) or a number; a numeric result also fills value_number.
    if isinstance(raw, str):
        return Columns(raw, text=raw, number=decimal_from_clickup(raw)[0])
    number, problem = decimal_from_clickup(raw)
    if number is None:
        raise Unnormalizable(f"formula result: {problem}")
    value = json_number(number)
    return Columns(value, text=str(value), number=number)


def _date(field: FieldDefinition, raw: Any, origin: FieldOrigin) -> Columns:
    when, problem = parse_ms_timestamp(raw)  # a ms string on read and webhook, an int on write (§5.3)
    if when is None:
        raise Unnormalizable(problem or "expected a millisecond timestamp")
    return Columns(when.isoformat(), date=when)


def _checkbox(field: FieldDefinition, raw: Any, origin: FieldOrigin) -> Columns | None:
    # Read "true"/true when ticked; webhooks send "true", and null when unticked (§5.3): unticked = no row.
    word = raw.strip().lower() if isinstance(raw, str) else raw
    if word is True or word == "true":
        return Columns(True, boolean=True)
    if word is False or word == "false":
        return None
    raise Unnormalizable(f"expected a checkbox value, got {short_repr(raw)}")


def _progress(percent_key: str, *, also: str | None = None) -> Handler:
    """automatic_progress: {"percent_complete": 0} (§5.5); manual_progress: {"percent_completed": n,
    "current": "20"} (§5.3; the scale of percent_completed is unconfirmed, so it is stored as sent)."""

    def handle(field: FieldDefinition, raw: Any, origin: FieldOrigin) -> Columns:
        if not isinstance(raw, Mapping):
            number, _ = decimal_from_clickup(raw)
            if number is None:
                raise Unnormalizable(f"expected a progress object, got {short_repr(raw)}")
            bare = f"expected a progress object, got the bare number {short_repr(raw)}"
            return Columns({percent_key: json_number(number)}, number=number, problems=(bare,))
        percent, problem = decimal_from_clickup(raw.get(percent_key))
        problems = [] if percent is not None else [problem or f"progress value has no {percent_key}"]
        value = {percent_key: None if percent is None else json_number(percent)}
        if also is not None:
            extra, extra_problem = decimal_from_clickup(raw.get(also))
            value[also] = None if extra is None else json_number(extra)
            if extra_problem:
                problems.append(f"{also}: {extra_problem}")
        if all(item is None for item in value.values()):
            raise Unnormalizable(f"progress value has no {percent_key}: {short_repr(raw)}")
        return Columns(value, number=percent, problems=tuple(problems))

    return handle


def _location(field: FieldDefinition, raw: Any, origin: FieldOrigin) -> Columns | None:
    # {"location": {"lat", "lng"}, "place_id", "formatted_address"} (§5.3, from go-clickup's parser).
    if not isinstance(raw, Mapping):
        raise Unnormalizable(f"expected a location object, got {short_repr(raw)}")
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
        raise Unnormalizable(f"location value has no coordinates or address: {short_repr(raw)}")
    return Columns(value, text=value["formatted_address"], problems=tuple(problems))


def _drop_down(field: FieldDefinition, raw: Any, origin: FieldOrigin) -> Columns:
    # Reads return the option orderindex (an int, sometimes a numeric string); webhooks send the option
    # id (uuid). Both resolve through type_config.options to the same option (§5.3 drop_down row).
    option, problem = option_index(field).resolve(raw, origin)
    if option is None:
        option = unknown_option(raw)
        if option.id is None and option.orderindex is None:
            raise Unnormalizable(problem)
    ids, labels = _ids_and_labels([] if option.id is None else [(option.id, option.label)])
    value = {"id": option.id, "name": option.label, "orderindex": option.orderindex}
    return Columns(value, ids=ids, labels=labels, problems=(problem,) if problem else ())


def _labels(field: FieldDefinition, raw: Any, origin: FieldOrigin) -> Columns:
    # Every selected option, in order: the original service kept only the first one (the bug fixed here).
    if not isinstance(raw, list | tuple):
        raise Unnormalizable(f"expected a list of label option ids, got {short_repr(raw)}")
    index = option_index(field)
    value: list[dict[str, Any]] = []
    problems: list[str] = []
    for item in raw:
        option, problem = index.resolve(item, origin)
        if option is None:
            problems.append(problem)
            option = unknown_option(item)
        value.append({"id": option.id, "label": option.label, "orderindex": option.orderindex})
    ids, labels = _ids_and_labels([(entry["id"], entry["label"]) for entry in value if entry["id"]])
    return Columns(value, ids=ids, labels=labels, problems=tuple(problems))


def _references(label_key: str | None, label_sources: tuple[str, ...] = ()) -> Handler:
    """Lists of referenced objects (users, tasks, list_relationship, attachment, votes): their ids, and
    their labels when present. Bare ids are accepted too (webhook shapes are unconfirmed, §5.3)."""

    def handle(field: FieldDefinition, raw: Any, origin: FieldOrigin) -> Columns:
        if not isinstance(raw, list | tuple):
            raise Unnormalizable(f"expected a list, got {short_repr(raw)}")
        problems: list[str] = []
        pairs: list[tuple[str, str | None]] = []
        for item in raw:
            # `type(item) is dict` first: parsed JSON is always a dict, and the ABC check is slow.
            is_object = type(item) is dict or isinstance(item, Mapping)
            item_id = clickup_id(item.get("id") if is_object else item)
            if item_id is None:
                problems.append(f"list item without a usable id: {short_repr(item)}")
                continue
            label = None
            if is_object:
                label = next((item[key] for key in label_sources if isinstance(item.get(key), str)), None)
            pairs.append((item_id, label))
        ids, labels = _ids_and_labels(pairs)
        if label_key is None:  # votes: the voters' ids, and how many voted
            return Columns(list(ids or ()), number=Decimal(len(pairs)), ids=ids, problems=tuple(problems))
        value = [{"id": item_id, label_key: label} for item_id, label in pairs]
        return Columns(value, ids=ids, labels=labels, problems=tuple(problems))

    return handle


HANDLERS: dict[str, Handler] = {
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
