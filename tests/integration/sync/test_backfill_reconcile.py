"""Backfill and reconcile against the emulator over HTTP and a real PostgreSQL: the mirror equals the
emulator's ground truth, and polling records exactly the changes that happened."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from clickup_sync.clickup.emulator import ActivitySimulator, EmulatorConfig, EmulatorServer
from clickup_sync.db.connection import Database
from clickup_sync.db.migrate import migrate
from clickup_sync.errors import ClickUpAuthError
from clickup_sync.settings import Settings, load_settings
from clickup_sync.sync.diff import diff_task_states
from clickup_sync.sync.jobs import run_backfill, run_reconcile
from clickup_sync.sync.store import MirrorStore
from clickup_sync.sync.task_state import TaskSnapshot, snapshot_from_task_json

pytestmark = pytest.mark.anyio
SCHEMA = "clickup_sync"


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(seed=11, tasks=400, rate_limit_per_minute=None)) as server:
        yield server


def settings_for(emulator: EmulatorServer, database_url: str) -> Settings:
    return load_settings(
        clickup_api_url=emulator.base_url,
        clickup_api_token=emulator.token,
        clickup_workspace_id=emulator.team_id,
        database_url=database_url,
    )


async def mirror_snapshots(database_url: str, task_ids: list[str]) -> dict[str, TaskSnapshot]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        return await MirrorStore(SCHEMA).load_snapshots(conn, task_ids)


def assert_mirror_equals(truth_task: dict[str, Any], stored: TaskSnapshot | None) -> None:
    expected = snapshot_from_task_json(truth_task)
    task_id = expected.row.task_id
    assert stored is not None, f"task {task_id} missing from the mirror"
    for column in ("name", "status", "list_id", "parent_task_id", "assignee_ids", "tags", "due_date",
                   "date_updated", "archived", "priority", "points", "time_estimate_ms"):  # fmt: skip
        assert getattr(stored.row, column) == getattr(expected.row, column), (task_id, column)
    assert stored.values.keys() == expected.values.keys(), task_id
    for field_id, value in expected.values.items():
        assert stored.values[field_id].same_value(value), (task_id, field_id)
        assert stored.values[field_id].value_ids == value.value_ids, (task_id, field_id)
    assert stored.relationships == expected.relationships, task_id


async def test_backfill_mirrors_every_task_value_and_relationship(
    emulator: EmulatorServer, database_url: str
) -> None:
    truth = emulator.workspace.ground_truth()
    tasks: dict[str, dict[str, Any]] = truth["tasks"]
    lists = {item["id"]: item for item in truth["lists"]}
    # The workspace exercises every gap Airbyte leaves (reference/airbyte.md §0).
    assert any(t["status"]["type"] == "closed" for t in tasks.values())
    assert any(t["archived"] for t in tasks.values())
    assert any(t["parent"] for t in tasks.values())
    assert any(lists[t["list"]["id"]]["folderless"] for t in tasks.values())
    assert any(lists[t["list"]["id"]]["archived"] for t in tasks.values())
    per_list = Counter(t["list"]["id"] for t in tasks.values())
    assert max(per_list.values()) > 100

    summary = await run_backfill(settings_for(emulator, database_url), Database(database_url, SCHEMA))
    assert summary.tasks >= len(tasks)
    assert summary.problems == 0

    stored = await mirror_snapshots(database_url, list(tasks))
    assert stored.keys() == tasks.keys()
    for task_id, truth_task in tasks.items():
        assert_mirror_equals(truth_task, stored.get(task_id))
    with psycopg.connect(database_url) as conn:
        names = dict(conn.execute(f"SELECT field_id, name FROM {SCHEMA}.custom_fields").fetchall())
        changes = conn.execute(f"SELECT count(*) FROM {SCHEMA}.field_changes").fetchone()
    for field in truth["fields"]:
        assert names[field["id"]] == field["name"]  # emoji and non-Latin names byte for byte
    assert changes == (0,)  # a first sighting records no change

    # API calls: the pages of 100 plus the hierarchy walk, nothing wasted (issue target ≤ 1.05×).
    assert summary.api_calls <= 1.05 * minimum_calls(truth)


def minimum_calls(truth: dict[str, Any]) -> int:
    """Hierarchy calls plus pages of 100 for every partition the backfill must read."""
    tasks = truth["tasks"].values()
    lists = {item["id"]: item for item in truth["lists"]}
    spaces = len(truth["spaces"])
    folders = len(truth["folders"])
    hierarchy = 2 + spaces * 4 + folders * 2 + 1 + len(lists)  # spaces, folders+folderless, lists, fields

    def pages(count: int) -> int:
        return count // 100 + 1  # a short (possibly empty) page ends each partition

    in_live_lists = [t for t in tasks if not lists[t["list"]["id"]]["archived"]]
    partitions = pages(sum(1 for t in in_live_lists if not t["archived"])) + pages(
        sum(1 for t in in_live_lists if t["archived"])
    )
    for list_id, item in lists.items():
        if item["archived"]:
            in_list = [t for t in tasks if t["list"]["id"] == list_id]
            partitions += pages(sum(1 for t in in_list if not t["archived"]))
            partitions += pages(sum(1 for t in in_list if t["archived"]))
    return hierarchy + partitions


async def test_reconcile_records_exactly_the_changes_that_happened(
    emulator: EmulatorServer, database_url: str
) -> None:
    settings = settings_for(emulator, database_url)
    database = Database(database_url, SCHEMA)
    await run_backfill(settings, database)
    before = emulator.workspace.ground_truth()["tasks"]

    ActivitySimulator(emulator.workspace, seed=99).run(60)  # no webhook is registered: nothing delivered
    after_truth = emulator.workspace.ground_truth()
    after = after_truth["tasks"]

    summary = await run_reconcile(settings, database)
    expected = Counter()
    for task_id, task in after.items():
        if task_id in before:
            now = datetime.now(UTC)
            for change in diff_task_states(
                snapshot_from_task_json(before[task_id]),
                snapshot_from_task_json(task),
                observed_at=now,
                source="poll",
            ):
                expected[(task_id, change.field_id, change.field_name)] += 1
    deleted = set(after_truth["deleted_task_ids"]) & set(before)
    for task_id in deleted:
        expected[(task_id, None, "deleted")] += 1
    with psycopg.connect(database_url) as conn:
        recorded = Counter(
            conn.execute(
                f"SELECT task_id, field_id, field_name FROM {SCHEMA}.field_changes WHERE source = 'poll'"
            )
        )
        marked = {
            row[0] for row in conn.execute(f"SELECT task_id FROM {SCHEMA}.tasks WHERE deleted_at IS NOT NULL")
        }
    assert expected, "the activity simulator changed nothing"
    assert recorded == expected
    assert marked == deleted
    assert summary.deleted == len(deleted)
    stored = await mirror_snapshots(database_url, list(after))
    for task_id, task in after.items():
        assert_mirror_equals(task, stored.get(task_id))

    second = await run_reconcile(settings, database)
    assert second.changes == 0


async def test_a_revoked_token_fails_loudly_and_marks_nothing_deleted(
    emulator: EmulatorServer, database_url: str
) -> None:
    settings = settings_for(emulator, database_url)
    database = Database(database_url, SCHEMA)
    await run_backfill(settings, database)
    emulator.configure(valid_tokens=["pk_someone_else"])
    with pytest.raises(ClickUpAuthError):
        await run_reconcile(settings, database)
    with psycopg.connect(database_url) as conn:
        assert conn.execute(
            f"SELECT count(*) FROM {SCHEMA}.tasks WHERE deleted_at IS NOT NULL"
        ).fetchone() == (0,)
        assert conn.execute(f"SELECT count(*) FROM {SCHEMA}.field_changes").fetchone() == (0,)


@pytest.mark.slow
async def test_backfill_at_clickups_100_per_minute_never_hits_a_429(database_url: str) -> None:
    """ClickUp's lowest plan allows 100 requests a minute per token; a backfill that needs more than
    one window's worth must pace itself across windows instead of collecting 429s."""
    with EmulatorServer(EmulatorConfig(seed=5, tasks=3800, rate_limit_per_minute=100)) as server:
        summary = await run_backfill(settings_for(server, database_url), Database(database_url, SCHEMA))
        stats = server.stats()
    assert summary.api_calls > 100  # more than one window's worth: the budget had to wait
    assert stats["rate_limited_429"] == 0
    assert summary.tasks >= 3800


