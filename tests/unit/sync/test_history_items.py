"""Webhook deliveries → history rows and mirror patches (clickup-api.md §7.2, §7.4, §7.6, §5.3 H column).

Payloads are the documented ones (§7.6, user objects expanded as its heading says), the shapes the
§7.4 catalogue quotes from other consumers, and what our emulator sends; a last test runs real emulator
changes through `item_effect` and checks the patched mirror row equals what a re-fetch shows.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson
import pytest

from clickup_sync.clickup.emulator import field_json
from clickup_sync.clickup.emulator.model import FieldDefinition as EmulatorField
from clickup_sync.clickup.emulator.model import FieldOption
from clickup_sync.clickup.emulator.webhooks import WebhookSubscription
from clickup_sync.clickup.emulator.workspace import Workspace
from clickup_sync.sync.diff import builtin_field_values
from clickup_sync.sync.history_items import ItemEffect, TaskPatch, item_effect
from clickup_sync.sync.normalize import FieldDefinition, NormalizedValue, normalize_custom_field_value
from clickup_sync.sync.task_state import TaskRow, TaskSnapshot, snapshot_from_task_json
from clickup_sync.sync.webhook_delivery import (
    TASK_EVENTS,
    MalformedDelivery,
    TaskEvent,
    history_item_key,
    is_task_event,
    parse_delivery,
)

RECEIVED_AT = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
USER = '{"id": 183, "username": "John", "email": "john@company.com", "color": "#7b68ee", "initials": "J", "profilePicture": null}'  # noqa: E501
WEBHOOK_ID = "7fa3ec74-69a8-4530-a251-8a13730bd204"


def delivery(text: str) -> bytes:
    """A §7.6 example as ClickUp posts it: `{…}` is the user object its heading describes."""
    return json.dumps(json.loads(text.replace("{…}", USER)), ensure_ascii=False).encode()


def effects(text: str) -> list[ItemEffect]:
    return [
        item_effect(item, received_at=RECEIVED_AT) for item in parse_delivery(delivery(text)).history_items
    ]


def at(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


# --- §7.6: every documented task payload ---------------------------------------------------------------

TASK_CREATED = """{"event": "taskCreated", "history_items": [
  {"id": "2800763136717140857", "type": 1, "date": "1642734631523", "field": "status",
   "parent_id": "162641062",
   "data": {"status_type": "open"}, "source": null, "user": {…},
   "before": {"status": null, "color": "#000000", "type": "removed", "orderindex": -1},
   "after": {"status": "to do", "color": "#f9d900", "orderindex": 0, "type": "open"}},
  {"id": "2800763136700363640", "type": 1, "date": "1642734631523", "field": "task_creation",
   "parent_id": "162641062",
   "data": {}, "source": null, "user": {…}, "before": null, "after": null}],
 "task_id": "1vj37mc", "webhook_id": "7fa3ec74-69a8-4530-a251-8a13730bd204"}"""

TASK_DELETED = (
    '{"event": "taskDeleted", "task_id": "1vj37mc", "webhook_id": "7fa3ec74-69a8-4530-a251-8a13730bd204"}'
)

PRIORITY = """{"event": "taskPriorityUpdated", "history_items": [
  {"id": "2800773800802162647", "type": 1, "date": "1642735267148", "field": "priority",
   "parent_id": "162641062",
   "data": {}, "source": null, "user": {…}, "before": null,
   "after": {"id": "2", "priority": "high", "color": "#ffcc00", "orderindex": "2"}}],
 "task_id": "1vj38vv", "webhook_id": "7fa3ec74-69a8-4530-a251-8a13730bd204"}"""

ASSIGNEE = """{"event": "taskAssigneeUpdated", "history_items": [
  {"id": "2800789353868594308", "type": 1, "date": "1642736194135", "field": "assignee_add",
   "parent_id": "162641062",
   "data": {}, "source": null, "user": {…},
   "after": {"id": 184, "username": "Sam", "email": "…", "color": "#7b68ee", "initials": "S",
    "profilePicture": null}}],
 "task_id": "1vj38vv", "webhook_id": "7fa3ec74-69a8-4530-a251-8a13730bd204"}"""

DUE_DATE = """{"event": "taskDueDateUpdated", "history_items": [
  {"id": "2800792714143635886", "type": 1, "date": "1642736394447", "field": "due_date",
   "parent_id": "162641062",
   "data": {"due_date_time": true, "old_due_date_time": false}, "source": null, "user": {…},
   "before": "1642701600000", "after": "1643608800000"}],
 "task_id": "1vj38vv", "webhook_id": "7fa3ec74-69a8-4530-a251-8a13730bd204"}"""

TAG = """{"event": "taskTagUpdated", "history_items": [
  {"id": "2800797048554170804", "type": 1, "date": "1642736652800", "field": "tag", "parent_id": "162641062",
   "data": {}, "source": null, "user": {…}, "before": null,
   "after": [{"name": "def", "tag_fg": "#FF4081", "tag_bg": "#FF4081", "creator": 2770032}]}],
 "task_id": "1vj38vv", "webhook_id": "7fa3ec74-69a8-4530-a251-8a13730bd204"}"""

MOVED = """{"event": "taskMoved", "history_items": [
  {"id": "2800800851630274181", "type": 1, "date": "1642736879339", "field": "section_moved",
   "parent_id": "162641285",
   "data": {"mute_notifications": true}, "source": null, "user": {…},
   "before": {"id": "162641062", "name": "Webhook payloads",
              "category": {"id": "96771950", "name": "hidden", "hidden": true},
              "project": {"id": "7002367", "name": "This is my API Space"}},
   "after": {"id": "162641285", "name": "webhook payloads 2",
             "category": {"id": "96772049", "name": "hidden", "hidden": true},
             "project": {"id": "7002367", "name": "This is my API Space"}}}],
 "task_id": "1vj38vv", "webhook_id": "7fa3ec74-69a8-4530-a251-8a13730bd204"}"""

CONTENT_AFTER = '{"ops":[{"insert":"This is a task description update to trigger the "},{"insert":"\\n","attributes":{"block-id":"block-24d0457c-908f-412c-8267-da08f8dc93e4"}}]}'  # noqa: E501
CONTENT = """{"event": "taskUpdated", "history_items": [
  {"id": "2800768061568222238", "type": 1, "date": "1642734925064", "field": "content",
   "parent_id": "162641062",
   "data": {}, "source": null, "user": {…}, "before": null,
   "after": "{\\"ops\\":[{\\"insert\\":\\"This is a task description update to trigger the \\"},{\\"insert\\":\\"\\\\n\\",\\"attributes\\":{\\"block-id\\":\\"block-24d0457c-908f-412c-8267-da08f8dc93e4\\"}}]}"}],
 "task_id": "1vj37mc", "webhook_id": "7fa3ec74-69a8-4530-a251-8a13730bd204"}"""  # noqa: E501

TIME_ESTIMATE = """{"event": "taskTimeEstimateUpdated", "history_items": [
  {"id": "2800808904123520175", "type": 1, "date": "1642737359443", "field": "time_estimate",
   "parent_id": "162641285",
   "data": {"time_estimate_string": "1 hour 30 minutes", "old_time_estimate_string": null,
            "rolled_up_time_estimate": 5400000, "time_estimate": 5400000,
            "time_estimates_by_user": [{"userid": 2770032, "user_time_estimate": "5400000",
                                        "user_rollup_time_estimate": "5400000"}]},
   "source": null, "user": {…}, "before": null, "after": "5400000"}],
 "task_id": "1vj38vv", "webhook_id": "7fa3ec74-69a8-4530-a251-8a13730bd204"}"""

INTERVAL = {
    "id": "2800809188061119507",
    "start": "1642736476215",
    "end": "1642737376215",
    "time": "900000",
    "source": "clickup",
    "date_added": "1642737376354",
}
TIME_TRACKED = """{"event": "taskTimeTrackedUpdated", "history_items": [
  {"id": "2800809188061123931", "type": 1, "date": "1642737376354", "field": "time_spent",
   "parent_id": "162641285",
   "data": {"total_time": "900000", "rollup_time": "900000"}, "source": null, "user": {…}, "before": null,
   "after": {"id": "2800809188061119507", "start": "1642736476215", "end": "1642737376215",
    "time": "900000", "source": "clickup", "date_added": "1642737376354"}}],
 "task_id": "1vj38vv",
 "data": {"description": "Time Tracking Created", "interval_id": "2800809188061119507"},
 "webhook_id": "7fa3ec74-69a8-4530-a251-8a13730bd204"}"""

COMMENT = """{"event": "taskCommentPosted", "history_items": [
  {"id": "2800803631413624919", "type": 1, "date": "1642737045116", "field": "comment",
   "parent_id": "162641285",
   "data": {}, "source": null, "user": {…}, "before": null, "after": "648893191",
   "comment": {"id": "648893191", "date": "1642737045116", "parent": "1vj38vv", "type": 1,
     "comment": [{"text": "comment abc1234", "attributes": {}},
                 {"text": "\\n", "attributes": {"block-id": "block-4c8fe54f-7bff-4b7b-92a2-9142068983ea"}}],
     "text_content": "comment abc1234\\n", "user": {…}}}],
 "task_id": "1vj38vv", "webhook_id": "7fa3ec74-69a8-4530-a251-8a13730bd204"}"""

OLD_STATUS = """{"webhook_id": "7689a169-a000-4985-8676-6902b96d6627", "event": "taskUpdated",
 "task_id": "c0j",
 "history_items": [{"id": "33169", "type": 1, "date": "1575650190085", "field": "status", "parent_id": "1753",
   "data": {"status_type": "closed"}, "source": null,
   "user": {"id": 183, "username": "John Doe", "email": "example@email.com", "color": "#827718",
            "initials": "JK",
            "profilePicture": "https://dev-attachments-public.clickup.com/profilePictures/183_nx1.jpg"},
   "before": {"status": "open", "color": "#d3d3d3", "orderindex": 0, "type": "open"},
   "after": {"status": "complete", "color": "#6bc950", "orderindex": 1, "type": "closed"}}]}"""


def row(
    field_name: str, old: Any, new: Any, *patches: TaskPatch
) -> tuple[str, Any, Any, tuple[TaskPatch, ...]]:
    return field_name, old, new, patches


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        pytest.param(
            TASK_CREATED,
            [
                row(
                    "status",
                    None,  # the creation placeholder has "status": null, "type": "removed"
                    "to do",
                    TaskPatch("status", "set", "to do"),
                    TaskPatch("status_type", "set", "open"),
                ),
                row("created", False, True),
            ],
            id="taskCreated",
        ),
        pytest.param(
            PRIORITY, [row("priority", None, "high", TaskPatch("priority", "set", "high"))], id="priority"
        ),
        pytest.param(
            ASSIGNEE,
            [row("assignees", None, {"add": ["184"]}, TaskPatch("assignee_ids", "add", "184"))],
            id="assignee",
        ),
        pytest.param(
            DUE_DATE,
            [
                row(
                    "due_date",
                    "2022-01-20T18:00:00+00:00",
                    "2022-01-31T06:00:00+00:00",
                    TaskPatch("due_date", "set", at(1643608800000)),
                )
            ],
            id="due date",
        ),
        pytest.param(TAG, [row("tags", None, {"add": ["def"]}, TaskPatch("tags", "add", "def"))], id="tag"),
        pytest.param(
            MOVED,
            [
                row(
                    "list",
                    "162641062",
                    "162641285",
                    TaskPatch("list_id", "set", "162641285"),
                    TaskPatch("folder_id", "set", None),  # a hidden folder: the list is folderless
                    TaskPatch("space_id", "set", "7002367"),
                )
            ],
            id="moved",
        ),
        pytest.param(CONTENT, [row("content", None, CONTENT_AFTER)], id="content"),
        pytest.param(
            TIME_ESTIMATE,
            [row("time_estimate", None, 5400000, TaskPatch("time_estimate_ms", "set", 5400000))],
            id="time estimate",
        ),
        pytest.param(TIME_TRACKED, [row("time_spent", None, INTERVAL)], id="time tracked"),
        pytest.param(COMMENT, [row("comment", None, "648893191")], id="comment"),
        pytest.param(
            OLD_STATUS,
            [
                row(
                    "status",
                    "open",
                    "complete",
                    TaskPatch("status", "set", "complete"),
                    TaskPatch("status_type", "set", "closed"),
                )
            ],
            id="older status example",
        ),
    ],
)
def test_documented_payloads_become_history_rows_and_patches(payload: str, expected: list[Any]) -> None:
    found = effects(payload)
    assert [(e.field_name, e.old_value, e.new_value, e.task_patches) for e in found] == expected
    for effect in found:
        assert effect.field_id is None and effect.field_type is None and effect.value_patch is None
        assert effect.problems == ()
        assert effect.changed_by in ("183", None)
        json.dumps([effect.old_value, effect.new_value])  # jsonb can store them as they are


def test_history_rows_carry_clickup_time_user_and_item_id() -> None:
    status, creation = effects(TASK_CREATED)
    assert status.item_id == "2800763136717140857" and creation.item_id == "2800763136700363640"
    assert status.changed_at == creation.changed_at == datetime(2022, 1, 21, 3, 10, 31, 523000, tzinfo=UTC)
    assert status.changed_by == "183"
    change = status.field_change("1vj37mc")
    assert (change.task_id, change.event_id, change.source) == ("1vj37mc", "2800763136717140857", "webhook")
    assert (change.field_name, change.old_value, change.new_value) == ("status", None, "to do")


def test_built_in_values_use_the_json_forms_the_poll_diff_writes() -> None:
    """A change seen by webhook and the same change seen by polling store the same JSON."""
    task = json.loads(
        '{"id": "1vj38vv", "name": "x", "status": {"status": "to do", "type": "open"}, "priority": '
        '{"id": "2", "priority": "high"}, "due_date": "1643608800000", "time_estimate": "5400000",'
        ' "list": {"id": "162641285"}}'
    )
    polled = builtin_field_values(snapshot_from_task_json(task).row, frozenset())
    by_field = {
        e.field_name: e.new_value
        for text in (PRIORITY, DUE_DATE, TIME_ESTIMATE, MOVED)
        for e in effects(text)
    }
    by_field["status"] = effects(TASK_CREATED)[0].new_value
    assert by_field == {name: polled[name] for name in by_field}


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        pytest.param(
            {"field": "assignee_rem", "before": json.loads(USER), "after": None},
            row("assignees", None, {"remove": ["183"]}, TaskPatch("assignee_ids", "remove", "183")),
            id="assignee_rem (ZULIP shape)",
        ),
        pytest.param(
            {"field": "priority", "before": {"id": "2", "priority": "high"}, "after": None},
            row("priority", "high", None, TaskPatch("priority", "set", None)),
            id="priority cleared",
        ),
        pytest.param(
            {"field": "due_date", "before": "1643608800000", "after": None},
            row("due_date", "2022-01-31T06:00:00+00:00", None, TaskPatch("due_date", "set", None)),
            id="due date cleared",
        ),
        pytest.param(
            {"field": "start_date", "before": None, "after": "1642701600000"},
            row(
                "start_date",
                None,
                "2022-01-20T18:00:00+00:00",
                TaskPatch("start_date", "set", at(1642701600000)),
            ),
            id="start date",
        ),
        pytest.param(
            {"field": "duration", "before": None, "after": ", , , , , 23040 minutes"},
            row("duration", None, ", , , , , 23040 minutes"),
            id="duration beside due_date",
        ),
        pytest.param(
            {"field": "checklist_item_resolved", "before": "false", "after": "true"},
            row("checklist_item_resolved", "false", "true"),
            id="checklist item",
        ),
        pytest.param(
            {"field": "name", "before": "webhook payloads 2", "after": "Webhook payloads round 2"},
            row("name", "webhook payloads 2", "Webhook payloads round 2",
                TaskPatch("name", "set", "Webhook payloads round 2")),
            id="name",
        ),
        # What our emulator sends for the UNCONFIRMED items (emulator/history.py).
        pytest.param(
            {"field": "tag_removed", "before": [{"name": "日本語", "tag_fg": "#fff", "tag_bg": "#000"}],
             "after": None},
            row("tags", None, {"remove": ["日本語"]}, TaskPatch("tags", "remove", "日本語")),
            id="tag_removed: tags in before",
        ),
        pytest.param(
            {"field": "tag_removed", "before": None, "after": ["def", "abc"]},
            row("tags", None, {"remove": ["abc", "def"]},
                TaskPatch("tags", "remove", "abc"), TaskPatch("tags", "remove", "def")),
            id="tag_removed: names in after",
        ),
        pytest.param(
            {"field": "watcher_add", "after": {"id": 184}},
            row("watchers", None, {"add": ["184"]}, TaskPatch("watcher_ids", "add", "184")),
            id="watcher_add",
        ),
        pytest.param(
            {"field": "points", "before": None, "after": 0.5},
            row("points", None, 0.5, TaskPatch("points", "set", Decimal("0.5"))),
            id="points",
        ),
        pytest.param(
            {"field": "points", "before": 3, "after": "8"},
            row("points", 3, 8, TaskPatch("points", "set", Decimal(8))),
            id="points as text",
        ),
        pytest.param(
            {"field": "archived", "before": "false", "after": "true"},
            row("archived", False, True, TaskPatch("archived", "set", True)),
            id="archived",
        ),
        pytest.param(
            {"field": "archived", "before": True, "after": None},  # unset booleans may be null (§7.2)
            row("archived", True, False, TaskPatch("archived", "set", False)),
            id="unarchived as null",
        ),
    ],
)  # fmt: skip
def test_other_built_in_items(item: dict[str, Any], expected: tuple[Any, ...]) -> None:
    effect = item_effect({"id": "1", "date": "1642736194135", **item}, received_at=RECEIVED_AT)
    assert (effect.field_name, effect.old_value, effect.new_value, effect.task_patches) == expected
    assert effect.problems == ()


# --- custom fields ---------------------------------------------------------------------------------------

DROP_DOWN_DEFINITION = json.loads("""{"id": "862a38bb-eaba-4b9b-a4b5-c09d2a8c082f",
 "name": "Selection Dropdown", "type": "drop_down",
  "type_config": {"default": 0, "placeholder": null, "new_drop_down": true, "options": [
     {"id": "5048f827-f16a-47b0-afec-5fd0e51b5f50", "name": "Monthly", "value": "Monthly", "type": "text",
      "color": null, "orderindex": 0},
     {"id": "5c69d237-f440-4498-ae46-3b3948db931b", "name": "Quarterly", "value": "Quarterly",
      "type": "text", "color": null, "orderindex": 1}]},
  "values_set": null, "userid": "2770032", "date_created": "1611729648993", "hide_from_guests": false,
   "team_id": "6931406",
  "deleted": false, "deleted_by": null, "pinned": true, "required": false, "required_on_subtasks": false, "linked_subcategory": null}""")  # noqa: E501


def custom_field_item(definition: dict[str, Any], before: Any, after: Any) -> dict[str, Any]:
    return {
        "id": "2800000000000000001",
        "type": 1,
        "date": "1642737045116",
        "field": "custom_field",
        "parent_id": "162641285",
        "data": {},
        "source": None,
        "user": json.loads(USER),
        "before": before,
        "after": after,
        "custom_field": definition,
    }


def test_drop_down_option_id_becomes_the_value_a_read_of_its_orderindex_gives() -> None:
    effect = item_effect(
        custom_field_item(DROP_DOWN_DEFINITION, None, "5048f827-f16a-47b0-afec-5fd0e51b5f50"),
        received_at=RECEIVED_AT,
    )
    definition = FieldDefinition.from_clickup(DROP_DOWN_DEFINITION)
    read = normalize_custom_field_value(definition, 0, origin="read")  # reads give the orderindex (§5.3)
    assert read is not None and effect.value_patch is not None and effect.value_patch.value is not None
    assert effect.value_patch.value.same_value(read)
    assert effect.value_patch.field == definition
    assert effect.value_patch.value.raw_value == "5048f827-f16a-47b0-afec-5fd0e51b5f50"
    assert (effect.field_id, effect.field_name, effect.field_type) == (
        "862a38bb-eaba-4b9b-a4b5-c09d2a8c082f",
        "Selection Dropdown",
        "drop_down",
    )
    assert effect.old_value is None
    assert effect.new_value == {
        "id": "5048f827-f16a-47b0-afec-5fd0e51b5f50",
        "name": "Monthly",
        "orderindex": 0,
    }
    assert effect.task_patches == () and effect.problems == ()


def checkbox(name: str = "🗓️ Add to calendar") -> dict[str, Any]:
    return {"id": "4c62f9c4-34a1-4b4c-91de-a09ff2caf4ab", "name": name, "type": "checkbox", "type_config": {}}


@pytest.mark.parametrize(
    ("before", "after", "old", "new", "row_kept"),
    [
        pytest.param(None, "true", None, True, True, id="ticked"),
        pytest.param("true", None, True, None, False, id="unticked: the row is deleted"),
    ],
)
def test_checkbox_ticked_and_unticked(before: Any, after: Any, old: Any, new: Any, row_kept: bool) -> None:
    effect = item_effect(custom_field_item(checkbox(), before, after), received_at=RECEIVED_AT)
    assert (effect.old_value, effect.new_value) == (old, new)
    assert effect.value_patch is not None
    assert (effect.value_patch.value is not None) is row_kept
    if row_kept:
        assert effect.value_patch.value is not None and effect.value_patch.value.value_bool is True


@pytest.mark.parametrize(
    "name",
    ["🗓️ Add to calendar", "💯Progress", "⏳ Content Progress", "PM 期望完成日", "Órden de compra", "e\u0301"],
)
def test_custom_field_names_are_kept_byte_for_byte(name: str) -> None:
    body = json.dumps(
        {"event": "taskUpdated", "task_id": "1vj38vv", "webhook_id": WEBHOOK_ID,
         "history_items": [custom_field_item(checkbox(name), None, "true")]},
        ensure_ascii=False,
    ).encode()  # fmt: skip
    (item,) = parse_delivery(body).history_items
    effect = item_effect(item, received_at=RECEIVED_AT)
    assert effect.field_name.encode() == name.encode()
    assert effect.field_change("1vj38vv").field_name == name


def emulator_field(kind: str, options: list[FieldOption]) -> EmulatorField:
    return EmulatorField(
        id=f"{kind}-field-id",
        name=f"Emulated {kind}",
        type=kind,
        type_config=field_json.option_type_config(kind, options) if options else {},
        date_created=1611729648993,
        scope="list",
        scope_id="162641285",
        creator_id=183,
        options=options,
    )


OPTIONS = [FieldOption("opt-a", "Alpha", "#123456", 0), FieldOption("opt-b", "Beta", None, 1)]


@pytest.mark.parametrize(
    ("kind", "options", "before", "after", "old", "new", "ids"),
    [
        pytest.param(
            "labels", OPTIONS, ["opt-a"], ["opt-b", "opt-a"],
            [{"id": "opt-a", "label": "Alpha", "orderindex": 0}],
            [{"id": "opt-b", "label": "Beta", "orderindex": 1}, {"id": "opt-a", "label": "Alpha",
             "orderindex": 0}],
            ("opt-b", "opt-a"),
            id="labels: every option id, in order",
        ),
        pytest.param(
            "users", [], None, [184, 183], None,
            [{"id": "184", "username": None}, {"id": "183", "username": None}],
            ("184", "183"),
            id="users: bare user ids",
        ),
        pytest.param(
            "drop_down", OPTIONS, "opt-a", "opt-b",
            {"id": "opt-a", "name": "Alpha", "orderindex": 0}, {"id": "opt-b", "name": "Beta",
             "orderindex": 1},
            ("opt-b",),
            id="drop_down",
        ),
    ],
)  # fmt: skip
def test_emulator_custom_field_items(
    kind: str, options: list[FieldOption], before: Any, after: Any, old: Any, new: Any, ids: tuple[str, ...]
) -> None:
    """Items built by the emulator's own webhook encoders (field_json.webhook_value / _definition_json)."""
    field = emulator_field(kind, options)
    item = custom_field_item(
        field_json.webhook_definition_json(field, "6931406"),
        field_json.webhook_value(field, before),
        field_json.webhook_value(field, after),
    )
    effect = item_effect(orjson.loads(orjson.dumps(item)), received_at=RECEIVED_AT)
    assert (effect.field_name, effect.field_type, effect.old_value, effect.new_value) == (
        f"Emulated {kind}",
        kind,
        old,
        new,
    )
    assert effect.value_patch is not None and effect.value_patch.value is not None
    assert effect.value_patch.value.value_ids == ids
    assert effect.problems == ()


