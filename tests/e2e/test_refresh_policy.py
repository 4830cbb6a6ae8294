"""When a webhook makes the worker re-fetch a task from ClickUp — counted at the emulator.

A delivery whose history items describe the change is applied from the items alone; a re-fetch is
asked for when they cannot (unknown task, unknown field, relationship field) or when the task was
not re-fetched for a reconcile interval, and a burst of such deliveries for one task shares one fetch.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from clickup_sync.clickup.emulator import EmulatorConfig, EmulatorServer
from clickup_sync.db.connection import Database
from clickup_sync.settings import load_settings
from clickup_sync.sync.jobs import run_backfill
from tests.e2e.test_webhook_pipeline import SCHEMA, post_items, queue_drained, rows, running_service

pytestmark = pytest.mark.anyio
GET_TASK = "GET /api/v2/task/{task_id}"


@pytest.fixture
def emulator() -> Any:
    with EmulatorServer(EmulatorConfig(seed=33, tasks=30, rate_limit_per_minute=None)) as server:
        yield server


def task_fetches(emulator: EmulatorServer) -> int:
    stats = httpx.get(f"{emulator.base_url.split('/api/')[0]}/_emulator/stats", timeout=10).json()
    return int(sum(stats["requests_by_endpoint"].get(GET_TASK, {}).values()))


def priority_item(item_id: int, at_ms: int, priority: str) -> dict[str, Any]:
    return {
        "id": str(item_id), "type": 1, "date": str(at_ms), "field": "priority", "parent_id": "1",
        "data": {}, "source": None, "user": {"id": 184}, "before": None,
        "after": {"id": "1", "priority": priority, "color": "#f50000", "orderindex": "1"},
    }  # fmt: skip


async def test_refetches_only_when_the_items_cannot_describe_the_change(
    emulator: EmulatorServer, database_url: str
) -> None:
    settings = load_settings(
        clickup_api_url=emulator.base_url, clickup_api_token=emulator.token,
        clickup_workspace_id=emulator.team_id, database_url=database_url,
    )  # fmt: skip
    await run_backfill(settings, Database(database_url, SCHEMA))
    (first,), (second,), (third,) = rows(
        database_url, f"SELECT task_id FROM {SCHEMA}.tasks ORDER BY task_id LIMIT 3"
    )
    ((newest,),) = rows(database_url, f"SELECT max(date_updated) FROM {SCHEMA}.tasks")
    base = int(newest.timestamp() * 1000) + 1000  # newer than the mirror: never a stale item
    async with running_service(emulator, database_url) as service, httpx.AsyncClient() as http:
        # Never re-fetched since the backfill: a burst of 20 events on one task → exactly one fetch.
        before = task_fetches(emulator)
        await post_items(
            http, service.url, first, [priority_item(7_000 + n, base + n, "urgent") for n in range(20)]
        )
        await queue_drained(database_url)
        assert task_fetches(emulator) - before == 1
        assert (
            rows(database_url, f"SELECT count(*) FROM {SCHEMA}.field_changes WHERE task_id = %s", (first,))[
                0
            ][0]
            >= 20
        )

        # Re-fetched a moment ago, and the items say everything: no fetch at all.
        before = task_fetches(emulator)
        await post_items(
            http, service.url, first, [priority_item(8_000 + n, base + 100 + n, "high") for n in range(20)]
        )
        await queue_drained(database_url)
        assert task_fetches(emulator) - before == 0
        assert rows(database_url, f"SELECT priority FROM {SCHEMA}.tasks WHERE task_id = %s", (first,)) == [
            ("high",)
        ]

        # An item whose field the service cannot apply from the item (no documented shape): fetched.
        rows(
            database_url,
            f"INSERT INTO {SCHEMA}.task_refreshes VALUES (%s, now()) ON CONFLICT (task_id)"
            " DO UPDATE SET refreshed_at = now() RETURNING 1",
            (second,),
        )
        before = task_fetches(emulator)
        unknown = {**priority_item(9_001, base + 200, "low"), "field": "dependency", "after": {"id": third}}
        await post_items(http, service.url, second, [unknown])
        await queue_drained(database_url)
        assert task_fetches(emulator) - before == 1

        # A task the mirror does not hold: its details come from ClickUp.
        rows(database_url, f"DELETE FROM {SCHEMA}.tasks WHERE task_id = %s RETURNING 1", (third,))
        await post_items(http, service.url, third, [priority_item(9_002, base + 300, "low")])
        await queue_drained(database_url)
        assert rows(database_url, f"SELECT count(*) FROM {SCHEMA}.tasks WHERE task_id = %s", (third,)) == [
            (1,)
        ]
