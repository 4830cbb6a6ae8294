"""Custom field values: validate a write, and render the read and webhook forms (reference §5.3).

Each type has one canonical stored form (what `Task.custom_values` holds):

    short_text text url email phone   str
    number currency                   str, as ClickUp reads it back ("8", "-28", "3.5")
    date                              int ms
    checkbox                          True (unchecked = no value at all)
    drop_down                         option id
    labels                            list of option ids
    users votes                       list of user ids
    tasks list_relationship           list of task ids
    emoji manual_progress             int
    automatic_progress                int percent
    location                          {"location": {"lat", "lng"}, "place_id", "formatted_address"}
    formula                           str | int | float (computed by ClickUp, never written)
    attachment                        list[Attachment]

`apply_field_write` returns the new canonical value or None when the write clears the field.
"""

from __future__ import annotations

import math
import re
from typing import Any

from clickup_sync.clickup.emulator.api_errors import ApiError
from clickup_sync.clickup.emulator.model import Attachment, FieldDefinition
from clickup_sync.clickup.emulator.state import WorkspaceState

# Reference §1.4 documents FIELD_011 for a bad drop_down value. The other messages come from
# public reports (n8n #5299 for "Value is not a valid string"); their ECODE is not documented, so
# the emulator uses FIELD_020 for all of them (UNCONFIRMED).
DROPDOWN_ECODE = "FIELD_011"
INVALID_VALUE_ECODE = "FIELD_020"

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+\d[\d \-()]{6,}$")
_READ_ONLY_TYPES = {"automatic_progress", "formula", "votes"}