def test_unknown_custom_field_type_keeps_the_raw_values() -> None:
    definition = {"id": "sig-1", "name": "Signature", "type": "signature", "type_config": {}}
    effect = item_effect(custom_field_item(definition, None, {"strokes": [1, 2]}), received_at=RECEIVED_AT)
    assert (effect.old_value, effect.new_value) == (None, {"strokes": [1, 2]})
    assert effect.value_patch is not None and effect.value_patch.value is not None
    assert effect.value_patch.value.raw_value == {"strokes": [1, 2]}
    assert any("signature" in problem for problem in effect.problems)


# --- deliveries -----------------------------------------------------------------------------------------


def test_parse_delivery_reads_the_documented_bodies() -> None:
    created = parse_delivery(delivery(TASK_CREATED))
    assert (created.event, created.webhook_id, created.task_id) == ("taskCreated", WEBHOOK_ID, "1vj37mc")
    assert len(created.history_items) == 2 and created.problems == ()
    deleted = parse_delivery(delivery(TASK_DELETED))
    assert (deleted.event, deleted.task_id, deleted.history_items) == ("taskDeleted", "1vj37mc", ())
    listed = parse_delivery(b'{"event": "listCreated", "list_id": "162641234", "webhook_id": "w"}')
    assert (listed.task_id, listed.resource_id, listed.history_items) == (None, "162641234", ())


