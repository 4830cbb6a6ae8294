"""One Get Task JSON → the `tasks` row, custom field values and relationships (clickup-api.md §3, §6.1)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from clickup_sync.sync.task_state import Relationship, TaskSnapshot, snapshot_from_task_json

# §3.1 Get Task 200 example, verbatim except the `attachments` array (not part of the mirror's task row).
GET_TASK = json.loads(r"""
{"id": "9hx", "custom_id": null, "custom_item_id": 0, "name": "Fix login bug",
 "text_content": "Users are unable to log in when SSO is enabled.",
 "description": "Users are unable to log in when SSO is enabled.",
 "status": {"id": "p7001234_FxGmgrnk", "status": "in progress", "color": "#d3d3d3", "orderindex": 1,
   "type": "custom"},
 "orderindex": "1.00000000000000000000000000000000", "date_created": "1567780450202",
 "date_updated": "1567780450202", "date_closed": null, "date_done": null, "archived": false,
 "creator": {"id": 183, "username": "Alex Johnson", "color": "#827718", "email": "user@company.com",
   "profilePicture": "https://attachments-public.clickup.com/profilePictures/183_abc.jpg"},
 "assignees": [
   {"id": 2772463, "username": "Alex Johnson", "color": "#FC575E", "initials": "AJ",
    "email": "user@company.com", "profilePicture": null}
  ],
 "group_assignees": [],
 "watchers": [
   {"id": 2772463, "username": "Alex Johnson", "color": "#FC575E", "initials": "AJ",
    "email": "user@company.com", "profilePicture": null}
  ],
 "checklists": [],
 "tags": [{"name": "bug", "tag_fg": "#EA80FC", "tag_bg": "#EA80FC", "creator": 183}],
 "parent": null, "top_level_parent": null,
 "priority": {"color": "#f8ae00", "id": "3", "orderindex": "3", "priority": "normal"},
 "due_date": "1508369194377", "start_date": null, "points": 3, "time_estimate": "8640000",
 "time_spent": 0,
 "custom_fields": [
   {"id": "d2ab17e0-41d3-4d28-bdbb-f3f0f2c62f8b", "name": "Sprint Goal",
    "type": "short_text", "type_config": {}, "date_created": "1621915186877",
    "hide_from_guests": false, "value": "Fix critical auth issues", "value_richtext": "",
    "required": false},
   {"id": "1f3cc395-3448-4264-bedd-590a3b3fa178", "name": "Story Points", "type": "number",
    "type_config": {}, "date_created": "1627004071219", "hide_from_guests": false,
    "value": "8", "value_richtext": "", "required": false},
   {"id": "f4d2a20d-6759-4420-b897-222dbe2587d4", "name": "Assigned Reviewer",
    "type": "users",
    "type_config": {"include_guests": false, "include_team_members": true, "single_user": false},
    "date_created": "1618440378816", "hide_from_guests": false,
    "value": [
      {"id": 2772463, "username": "Alex Johnson", "email": "user@company.com",
       "color": "#FC575E", "initials": "AJ", "profilePicture": null}
     ],
    "value_richtext": "", "required": false},
   {"id": "b2e4be70-c4d3-4726-985b-46ac25375b28", "name": "Marketing Requirements",
    "type": "drop_down",
    "type_config": {"sorting": "manual", "new_drop_down": true,
      "options": [
        {"id": "f8249998-9c0a-4b1d-a8b7-67a072aca05a", "name": "No Marketing Needed",
         "color": "#b5bcc2", "orderindex": 0},
        {"id": "97704092-e5aa-4005-a87f-677b764d2e4c", "name": "Internal Announcement",
         "color": "#02BCD4", "orderindex": 1},
        {"id": "c3d4e5f6-a7b8-4c9d-0e1f-a2b3c4d5e6f7", "name": "Release Notes Only",
         "color": "#7b68ee", "orderindex": 2}
       ]},
    "date_created": "1762838079415", "hide_from_guests": false, "value": 2,
    "value_richtext": "", "required": false}
  ],
 "dependencies": [
   {"task_id": "9hx", "depends_on": "8gx", "type": 1, "date_created": "1675970762803",
    "userid": "183", "workspace_id": "1234567", "chain_id": null}
  ],
 "linked_tasks": [], "locations": [], "team_id": "1234567",
 "url": "https://app.clickup.com/t/9hx",
 "sharing": {"public": false, "public_share_expires_on": null,
   "public_fields": ["assignees", "priority", "due_date", "content", "comments", "attachments",
     "customFields", "subtasks", "tags", "checklists", "coverimage"],
   "token": null, "seo_optimized": false},
 "permission_level": "create",
 "list": {"id": "15505202", "name": "Sprint Backlog", "access": true},
 "project": {"id": "6992470", "name": "Mobile Squad", "hidden": false, "access": true},
 "folder": {"id": "6992470", "name": "Mobile Squad", "hidden": false, "access": true},
 "space": {"id": "7002367"}}