def _invalid(message: str) -> ApiError:
    return ApiError(400, message, INVALID_VALUE_ECODE)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def format_number(value: float) -> str:
    """Numbers read back as strings: 8 -> "8", 3.5 -> "3.5"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _add_rem(raw: object, what: str) -> tuple[list[Any], list[Any]]:
    if not isinstance(raw, dict) or not set(raw) <= {"add", "rem"}:
        raise _invalid(f"Value must be an object with add and/or rem arrays of {what}")
    add, rem = raw.get("add", []), raw.get("rem", [])
    if not isinstance(add, list) or not isinstance(rem, list):
        raise _invalid(f"Value must be an object with add and/or rem arrays of {what}")
    return add, rem


def _merge(current: list[Any] | None, add: list[Any], rem: list[Any]) -> list[Any] | None:
    merged = [item for item in (current or []) if item not in rem]
    merged += [item for item in dict.fromkeys(add) if item not in merged]
    return merged or None


def apply_field_write(
    state: WorkspaceState, definition: FieldDefinition, raw: object, current: Any, author_id: int
) -> Any:
    """Validate `raw` (the body's `value`) for this field; return the new canonical value or None."""
    kind = definition.type
    if kind in _READ_ONLY_TYPES:
        raise _invalid(f"Custom field of type {kind} cannot be set")
    if raw is None:
        return None
    if kind in {"short_text", "text"}:
        if not isinstance(raw, str):
            raise _invalid("Value is not a valid string")
        return raw or None
    if kind == "url":
        if not isinstance(raw, str) or not re.match(r"^https?://\S+$", raw):
            raise _invalid("Value is not a valid url")
        return raw
    if kind == "email":
        if not isinstance(raw, str) or not _EMAIL.match(raw):
            raise _invalid("Value is not a valid email")
        return raw
    if kind == "phone":
        if not isinstance(raw, str) or not _PHONE.match(raw):
            raise _invalid("Value is not a valid phone number")
        return raw
    if kind in {"number", "currency"}:
        return _write_number(raw)
    if kind == "date":
        if _is_number(raw) and raw >= 0:  # type: ignore[operator]
            return int(raw)  # type: ignore[call-overload]
        if isinstance(raw, str) and raw.isdigit():
            return int(raw)
        raise _invalid("Value is not a valid date")
    if kind == "checkbox":
        if not isinstance(raw, bool):
            raise _invalid("Value is not a valid boolean")
        return True if raw else None
    if kind == "drop_down":
        return _write_drop_down(definition, raw)
    if kind == "labels":
        known = {option.id for option in definition.options}
        if not isinstance(raw, list) or not all(isinstance(item, str) and item in known for item in raw):
            raise _invalid("Value must be an array of label option uuids")
        return list(dict.fromkeys(raw)) or None
    if kind == "users":
        add, rem = _add_rem(raw, "user ids")
        if not all(isinstance(user_id, int) and user_id in state.users for user_id in add):
            raise _invalid("Value contains a user that is not a member of the Workspace")
        return _merge(current, add, rem)
    if kind in {"tasks", "list_relationship"}:
        return _write_task_relation(state, definition, raw, current)
    if kind == "emoji":
        count = int(definition.type_config.get("count", 5))
        if not isinstance(raw, int) or isinstance(raw, bool) or not 0 <= raw <= count:
            raise _invalid(f"Value must be an integer between 0 and {count}")
        return raw
    if kind == "manual_progress":
        return _write_manual_progress(definition, raw)
    if kind == "location":
        return _write_location(state, raw)
    if kind == "attachment":
        return _write_attachments(state, raw, current, author_id)
    raise _invalid(f"Custom field of type {kind} cannot be set")


def _write_number(raw: object) -> str:
    if _is_number(raw):
        return format_number(raw)  # type: ignore[arg-type]
    if isinstance(raw, str):
        try:
            parsed = float(raw)
        except ValueError:
            parsed = math.nan
        if math.isfinite(parsed):
            return format_number(int(parsed) if parsed.is_integer() else parsed)
    raise _invalid("Value is not a valid number")


def _write_drop_down(definition: FieldDefinition, raw: object) -> str:
    # Reference §5.3: written as the option uuid, or (per the FIELD_011 text) as the option index.
    option = None
    if isinstance(raw, str):
        option = definition.option_by_id(raw)
    elif isinstance(raw, int) and not isinstance(raw, bool):
        option = definition.option_by_orderindex(raw)
    if option is None:
        raise ApiError(400, "Value must be an option index or uuid", DROPDOWN_ECODE)
    return option.id


def _write_task_relation(
    state: WorkspaceState, definition: FieldDefinition, raw: object, current: Any
) -> list[str] | None:
    add, rem = _add_rem(raw, "task ids")
    related_list = definition.type_config.get("subcategory_id")
    for task_id in add:
        task = state.tasks.get(task_id) if isinstance(task_id, str) else None
        if task is None or task.deleted:
            raise _invalid("Value contains a task that does not exist")
        # A list relationship only links to tasks of the related list (reference §5.3).
        if definition.type == "list_relationship" and task.list_id != related_list:
            raise _invalid("Value contains a task that is not in the related List")
    return _merge(current, add, rem)


def _write_manual_progress(definition: FieldDefinition, raw: object) -> int:
    start = int(definition.type_config.get("start", 0))
    end = int(definition.type_config.get("end", 100))
    current = raw.get("current") if isinstance(raw, dict) else None
    if not _is_number(current) or not start <= current <= end:  # type: ignore[operator]
        raise _invalid(f"Value must be an object with current between {start} and {end}")
    return int(current)  # type: ignore[arg-type]


def _write_location(state: WorkspaceState, raw: object) -> dict[str, Any]:
    point = raw.get("location") if isinstance(raw, dict) else None
    address = raw.get("formatted_address") if isinstance(raw, dict) else None
    if (
        not isinstance(point, dict)
        or not _is_number(point.get("lat"))
        or not _is_number(point.get("lng"))
        or not isinstance(address, str)
    ):
        raise _invalid("Value must be an object with location {lat, lng} and formatted_address")
    return {
        "location": {"lat": point["lat"], "lng": point["lng"]},
        "place_id": "ChIJ" + state.ids.uuid().replace("-", "")[:23],
        "formatted_address": address,
    }


def _write_attachments(
    state: WorkspaceState, raw: object, current: Any, author_id: int
) -> list[Attachment] | None:
    add, rem = _add_rem(raw, "attachment ids")
    if not all(isinstance(item, str) for item in add):
        raise _invalid("Value must be an object with add and/or rem arrays of attachment ids")
    kept = [attachment for attachment in (current or []) if attachment.id not in rem]
    known = {attachment.id for attachment in kept}
    now = state.clock.now_ms()
    for attachment_id in add:
        if attachment_id not in known:
            # Uploads are out of scope: an added id becomes a small text file named after it.
            extension = attachment_id.rsplit(".", 1)[-1] if "." in attachment_id else "txt"
            kept.append(
                Attachment(attachment_id, attachment_id, extension, "text/plain", 1024, now, author_id)
            )
    return kept or None
