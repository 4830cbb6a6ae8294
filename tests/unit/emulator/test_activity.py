"""The activity simulator changes the workspace like users do, through the same mutations as the
API (so history items and deliveries follow), deterministically from its seed."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from clickup_sync.clickup.emulator.activity import ActivitySimulator
from clickup_sync.clickup.emulator.workspace import Workspace


def test_run_makes_exactly_n_changes_of_every_kind(workspace: Workspace, find: Any) -> None:
    version = workspace.state.version
    changes = ActivitySimulator(workspace, seed=1).run(400)
    assert len(changes) == 400
    assert workspace.state.version >= version + 400
    kinds = Counter(change.kind for change in changes)
    expected = {
        "status",
        "custom_field",
        "assignees",
        "due_date",
        "name",
        "priority",
        "create",
        "delete",
        "move",
        "dependency_added",
        "link_added",
        "time_estimate",
    }
    assert expected <= set(kinds)
    assert kinds["tag_added"] + kinds["tag_removed"] > 0
    multi = {c.detail.get("type") for c in changes if c.kind == "custom_field"}
    assert {"labels", "users"} <= multi


def test_changes_produce_history_items_through_the_api_code_paths(workspace: Workspace, sink: Any) -> None:
    workspace.create_webhook(workspace.team_id, {"endpoint": "https://receiver.test/hook", "events": ["*"]})
    changes = ActivitySimulator(workspace, seed=2).run(150)
    events = Counter(sink.events())
    kinds = Counter(change.kind for change in changes)
    assert events["taskCreated"] == kinds["create"] > 0
    assert events["taskDeleted"] >= kinds["delete"] > 0
    assert events["taskMoved"] >= kinds["move"] > 0
    assert events["taskStatusUpdated"] == kinds["status"] + kinds["create"]
    custom_field_items = [
        item
        for payload in sink.payloads()
        for item in payload.get("history_items", [])
        if item["field"] == "custom_field"
    ]
    assert custom_field_items and all("custom_field" in item for item in custom_field_items)


def test_the_same_seed_makes_the_same_changes() -> None:
    def run(seed: int) -> list[tuple[str, str]]:
        return [(c.kind, c.task_id) for c in ActivitySimulator(Workspace.generate(4, 200), seed).run(80)]

    assert run(9) == run(9)
    assert run(9) != run(10)


def test_deleted_tasks_are_gone_and_created_ones_are_there(workspace: Workspace) -> None:
    changes = ActivitySimulator(workspace, seed=3).run(300)
    truth = workspace.ground_truth()
    deleted = {c.task_id for c in changes if c.kind == "delete"}
    created = {c.task_id for c in changes if c.kind == "create"} - deleted
    assert deleted and deleted <= set(truth["deleted_task_ids"])
    assert created and created <= set(truth["tasks"])


def test_background_activity_starts_and_stops(workspace: Workspace) -> None:
    simulator = ActivitySimulator(workspace, seed=5)
    simulator.start(rate_per_second=200)
    deadline = time.monotonic() + 5
    while simulator.changes_made < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    simulator.stop()
    made = simulator.changes_made
    assert made >= 10 and simulator.status()["running"] is False
    time.sleep(0.05)
    assert simulator.changes_made == made
