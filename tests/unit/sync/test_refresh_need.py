"""Which history items describe their change fully (no re-fetch of the task needed)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from clickup_sync.sync.history_items import item_effect
from clickup_sync.sync.webhook_apply import described_by_item

AT = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def item(field: str, before: Any, after: Any, **extra: Any) -> dict[str, Any]:
    return {"id": "1", "type": 1, "date": "1700000000000", "field": field, "user": {"id": 1},
            "before": before, "after": after, **extra}  # fmt: skip


def custom_field_item(field_type: str, after: Any) -> dict[str, Any]:
    definition = {"id": "cf1", "name": "Field 🚀", "type": field_type, "type_config": {}}
    return item("custom_field", None, after, custom_field=definition)


@pytest.mark.parametrize(
    ("history_item", "described"),
    [
        (item("status", {"status": "to do", "type": "open"}, {"status": "done", "type": "closed"}), True),
        (item("name", "Old", "New"), True),
        (custom_field_item("short_text", "hello"), True),
        (custom_field_item("number", "42"), True),
        (custom_field_item("tasks", ["t2"]), False),  # relationship rows come from the task's JSON
        (item("section_moved", {"id": "L1"}, {"id": "L2"}), False),  # list, folder, space, statuses
        (item("task_creation", None, None), False),
        (item("dependency", None, {"id": "t9"}), False),  # no documented shape: fetch the task
        (item("status", "garbage", 12), False),  # unreadable: fetch what ClickUp has
    ],
)
def test_only_items_that_say_everything_spare_the_fetch(
    history_item: dict[str, Any], described: bool
) -> None:
    assert described_by_item(item_effect(history_item, received_at=AT)) is described
