"""Auth, rate limit, error bodies, injected faults and control endpoints of the HTTP API
(clickup-api.md §1.2-§1.4, §7.1)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from clickup_sync.clickup.emulator.config import EmulatorConfig
from clickup_sync.clickup.emulator.ratelimit import FixedWindowRateLimiter
from clickup_sync.clickup.emulator.workspace import Workspace

pytestmark = pytest.mark.anyio
SEED = 7


async def test_missing_or_bad_tokens_get_the_documented_401s(workspace: Workspace, make_api: Any) -> None:
    client, _ = make_api(workspace, token=None)
    async with client:
        missing = await client.get("/api/v2/team")
        assert missing.status_code == 401
        assert missing.json() == {"err": "Authorization header required", "ECODE": "OAUTH_017"}
        bad = await client.get("/api/v2/team", headers={"Authorization": "token-without-prefix"})
        assert bad.status_code == 401 and bad.json() == {"err": "Token invalid", "ECODE": "OAUTH_025"}
        for header in ("pk_anything_goes", "Bearer an-oauth-token"):
            assert (await client.get("/api/v2/team", headers={"Authorization": header})).status_code == 200


async def test_with_an_explicit_token_set_a_revoked_token_is_401(workspace: Workspace, make_api: Any) -> None:
    config = EmulatorConfig(
        seed=SEED, valid_tokens=frozenset({"pk_keep", "pk_revoke"}), rate_limit_per_minute=None
    )
    client, _ = make_api(workspace, config, token=None)
    async with client:
        assert (await client.get("/api/v2/user", headers={"Authorization": "pk_revoke"})).status_code == 200
        assert (await client.put("/_emulator/config", json={"valid_tokens": ["pk_keep"]})).status_code == 200
        revoked = await client.get("/api/v2/user", headers={"Authorization": "pk_revoke"})
        assert revoked.status_code == 401 and revoked.json()["ECODE"] == "OAUTH_025"
        assert (await client.get("/api/v2/user", headers={"Authorization": "pk_keep"})).status_code == 200
        assert (await client.get("/api/v2/user", headers={"Authorization": "pk_other"})).status_code == 401


async def test_rate_limit_headers_on_every_answer_and_429_past_the_limit(
    workspace: Workspace, make_api: Any
) -> None:
    client, _ = make_api(workspace, EmulatorConfig(seed=SEED, rate_limit_per_minute=3))
    async with client:
        answers = [await client.get("/api/v2/team") for _ in range(3)]
        answers.append(await client.get("/api/v2/task/nosuchtask"))
        for answer in answers:
            assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"} <= set(answer.headers)
        assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
        limited = answers[3]
        assert limited.status_code == 429
        assert limited.json() == {"err": "Rate limit reached", "ECODE": "APP_002"}
        reset = int(limited.headers["x-ratelimit-reset"])
        assert time.time() < reset <= time.time() + 61
        # Another token has its own window.
        other = await client.get("/api/v2/team", headers={"Authorization": "pk_someone_else"})
        assert other.status_code == 200 and other.headers["x-ratelimit-remaining"] == "2"
        stats = (await client.get("/_emulator/stats")).json()
        assert stats["rate_limited_429"] == 1
        assert stats["requests_by_endpoint"]["GET /api/v2/team"] == {"200": 4}
        assert stats["requests_by_endpoint"]["GET /api/v2/task/{task_id}"] == {"429": 1}


def test_the_window_is_fixed_per_token_and_resets_after_60_seconds() -> None:
    now = [1_000.0]
    limiter = FixedWindowRateLimiter(2, clock=lambda: now[0])
    assert [limiter.check("a").allowed for _ in range(3)] == [True, True, False]
    assert limiter.check("a").reset_epoch_seconds == 1_060
    now[0] = 1_059.9
    assert not limiter.check("a").allowed
    now[0] = 1_060.0
    decision = limiter.check("a")
    assert decision.allowed and decision.remaining == 1 and decision.reset_epoch_seconds == 1_120
    unlimited = FixedWindowRateLimiter(None, clock=lambda: now[0])
    assert all(unlimited.check("a").allowed for _ in range(500))


async def test_malformed_bodies_and_unknown_routes_get_clickup_error_bodies(
    api: httpx.AsyncClient, find: Any
) -> None:
    list_id = find.big_list_id()
    broken = await api.post(
        f"/api/v2/list/{list_id}/task", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400 and set(broken.json()) == {"err", "ECODE"}
    nameless = await api.post(f"/api/v2/list/{list_id}/task", json={"status": "to do"})
    assert nameless.status_code == 400
    assert (await api.get("/api/v2/nowhere")).json()["ECODE"] == "APP_001"
    assert (await api.get("/api/v2/list/999/task")).status_code == 404
    assert (await api.get("/api/v2/team/1/task")).json()["ECODE"] == "OAUTH_027"
    assert (await api.put(f"/api/v2/task/{find.open_task().id}", json={"parent": None})).status_code == 400
    assert (
        await api.put(f"/api/v2/task/{find.open_task().id}", json={"status": "no such status"})
    ).status_code == 400


async def test_create_and_update_task_over_http(api: httpx.AsyncClient, find: Any) -> None:
    list_id = find.big_list_id()
    users = list(find.state.users)
    body = {
        "name": "Über-task ✨",
        "description": "Made in a test",
        "assignees": users[:2],
        "tags": ["bug", "brand new tag"],
        "status": "in progress",
        "priority": 2,
        "due_date": 1508369194377,
        "start_date": 1508369100000,
        "time_estimate": 8640000,
        "points": 3,
    }
    created = (await api.post(f"/api/v2/list/{list_id}/task", json=body)).json()
    assert created["name"] == "Über-task ✨" and created["status"]["status"] == "in progress"
    assert [u["id"] for u in created["assignees"]] == users[:2]
    assert [t["name"] for t in created["tags"]] == ["bug", "brand new tag"]
    assert created["due_date"] == "1508369194377" and created["time_estimate"] == "8640000"
    assert created["priority"]["priority"] == "high" and created["points"] == 3
    assert created["date_created"] == created["date_updated"]
    sub = (
        await api.post(f"/api/v2/list/{list_id}/task", json={"name": "child", "parent": created["id"]})
    ).json()
    assert sub["parent"] == created["id"] and sub["top_level_parent"] == created["id"]
    change = {
        "name": "Renamed",
        "assignees": {"add": [users[3]], "rem": [users[0]]},
        "archived": True,
        "points": None,
    }
    updated = (await api.put(f"/api/v2/task/{created['id']}", json=change)).json()
    assert updated["name"] == "Renamed" and updated["archived"] is True and updated["points"] is None
    assert [u["id"] for u in updated["assignees"]] == [users[1], users[3]]
    assert int(updated["date_updated"]) > int(created["date_updated"])
    linked = await api.post(f"/api/v2/task/{created['id']}/link/{sub['id']}")
    assert linked.status_code == 200 and linked.json()["task"]["linked_tasks"][0]["link_id"] == sub["id"]
    dependency = await api.post(f"/api/v2/task/{sub['id']}/dependency", json={"depends_on": created["id"]})
    assert dependency.json() == {}
    removed = await api.delete(f"/api/v2/task/{sub['id']}/dependency", params={"depends_on": created["id"]})
    assert removed.json() == {} and (await api.get(f"/api/v2/task/{sub['id']}")).json()["dependencies"] == []
    both = await api.post(
        f"/api/v2/task/{sub['id']}/dependency", json={"depends_on": "a", "dependency_of": "b"}
    )
    assert both.status_code == 400


async def test_v3_move_to_another_home_list(api: httpx.AsyncClient, find: Any) -> None:
    task = find.open_task()
    destination = next(t for t in find.state.lists.values() if t.id != task.list_id and not t.archived)
    path = f"/api/v3/workspaces/{find.state.team.id}/tasks/{task.id}/home_list/{destination.id}"
    assert (await api.put(path, json={})).status_code == 200
    moved = (await api.get(f"/api/v2/task/{task.id}")).json()
    assert moved["list"]["id"] == destination.id
    assert moved["space"]["id"] == destination.space_id
    usable = {f.id for f in find.state.fields_for_list(destination.id)}
    assert {f["id"] for f in moved["custom_fields"]} == usable


async def test_webhook_crud_shapes_duplicates_and_reactivation(
    api: httpx.AsyncClient, workspace: Workspace
) -> None:
    team = workspace.team_id
    body = {
        "endpoint": "https://yourdomain.com/webhook",
        "events": ["taskCreated", "taskUpdated", "taskDeleted"],
    }
    created = (await api.post(f"/api/v2/team/{team}/webhook", json=body)).json()
    webhook = created["webhook"]
    assert created["id"] == webhook["id"]
    assert list(webhook) == [
        "id",
        "userid",
        "team_id",
        "endpoint",
        "client_id",
        "events",
        "task_id",
        "list_id",
        "folder_id",
        "space_id",
        "health",
        "secret",
    ]
    assert isinstance(webhook["team_id"], int) and isinstance(webhook["userid"], int)
    assert webhook["health"] == {"status": "active", "fail_count": 0} and len(webhook["secret"]) == 64
    again = await api.post(f"/api/v2/team/{team}/webhook", json=body)
    assert again.status_code == 400
    assert again.json() == {"err": "Webhook configuration already exists", "ECODE": "OAUTH_171"}
    listed = (await api.get(f"/api/v2/team/{team}/webhook")).json()["webhooks"]
    assert listed == [webhook]  # the secret is in GET too
    subscription = workspace.subscription(webhook["id"])
    subscription.status, subscription.fail_count = "suspended", 100
    reactivated = await api.put(
        f"/api/v2/webhook/{webhook['id']}",
        json={"endpoint": body["endpoint"], "events": "*", "status": "active"},
    )
    assert reactivated.json()["webhook"]["health"] == {"status": "active", "fail_count": 0}
    assert reactivated.json()["webhook"]["events"] == ["*"]
    assert (await api.delete(f"/api/v2/webhook/{webhook['id']}")).json() == {}
    assert (await api.get(f"/api/v2/team/{team}/webhook")).json() == {"webhooks": []}
    assert (await api.delete(f"/api/v2/webhook/{webhook['id']}")).status_code == 404
    bad = await api.post(
        f"/api/v2/team/{team}/webhook", json={"endpoint": "https://x.test", "events": ["nope"]}
    )
    assert bad.status_code == 400


async def test_injected_faults_and_latency_can_be_switched_at_run_time(
    workspace: Workspace, make_api: Any
) -> None:
    client, _ = make_api(workspace)
    async with client:
        changed = await client.put("/_emulator/config", json={"fault_5xx_rate": 1.0})
        assert changed.json()["fault_5xx_rate"] == 1.0
        faulted = await client.get("/api/v2/team")
        assert faulted.status_code in {500, 502, 503} and "x-ratelimit-limit" in faulted.headers
        await client.put("/_emulator/config", json={"fault_5xx_rate": 0.0, "latency_ms": 150})
        started = time.monotonic()
        assert (await client.get("/api/v2/team")).status_code == 200
        assert time.monotonic() - started >= 0.15
        assert (await client.put("/_emulator/config", json={"seed": 3})).status_code == 400


async def test_control_endpoints_need_no_token_and_are_not_counted(
    workspace: Workspace, make_api: Any
) -> None:
    client, _ = make_api(workspace, token=None)
    async with client:
        state = (await client.get("/_emulator/state")).json()
        assert set(state) >= {"team", "tasks", "deleted_task_ids", "lists", "fields", "webhooks"}
        assert len(state["tasks"]) == 300
        made = (await client.post("/_emulator/activity", json={"changes": 5})).json()["changes"]
        assert len(made) == 5 and all({"kind", "task_id", "detail"} == set(c) for c in made)
        stats = (await client.get("/_emulator/stats")).json()
        assert stats["requests_total"] == 0 and stats["workspace_version"] >= 5
        assert (await client.post("/_emulator/activity", json={"rate": -1})).status_code == 400


def test_ground_truth_includes_every_kind_of_task_and_list(workspace: Workspace, find: Any) -> None:
    truth = workspace.ground_truth()
    state = find.state
    assert set(truth["tasks"]) == set(state.all_task_ids())
    tasks = truth["tasks"].values()
    assert any(t["archived"] for t in tasks) and any(t["parent"] for t in tasks)
    assert any(t["status"]["type"] == "closed" for t in tasks)
    archived_list = next(t for t in truth["lists"] if t["archived"])
    assert any(t["list"]["id"] == archived_list["id"] for t in tasks)
    assert any(t["folderless"] for t in truth["lists"])
    assert {f["scope"] for f in truth["fields"]} == {"team", "space", "folder", "list"}
    some_task = next(iter(truth["tasks"]))
    assert truth["tasks"][some_task] == workspace.get_task(some_task)
    in_archived_list = [t["id"] for t in tasks if t["list"]["id"] == archived_list["id"]]
    assert sorted(workspace.task_ids_in_list(archived_list["id"])) == sorted(in_archived_list)
    assert archived_list["id"] in workspace.list_ids(archived=True)
    assert archived_list["id"] not in workspace.list_ids(archived=False)
    assert [f["id"] for f in workspace.fields_of_task(some_task)] == [
        f["id"] for f in truth["tasks"][some_task]["custom_fields"]
    ]
