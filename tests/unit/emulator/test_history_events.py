"""Every change produces the webhook events and history items of clickup-api.md §7.4 / §7.6: which
events, the same history item under the specific event and taskUpdated, item keys and order."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from clickup_sync.clickup.emulator.field_json import webhook_value
from clickup_sync.clickup.emulator.workspace import Workspace

pytestmark = pytest.mark.anyio

ITEM_KEYS = ["id", "type", "date", "field", "parent_id", "data", "source", "user", "before", "after"]
USER_KEYS = ["id", "username", "email", "color", "initials", "profilePicture"]


def subscribe(workspace: Workspace, events: list[str] | None = None, **location: Any) -> str:
    body = {
        "endpoint": f"https://receiver.test/{len(workspace.state.webhooks)}",
        "events": events or ["*"],
        **location,
    }
    return str(workspace.create_webhook(workspace.team_id, body)["id"])


def check_item(item: dict[str, Any], field: str, parent_id: str) -> None:
    expected_keys = [k for k in ITEM_KEYS if not (field == "assignee_add" and k == "before")]
    assert list(item)[: len(expected_keys)] == expected_keys
    assert item["field"] == field
    assert re.fullmatch(r"\d{19}", item["id"])
    assert re.fullmatch(r"\d{13}", item["date"])
    assert item["type"] == 1 and item["source"] is None
    assert item["parent_id"] == parent_id
    assert list(item["user"]) == USER_KEYS and isinstance(item["user"]["id"], int)


def payloads_of(sink: Any, webhook_id: str) -> list[dict[str, Any]]:
    return [p for p in sink.payloads(webhook_id)]


def test_create_sends_task_created_with_status_and_creation_items_plus_status_updated(
    workspace: Workspace, sink: Any, find: Any
) -> None:
    webhook = subscribe(workspace)
    list_id = find.big_list_id()
    created = workspace.create_task(list_id, {"name": "Brand new", "status": "in progress"})
    created_event, status_event = payloads_of(sink, webhook)
    assert list(created_event) == ["event", "history_items", "task_id", "webhook_id"]
    assert created_event["event"] == "taskCreated" and created_event["task_id"] == created["id"]
    assert created_event["webhook_id"] == webhook
    status_item, creation_item = created_event["history_items"]
    check_item(status_item, "status", list_id)
    check_item(creation_item, "task_creation", list_id)
    assert status_item["before"] == {"status": None, "color": "#000000", "type": "removed", "orderindex": -1}
    assert status_item["after"]["status"] == "in progress" and status_item["data"] == {
        "status_type": "custom"
    }
    assert creation_item["before"] is None and creation_item["after"] is None and creation_item["data"] == {}
    assert status_item["date"] == creation_item["date"] == created["date_created"]
    assert status_event["event"] == "taskStatusUpdated"
    assert status_event["history_items"] == [status_item]


@pytest.mark.parametrize(
    ("body", "specific", "field"),
    [
        ({"status": "review"}, "taskStatusUpdated", "status"),
        ({"priority": 2}, "taskPriorityUpdated", "priority"),
        ({"due_date": 1643608800000, "due_date_time": True}, "taskDueDateUpdated", "due_date"),
        ({"time_estimate": 5400000}, "taskTimeEstimateUpdated", "time_estimate"),
    ],
)
def test_specific_events_also_arrive_as_task_updated_with_the_same_item(
    workspace: Workspace, sink: Any, find: Any, body: dict[str, Any], specific: str, field: str
) -> None:
    task = find.open_task()
    workspace.update_task(
        task.id, {"status": "to do", "priority": None, "due_date": None, "time_estimate": None}
    )
    webhook = subscribe(workspace)
    workspace.update_task(task.id, body)
    first, second = payloads_of(sink, webhook)
    assert [first["event"], second["event"]] == [specific, "taskUpdated"]
    assert first["history_items"] == second["history_items"]
    (item,) = first["history_items"]
    check_item(item, field, task.list_id)
    if field == "priority":
        assert item["before"] is None
        assert item["after"] == {"id": "2", "priority": "high", "color": "#f8ae00", "orderindex": "2"}
    if field == "due_date":
        assert item["before"] is None and item["after"] == "1643608800000"
        assert item["data"] == {"due_date_time": True, "old_due_date_time": False}
    if field == "time_estimate":
        assert item["after"] == "5400000" and item["data"]["time_estimate_string"] == "1 hour 30 minutes"
    if field == "status":
        assert item["before"]["status"] == "to do" and item["after"]["status"] == "review"
        assert list(item["after"]) == ["status", "color", "orderindex", "type"]


def test_assignee_items_add_has_no_before_key_rem_has_after_null(
    workspace: Workspace, sink: Any, find: Any
) -> None:
    task = find.open_task()
    user = next(u for u in find.state.users if u not in task.assignee_ids)
    webhook = subscribe(workspace, ["taskAssigneeUpdated"])
    workspace.update_task(task.id, {"assignees": {"add": [user]}})
    workspace.update_task(task.id, {"assignees": {"rem": [user]}})
    added, removed = payloads_of(sink, webhook)
    add_item, rem_item = added["history_items"][0], removed["history_items"][0]
    check_item(add_item, "assignee_add", task.list_id)
    assert "before" not in add_item and add_item["after"]["id"] == user
    check_item(rem_item, "assignee_rem", task.list_id)
    assert rem_item["before"]["id"] == user and rem_item["after"] is None


def test_tag_added_and_removed(workspace: Workspace, sink: Any, find: Any) -> None:
    task = find.open_task()
    webhook = subscribe(workspace, ["taskTagUpdated", "taskUpdated"])
    workspace.add_tag(task.id, "日本語")
    workspace.add_tag(task.id, "日本語")  # already there: nothing happens
    workspace.remove_tag(task.id, "日本語")
    events = payloads_of(sink, webhook)
    assert [p["event"] for p in events] == ["taskTagUpdated", "taskUpdated", "taskTagUpdated", "taskUpdated"]
    tag_item = events[0]["history_items"][0]
    check_item(tag_item, "tag", task.list_id)
    assert tag_item["before"] is None and tag_item["after"][0]["name"] == "日本語"
    assert list(tag_item["after"][0]) == ["name", "tag_fg", "tag_bg", "creator"]
    removed = events[2]["history_items"][0]
    assert removed["field"] == "tag_removed" and removed["before"][0]["name"] == "日本語"


def test_move_sends_task_moved_task_updated_and_space_updated(
    workspace: Workspace, sink: Any, find: Any
) -> None:
    task = find.open_task()
    state = find.state
    destination = next(t for t in state.lists.values() if t.id != task.list_id and not t.archived)
    source = task.list_id
    webhook = subscribe(workspace)
    workspace.move_task(task.id, destination.id)
    events = [p for p in payloads_of(sink, webhook) if p.get("task_id") in (task.id, None)]
    assert [p["event"] for p in events][:3] == ["taskMoved", "taskUpdated", "spaceUpdated"]
    (item,) = events[0]["history_items"]
    check_item(item, "section_moved", destination.id)
    assert item["before"]["id"] == source and item["after"]["id"] == destination.id
    assert list(item["after"]) == ["id", "name", "category", "project"]
    assert item["data"] == {"mute_notifications": True}
    assert events[2] == {"event": "spaceUpdated", "space_id": destination.space_id, "webhook_id": webhook}
    assert workspace.get_task(task.id)["list"]["id"] == destination.id


def test_custom_field_items_carry_raw_values_and_the_definition(
    workspace: Workspace, sink: Any, find: Any
) -> None:
    field = find.field("drop_down", "list")
    task = find.task_with_field(field.id)
    workspace.remove_field_value(task.id, field.id)
    webhook = subscribe(workspace)
    workspace.set_field_value(task.id, field.id, {"value": field.options[0].id})
    workspace.set_field_value(task.id, field.id, {"value": field.options[1].orderindex})
    first, second = payloads_of(sink, webhook)
    assert first["event"] == second["event"] == "taskUpdated"
    item = first["history_items"][0]
    check_item(item, "custom_field", task.list_id)
    assert item["before"] is None and item["after"] == field.options[0].id  # option uuid, not orderindex
    assert second["history_items"][0]["before"] == field.options[0].id
    assert second["history_items"][0]["after"] == field.options[1].id
    definition = item["custom_field"]
    assert list(definition) == [
        "id",
        "name",
        "type",
        "type_config",
        "values_set",
        "userid",
        "date_created",
        "hide_from_guests",
        "team_id",
        "deleted",
        "deleted_by",
        "pinned",
        "required",
        "required_on_subtasks",
        "linked_subcategory",
    ]
    assert definition["id"] == field.id and isinstance(definition["userid"], str)
    assert set(definition["type_config"]["options"][0]) >= {"id", "name", "value", "type", "orderindex"}


def test_checkbox_items_are_true_and_null(workspace: Workspace, sink: Any, find: Any) -> None:
    field = find.field("checkbox")
    task = find.task_with_field(field.id)
    workspace.set_field_value(task.id, field.id, {"value": False})
    webhook = subscribe(workspace)
    workspace.set_field_value(task.id, field.id, {"value": True})
    workspace.set_field_value(task.id, field.id, {"value": False})
    ticked, unticked = (p["history_items"][0] for p in payloads_of(sink, webhook))
    assert (ticked["before"], ticked["after"]) == (None, "true")
    assert (unticked["before"], unticked["after"]) == ("true", None)


def test_multi_value_field_items_carry_the_whole_before_and_after(
    workspace: Workspace, sink: Any, find: Any
) -> None:
    field = find.field("labels")
    task = find.task_with_field(field.id)
    workspace.set_field_value(task.id, field.id, {"value": [field.options[0].id]})
    webhook = subscribe(workspace)
    wanted = [field.options[0].id, field.options[2].id]
    workspace.set_field_value(task.id, field.id, {"value": wanted})
    (item,) = payloads_of(sink, webhook)[0]["history_items"]
    assert item["before"] == [field.options[0].id] and item["after"] == wanted
    assert webhook_value(field, wanted) == wanted


def test_name_points_archived_and_description_are_task_updated_items(
    workspace: Workspace, sink: Any, find: Any
) -> None:
    task = find.open_task()
    old_name = task.name
    webhook = subscribe(workspace)
    workspace.update_task(
        task.id, {"name": "Renamed ✅", "points": 5, "archived": True, "description": "New text"}
    )
    (payload,) = payloads_of(sink, webhook)
    assert payload["event"] == "taskUpdated"
    items = {item["field"]: item for item in payload["history_items"]}
    assert set(items) == {"name", "points", "archived", "content"}
    assert (items["name"]["before"], items["name"]["after"]) == (old_name, "Renamed ✅")
    assert items["archived"]["after"] == "true"
    assert items["points"]["after"] == 5
    assert '"insert":"New text"' in items["content"]["after"]


def test_relationships_parent_and_watchers_send_nothing_but_move_date_updated(
    workspace: Workspace, sink: Any, find: Any
) -> None:
    state = find.state
    task, other = [t for t in find.tasks() if t.parent_id is None and not t.dependencies and not t.links][:2]
    webhook = subscribe(workspace)
    stamps = {task.id: task.date_updated, other.id: other.date_updated}
    workspace.add_dependency(task.id, {"depends_on": other.id})
    workspace.add_link(task.id, other.id)
    workspace.update_task(task.id, {"watchers": {"add": [next(iter(state.users))]}})
    sibling = next(
        t for t in find.tasks() if t.list_id == task.list_id and t.id != task.id and t.parent_id is None
    )
    workspace.update_task(task.id, {"parent": sibling.id})
    workspace.remove_dependency(task.id, {"depends_on": other.id})
    workspace.remove_link(task.id, other.id)
    assert payloads_of(sink, webhook) == []
    assert task.date_updated > stamps[task.id] and other.date_updated > stamps[other.id]
    assert workspace.get_task(task.id)["parent"] == sibling.id


def test_dependency_entries_appear_on_both_tasks(workspace: Workspace, find: Any) -> None:
    task, other = [t for t in find.tasks() if not t.dependencies][:2]
    workspace.add_dependency(task.id, {"dependency_of": other.id})
    entry = workspace.get_task(task.id)["dependencies"][0]
    assert entry["task_id"] == other.id and entry["depends_on"] == task.id  # other waits on task
    assert workspace.get_task(other.id)["dependencies"] == [entry]
    linked = workspace.add_link(task.id, other.id)["task"]
    assert linked["linked_tasks"][0]["link_id"] == other.id
    assert workspace.get_task(other.id)["linked_tasks"] == linked["linked_tasks"]


def test_delete_sends_task_deleted_without_items_and_the_task_is_gone(
    workspace: Workspace, sink: Any, find: Any
) -> None:
    task = next(t for t in find.tasks() if find.state.children_of(t.id))
    children = list(find.state.children_of(task.id))
    webhook = subscribe(workspace, ["taskDeleted"])
    workspace.delete_task(task.id)
    payloads = payloads_of(sink, webhook)
    assert payloads[0] == {"event": "taskDeleted", "task_id": task.id, "webhook_id": webhook}
    assert {p["task_id"] for p in payloads} >= {task.id, *children}  # subtasks go with their parent
    truth = workspace.ground_truth()
    assert task.id in truth["deleted_task_ids"] and task.id not in truth["tasks"]


async def test_deleted_and_unknown_tasks_answer_404_item_013(api: httpx.AsyncClient, find: Any) -> None:
    task = find.open_task()
    assert (await api.delete(f"/api/v2/task/{task.id}")).json() == {}
    gone = {"err": "Task not found, deleted", "ECODE": "ITEM_013"}
    for response in (
        await api.get(f"/api/v2/task/{task.id}"),
        await api.put(f"/api/v2/task/{task.id}", json={"name": "x"}),
        await api.post(f"/api/v2/task/{task.id}/tag/bug"),
        await api.delete(f"/api/v2/task/{task.id}"),
        await api.get("/api/v2/task/neverexisted"),
    ):
        assert response.status_code == 404 and response.json() == gone


def test_subscriptions_get_only_their_events_and_locations(
    workspace: Workspace, sink: Any, find: Any
) -> None:
    state = find.state
    task = find.open_task()
    elsewhere = next(t for t in state.lists.values() if t.space_id != state.lists[task.list_id].space_id)
    only_priority = subscribe(workspace, ["taskPriorityUpdated"])
    on_list = subscribe(workspace, ["*"], list_id=int(task.list_id))
    on_other_space = subscribe(workspace, ["*"], space_id=elsewhere.space_id)
    on_folder = subscribe(workspace, ["taskStatusUpdated"], folder_id=state.lists[task.list_id].folder_id)
    on_task = subscribe(workspace, ["taskUpdated"], task_id=task.id)
    workspace.update_task(task.id, {"priority": 1 if task.priority != 1 else 2, "status": "review"})
    assert sink.events(only_priority) == ["taskPriorityUpdated"]
    assert sink.events(on_list) == ["taskStatusUpdated", "taskUpdated", "taskPriorityUpdated", "taskUpdated"]
    assert sink.events(on_other_space) == []
    assert sink.events(on_folder) == ["taskStatusUpdated"]
    assert sink.events(on_task) == ["taskUpdated", "taskUpdated"]


def test_every_change_moves_date_updated_strictly_forward(workspace: Workspace, find: Any) -> None:
    task = find.open_task()
    stamps = [int(workspace.get_task(task.id)["date_updated"])]
    field = find.field("short_text")
    for change in (
        lambda: workspace.update_task(task.id, {"name": "a"}),
        lambda: workspace.update_task(task.id, {"name": "b"}),
        lambda: workspace.add_tag(task.id, "urgent"),
        lambda: workspace.set_field_value(task.id, field.id, {"value": "x"}),
        lambda: workspace.remove_field_value(task.id, field.id),
        lambda: workspace.update_task(task.id, {}),
    ):
        change()
        stamps.append(int(workspace.get_task(task.id)["date_updated"]))
    assert stamps == sorted(set(stamps)) and len(stamps) == 7


def test_events_are_recorded_even_without_subscribers(workspace: Workspace, find: Any) -> None:
    task = find.open_task()
    workspace.update_task(task.id, {"status": "review"})
    recorded = workspace.events()[-2:]
    assert [e.event for e in recorded] == ["taskStatusUpdated", "taskUpdated"]
    assert recorded[0].history_items == recorded[1].history_items and recorded[0].task_id == task.id