@pytest.mark.parametrize(
    ("payload", "expected_keys"),
    [
        pytest.param(TASK_CREATED, ["2800763136717140857", "2800763136700363640"], id="one key per item"),
        pytest.param(TASK_DELETED, ["taskDeleted:1vj37mc"], id="taskDeleted has no items"),
        pytest.param(
            '{"event": "keyResultCreated", "goal_id": "a23e5a3d", "key_result_id": "47608e42",'
            ' "webhook_id": "d5"}',
            ["keyResultCreated:47608e42"],
            id="a key result, not its goal",
        ),
        pytest.param(
            """{"event": "listUpdated", "history_items": [{"id": "8a2f82db-7718-4fdb-9493-4849e67f009d",
             "type": 6,
             "date": "1642740510345", "field": "name", "parent_id": "162641285", "data": {}, "source": null,
             "user": {…}, "before": "webhook payloads 2", "after": "Webhook payloads round 2"}],
             "list_id": "162641285", "webhook_id": "7fa3ec74-69a8-4530-a251-8a13730bd204"}""",
            ["8a2f82db-7718-4fdb-9493-4849e67f009d"],
            id="a UUID item id",
        ),
    ],
)
def test_dedupe_keys(payload: str, expected_keys: list[str]) -> None:
    assert parse_delivery(delivery(payload)).dedupe_keys() == expected_keys


