"""The generated workspace has everything a mirror must cope with, and the same seed gives the same
bytes (clickup-api.md §2, §3, §5, §6)."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest

from clickup_sync.clickup.emulator.field_catalogue import SQL_LOOKING_NAME
from clickup_sync.clickup.emulator.model import FIELD_TYPES
from clickup_sync.clickup.emulator.queries import TaskQuery
from clickup_sync.clickup.emulator.workspace import Workspace


def test_every_custom_field_type_of_the_reference_exists_and_has_values(find: Any) -> None:
    state = find.state
    assert {f.type for f in state.fields.values()} == set(FIELD_TYPES)
    set_types = {state.fields[field_id].type for task in find.tasks() for field_id in task.custom_values}
    # Every settable or computed type holds a value on some task (a 300-task workspace).
    assert set(FIELD_TYPES) <= set_types | {"automatic_progress"}


def test_field_names_hold_emoji_non_latin_and_sql_looking_text(find: Any) -> None:
    by_name = {f.name: f.type for f in find.state.fields.values()}
    assert by_name["🗓️ Add to calendar"] == "checkbox"
    assert by_name["PM 期望完成日"] == "date"
    assert by_name["Órden de compra"] == "list_relationship"
    assert by_name["💯Progress"] == "automatic_progress"
    assert by_name[SQL_LOOKING_NAME] == "short_text"


def test_some_fields_are_workspace_level_most_are_not(find: Any) -> None:
    scopes = Counter(f.scope for f in find.state.fields.values())
    assert 0 < scopes["team"] < scopes["space"] + scopes["folder"] + scopes["list"]


def test_multi_value_fields_hold_several_values(find: Any) -> None:
    labels = [
        v for t in find.tasks() for k, v in t.custom_values.items() if find.state.fields[k].type == "labels"
    ]
    users = [
        v for t in find.tasks() for k, v in t.custom_values.items() if find.state.fields[k].type == "users"
    ]
    assert labels and all(2 <= len(value) <= 4 for value in labels)
    assert users and all(len(value) >= 2 for value in users)


def test_tasks_see_about_twenty_custom_fields(find: Any) -> None:
    counts = [len(find.state.fields_for_list(task.list_id)) for task in find.tasks()]
    assert 18 <= sum(counts) / len(counts) <= 24


def test_hierarchy_has_folders_folderless_and_archived_lists(workspace: Workspace, find: Any) -> None:
    state = find.state
    assert 2 <= len(state.spaces) <= 3
    assert any(not f.hidden for f in state.folders.values())
    folderless = [t for t in state.lists.values() if state.folders[t.folder_id].hidden]
    assert len(folderless) >= len(state.spaces)
    archived = [t for t in state.lists.values() if t.archived]
    assert archived and any(state.task_ids_in_list(t.id) for t in archived)
    assert len(state.users) == 8


def test_one_list_holds_more_than_a_page_of_tasks(find: Any) -> None:
    assert len(find.state.task_ids_in_list(find.big_list_id())) >= 150


def test_tasks_cover_subtasks_three_levels_closed_archived_and_custom_ids(find: Any) -> None:
    tasks = find.tasks()
    state = find.state

    def depth(task_id: str) -> int:
        parent = state.tasks[task_id].parent_id
        return 0 if parent is None else 1 + depth(parent)

    assert max(depth(t.id) for t in tasks) >= 3
    deepest = max(tasks, key=lambda t: depth(t.id))
    root = deepest
    while root.parent_id is not None:
        root = state.tasks[root.parent_id]
    assert deepest.top_level_parent_id == root.id
    assert any(state.status_of(t).is_closed and t.date_closed for t in tasks)
    assert any(t.archived for t in tasks)
    assert any(t.custom_id and t.custom_id.startswith("DEF-") for t in tasks)
    assert sum(t.custom_id is None for t in tasks) > len(tasks) * 0.8


def test_dependencies_and_links_are_shown_on_both_tasks(find: Any) -> None:
    state = find.state
    dependency = next(d for t in find.tasks() for d in t.dependencies)
    assert dependency in state.tasks[dependency.task_id].dependencies
    assert dependency in state.tasks[dependency.depends_on].dependencies
    link = next(link for t in find.tasks() for link in t.links)
    assert link in state.tasks[link.task_id].links
    assert link in state.tasks[link.link_id].links
    # "Both directions": some task is waiting on another, some task blocks another.
    waiting = {d.task_id for t in find.tasks() for d in t.dependencies}
    blocking = {d.depends_on for t in find.tasks() for d in t.dependencies}
    assert waiting and blocking


def test_tags_come_from_the_space(find: Any) -> None:
    tagged = [t for t in find.tasks() if t.tag_names]
    assert tagged
    for task in tagged:
        space = find.state.spaces[find.state.lists[task.list_id].space_id]
        assert set(task.tag_names) <= {tag.name for tag in space.tags}


def test_same_seed_gives_byte_identical_api_output() -> None:
    def snapshot(seed: int) -> bytes:
        workspace = Workspace.generate(seed, 200)
        pages = workspace.team_tasks_encoded(workspace.team_id, TaskQuery(subtasks=True, include_closed=True))
        truth = json.dumps(workspace.ground_truth(), ensure_ascii=False).encode()
        return pages + truth

    assert snapshot(11) == snapshot(11)
    assert snapshot(11) != snapshot(12)


def test_small_workspaces_still_have_every_field_type() -> None:
    workspace = Workspace.generate(3, 20)
    assert len(workspace.live_task_ids()) == 20
    assert {f.type for f in workspace.state.fields.values()} == set(FIELD_TYPES)


@pytest.mark.slow
def test_twenty_thousand_tasks_generate_and_page_fast() -> None:
    started = time.monotonic()
    workspace = Workspace.generate(5, 20_000)
    generated = time.monotonic() - started
    assert len(workspace.live_task_ids()) == 20_000
    assert generated < 10
    started = time.monotonic()
    for page in range(5):
        query = TaskQuery(page=page, subtasks=True, include_closed=True)
        assert len(json.loads(workspace.team_tasks_encoded(workspace.team_id, query))["tasks"]) == 100
    assert (time.monotonic() - started) / 5 < 0.5