""")

# §3.3 second task of the Get Tasks example: nulls, no `time_spent`, custom fields without "value".
SECOND_TASK = json.loads(r"""
{"id": "9hz", "custom_id": null, "custom_item_id": 0, "name": "Update onboarding docs",
 "text_content": "", "description": "",
 "status": {"id": "p7002367_HxJmgqni", "status": "to do", "color": "#f8ae00", "orderindex": 0,
   "type": "open"},
 "orderindex": "2.00000000000000000000000000000000", "date_created": "1567780450202",
 "date_updated": "1567780450202", "date_closed": null, "date_done": null, "archived": false,
 "creator": {"id": 183, "username": "Alex Johnson", "color": "#827718",
   "profilePicture": "https://attachments-public.clickup.com/profilePictures/183_abc.jpg"},
 "assignees": [], "group_assignees": [], "watchers": [], "checklists": [], "tags": [],
 "parent": null, "top_level_parent": null, "priority": null, "due_date": null,
 "start_date": null, "points": null, "time_estimate": null,
 "custom_fields": [
   {"id": "d2ab17e0-41d3-4d28-bdbb-f3f0f2c62f8b", "name": "Sprint Goal",
    "type": "short_text", "type_config": {}, "date_created": "1621915186877",
    "hide_from_guests": false, "required": false},
   {"id": "1f3cc395-3448-4264-bedd-590a3b3fa178", "name": "Story Points", "type": "number",
    "type_config": {}, "date_created": "1627004071219", "hide_from_guests": false,
    "required": false}
  ],
 "dependencies": [], "linked_tasks": [], "locations": [], "team_id": "7002367",
 "url": "https://app.clickup.com/t/9hz",
 "sharing": {"public": false, "public_share_expires_on": null,
   "public_fields": ["assignees", "priority", "due_date", "content", "comments", "attachments",
     "customFields", "subtasks", "tags", "checklists", "coverimage"],
   "token": null, "seo_optimized": false},
 "permission_level": "create",
 "list": {"id": "15505202", "name": "Sprint Backlog", "access": true},
 "project": {"id": "6992470", "name": "Mobile Squad", "hidden": false, "access": true},
 "folder": {"id": "6992470", "name": "Mobile Squad", "hidden": false, "access": true},
 "space": {"id": "7002367"}}