def test_the_same_item_under_the_generic_and_the_specific_event_has_one_key() -> None:
    specific = parse_delivery(delivery(PRIORITY))
    generic = parse_delivery(delivery(PRIORITY.replace("taskPriorityUpdated", "taskUpdated")))
    assert specific.dedupe_keys() == generic.dedupe_keys() == ["2800773800802162647"]


def test_an_item_without_id_is_keyed_by_its_content() -> None:
    item = {"field": "name", "date": "1642740510345", "before": "a", "after": "b"}
    same = {"after": "b", "before": "a", "date": "1642740510345", "field": "name"}
    assert history_item_key(item) == history_item_key(same) != history_item_key({**item, "after": "c"})
    effect = item_effect(item, received_at=RECEIVED_AT)
    assert effect.item_id == history_item_key(item) and "no usable id" in effect.problems[0]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b"", "not valid JSON", id="empty"),
        pytest.param(b'{"event": "taskUpdated",', "not valid JSON", id="truncated"),
        pytest.param(b"\xff\xfe{}", "not valid JSON", id="not UTF-8"),
        pytest.param(b'[{"event": "taskUpdated"}]', "not a JSON object", id="an array"),
        pytest.param(b'"taskUpdated"', "not a JSON object", id="a string"),
        pytest.param(b'{"task_id": "1vj37mc", "webhook_id": "w"}', "no 'event'", id="no event"),
        pytest.param(
            b'{"event": 7, "task_id": "1vj37mc", "webhook_id": "w"}', "no 'event'", id="event a number"
        ),
        pytest.param(
            b'{"event": "taskUpdated", "task_id": "1vj37mc"}', "no 'webhook_id'", id="no webhook_id"
        ),
        pytest.param(
            b'{"event": "taskUpdated", "task_id": "1", "webhook_id": ""}',
            "no 'webhook_id'",
            id="empty webhook_id",
        ),
        pytest.param(
            b'{"event": "taskUpdated", "task_id": "1", "webhook_id": "w", "history_items": {"id": "1"}}',
            "'history_items' is not a list",
            id="history_items an object",
        ),
        pytest.param(
            b'{"event": "taskUpdated", "task_id": "1", "webhook_id": "w", "history_items": "[]"}',
            "'history_items' is not a list",
            id="history_items a string",
        ),
        pytest.param(
            b'{"event": "taskDeleted", "webhook_id": "w"}', "no 'task_id'", id="task event, no task"
        ),
        pytest.param(b'{"event": "listCreated", "webhook_id": "w"}', "no resource id", id="nothing named"),
    ],
)
def test_malformed_deliveries_are_refused_with_a_clear_message(body: bytes, message: str) -> None:
    with pytest.raises(MalformedDelivery, match=message) as caught:
        parse_delivery(body)
    assert isinstance(caught.value, ValueError)


