"""Get Tasks and Get Filtered Team Tasks page and filter like ClickUp (clickup-api.md §3.3, §3.4, §9)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.anyio

EVERYTHING = {"include_closed": "true", "subtasks": "true"}


async def all_pages(api: httpx.AsyncClient, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = []
    page = 0
    while True:
        body = (await api.get(path, params={**params, "page": page})).json()
        tasks += body["tasks"]
        if body["last_page"]:
            assert len(body["tasks"]) <= 100
            return tasks
        assert len(body["tasks"]) == 100
        page += 1


async def test_a_big_list_pages_by_100_with_last_page(api: httpx.AsyncClient, find: Any) -> None:
    list_id = find.big_list_id()
    path = f"/api/v2/list/{list_id}/task"
    first = (await api.get(path, params=EVERYTHING)).json()
    assert len(first["tasks"]) == 100 and first["last_page"] is False
    tasks = await all_pages(api, path, EVERYTHING)
    expected = [t for t in find.state.task_ids_in_list(list_id) if not find.state.tasks[t].archived]
    assert sorted(t["id"] for t in tasks) == sorted(expected)
    assert len({t["id"] for t in tasks}) == len(tasks)
    beyond = (await api.get(path, params={**EVERYTHING, "page": 50})).json()
    assert beyond == {"tasks": [], "last_page": True}


async def test_closed_tasks_and_subtasks_are_excluded_by_default(api: httpx.AsyncClient, find: Any) -> None:
    path = f"/api/v2/list/{find.big_list_id()}/task"
    default = await all_pages(api, path, {})
    assert default and all(t["parent"] is None for t in default)
    assert all(t["status"]["type"] not in {"closed", "done"} for t in default)
    with_closed = await all_pages(api, path, {"include_closed": "true"})
    assert any(t["status"]["type"] == "closed" for t in with_closed)
    with_subtasks = await all_pages(api, path, {"subtasks": "true"})
    assert any(t["parent"] is not None for t in with_subtasks)
    assert len(with_closed) > len(default) and len(with_subtasks) > len(default)


async def test_archived_tasks_only_with_archived_true(api: httpx.AsyncClient, find: Any) -> None:
    team = f"/api/v2/team/{find.state.team.id}/task"
    live = await all_pages(api, team, EVERYTHING)
    archived = await all_pages(api, team, {**EVERYTHING, "archived": "true"})
    assert archived and all(t["archived"] for t in archived)
    assert not any(t["archived"] for t in live)


async def test_team_endpoint_misses_tasks_of_archived_lists_but_the_list_endpoint_has_them(
    api: httpx.AsyncClient, find: Any
) -> None:
    state = find.state
    archived_list = next(t for t in state.lists.values() if t.archived and state.task_ids_in_list(t.id))
    team = f"/api/v2/team/{state.team.id}/task"
    everything = await all_pages(api, team, EVERYTHING) + await all_pages(
        api, team, {**EVERYTHING, "archived": "true"}
    )
    in_archived_list = set(state.task_ids_in_list(archived_list.id))
    assert not in_archived_list & {t["id"] for t in everything}
    from_list = await all_pages(api, f"/api/v2/list/{archived_list.id}/task", EVERYTHING)
    assert from_list and {t["id"] for t in from_list} <= in_archived_list
    # Walking the hierarchy with archived=true finds that list (reference §4.1 workaround).
    space_lists = (
        await api.get(f"/api/v2/space/{archived_list.space_id}/list", params={"archived": "true"})
    ).json()
    assert archived_list.id in [t["id"] for t in space_lists["lists"]]
    assert archived_list.id not in [
        t["id"] for t in (await api.get(f"/api/v2/space/{archived_list.space_id}/list")).json()["lists"]
    ]


async def test_the_team_endpoint_plus_archived_lists_is_every_task(api: httpx.AsyncClient, find: Any) -> None:
    state = find.state
    team = f"/api/v2/team/{state.team.id}/task"
    seen = {t["id"] for t in await all_pages(api, team, EVERYTHING)}
    seen |= {t["id"] for t in await all_pages(api, team, {**EVERYTHING, "archived": "true"})}
    for task_list in state.lists.values():
        if task_list.archived or state.folders[task_list.folder_id].archived:
            for archived in ("false", "true"):
                path = f"/api/v2/list/{task_list.id}/task"
                seen |= {t["id"] for t in await all_pages(api, path, {**EVERYTHING, "archived": archived})}
    assert seen == set(state.all_task_ids())


async def test_filters_statuses_assignees_tags_and_locations(api: httpx.AsyncClient, find: Any) -> None:
    state = find.state
    team = f"/api/v2/team/{state.team.id}/task"
    in_progress = await all_pages(api, team, {**EVERYTHING, "statuses[]": "in progress"})
    assert in_progress and {t["status"]["status"] for t in in_progress} == {"in progress"}
    user = next(iter(state.users))
    assigned = await all_pages(api, team, {**EVERYTHING, "assignees[]": str(user)})
    assert assigned and all(user in [a["id"] for a in t["assignees"]] for t in assigned)
    tagged = await all_pages(api, team, {**EVERYTHING, "tags[]": "bug"})
    assert tagged and all("bug" in [tag["name"] for tag in t["tags"]] for t in tagged)
    list_id = find.big_list_id()
    by_list = await all_pages(api, team, {**EVERYTHING, "list_ids[]": list_id})
    assert by_list and {t["list"]["id"] for t in by_list} == {list_id}
    folder_id = state.lists[list_id].folder_id
    by_folder = await all_pages(api, team, {**EVERYTHING, "project_ids[]": folder_id})
    assert {t["folder"]["id"] for t in by_folder} == {folder_id}
    space_id = state.lists[list_id].space_id
    by_space = await all_pages(api, team, {**EVERYTHING, "space_ids[]": space_id})
    assert {t["space"]["id"] for t in by_space} == {space_id} and len(by_space) > len(by_folder) >= len(
        by_list
    )


async def test_date_filters_and_order_by_updated(api: httpx.AsyncClient, find: Any) -> None:
    team = f"/api/v2/team/{find.state.team.id}/task"
    tasks = await all_pages(api, team, EVERYTHING)
    updated = sorted(int(t["date_updated"]) for t in tasks)
    cut = updated[len(updated) // 2]
    newer = await all_pages(
        api, team, {**EVERYTHING, "date_updated_gt": cut, "order_by": "updated", "reverse": "true"}
    )
    assert newer and all(int(t["date_updated"]) > cut for t in newer)
    assert [int(t["date_updated"]) for t in newer] == sorted(int(t["date_updated"]) for t in newer)
    older = await all_pages(api, team, {**EVERYTHING, "date_updated_lt": cut})
    assert len(newer) + len(older) == len(tasks) - updated.count(cut)
    created = await all_pages(api, team, {**EVERYTHING, "date_created_gt": cut})
    assert all(int(t["date_created"]) > cut for t in created)
    default_order = [int(t["date_created"]) for t in tasks]
    assert default_order == sorted(default_order, reverse=True)  # newest first unless reverse=true


async def test_parent_returns_the_subtasks_of_a_task(api: httpx.AsyncClient, find: Any) -> None:
    parent = next(t for t in find.tasks() if find.state.children_of(t.id))
    children = (
        await api.get(
            f"/api/v2/team/{find.state.team.id}/task", params={"parent": parent.id, "include_closed": "true"}
        )
    ).json()
    expected = {c for c in find.state.children_of(parent.id) if not find.state.tasks[c].archived}
    assert {t["id"] for t in children["tasks"]} == expected


async def test_airbytes_page_size_and_page_100_are_harmless(api: httpx.AsyncClient, find: Any) -> None:
    path = f"/api/v2/list/{find.big_list_id()}/task"
    first = await api.get(path, params={"include_closed": "true", "page_size": 1})
    assert len(first.json()["tasks"]) == 100
    second = await api.get(path, params={"include_closed": "true", "page": 100, "page_size": 1})
    assert second.json()["tasks"] == []


async def test_bad_query_values_answer_400(api: httpx.AsyncClient, find: Any) -> None:
    path = f"/api/v2/list/{find.big_list_id()}/task"
    for params in ({"page": "x"}, {"order_by": "name"}, {"date_updated_gt": "yesterday"}):
        response = await api.get(path, params=params)
        assert response.status_code == 400 and set(response.json()) == {"err", "ECODE"}
