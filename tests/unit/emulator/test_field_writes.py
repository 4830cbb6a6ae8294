"""Set Custom Field Value accepts the bodies of clickup-api.md §5.4, rejects bad ones like ClickUp
(FIELD_011 for drop-downs, "Value is not a valid string" for numbers in text fields), and the value
reads back in its documented encoding (§5.3)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from clickup_sync.clickup.emulator.workspace import Workspace

pytestmark = pytest.mark.anyio


def read_back(workspace: Workspace, task_id: str, field_id: str) -> Any:
    entry = next(e for e in workspace.get_task(task_id)["custom_fields"] if e["id"] == field_id)
    return entry.get("value", "<no value key>")


async def set_value(api: httpx.AsyncClient, task_id: str, field_id: str, body: Any) -> httpx.Response:
    return await api.post(f"/api/v2/task/{task_id}/field/{field_id}", json=body)


async def test_drop_down_takes_an_option_uuid_or_index_and_reads_as_orderindex(
    api: httpx.AsyncClient, workspace: Workspace, find: Any
) -> None:
    field = find.field("drop_down", "list")
    task = find.task_with_field(field.id)
    option = field.options[2]
    response = await set_value(api, task.id, field.id, {"value": option.id})
    assert response.status_code == 200 and response.json() == {}
    assert read_back(workspace, task.id, field.id) == option.orderindex
    assert (
        await set_value(api, task.id, field.id, {"value": field.options[1].orderindex})
    ).status_code == 200
    assert read_back(workspace, task.id, field.id) == field.options[1].orderindex


async def test_drop_down_by_label_is_field_011(api: httpx.AsyncClient, find: Any) -> None:
    field = find.field("drop_down", "list")
    task = find.task_with_field(field.id)
    response = await set_value(api, task.id, field.id, {"value": field.options[0].name})
    assert response.status_code == 400
    assert response.json() == {"err": "Value must be an option index or uuid", "ECODE": "FIELD_011"}


@pytest.mark.parametrize(
    ("kind", "body", "message"),
    [
        ("short_text", {"value": 42}, "Value is not a valid string"),
        ("text", {"value": ["x"]}, "Value is not a valid string"),
        ("number", {"value": "eight"}, "Value is not a valid number"),
        ("currency", {"value": True}, "Value is not a valid number"),
        ("email", {"value": "not-an-email"}, "Value is not a valid email"),
        ("url", {"value": "clickup"}, "Value is not a valid url"),
        ("phone", {"value": "201 555"}, "Value is not a valid phone number"),
        ("date", {"value": "tomorrow"}, "Value is not a valid date"),
        ("checkbox", {"value": "yes"}, "Value is not a valid boolean"),
        ("emoji", {"value": 9}, "Value must be an integer between 0 and 5"),
        ("labels", {"value": ["not-an-option"]}, "Value must be an array of label option uuids"),
        ("users", {"value": [1, 2]}, "Value must be an object with add and/or rem arrays of user ids"),
        ("tasks", {"value": {"add": ["nope"]}}, "Value contains a task that does not exist"),
        (
            "manual_progress",
            {"value": {"current": 101}},
            "Value must be an object with current between 0 and 100",
        ),
        (
            "location",
            {"value": {"lat": 1}},
            "Value must be an object with location {lat, lng} and formatted_address",
        ),
        ("formula", {"value": "1"}, "Custom field of type formula cannot be set"),
        ("automatic_progress", {"value": 5}, "Custom field of type automatic_progress cannot be set"),
        ("votes", {"value": [1]}, "Custom field of type votes cannot be set"),
    ],
)
async def test_invalid_values_are_400_and_change_nothing(
    api: httpx.AsyncClient, workspace: Workspace, find: Any, kind: str, body: dict[str, Any], message: str
) -> None:
    field = find.field(kind)
    task = find.task_with_field(field.id)
    before = workspace.get_task(task.id)
    response = await set_value(api, task.id, field.id, body)
    assert response.status_code == 400
    assert response.json()["err"] == message and response.json()["ECODE"].startswith("FIELD_")
    assert workspace.get_task(task.id) == before


@pytest.mark.parametrize(
    ("kind", "body", "expected"),
    [
        ("short_text", {"value": "Fix critical auth issues"}, "Fix critical auth issues"),
        ("text", {"value": "Line one\nLine two"}, "Line one\nLine two"),
        ("number", {"value": -28}, "-28"),
        ("number", {"value": 3.5}, "3.5"),
        ("currency", {"value": 8000}, "8000"),
        ("email", {"value": "user@company.com"}, "user@company.com"),
        ("url", {"value": "https://clickup.com/api"}, "https://clickup.com/api"),
        ("phone", {"value": "+1 201 555 0123"}, "+1 201 555 0123"),
        ("date", {"value": 1667367645000, "value_options": {"time": True}}, "1667367645000"),
        ("checkbox", {"value": True}, "true"),
        ("emoji", {"value": 4}, 4),
    ],
)
async def test_documented_write_bodies_read_back_in_read_encoding(
    api: httpx.AsyncClient, workspace: Workspace, find: Any, kind: str, body: dict[str, Any], expected: Any
) -> None:
    field = find.field(kind)
    task = find.task_with_field(field.id)
    assert (await set_value(api, task.id, field.id, body)).status_code == 200
    assert read_back(workspace, task.id, field.id) == expected


async def test_labels_replace_all_existing_labels(
    api: httpx.AsyncClient, workspace: Workspace, find: Any
) -> None:
    field = find.field("labels")
    task = find.task_with_field(field.id)
    wanted = [field.options[0].id, field.options[3].id]
    assert (await set_value(api, task.id, field.id, {"value": wanted})).status_code == 200
    assert read_back(workspace, task.id, field.id) == wanted
    assert (await set_value(api, task.id, field.id, {"value": [field.options[1].id]})).status_code == 200
    assert read_back(workspace, task.id, field.id) == [field.options[1].id]


async def test_people_and_task_relationships_take_add_and_rem(
    api: httpx.AsyncClient, workspace: Workspace, find: Any
) -> None:
    users = find.field("users")
    task = find.task_with_field(users.id)
    user_ids = list(find.state.users)
    await api.delete(f"/api/v2/task/{task.id}/field/{users.id}")
    await set_value(api, task.id, users.id, {"value": {"add": user_ids[:3]}})
    await set_value(api, task.id, users.id, {"value": {"add": [user_ids[4]], "rem": [user_ids[1]]}})
    assert [u["id"] for u in read_back(workspace, task.id, users.id)] == [
        user_ids[0],
        user_ids[2],
        user_ids[4],
    ]

    relation = find.field("tasks")
    holder = find.task_with_field(relation.id)
    await api.delete(f"/api/v2/task/{holder.id}/field/{relation.id}")
    others = [t.id for t in find.tasks() if t.id != holder.id][:3]
    await set_value(api, holder.id, relation.id, {"value": {"add": others}})
    await set_value(api, holder.id, relation.id, {"value": {"rem": [others[0]]}})
    assert [stub["id"] for stub in read_back(workspace, holder.id, relation.id)] == others[1:]


async def test_list_relationship_only_links_tasks_of_the_related_list(
    api: httpx.AsyncClient, workspace: Workspace, find: Any
) -> None:
    field = find.field("list_relationship")
    related = field.type_config["subcategory_id"]
    holder = find.task_with_field(field.id)
    inside = find.state.task_ids_in_list(related)[0]
    outside = next(t.id for t in find.tasks() if t.list_id != related)
    assert (await set_value(api, holder.id, field.id, {"value": {"add": [outside]}})).status_code == 400
    assert (await set_value(api, holder.id, field.id, {"value": {"add": [inside]}})).status_code == 200
    assert inside in [stub["id"] for stub in read_back(workspace, holder.id, field.id)]


async def test_progress_location_and_attachment_values(
    api: httpx.AsyncClient, workspace: Workspace, find: Any
) -> None:
    progress = find.field("manual_progress")
    task = find.task_with_field(progress.id)
    await set_value(api, task.id, progress.id, {"value": {"current": 20}})
    assert read_back(workspace, task.id, progress.id) == {"current": "20", "percent_completed": 20}
    location = find.field("location")
    body = {"location": {"lat": -28.016667, "lng": 153.4}, "formatted_address": "Gold Coast QLD, Australia"}
    await set_value(api, task.id, location.id, {"value": body})
    value = read_back(workspace, task.id, location.id)
    assert value["location"] == body["location"] and value["formatted_address"] == body["formatted_address"]
    files = find.field("attachment")
    await api.delete(f"/api/v2/task/{task.id}/field/{files.id}")
    await set_value(api, task.id, files.id, {"value": {"add": ["62447c77-2086-4cda-b274-f53eccf0547b.txt"]}})
    assert [a["id"] for a in read_back(workspace, task.id, files.id)] == [
        "62447c77-2086-4cda-b274-f53eccf0547b.txt"
    ]


async def test_delete_or_null_clears_a_value_so_the_value_key_disappears(
    api: httpx.AsyncClient, workspace: Workspace, find: Any
) -> None:
    field = find.field("number", "list")
    task = find.task_with_field(field.id)
    await set_value(api, task.id, field.id, {"value": 8})
    response = await api.delete(f"/api/v2/task/{task.id}/field/{field.id}")
    assert response.status_code == 200 and response.json() == {}
    assert read_back(workspace, task.id, field.id) == "<no value key>"
    await set_value(api, task.id, field.id, {"value": 8})
    await set_value(api, task.id, field.id, {"value": None})
    assert read_back(workspace, task.id, field.id) == "<no value key>"


async def test_a_field_the_task_cannot_use_is_400_and_unknown_task_404(
    api: httpx.AsyncClient, find: Any
) -> None:
    state = find.state
    task = find.tasks()[0]
    usable = {f.id for f in state.fields_for_list(task.list_id)}
    foreign = next(f for f in state.fields.values() if f.id not in usable)
    assert (await set_value(api, task.id, foreign.id, {"value": "x"})).status_code == 400
    missing = await set_value(api, "nosuchtask", foreign.id, {"value": "x"})
    assert missing.status_code == 404 and missing.json()["ECODE"] == "ITEM_013"


async def test_create_task_saves_applicable_custom_field_values(
    api: httpx.AsyncClient, workspace: Workspace, find: Any
) -> None:
    list_id = find.big_list_id()
    fields = {f.type: f for f in find.state.fields_for_list(list_id)}
    body = {
        "name": "With fields",
        "custom_fields": [
            {"id": fields["drop_down"].id, "value": fields["drop_down"].options[1].id},
            {"id": fields["number"].id, "value": 23},
            {"id": fields["short_text"].id, "value": "Text field input"},
        ],
    }
    created = (await api.post(f"/api/v2/list/{list_id}/task", json=body)).json()
    values = {e["id"]: e.get("value") for e in created["custom_fields"]}
    assert values[fields["drop_down"].id] == fields["drop_down"].options[1].orderindex
    assert values[fields["number"].id] == "23"
    assert values[fields["short_text"].id] == "Text field input"
    bad = {"name": "Bad", "custom_fields": [{"id": fields["short_text"].id, "value": 5}]}
    assert (await api.post(f"/api/v2/list/{list_id}/task", json=bad)).status_code == 400