def test_non_object_history_items_are_left_out_and_reported() -> None:
    parsed = parse_delivery(
        b'{"event": "taskUpdated", "task_id": "1", "webhook_id": "w",'
        b' "history_items": [7, {"id": "9"}, null]}'
    )
    assert parsed.history_items == ({"id": "9"},) and parsed.dedupe_keys() == ["9"]
    assert len(parsed.problems) == 2


def test_task_events() -> None:
    assert len(TASK_EVENTS) == 13 and "taskCreated" in TASK_EVENTS and TaskEvent.MOVED.value == "taskMoved"
    assert all(is_task_event(event) for event in TASK_EVENTS)
    assert is_task_event("taskArchived")  # a task event ClickUp may add later still carries a task_id
    assert not any(
        is_task_event(event) for event in ("listUpdated", "spaceUpdated", "goalCreated", "tasks", "*")
    )


# --- odd items never raise -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "item",
    [
        {},
        {"id": None, "field": None},
        {"id": "1", "field": "status", "before": 7, "after": [1]},
        {"id": "1", "field": "status", "after": {"status": "to do"}},
        {"id": "1", "field": "priority", "after": {"priority": "whenever"}},
        {"id": "1", "field": "priority", "after": 9},
        {"id": "1", "field": "assignee_add", "after": {"username": "no id"}},
        {"id": "1", "field": "assignee_rem", "before": None, "after": None},
        {"id": "1", "field": "tag", "after": [{"tag_fg": "#fff"}, 3]},
        {"id": "1", "field": "due_date", "after": "soon"},
        {"id": "1", "field": "due_date", "after": "99999999999999999999"},
        {"id": "1", "field": "time_estimate", "after": "1.5"},
        {"id": "1", "field": "time_estimate", "after": {"ms": 1}},
        {"id": "1", "field": "points", "after": "NaN"},
        {"id": "1", "field": "archived", "after": "maybe"},
        {"id": "1", "field": "section_moved", "after": {"name": "no id"}},
        {"id": "1", "field": "section_moved", "after": "162641285", "before": None},
        {"id": "1", "field": "name", "after": None},
        {"id": "1", "field": "custom_field", "after": "x"},
        {"id": "1", "field": "custom_field", "custom_field": {"name": "no id"}, "after": "x"},
        {"id": "1", "field": "custom_field", "custom_field": "not an object", "after": "x"},
        {"id": "1", "field": "custom_field", "custom_field": {"id": "f", "type": "number"}, "after": "eight"},
        {"id": "1", "field": "custom_field", "custom_field": DROP_DOWN_DEFINITION, "after": "no-such-option"},
        {"id": "1", "field": 12, "before": float("nan"), "after": Decimal("Infinity")},
        {
            "id": {"nested": 1},
            "date": True,
            "user": "someone",
            "field": "content",
            "after": RECEIVED_AT,
        },
        {"id": 10**40, "date": [], "user": {"id": None}},
        ["not", "an", "object"],
        None,
    ],
)
def test_odd_items_never_raise_and_keep_what_was_sent(item: Any) -> None:
    effect = item_effect(item, received_at=RECEIVED_AT)
    assert effect.changed_at.tzinfo is not None and effect.item_id
    json.dumps([effect.old_value, effect.new_value], allow_nan=False)  # always storable as jsonb
    for patch in effect.task_patches:  # whatever is applied is a well-formed value
        assert patch.value is not None or patch.column in ("priority", "due_date", "folder_id")
    if not effect.task_patches and effect.value_patch is None:
        assert effect.problems, "an item that changes nothing in the mirror says why"


