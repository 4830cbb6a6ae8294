"""Webhook → queue → mirror, with the real emulator delivering signed webhooks over HTTP to the
service's endpoint, procrastinate running the jobs, and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import psycopg
import pytest

from clickup_sync.clickup.emulator import ActivitySimulator, EmulatorConfig, EmulatorServer
from clickup_sync.clickup.signature import sign_clickup_body
from clickup_sync.db.connection import Database
from clickup_sync.runtime import ServiceRuntime, service_runtime
from clickup_sync.settings import load_settings
from clickup_sync.sync.jobs import run_backfill
from tests.integration.sync.test_backfill_reconcile import assert_mirror_equals, mirror_snapshots
from tests.support.serving import in_process_worker, serving

pytestmark = pytest.mark.anyio
SCHEMA = "clickup_sync"
SECRET = "test-webhook-secret"


@dataclass
class Service:
    runtime: ServiceRuntime
    url: str
    emulator: EmulatorServer
    database_url: str


@contextlib.asynccontextmanager
async def running_service(
    emulator: EmulatorServer, database_url: str, *, worker: bool = True
) -> AsyncIterator[Service]:
    settings = load_settings(
        clickup_api_url=emulator.base_url,
        clickup_api_token=emulator.token,
        clickup_workspace_id=emulator.team_id,
        clickup_webhook_secret=SECRET,
        database_url=database_url,
        airbyte_mode="off",
    )
    database = Database(database_url, SCHEMA)
    async with (
        service_runtime(settings, database) as runtime,
        serving(runtime, worker=in_process_worker if worker else None) as url,
    ):
        yield Service(runtime, url, emulator, database_url)


def rows(dsn: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


async def queue_drained(dsn: str, seconds: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        pending = rows(
            dsn, f"SELECT count(*) FROM {SCHEMA}.procrastinate_jobs WHERE status IN ('todo', 'doing')"
        )
        received = rows(dsn, f"SELECT count(*) FROM {SCHEMA}.webhook_deliveries WHERE status = 'received'")
        if pending == [(0,)] and received == [(0,)]:
            return
        await asyncio.sleep(0.2)
    jobs = rows(
        dsn,
        f"SELECT id, task_name, status, priority, lock, scheduled_at FROM {SCHEMA}.procrastinate_jobs"
        " WHERE status IN ('todo', 'doing') LIMIT 5",
    )
    deliveries = rows(dsn, f"SELECT id, status FROM {SCHEMA}.webhook_deliveries WHERE status = 'received'")
    raise AssertionError(f"the queue did not drain: jobs {jobs}, deliveries {deliveries[:5]}")


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"X-Signature": sign_clickup_body(secret, body), "Content-Type": "application/json"}


@pytest.fixture
def emulator() -> Any:
    with EmulatorServer(EmulatorConfig(seed=21, tasks=80, rate_limit_per_minute=None)) as server:
        yield server


async def test_signature_size_and_shape_are_checked_before_anything_is_stored(
    emulator: EmulatorServer, database_url: str
) -> None:
    body = b'{"event":"taskUpdated","history_items":[],"task_id":"t1","webhook_id":"w1"}'
    async with running_service(emulator, database_url, worker=False) as service, httpx.AsyncClient() as http:
        url = f"{service.url}/webhooks/clickup"
        assert (await http.post(url, content=body, headers=signed(body, "wrong"))).status_code == 403
        assert (
            await http.post(url, content=body, headers={"Content-Type": "application/json"})
        ).status_code == 403
        assert (
            await http.post(url, content=b"x" * (1024 * 1024 + 1), headers=signed(b"x"))
        ).status_code == 413
        garbage = b'{"no": "event"'
        assert (await http.post(url, content=garbage, headers=signed(garbage))).status_code == 400
        assert (await http.post(url, content=body, headers=signed(body))).status_code == 200
    stored = rows(database_url, f"SELECT status, body FROM {SCHEMA}.webhook_deliveries ORDER BY id")
    assert [s for s, _ in stored] == ["malformed", "received"]  # the 403s and the 413 stored nothing
    assert bytes(stored[0][1]) == garbage  # kept for inspection
    counted = dict(
        rows(database_url, f"SELECT outcome, sum(count) FROM {SCHEMA}.delivery_counters GROUP BY 1")
    )
    assert counted == {"bad_signature": 2, "too_large": 1}


async def test_the_same_history_item_twice_is_recorded_once(
    emulator: EmulatorServer, database_url: str
) -> None:
    item = {
        "id": "2800787326392370170", "type": 1, "date": "1642736073330", "field": "status", "parent_id": "1",
        "data": {}, "source": None, "user": {"id": 183}, "before": {"status": "to do", "type": "open"},
        "after": {"status": "in progress", "type": "custom"},
    }  # fmt: skip
    bodies = [
        orjson.dumps({"event": event, "history_items": [item], "task_id": "t1", "webhook_id": "w1"})
        for event in ("taskStatusUpdated", "taskUpdated", "taskUpdated")  # + a redelivery
    ]
    async with running_service(emulator, database_url) as service, httpx.AsyncClient() as http:
        answers = [
            (await http.post(f"{service.url}/webhooks/clickup", content=b, headers=signed(b))).json()[
                "status"
            ]
            for b in bodies
        ]
        await queue_drained(database_url)
    assert answers == ["accepted", "duplicate", "duplicate"]
    history = rows(
        database_url, f"SELECT field_name, new_value, changed_by, source FROM {SCHEMA}.field_changes"
    )
    assert history == [("status", "in progress", "183", "webhook")]


async def test_emulator_activity_reaches_the_mirror_through_webhooks(
    emulator: EmulatorServer, database_url: str
) -> None:
    settings_url = database_url
    await run_backfill(
        load_settings(
            clickup_api_url=emulator.base_url, clickup_api_token=emulator.token,
            clickup_workspace_id=emulator.team_id, database_url=settings_url,
        ),
        Database(settings_url, SCHEMA),
    )  # fmt: skip
    async with running_service(emulator, database_url) as service:
        client = await service.runtime.clickup()
        created = await client.create_webhook(emulator.team_id, f"{service.url}/webhooks/clickup", ["*"])
        with psycopg.connect(database_url) as conn:
            conn.execute(
                f"INSERT INTO {SCHEMA}.webhooks (webhook_id, team_id, endpoint, secret)"
                " VALUES (%s, %s, %s, %s)",
                (created["id"], emulator.team_id, created["endpoint"], created["secret"]),
            )
        changes = ActivitySimulator(emulator.workspace, seed=5).run(25)
        assert changes
        assert await asyncio.to_thread(emulator.dispatcher.wait_idle, 60)
        await queue_drained(database_url)
    truth = emulator.workspace.ground_truth()
    delivered_items = {
        str(item["id"])
        for record in emulator.dispatcher.deliveries
        if record.outcome == "delivered"
        for item in orjson.loads(record.body).get("history_items", [])
        if str(item.get("id", "")).isdigit()
    }
    recorded = rows(database_url, f"SELECT event_id FROM {SCHEMA}.field_changes WHERE event_id IS NOT NULL")
    recorded_ids = [r[0] for r in recorded]
    assert len(recorded_ids) == len(set(recorded_ids))  # exactly once each
    assert delivered_items <= set(recorded_ids)
    live = truth["tasks"]
    stored = await mirror_snapshots(database_url, list(live))
    for task_id, task in live.items():
        assert_mirror_equals(task, stored.get(task_id))
    mirrored = {r[0] for r in rows(database_url, f"SELECT task_id FROM {SCHEMA}.tasks")}
    marked = {
        r[0] for r in rows(database_url, f"SELECT task_id FROM {SCHEMA}.tasks WHERE deleted_at IS NOT NULL")
    }
    assert set(truth["deleted_task_ids"]) & mirrored == marked  # every deletion delivered is marked


def status_item(item_id: str, at_ms: int, before: str, after: str) -> dict[str, Any]:
    return {
        "id": item_id, "type": 1, "date": str(at_ms), "field": "status", "parent_id": "1", "data": {},
        "source": None, "user": {"id": 184}, "before": {"status": before, "type": "custom"},
        "after": {"status": after, "type": "custom"},
    }  # fmt: skip


async def post_items(
    http: httpx.AsyncClient, url: str, task_id: str, items: list[dict[str, Any]], event: str = "taskUpdated"
) -> None:
    """One signed delivery per history item; each must be acknowledged with 200."""
    for item in items:
        body = orjson.dumps({"event": event, "history_items": [item], "task_id": task_id, "webhook_id": "w1"})
        response = await http.post(f"{url}/webhooks/clickup", content=body, headers=signed(body))
        assert response.status_code == 200


async def post_and_process(
    service: Service, http: httpx.AsyncClient, task_id: str, items: list[dict[str, Any]]
) -> None:
    from clickup_sync.queue.deliveries import process_delivery

    await post_items(http, service.url, task_id, items, event="taskStatusUpdated")
    for (delivery_id,) in rows(
        service.database_url,
        f"SELECT id FROM {SCHEMA}.webhook_deliveries WHERE status = 'received' ORDER BY id",
    ):
        await process_delivery(service.runtime, delivery_id)


async def test_an_out_of_order_event_is_recorded_but_never_overwrites_newer_state(
    emulator: EmulatorServer, database_url: str
) -> None:
    settings = load_settings(
        clickup_api_url=emulator.base_url, clickup_api_token=emulator.token,
        clickup_workspace_id=emulator.team_id, database_url=database_url,
    )  # fmt: skip
    await run_backfill(settings, Database(database_url, SCHEMA))
    ((task_id, updated),) = rows(
        database_url, f"SELECT task_id, date_updated FROM {SCHEMA}.tasks ORDER BY task_id LIMIT 1"
    )
    base = int(updated.timestamp() * 1000)
    newer = status_item("9000000000000000002", base + 2000, "review", "in progress")
    older = status_item("9000000000000000001", base + 1000, "to do", "review")
    async with running_service(emulator, database_url, worker=False) as service, httpx.AsyncClient() as http:
        await post_and_process(service, http, task_id, [newer, older])  # the newer one arrives first
        assert rows(database_url, f"SELECT status FROM {SCHEMA}.tasks WHERE task_id = %s", (task_id,)) == [
            ("in progress",)
        ]
        history = rows(
            database_url,
            f"SELECT event_id, new_value FROM {SCHEMA}.field_changes WHERE task_id = %s ORDER BY changed_at",
            (task_id,),
        )
        assert history == [("9000000000000000001", "review"), ("9000000000000000002", "in progress")]

        # A replay of everything records nothing twice and changes nothing.
        from clickup_sync.queue.replay import ReplaySelection, replay_deliveries

        replayed = await replay_deliveries(
            service.runtime.settings, service.runtime.database, ReplaySelection(task_id=task_id)
        )
        assert replayed.replayed == 2
        events = rows(
            database_url,
            f"SELECT event_id FROM {SCHEMA}.field_changes WHERE task_id = %s AND event_id IS NOT NULL"
            " ORDER BY 1",
            (task_id,),
        )
        assert events == [("9000000000000000001",), ("9000000000000000002",)]  # still once each