""")

CREATED = datetime(2019, 9, 6, 14, 34, 10, 202000, tzinfo=UTC)  # "1567780450202"
DUE = datetime(2017, 10, 18, 23, 26, 34, 377000, tzinfo=UTC)  # "1508369194377"
# The §6.1 example: WAITER waits on BLOCKER; LINKED is linked to WAITER.
WAITER, BLOCKER, LINKED = "8xdfm9vmz", "8xdfe67cz", "8xdfdjbgd"
HIDDEN_FOLDER = {"id": "96771950", "name": "hidden", "hidden": True}
DROPDOWN_FIELD_ID = "b2e4be70-c4d3-4726-985b-46ac25375b28"


def row_columns(snapshot: TaskSnapshot) -> dict[str, Any]:
    return {name: value for name, value in vars(snapshot.row).items() if name != "raw"}


def with_changes(**changes: Any) -> dict[str, Any]:
    task: dict[str, Any] = copy.deepcopy(GET_TASK)
    task.update(changes)
    return task


def relationship_field(field_id: str, field_type: str, value: Any) -> dict[str, Any]:
    return {"id": field_id, "name": "Related", "type": field_type, "type_config": {}, "value": value}


@pytest.mark.parametrize(
    ("task", "expected_row"),
    [
        (
            GET_TASK,
            {
                "task_id": "9hx",
                "custom_id": None,
                "name": "Fix login bug",
                "status": "in progress",
                "status_type": "custom",
                "list_id": "15505202",
                "folder_id": "6992470",
                "space_id": "7002367",
                "parent_task_id": None,
                "top_level_parent_id": None,
                "priority": "normal",
                "assignee_ids": ("2772463",),
                "watcher_ids": ("2772463",),
                "tags": ("bug",),
                "due_date": DUE,
                "start_date": None,
                "date_created": CREATED,
                "date_updated": CREATED,
                "date_closed": None,
                "date_done": None,
                "archived": False,
                "time_estimate_ms": 8640000,
                "points": Decimal(3),
            },
        ),
        (
            SECOND_TASK,
            {
                "task_id": "9hz",
                "custom_id": None,
                "name": "Update onboarding docs",
                "status": "to do",
                "status_type": "open",
                "list_id": "15505202",
                "folder_id": "6992470",
                "space_id": "7002367",
                "parent_task_id": None,
                "top_level_parent_id": None,
                "priority": None,
                "assignee_ids": (),
                "watcher_ids": (),
                "tags": (),
                "due_date": None,
                "start_date": None,
                "date_created": CREATED,
                "date_updated": CREATED,
                "date_closed": None,
                "date_done": None,
                "archived": False,
                "time_estimate_ms": None,
                "points": None,
            },
        ),
    ],
    ids=["get-task-example", "second-task-with-nulls"],
)
def test_documented_tasks_become_their_rows(task: dict[str, Any], expected_row: dict[str, Any]) -> None:
    snapshot = snapshot_from_task_json(task)

    assert row_columns(snapshot) == expected_row
    assert snapshot.row.raw is task  # the whole JSON is kept as received
    assert snapshot.problems == ()


@pytest.mark.parametrize(
    ("task", "definition_count", "labels_by_field"),
    [
        (
            GET_TASK,
            4,
            {
                "d2ab17e0-41d3-4d28-bdbb-f3f0f2c62f8b": None,
                "1f3cc395-3448-4264-bedd-590a3b3fa178": None,
                "f4d2a20d-6759-4420-b897-222dbe2587d4": ("Alex Johnson",),
                DROPDOWN_FIELD_ID: ("Release Notes Only",),
            },
        ),
        (SECOND_TASK, 2, {}),  # the fields exist but are unset: definitions, no values
    ],
)
def test_custom_field_values_are_keyed_by_field_id(
    task: dict[str, Any], definition_count: int, labels_by_field: dict[str, Any]
) -> None:
    snapshot = snapshot_from_task_json(task)

    assert len(snapshot.field_definitions) == definition_count
    assert {field_id: value.value_labels for field_id, value in snapshot.values.items()} == labels_by_field


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        # §3.1: the fetched task 9hx waits on 8gx
        (GET_TASK, {Relationship("9hx", "8gx", "waiting_on")}),
        # §6.1 entries, seen from each side: `task_id` waits on `depends_on`; links are symmetric
        (
            with_changes(
                id=WAITER,
                dependencies=[{"task_id": WAITER, "depends_on": BLOCKER, "type": 1}],
                linked_tasks=[{"task_id": LINKED, "link_id": WAITER}],
            ),
            {Relationship(WAITER, BLOCKER, "waiting_on"), Relationship(WAITER, LINKED, "linked")},
        ),
        (
            with_changes(id=BLOCKER, dependencies=[{"task_id": WAITER, "depends_on": BLOCKER}]),
            {Relationship(BLOCKER, WAITER, "blocking")},
        ),
        (
            with_changes(id=LINKED, dependencies=[], linked_tasks=[{"task_id": LINKED, "link_id": WAITER}]),
            {Relationship(LINKED, WAITER, "linked")},
        ),
        # ids sent as integers still match the fetched task
        (
            with_changes(id="123", dependencies=[{"task_id": 123, "depends_on": 456}]),
            {Relationship("123", "456", "waiting_on")},
        ),
        # a subtask points at its immediate parent (§6.3)
        (
            with_changes(dependencies=[], parent="86parent", top_level_parent="86root"),
            {Relationship("9hx", "86parent", "subtask_of")},
        ),
        # tasks / list_relationship custom fields are edges too, tagged with their field
        (
            with_changes(
                dependencies=[],
                custom_fields=[
                    relationship_field("f-tasks", "tasks", [{"id": "abcd1234", "name": "A"}, {"id": "efgh"}]),
                    relationship_field("f-list", "list_relationship", [{"id": "86eya3gqt", "name": "Órden"}]),
                ],
            ),
            {
                Relationship("9hx", "abcd1234", "custom_field", "f-tasks"),
                Relationship("9hx", "efgh", "custom_field", "f-tasks"),
                Relationship("9hx", "86eya3gqt", "custom_field", "f-list"),
            },
        ),
        (with_changes(dependencies=[], linked_tasks=[]), set()),
    ],
)  # fmt: skip
def test_relationships_are_seen_from_the_fetched_task(
    task: dict[str, Any], expected: set[Relationship]
) -> None:
    snapshot = snapshot_from_task_json(task)

    assert snapshot.relationships == expected
    assert snapshot.problems == ()


@pytest.mark.parametrize(
    ("task", "created_at"),
    [
        (GET_TASK, datetime(2023, 2, 9, 19, 26, 2, 803000, tzinfo=UTC)),
        (
            with_changes(
                id=WAITER,
                dependencies=[{"task_id": WAITER, "depends_on": BLOCKER, "date_created": "1744930371817"}],
            ),
            datetime(2025, 4, 17, 22, 52, 51, 817000, tzinfo=UTC),
        ),
        (with_changes(dependencies=[{"task_id": "9hx", "depends_on": "8gx"}]), None),
    ],
)  # fmt: skip
def test_relationships_carry_their_creation_time(task: dict[str, Any], created_at: datetime | None) -> None:
    (relationship,) = snapshot_from_task_json(task).relationships

    assert relationship.created_at == created_at


def test_relationship_equality_ignores_the_creation_time() -> None:
    # The diff must not see an edge "change" because one source had its creation time and one had not.
    dated = Relationship("9hx", "8gx", "waiting_on", None, datetime(2023, 2, 9, tzinfo=UTC))

    assert dated == Relationship("9hx", "8gx", "waiting_on")
    assert {dated} == {Relationship("9hx", "8gx", "waiting_on")}
    assert dated != Relationship("9hx", "8gx", "blocking")


@pytest.mark.parametrize(
    ("changes", "folder_id"),
    [
        # a folderless list lives in a hidden folder (§3.2): the user sees no folder
        ({"folder": HIDDEN_FOLDER, "project": HIDDEN_FOLDER}, None),
        ({"folder": None, "project": {"id": "6992470", "name": "Mobile Squad", "hidden": False}}, "6992470"),
        ({"folder": {"id": 6992470, "name": "Mobile Squad"}}, "6992470"),
        ({"folder": None, "project": None}, None),
    ],
)  # fmt: skip
def test_folder_comes_from_folder_or_its_legacy_name_project(
    changes: dict[str, Any], folder_id: str | None
) -> None:
    assert snapshot_from_task_json(with_changes(**changes)).row.folder_id == folder_id


@pytest.mark.parametrize(
    ("changes", "column", "expected", "problem"),
    [
        ({"status": None}, "status", None, None),
        ({"status": "open"}, "status", "open", None),
        ({"status": {"status": 5, "type": "open"}}, "status", "5", None),
        ({"priority": {"id": "1", "priority": "urgent"}}, "priority", "urgent", None),
        ({"priority": {"id": "2"}}, "priority", "high", None),
        ({"priority": 4}, "priority", "low", None),
        ({"priority": "high"}, "priority", "high", None),
        ({"priority": "bogus"}, "priority", None, "priority"),
        ({"priority": 9}, "priority", None, "priority"),
        ({"assignees": None}, "assignee_ids", (), None),
        ({"assignees": [{"id": 12}, 13, "14", {}]}, "assignee_ids", ("12", "13", "14"), "assignees"),
        ({"assignees": "183"}, "assignee_ids", (), "assignees: expected a list"),
        ({"watchers": [{"id": 2772463}, {"id": 183}]}, "watcher_ids", ("2772463", "183"), None),
        ({"tags": ["bug", {"name": "🔥 hot"}, {"tag_fg": "#fff"}]}, "tags", ("bug", "🔥 hot"), "tags"),
        ({"due_date": 1508369194377}, "due_date", DUE, None),
        ({"due_date": "soon"}, "due_date", None, "due_date"),
        ({"date_closed": "1567780450202"}, "date_closed", CREATED, None),
        ({"date_done": 1567780450202.0}, "date_done", CREATED, None),
        ({"archived": None}, "archived", False, None),
        ({"archived": "true"}, "archived", True, None),
        ({"archived": True}, "archived", True, None),
        ({"archived": "yes"}, "archived", False, "archived"),
        ({"points": "3.5"}, "points", Decimal("3.5"), None),
        ({"points": "many"}, "points", None, "points"),
        ({"time_estimate": 8640000}, "time_estimate_ms", 8640000, None),
        ({"time_estimate": "abc"}, "time_estimate_ms", None, "time_estimate"),
        ({"list": None}, "list_id", None, None),
        ({"list": "15505202"}, "list_id", "15505202", None),
        ({"list": {"name": "no id"}}, "list_id", None, "list"),
        ({"space": {"id": 7002367}}, "space_id", "7002367", None),
        ({"parent": {"id": "abc"}}, "parent_task_id", "abc", None),
        ({"parent": 12345}, "parent_task_id", "12345", None),
        ({"parent": ["x"]}, "parent_task_id", None, "parent"),
        ({"name": "修复登录 🐛 Órden"}, "name", "修复登录 🐛 Órden", None),
        ({"name": 404}, "name", "404", None),
        ({"name": None}, "name", None, None),
        ({"custom_id": "DEF-43"}, "custom_id", "DEF-43", None),
    ],
)  # fmt: skip
def test_odd_shapes_are_stored_faithfully_and_reported(
    changes: dict[str, Any], column: str, expected: Any, problem: str | None
) -> None:
    snapshot = snapshot_from_task_json(with_changes(**changes))

    assert getattr(snapshot.row, column) == expected
    if problem is None:
        assert snapshot.problems == ()
    else:
        assert any(problem in reported for reported in snapshot.problems), snapshot.problems


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"dependencies": [None]}, "dependencies: entry is not an object"),
        ({"dependencies": [{"task_id": "x", "depends_on": "y"}]}, "does not link this task"),
        ({"dependencies": [{"task_id": "9hx", "depends_on": "9hx"}]}, "does not link this task"),
        ({"dependencies": [{"task_id": "9hx"}]}, "does not link this task"),
        (
            {"dependencies": [{"task_id": "9hx", "depends_on": "8gx", "date_created": "later"}]},
            "date_created",
        ),
        ({"dependencies": "8gx"}, "dependencies: expected a list"),
        ({"linked_tasks": [{"task_id": "a", "link_id": "b"}]}, "does not link this task"),
        ({"linked_tasks": {"task_id": "9hx"}}, "linked_tasks: expected a list"),
        ({"custom_fields": "garbage"}, "custom_fields is not a list"),
        ({"custom_fields": [{"name": "no id", "type": "text", "value": "x"}]}, "no usable 'id'"),
        # a value problem names its field, so logs point at the right column
        (
            {"custom_fields": [{**GET_TASK["custom_fields"][3], "value": 9}]},
            f"custom field {DROPDOWN_FIELD_ID} (drop_down): unknown option orderindex 9",
        ),
    ],
)
def test_unusable_parts_are_reported_and_the_task_is_still_mirrored(
    changes: dict[str, Any], problem: str
) -> None:
    snapshot = snapshot_from_task_json(with_changes(**changes))

    assert snapshot.row.task_id == "9hx"
    assert any(problem in reported for reported in snapshot.problems), snapshot.problems


@pytest.mark.parametrize("garbage", [None, 0, -1, "x", "", [], {}, [None], [[]], True, 1.5, {"id": None}])
def test_any_key_holding_garbage_never_stops_the_task(garbage: Any) -> None:
    for key in GET_TASK:
        if key == "id":
            continue
        snapshot = snapshot_from_task_json(with_changes(**{key: garbage}))

        assert snapshot.row.task_id == "9hx", key


@pytest.mark.parametrize(
    "task",
    [{}, {"id": None}, {"id": ""}, {"id": "   "}, {"id": ["9hx"]}, {"id": True}, {"id": {"id": "9hx"}}, []],
)
def test_a_task_without_a_usable_id_is_refused(task: Any) -> None:
    with pytest.raises(ValueError, match="no usable 'id'"):
        snapshot_from_task_json(task)


def test_an_integer_task_id_becomes_text() -> None:
    assert snapshot_from_task_json(with_changes(id=12345, dependencies=[])).row.task_id == "12345"