@pytest.mark.parametrize(
    ("item", "changed_at"),
    [
        ({"date": "1642736194135"}, datetime(2022, 1, 21, 3, 36, 34, 135000, tzinfo=UTC)),
        ({"date": 1642736194135}, datetime(2022, 1, 21, 3, 36, 34, 135000, tzinfo=UTC)),
        ({}, RECEIVED_AT),
        ({"date": "yesterday"}, RECEIVED_AT),
    ],
)
def test_changed_at_falls_back_to_the_arrival_time(item: dict[str, Any], changed_at: datetime) -> None:
    effect = item_effect({"id": "1", "field": "content", **item}, received_at=RECEIVED_AT)
    assert effect.changed_at == changed_at
    assert bool(effect.problems) is (changed_at == RECEIVED_AT)


def test_arrival_time_in_another_zone_is_stored_as_utc() -> None:
    paris = RECEIVED_AT.astimezone(timezone(timedelta(hours=2)))
    effect = item_effect({"id": "1", "field": "content"}, received_at=paris)
    assert effect.changed_at == RECEIVED_AT and effect.changed_at.utcoffset() == timedelta(0)
    with pytest.raises(ValueError, match="aware"):
        item_effect({"id": "1"}, received_at=RECEIVED_AT.replace(tzinfo=None))


