"""The coverage report against the emulator's workspace: backfilled into the mirror, and synced by a
simulated Airbyte the way its ClickUp connector reads it (reference airbyte.md §0.6, §1.3, §1.4)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from clickup_sync.airbyte.coverage import REASONS, coverage_report, missing_task_reasons
from clickup_sync.airbyte.guarded_reads import AirbyteTableUnavailable, ReadPolicy
from clickup_sync.airbyte.simulator import AirbyteDestinationSimulator, ListWithTasks, records_like_airbyte
from clickup_sync.clickup.emulator import EmulatorConfig, EmulatorServer
from clickup_sync.db.connection import Database
from clickup_sync.settings import load_settings
from clickup_sync.sync.jobs import run_backfill

pytestmark = pytest.mark.anyio
SCHEMA = "clickup_sync"
TABLE = "public.clickup_task"


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    # 300 tasks: a list of 160 (subtasks, closed and archived ones included) and every other gap.
    with EmulatorServer(EmulatorConfig(seed=4, tasks=300, rate_limit_per_minute=None)) as server:
        yield server


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[AsyncConnectionPool[Any]]:
    async with AsyncConnectionPool(database_url, min_size=1, max_size=3, open=False) as opened:
        yield opened


def lists_airbyte_reads(truth: dict[str, Any]) -> list[ListWithTasks]:
    """The lists the connector finds (`folder/{id}/list`, archived ones left out by ClickUp) plus the
    folderless ones (`records_like_airbyte` skips them), each with its tasks in the emulator's default
    order: newest first (the ground truth holds them oldest first)."""
    folders = {folder["id"]: folder for folder in truth["folders"]}
    spaces = {space["id"]: space for space in truth["spaces"]}
    tasks_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for task in truth["tasks"].values():
        tasks_of[task["list"]["id"]].append(task)
    found = []
    for item in truth["lists"]:
        folder = folders.get(item["folder_id"], {})
        if item["archived"] or folder.get("archived") or spaces[item["space_id"]]["archived"]:
            continue
        found.append(ListWithTasks(item["id"], item["folderless"], list(reversed(tasks_of[item["id"]]))))
    return found


def first_page_candidates(task_list: ListWithTasks, include_closed: bool) -> list[str]:
    """What GET /list/{id}/task returns by default, all pages, in order."""
    return [
        task["id"]
        for task in task_list.tasks
        if task["parent"] is None
        and not task["archived"]
        and (include_closed or task["status"]["type"] not in ("closed", "done"))
    ]


def pick(truth: dict[str, Any], *, list_kind: str, **task_is: Any) -> str:
    """The first task whose list is `folderless` or `foldered` (active) and whose fields match."""
    lists = {item["id"]: item for item in truth["lists"]}
    for task_id, task in truth["tasks"].items():
        home = lists[task["list"]["id"]]
        kind = "folderless" if home["folderless"] else "foldered" if not home["archived"] else "archived"
        if kind == list_kind and all(bool(task[key]) == value for key, value in task_is.items()):
            return str(task_id)
    raise AssertionError(f"the emulator's workspace has no such task: {list_kind} {task_is}")


async def test_each_task_airbyte_lacks_is_explained(
    emulator: EmulatorServer, database_url: str, pool: AsyncConnectionPool[Any]
) -> None:
    workspace = emulator.workspace
    # Ten new top-level tasks in the biggest list: more than 100 open ones, closed ones left out.
    biggest = max(lists_airbyte_reads(workspace.ground_truth()), key=lambda item: len(item.tasks))
    for number in range(10):
        workspace.create_task(biggest.list_id, {"name": f"new {number}"})
    truth = workspace.ground_truth()
    lists = lists_airbyte_reads(truth)
    big = next(item for item in lists if item.list_id == biggest.list_id)
    simulator = AirbyteDestinationSimulator(database_url, version="3.x")
    records = records_like_airbyte(lists)  # the connector's default: include_closed_tasks off
    simulator.sync(records)
    # Created after the sync: one in a small list, one in a list of an archived folder.
    small = next(item for item in lists if not item.folder_hidden and len(item.tasks) < 50)
    created_after = workspace.create_task(small.list_id, {"name": "created after the sync"})["id"]
    archived_folder = next(folder["id"] for folder in truth["folders"] if folder["archived"])
    old_list = next(item["id"] for item in truth["lists"] if item["folder_id"] == archived_folder)
    in_archived_folder = workspace.create_task(old_list, {"name": "in an archived folder"})["id"]
    settings = load_settings(
        clickup_api_url=emulator.base_url, clickup_api_token=emulator.token,
        clickup_workspace_id=emulator.team_id, database_url=database_url,
    )  # fmt: skip
    await run_backfill(settings, Database(database_url, SCHEMA))

    reasons = await missing_task_reasons(pool, SCHEMA, TABLE, include_closed=False)
    report = await coverage_report(pool, SCHEMA, TABLE, include_closed=False)

    synced = {record["id"] for record in records}
    assert set(reasons) == (set(truth["tasks"]) | {created_after, in_archived_folder}) - synced
    examples = {
        pick(truth, list_kind="foldered", parent=True, archived=False): "subtask",
        pick(truth, list_kind="folderless"): "folderless_list",
        pick(truth, list_kind="foldered", parent=False, archived=True): "archived",
        in_archived_folder: "archived",
        pick(truth, list_kind="foldered", parent=False, archived=False, date_closed=True): "closed",
        created_after: "not_yet_synced",
    }
    assert {task_id: reasons[task_id] for task_id in examples} == examples
    beyond = {task_id for task_id, reason in reasons.items() if reason == "beyond_first_100"}
    assert beyond == set(first_page_candidates(big, include_closed=False)[100:]) != set()
    assert [row.reason for row in report] == list(REASONS)
    counts = {row.reason: row.task_count for row in report}
    assert sum(counts.values()) == len(reasons) and counts["unexplained"] == 0
    assert counts["beyond_first_100"] == len(beyond) and counts["closed"] > 0

    # The next sync, the connection set to include closed tasks: they take places among the first 100.
    lists = lists_airbyte_reads(workspace.ground_truth())
    simulator.sync(records_like_airbyte(lists, include_closed=True))
    report = await coverage_report(pool, SCHEMA, TABLE, include_closed=True)
    reasons = await missing_task_reasons(pool, SCHEMA, TABLE, include_closed=True)

    counts = {row.reason: row.task_count for row in report}
    assert counts["closed"] == counts["unexplained"] == counts["not_yet_synced"] == 0
    assert created_after not in reasons and reasons[in_archived_folder] == "archived"
    beyond = {task_id for task_id, reason in reasons.items() if reason == "beyond_first_100"}
    assert beyond == set(first_page_candidates(big, include_closed=True)[100:])
    beyond_row = report[REASONS.index("beyond_first_100")]
    assert beyond_row.sample_task_ids == tuple(sorted(beyond)[:10]) and "100" in beyond_row.description


async def test_while_airbyte_swaps_its_table_the_report_says_unavailable_and_holds_nothing(
    database_url: str, pool: AsyncConnectionPool[Any]
) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(f"INSERT INTO {SCHEMA}.tasks (task_id, raw) VALUES ('t1', '{{}}'), ('t2', '{{}}')")
    simulator = AirbyteDestinationSimulator(database_url, version="2.x")
    simulator.sync([{"id": "t1"}])
    before = await coverage_report(pool, SCHEMA, TABLE)
    # t2 has no creation date: nothing says it is older than the sync.
    assert [(row.reason, row.task_count) for row in before if row.task_count] == [("not_yet_synced", 1)]
    hold = threading.Event()
    handle = simulator.start_sync([{"id": "t1"}, {"id": "t2"}], hold_swap=hold)
    try:
        assert handle.wait_until_swap_locked(timeout=10)
        started = time.monotonic()
        with pytest.raises(AirbyteTableUnavailable):
            await coverage_report(
                pool, SCHEMA, TABLE, policy=ReadPolicy(lock_timeout_seconds=0.2, attempts=1)
            )
        waited = time.monotonic() - started
    finally:
        hold.set()
    handle.wait(timeout=10)

    assert waited < 2
    assert all(row.task_count == 0 for row in await coverage_report(pool, SCHEMA, TABLE))
