"""A webhook POST body (reference §7.2, §7.6): which event, which webhook, which task, its history
items, and the keys that deduplicate them. Pure: `parse_delivery` raises `MalformedDelivery` for a
body that is not a delivery; what each history item means is `history_items.item_effect`'s job.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import orjson

from clickup_sync.sync.normalize import clickup_id, decimal_from_clickup, json_number, short_repr


class TaskEvent(StrEnum):
    """The task events of reference §7.3 (the official list)."""

    CREATED = "taskCreated"
    UPDATED = "taskUpdated"
    DELETED = "taskDeleted"
    PRIORITY_UPDATED = "taskPriorityUpdated"
    STATUS_UPDATED = "taskStatusUpdated"
    ASSIGNEE_UPDATED = "taskAssigneeUpdated"
    DUE_DATE_UPDATED = "taskDueDateUpdated"
    TAG_UPDATED = "taskTagUpdated"
    MOVED = "taskMoved"
    COMMENT_POSTED = "taskCommentPosted"
    COMMENT_UPDATED = "taskCommentUpdated"
    TIME_ESTIMATE_UPDATED = "taskTimeEstimateUpdated"
    TIME_TRACKED_UPDATED = "taskTimeTrackedUpdated"


TASK_EVENTS: frozenset[str] = frozenset(TaskEvent)

# The id a delivery is about, in this order (§7.2: "the resource id"; a key result names its goal too).
_RESOURCE_KEYS = ("task_id", "list_id", "folder_id", "space_id", "key_result_id", "goal_id")


def is_task_event(event: str) -> bool:
    """True for the task events of §7.3, and for any later `task…` event ClickUp adds."""
    return event in TASK_EVENTS or (event.startswith("task") and event[4:5].isupper())


# --- deliveries ---------------------------------------------------------------------------------------


class MalformedDelivery(ValueError):
    """A webhook body that is not a ClickUp delivery: nothing in it can be processed."""


@dataclass(frozen=True)
class ParsedDelivery:
    """One webhook POST body (reference §7.2, §7.6)."""

    event: str
    webhook_id: str
    task_id: str | None  # set for every task event; None for list/folder/space/goal events
    history_items: tuple[Mapping[str, Any], ...]
    resource_id: str = ""  # what the event is about: the task id, else the list, folder, space… id (§7.2)
    problems: tuple[str, ...] = ()  # history_items entries left out because they are not objects

    def dedupe_keys(self) -> list[str]:
        """One key per history item, in order (`history_item_key`); with no items (taskDeleted, §7.6),
        the one key `"{event}:{task_id}"`. The inbox keys them with the webhook id, as §7.2 advises
        (`webhook_id:history_item_id`): the same item arrives under the generic and the specific event."""
        if self.history_items:
            return [history_item_key(item) for item in self.history_items]
        return [f"{self.event}:{self.task_id or self.resource_id}"]


def parse_delivery(body: bytes) -> ParsedDelivery:
    """Read a webhook body; raises MalformedDelivery when it is not a delivery (invalid JSON, not an
    object, no `event`, no `webhook_id`, `history_items` not a list, a task event without `task_id`, no
    resource id at all)."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise MalformedDelivery(f"webhook body is not valid JSON: {error}") from error
    if not isinstance(payload, dict):
        raise MalformedDelivery(f"webhook body is not a JSON object: {short_repr(payload)}")
    event = payload.get("event")
    if not isinstance(event, str) or not event.strip():
        raise MalformedDelivery(f"webhook body has no 'event' (got {short_repr(event)})")
    webhook_id = clickup_id(payload.get("webhook_id"))
    if webhook_id is None:
        raise MalformedDelivery(
            f"{event} delivery has no 'webhook_id' (got {short_repr(payload.get('webhook_id'))})"
        )
    raw_items = payload.get("history_items")
    if raw_items is None:  # id-only events have no history_items key (§7.6); null means the same
        raw_items = []
    if not isinstance(raw_items, list):
        raise MalformedDelivery(f"{event} delivery: 'history_items' is not a list: {short_repr(raw_items)}")
    task_id = clickup_id(payload.get("task_id"))
    if task_id is None and is_task_event(event):
        raise MalformedDelivery(
            f"{event} delivery has no 'task_id' (got {short_repr(payload.get('task_id'))})"
        )
    resource_id = next(
        (found for key in _resource_keys(payload) if (found := clickup_id(payload[key]))), None
    )
    if resource_id is None:
        raise MalformedDelivery(f"{event} delivery names no resource id (§7.2: it always has one)")
    items = tuple(item for item in raw_items if isinstance(item, Mapping))
    problems = tuple(
        f"history item is not an object and is ignored: {short_repr(item)}"
        for item in raw_items
        if not isinstance(item, Mapping)
    )
    return ParsedDelivery(event, webhook_id, task_id, items, resource_id, problems)


def _resource_keys(payload: Mapping[str, Any]) -> list[str]:
    # Known keys first, then any other "<thing>_id" an event ClickUp adds later may carry.
    others = sorted(k for k in payload if k.endswith("_id") and k != "webhook_id" and k not in _RESOURCE_KEYS)
    return [key for key in _RESOURCE_KEYS if key in payload] + others


def history_item_key(item: Any) -> str:
    """The item's `id` as text (a numeric string in task events, a UUID in listUpdated — §7.6). An item
    without one is keyed by a digest of its content, so a re-delivery of it gets the same key."""
    item_id = clickup_id(item.get("id")) if isinstance(item, Mapping) else None
    if item_id is not None:
        return item_id
    try:
        canonical = json.dumps(json_safe(item), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):  # keys of mixed types, or an int too long to print
        canonical = short_repr(item)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def json_safe(value: Any) -> Any:
    """A copy of `value` that jsonb stores: no NaN, no Decimal, no datetime, string keys."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, Decimal):
        number, _ = decimal_from_clickup(value)  # refuses NaN, infinities and absurd exponents
        return str(value) if number is None else json_number(number)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return [json_safe(item) for item in value]
    return short_repr(value)