# --- emulator round trip: a webhook brings the mirror to what a re-fetch shows ------------------------------


class Recorder:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def publish(self, subscription: WebhookSubscription, payload: dict[str, Any]) -> None:
        self.bodies.append(orjson.dumps(payload))


def apply(snapshot: TaskSnapshot, bodies: list[bytes]) -> tuple[TaskRow, dict[str, NormalizedValue]]:
    """What the mirror holds after applying the deliveries' patches, each history item once."""
    changes: dict[str, Any] = {
        name: getattr(snapshot.row, name) for name in ("assignee_ids", "watcher_ids", "tags")
    }
    values = dict(snapshot.values)
    seen: set[str] = set()
    for body in bodies:
        parsed = parse_delivery(body)
        if not is_task_event(parsed.event) or not parsed.history_items:
            continue
        for item, key in zip(parsed.history_items, parsed.dedupe_keys(), strict=True):
            if key in seen:
                continue
            seen.add(key)
            effect = item_effect(item, received_at=RECEIVED_AT)
            assert effect.problems == (), effect.problems
            for patch in effect.task_patches:
                if patch.operation == "set":
                    changes[patch.column] = patch.value
                elif patch.operation == "add" and patch.value not in changes[patch.column]:
                    changes[patch.column] = (*changes[patch.column], patch.value)
                elif patch.operation == "remove":
                    changes[patch.column] = tuple(v for v in changes[patch.column] if v != patch.value)
            if effect.value_patch is not None:
                field_id = effect.value_patch.field.field_id
                if effect.value_patch.value is None:
                    values.pop(field_id, None)
                else:
                    values[field_id] = effect.value_patch.value
    return dataclasses.replace(snapshot.row, **changes), values