class Interrupted(Exception):
    pass


async def test_an_interrupted_backfill_resumes_from_the_last_committed_page(
    database_url: str, empty_database_url: str
) -> None:
    with EmulatorServer(EmulatorConfig(seed=8, tasks=600, rate_limit_per_minute=None)) as server:
        settings = settings_for(server, database_url)
        database = Database(database_url, SCHEMA)
        pages_seen: list[int] = []

        def crash_after_two_pages(progress: Any) -> None:
            pages_seen.append(progress.page)
            if len(pages_seen) == 2:
                raise Interrupted  # as a crash or Ctrl-C would, right after page 2 committed

        with pytest.raises(Interrupted):
            await run_backfill(settings, database, on_progress=crash_after_two_pages)
        with psycopg.connect(database_url) as conn:
            (after_crash,) = conn.execute(f"SELECT count(*) FROM {SCHEMA}.tasks").fetchone() or (0,)
        assert after_crash == 200  # two pages of 100 were committed

        resumed = await run_backfill(settings, database)
        truth = server.workspace.ground_truth()["tasks"]
        migrate(empty_database_url, SCHEMA)
        uninterrupted = await run_backfill(
            settings_for(server, empty_database_url), Database(empty_database_url, SCHEMA)
        )
    assert resumed.resumed and not uninterrupted.resumed
    stored = await mirror_snapshots(database_url, list(truth))
    assert stored.keys() == truth.keys()
    assert resumed.api_calls == uninterrupted.api_calls - 2  # the two committed pages were not read again
