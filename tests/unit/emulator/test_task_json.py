"""Task JSON is shaped like the documented examples, quirks included (clickup-api.md §3.1-§3.3, §5.3,
§5.5, §6.1)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from clickup_sync.clickup.emulator.queries import TaskQuery
from clickup_sync.clickup.emulator.task_json import task_json
from clickup_sync.clickup.emulator.workspace import Workspace

# Key order of the reference's Get Task example (§3.1).
GET_TASK_KEYS = [
    "id",
    "custom_id",
    "custom_item_id",
    "name",
    "text_content",
    "description",
    "status",
    "orderindex",
    "date_created",
    "date_updated",
    "date_closed",
    "date_done",
    "archived",
    "creator",
    "assignees",
    "group_assignees",
    "watchers",
    "checklists",
    "tags",
    "parent",
    "top_level_parent",
    "priority",
    "due_date",
    "start_date",
    "points",
    "time_estimate",
    "time_spent",
    "custom_fields",
    "dependencies",
    "linked_tasks",
    "locations",
    "team_id",
    "url",
    "sharing",
    "permission_level",
    "list",
    "project",
    "folder",
    "space",
    "attachments",
]
FIELD_KEYS_SET = [
    "id",
    "name",
    "type",
    "type_config",
    "date_created",
    "hide_from_guests",
    "value",
    "value_richtext",
    "required",
]
FIELD_KEYS_UNSET = ["id", "name", "type", "type_config", "date_created", "hide_from_guests", "required"]

pytestmark = pytest.mark.anyio


def field_entry(task: dict[str, Any], name: str) -> dict[str, Any]:
    return next(entry for entry in task["custom_fields"] if entry["name"] == name)


async def test_get_task_has_the_documented_keys_in_order(api: httpx.AsyncClient, find: Any) -> None:
    task = find.open_task()
    body = (await api.get(f"/api/v2/task/{task.id}")).json()
    assert list(body) == GET_TASK_KEYS
    assert body["id"] == task.id
    assert body["url"] == f"https://app.clickup.com/t/{task.id}"
    assert body["team_id"] == find.state.team.id


async def test_list_items_have_no_attachments_and_time_spent_only_with_time_entries(
    api: httpx.AsyncClient, find: Any
) -> None:
    page = (
        await api.get(f"/api/v2/list/{find.big_list_id()}/task", params={"include_closed": "true"})
    ).json()
    tasks = page["tasks"]
    assert all("attachments" not in task for task in tasks)
    tracked = {t.id for t in find.tasks() if t.time_spent is not None}
    assert any(task["id"] in tracked for task in tasks)
    for task in tasks:
        assert ("time_spent" in task) == (task["id"] in tracked)
        keys = [
            key
            for key in GET_TASK_KEYS
            if key != "attachments" and (key != "time_spent" or "time_spent" in task)
        ]
        assert list(task) == keys


def test_scalar_quirks_dates_strings_time_spent_number_priority_strings(
    workspace: Workspace, find: Any
) -> None:
    task = next(t for t in find.tasks() if t.time_estimate and t.time_spent and t.priority and t.due_date)
    body = task_json(find.state, task, single=True)
    assert body["date_created"] == str(task.date_created)
    assert isinstance(body["date_updated"], str) and body["date_updated"].isdigit()
    assert body["due_date"] == str(task.due_date)
    assert body["time_estimate"] == str(task.time_estimate)  # a string ...
    assert body["time_spent"] == task.time_spent  # ... while time_spent is a number
    assert list(body["priority"]) == ["color", "id", "orderindex", "priority"]
    assert body["priority"]["id"] == str(task.priority) and body["priority"]["orderindex"] == str(
        task.priority
    )
    assert body["orderindex"].endswith(".00000000000000000000000000000000")
    assert list(body["status"]) == ["id", "status", "color", "orderindex", "type"]
    assert isinstance(body["status"]["orderindex"], int)
    assert list(body["creator"]) == ["id", "username", "color", "email", "profilePicture"]
    assert all(
        list(user) == ["id", "username", "color", "initials", "email", "profilePicture"]
        for user in body["assignees"] + body["watchers"]
    )


def test_project_repeats_folder_and_folderless_lists_sit_in_a_hidden_folder(find: Any) -> None:
    state = find.state
    folderless = next(t for t in find.tasks() if state.folders[state.lists[t.list_id].folder_id].hidden)
    body = task_json(state, folderless, single=True)
    assert body["project"] == body["folder"]
    assert body["folder"]["name"] == "hidden" and body["folder"]["hidden"] is True
    assert body["space"] == {"id": state.lists[folderless.list_id].space_id}
    foldered = next(t for t in find.tasks() if not state.folders[state.lists[t.list_id].folder_id].hidden)
    assert task_json(state, foldered)["folder"]["hidden"] is False


def test_custom_field_values_are_read_with_their_documented_encodings(find: Any) -> None:
    state = find.state
    seen: set[str] = set()
    for task in find.tasks():
        body = task_json(state, task)
        for entry in body["custom_fields"]:
            definition = state.fields[entry["id"]]
            stored = task.custom_values.get(definition.id)
            if "value" not in entry:
                assert list(entry) == FIELD_KEYS_UNSET
                assert stored is None  # unset fields have no value key at all
                continue
            assert list(entry) == FIELD_KEYS_SET
            kind, value = definition.type, entry["value"]
            seen.add(kind)
            if kind in {"number", "currency"}:
                assert isinstance(value, str)
                float(value)
            elif kind == "checkbox":
                assert value == "true"
            elif kind == "drop_down":
                assert value == definition.option_by_id(stored).orderindex and isinstance(value, int)
            elif kind == "date":
                assert value == str(stored)
            elif kind == "labels":
                assert value == stored and all(definition.option_by_id(option) for option in value)
            elif kind == "users":
                assert [user["id"] for user in value] == stored
                assert list(value[0]) == ["id", "username", "email", "color", "initials", "profilePicture"]
            elif kind in {"tasks", "list_relationship"}:
                assert [stub["id"] for stub in value] == stored
                assert set(value[0]) == {
                    "id",
                    "name",
                    "status",
                    "color",
                    "custom_type",
                    "team_id",
                    "deleted",
                    "url",
                    "access",
                }
            elif kind == "automatic_progress":
                assert set(value) == {"percent_complete"}
            elif kind == "manual_progress":
                assert isinstance(value["current"], str) and isinstance(value["percent_completed"], int)
            elif kind == "location":
                assert set(value) == {"location", "place_id", "formatted_address"}
            elif kind == "attachment":
                assert value[0]["id"] == stored[0].id and isinstance(value[0]["date"], int)
    assert {"number", "checkbox", "drop_down", "labels", "users", "tasks", "date", "location"} <= seen


def test_unchecked_checkbox_has_no_value_key(workspace: Workspace, find: Any) -> None:
    checkbox = find.field("checkbox")
    task = find.task_with_field(checkbox.id)
    workspace.set_field_value(task.id, checkbox.id, {"value": True})
    assert field_entry(workspace.get_task(task.id), checkbox.name)["value"] == "true"
    workspace.set_field_value(task.id, checkbox.id, {"value": False})
    assert "value" not in field_entry(workspace.get_task(task.id), checkbox.name)


def test_relationships_show_the_documented_entry_shapes(find: Any) -> None:
    state = find.state
    waiting = next(t for t in find.tasks() if any(d.task_id == t.id for d in t.dependencies))
    entry = task_json(state, waiting)["dependencies"][0]
    assert list(entry) == [
        "task_id",
        "depends_on",
        "type",
        "date_created",
        "userid",
        "workspace_id",
        "chain_id",
    ]
    assert isinstance(entry["userid"], str) and entry["workspace_id"] == state.team.id
    blocking = state.tasks[entry["depends_on"]]
    assert entry in task_json(state, blocking)["dependencies"]  # the same entry on the other task
    linked = next(t for t in find.tasks() if t.links)
    link = task_json(state, linked)["linked_tasks"][0]
    assert list(link) == ["task_id", "link_id", "date_created", "userid", "workspace_id"]


def test_subtasks_carry_parent_and_top_level_parent(workspace: Workspace, find: Any) -> None:
    state = find.state
    grandchild = next(t for t in find.tasks() if t.parent_id and state.tasks[t.parent_id].parent_id)
    body = workspace.get_task(grandchild.id)
    assert body["parent"] == grandchild.parent_id
    assert body["top_level_parent"] not in (None, grandchild.parent_id)
    parent = workspace.get_task(grandchild.parent_id, include_subtasks=True)
    assert grandchild.id in [sub["id"] for sub in parent["subtasks"]]
    assert "subtasks" not in workspace.get_task(grandchild.parent_id)
    sub = next(s for s in parent["subtasks"] if s["id"] == grandchild.id)
    assert "custom_id" not in sub and sub["parent"] == grandchild.parent_id


async def test_get_task_by_custom_id_needs_team_id(api: httpx.AsyncClient, find: Any) -> None:
    task = next(t for t in find.tasks() if t.custom_id)
    found = await api.get(
        f"/api/v2/task/{task.custom_id}", params={"custom_task_ids": "true", "team_id": find.state.team.id}
    )
    assert found.status_code == 200 and found.json()["id"] == task.id
    assert found.json()["custom_id"] == task.custom_id
    assert (await api.get(f"/api/v2/task/{task.custom_id}")).status_code == 404
    without_team = await api.get(f"/api/v2/task/{task.custom_id}", params={"custom_task_ids": "true"})
    assert without_team.status_code == 400


def test_encoded_pages_are_byte_identical_to_plain_json(workspace: Workspace) -> None:
    query = TaskQuery(subtasks=True, include_closed=True)
    plain = workspace.team_tasks(workspace.team_id, query)
    expected = json.dumps(plain, ensure_ascii=False, separators=(",", ":")).encode()
    assert workspace.team_tasks_encoded(workspace.team_id, query) == expected
    task_id = plain["tasks"][0]["id"]
    single = json.dumps(
        workspace.get_task(task_id, include_subtasks=True), ensure_ascii=False, separators=(",", ":")
    )
    assert workspace.get_task_encoded(task_id, include_subtasks=True) == single.encode()


async def test_hierarchy_json_matches_the_documented_shapes(api: httpx.AsyncClient, find: Any) -> None:
    state = find.state
    team = (await api.get("/api/v2/team")).json()["teams"][0]
    assert team["id"] == state.team.id and len(team["members"]) == 8
    assert isinstance(team["members"][0]["user"]["id"], int)
    user = (await api.get("/api/v2/user")).json()["user"]
    assert {"id", "username", "email", "color", "profilePicture", "initials", "timezone"} <= set(user)
    space = (await api.get(f"/api/v2/team/{state.team.id}/space")).json()["spaces"][0]
    assert {"id", "name", "private", "statuses", "multiple_assignees", "features", "archived"} <= set(space)
    folder = (await api.get(f"/api/v2/space/{space['id']}/folder")).json()["folders"][0]
    assert isinstance(folder["task_count"], str) and folder["hidden"] is False
    assert folder["lists"] and folder["space"]["id"] == space["id"]
    detail = (await api.get(f"/api/v2/list/{folder['lists'][0]['id']}")).json()
    assert {"statuses", "inbound_address", "due_date_time", "folder", "space", "archived"} <= set(detail)
    tags = (await api.get(f"/api/v2/space/{space['id']}/tag")).json()["tags"]
    assert tags and list(tags[0]) == ["name", "tag_fg", "tag_bg"]


async def test_field_endpoints_return_the_fields_of_their_level(api: httpx.AsyncClient, find: Any) -> None:
    state = find.state
    team_fields = (await api.get(f"/api/v2/team/{state.team.id}/field")).json()["fields"]
    assert {f["id"] for f in team_fields} == {f.id for f in state.fields.values() if f.scope == "team"}
    assert list(team_fields[0]) == ["id", "name", "type", "type_config", "date_created", "hide_from_guests"]
    list_id = find.big_list_id()
    list_fields = (await api.get(f"/api/v2/list/{list_id}/field")).json()["fields"]
    assert {f["id"] for f in team_fields} < {
        f["id"] for f in list_fields
    }  # list fields include workspace ones
    space_id = state.lists[list_id].space_id
    space_fields = (await api.get(f"/api/v2/space/{space_id}/field")).json()["fields"]
    assert {f["name"] for f in space_fields} >= {"Órden de compra", "💯Progress"}
    folder_id = state.lists[list_id].folder_id
    folder_fields = (await api.get(f"/api/v2/folder/{folder_id}/field")).json()["fields"]
    assert {f["type"] for f in folder_fields} >= {"labels", "users"}
    drop_down = next(f for f in list_fields if f["type"] == "drop_down")
    assert list(drop_down["type_config"]["options"][0]) == ["id", "name", "color", "orderindex"]
    labels = next(f for f in list_fields if f["type"] == "labels")
    assert list(labels["type_config"]["options"][0]) == ["id", "label", "color", "orderindex"]


async def test_time_in_status_single_and_bulk(api: httpx.AsyncClient, find: Any) -> None:
    changed = next(t for t in find.tasks() if len(t.status_history) > 1)
    single = (await api.get(f"/api/v2/task/{changed.id}/time_in_status")).json()
    assert single["current_status"]["status"] == changed.status
    assert {entry["status"] for entry in single["status_history"]} == {
        name for name, _ in changed.status_history
    }
    assert isinstance(single["current_status"]["total_time"]["since"], str)
    other = find.tasks()[0]
    bulk = await api.get(
        "/api/v2/task/bulk_time_in_status/task_ids", params=[("task_ids", changed.id), ("task_ids", other.id)]
    )
    assert set(bulk.json()) == {changed.id, other.id}
    too_many = [("task_ids", t.id) for t in find.tasks()[:101]]
    assert (await api.get("/api/v2/task/bulk_time_in_status/task_ids", params=too_many)).status_code == 400