def first_field(workspace: Workspace, task_id: str, kind: str) -> dict[str, Any]:
    return next(f for f in workspace.fields_of_task(task_id) if f["type"] == kind)


def other_list(workspace: Workspace, task_id: str) -> str:
    """A list in another space, so the move changes the task's list, folder and space."""
    lists = workspace.state.lists
    home = lists[workspace.get_task(task_id)["list"]["id"]]
    return next(i for i in workspace.list_ids(archived=False) if lists[i].space_id != home.space_id)


def set_options(workspace: Workspace, task_id: str, kind: str, choose: Any) -> None:
    field = first_field(workspace, task_id, kind)
    option_ids = [option["id"] for option in field["type_config"]["options"]]
    workspace.set_field_value(task_id, field["id"], {"value": choose(option_ids)})


CHANGES: list[tuple[str, Any]] = [
    ("rename", lambda w, t: w.update_task(t, {"name": "Renamed 🚀 タスク"})),
    ("status", lambda w, t: w.update_task(t, {"status": "review"})),
    ("priority", lambda w, t: w.update_task(t, {"priority": 1})),
    ("priority cleared", lambda w, t: w.update_task(t, {"priority": None})),
    ("dates", lambda w, t: w.update_task(t, {"due_date": 1643608800000, "start_date": 1642701600000})),
    ("estimate, points", lambda w, t: w.update_task(t, {"time_estimate": 5400000, "points": 2.5})),
    ("archived", lambda w, t: w.update_task(t, {"archived": True})),
    ("tag added", lambda w, t: w.add_tag(t, "日本語")),
    ("assignees", lambda w, t: w.update_task(t, {"assignees": {"add": [w.owner_id]}})),
    ("moved", lambda w, t: w.move_task(t, other_list(w, t))),
    ("drop_down", lambda w, t: set_options(w, t, "drop_down", lambda ids: ids[-1])),
    ("labels", lambda w, t: set_options(w, t, "labels", lambda ids: ids[:2])),
    ("checkbox", lambda w, t: w.set_field_value(t, first_field(w, t, "checkbox")["id"], {"value": True})),
    ("number", lambda w, t: w.set_field_value(t, first_field(w, t, "number")["id"], {"value": -28.5})),
    ("date", lambda w, t: w.set_field_value(t, first_field(w, t, "date")["id"], {"value": 1700006400000})),
    ("text cleared", lambda w, t: w.remove_field_value(t, first_field(w, t, "short_text")["id"])),
]  # fmt: skip


@pytest.mark.parametrize(("name", "change"), CHANGES, ids=[name for name, _ in CHANGES])
def test_emulator_deliveries_bring_the_mirror_to_what_a_refetch_shows(name: str, change: Any) -> None:
    recorder = Recorder()
    workspace = Workspace.generate(7, 60, recorder)
    workspace.create_webhook(workspace.team_id, {"endpoint": "https://receiver.test/", "events": ["*"]})
    task_id = next(
        t["id"]
        for t in (workspace.get_task(i) for i in workspace.live_task_ids())
        if t["parent"] is None
        and not t["archived"]
        and {"drop_down", "labels", "checkbox", "number", "date", "short_text"}
        <= {f["type"] for f in t["custom_fields"]}
    )
    if name == "text cleared":
        workspace.set_field_value(
            task_id, first_field(workspace, task_id, "short_text")["id"], {"value": "draft"}
        )
    before = snapshot_from_task_json(workspace.get_task(task_id))
    recorder.bodies.clear()
    change(workspace, task_id)
    assert recorder.bodies, "the change was delivered"
    after = snapshot_from_task_json(workspace.get_task(task_id))
    patched_row, patched_values = apply(before, recorder.bodies)

    compared: tuple[str, ...] = ("name", "status", "status_type", "priority", "due_date", "start_date",
                                 "time_estimate_ms", "points", "archived", "list_id", "folder_id",
                                 "space_id")  # fmt: skip
    if name == "moved":  # another space's statuses: the move maps the status with no item of its own
        compared = tuple(c for c in compared if c not in ("status", "status_type"))
    assert {c: getattr(patched_row, c) for c in compared} == {c: getattr(after.row, c) for c in compared}
    assert sorted(patched_row.assignee_ids) == sorted(after.row.assignee_ids)
    assert sorted(patched_row.tags) == sorted(after.row.tags)
    if name == "moved":
        return  # the fields of the old list leave the task's JSON; no item says so, only a re-fetch shows it
    assert patched_values.keys() == after.values.keys()
    for field_id, value in after.values.items():
        assert patched_values[field_id].same_value(value), field_id
