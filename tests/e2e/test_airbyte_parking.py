"""Webhook → queue → parked until Airbyte's table holds the task → released → mirror, with the
emulator, the service's HTTP endpoint and worker, and Airbyte's destination simulated on a real
PostgreSQL (reference airbyte.md §3.4)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any

import httpx
import orjson
import pytest

from clickup_sync.airbyte.parking import WAIT_EXCEEDED_FLAG, release_parked
from clickup_sync.airbyte.simulator import AirbyteDestinationSimulator
from clickup_sync.clickup.emulator import EmulatorConfig, EmulatorServer
from clickup_sync.db.connection import Database
from clickup_sync.runtime import ServiceRuntime, service_runtime
from clickup_sync.service import SHUTDOWN_GRACE_SECONDS
from clickup_sync.settings import load_settings
from tests.e2e.test_webhook_pipeline import (
    SCHEMA,
    SECRET,
    Service,
    queue_drained,
    rows,
    signed,
    status_item,
)
from tests.support.serving import serving

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(seed=21, tasks=80, rate_limit_per_minute=None)) as server:
        yield server


@pytest.fixture(scope="module")
def tasks(emulator: EmulatorServer) -> list[dict[str, Any]]:
    """Top-level tasks of foldered, unarchived lists — tasks Airbyte's connector copies — as Get Task
    (and Airbyte's records) show them."""
    truth = emulator.workspace.ground_truth()
    copied_lists = {
        task_list["id"]
        for task_list in truth["lists"]
        if not task_list["folderless"] and not task_list["archived"]
    }
    tasks = truth["tasks"].values()
    return [
        t for t in tasks if t["parent"] is None and not t["archived"] and t["list"]["id"] in copied_lists
    ][:6]


@contextlib.asynccontextmanager
async def airbyte_service(
    emulator: EmulatorServer, database_url: str, *, airbyte_mode: str = "on", **overrides: Any
) -> AsyncIterator[Service]:
    """`running_service` of the pipeline tests, with Airbyte's settings chosen by the test."""
    settings = load_settings(
        clickup_api_url=emulator.base_url, clickup_api_token=emulator.token,
        clickup_workspace_id=emulator.team_id, clickup_webhook_secret=SECRET, database_url=database_url,
        airbyte_mode=airbyte_mode, **overrides,
    )  # fmt: skip
    async with (
        service_runtime(settings, Database(database_url, SCHEMA)) as runtime,
        serving(runtime, worker=quick_polling_worker) as url,
    ):
        yield Service(runtime, url, emulator, database_url)


def quick_polling_worker(runtime: ServiceRuntime) -> Coroutine[Any, Any, None]:
    """As `service.run_worker`, polling every 0.2 s: a job deferred while another holds its procrastinate
    lock is otherwise picked up by the next poll (it gets no notification of its own)."""
    return runtime.queue.run_worker_async(
        concurrency=runtime.settings.worker_concurrency,
        additional_context={"runtime": runtime},
        install_signal_handlers=False,
        shutdown_graceful_timeout=SHUTDOWN_GRACE_SECONDS,
        delete_jobs="successful",
        fetch_job_polling_interval=0.2,
    )


async def post_status_change(
    service: Service, http: httpx.AsyncClient, task: dict[str, Any], item_id: str
) -> float:
    """POST one signed delivery; returns how long the endpoint took to answer 200."""
    at_ms = int(task["date_updated"]) + 1000
    body = orjson.dumps({
        "event": "taskStatusUpdated", "task_id": task["id"], "webhook_id": "w1",
        "history_items": [status_item(item_id, at_ms, task["status"]["status"], "review")],
    })  # fmt: skip
    started = time.monotonic()
    answer = await http.post(f"{service.url}/webhooks/clickup", content=body, headers=signed(body))
    assert answer.status_code == 200, answer.text
    return time.monotonic() - started


async def until_parked(dsn: str, task_id: str, seconds: float = 20) -> None:
    """Wait until the worker has parked the task's delivery."""
    deadline = time.monotonic() + seconds
    while (found := status_of(dsn, task_id)) != ["parked"]:
        if time.monotonic() > deadline:
            raise AssertionError(f"the delivery for {task_id} was not parked: {found}")
        await asyncio.sleep(0.1)


def status_of(dsn: str, task_id: str) -> list[str]:
    found = rows(
        dsn, f"SELECT status FROM {SCHEMA}.webhook_deliveries WHERE task_id = %s ORDER BY id", (task_id,)
    )
    return [r[0] for r in found]


def history_events(dsn: str) -> set[str]:
    return {
        r[0] for r in rows(dsn, f"SELECT event_id FROM {SCHEMA}.field_changes WHERE event_id IS NOT NULL")
    }


async def test_a_change_waits_for_airbyte_and_reaches_the_mirror_after_the_sync(
    emulator: EmulatorServer, database_url: str, tasks: list[dict[str, Any]]
) -> None:
    new, known = tasks[0], tasks[1]
    simulator = AirbyteDestinationSimulator(database_url, version="3.x")
    simulator.sync([known])
    async with airbyte_service(emulator, database_url) as service, httpx.AsyncClient() as http:
        await post_status_change(service, http, new, "9100000000000000001")
        await post_status_change(service, http, known, "9100000000000000002")
        await until_parked(database_url, new["id"])
        await queue_drained(database_url)
        assert history_events(database_url) == {"9100000000000000002"}  # only the task Airbyte holds
        parked = rows(database_url, f"SELECT task_id, released_at FROM {SCHEMA}.parked_changes")
        assert parked == [(new["id"], None)]

        simulator.sync([known, new])
        await release_parked(service.runtime)  # the worker's minutely release job may have been first
        await queue_drained(database_url)

    released = rows(database_url, f"SELECT release_reason FROM {SCHEMA}.parked_changes")
    assert released == [("base_record",)]
    assert status_of(database_url, new["id"]) == ["processed"]
    assert history_events(database_url) == {"9100000000000000001", "9100000000000000002"}


async def test_after_the_max_wait_a_change_is_applied_without_its_base_record_and_flagged(
    emulator: EmulatorServer, database_url: str, tasks: list[dict[str, Any]]
) -> None:
    never_synced = tasks[2]
    AirbyteDestinationSimulator(database_url, version="2.x").sync([tasks[1]])
    async with (
        airbyte_service(emulator, database_url, base_record_max_wait="0.2s") as service,
        httpx.AsyncClient() as http,
    ):
        await post_status_change(service, http, never_synced, "9200000000000000001")
        await until_parked(database_url, never_synced["id"])
        await asyncio.sleep(0.3)
        await release_parked(service.runtime)  # the worker's minutely release job may have been first
        await queue_drained(database_url)

    released = rows(database_url, f"SELECT release_reason FROM {SCHEMA}.parked_changes")
    assert released == [("max_wait",)]
    assert "9200000000000000001" in history_events(database_url)
    flags = rows(database_url, f"SELECT status, flags FROM {SCHEMA}.webhook_deliveries")
    assert flags == [("processed", [WAIT_EXCEEDED_FLAG])]


async def test_while_airbyte_swaps_its_table_webhooks_are_acknowledged_and_processing_never_fails(
    emulator: EmulatorServer, database_url: str, tasks: list[dict[str, Any]]
) -> None:
    simulator = AirbyteDestinationSimulator(database_url, version="3.x")
    simulator.sync(tasks[1:2])
    hold = threading.Event()
    handle = simulator.start_sync(tasks[:3], hold_swap=hold)
    try:
        async with airbyte_service(emulator, database_url) as service, httpx.AsyncClient() as http:
            assert handle.wait_until_swap_locked(timeout=10)
            answered = [
                await post_status_change(service, http, task, f"930000000000000000{n}")
                for n, task in enumerate(tasks[:3])
            ]
            await queue_drained(database_url, seconds=15)  # processed or parked, while the swap holds
            during = rows(database_url, f"SELECT status, last_error FROM {SCHEMA}.webhook_deliveries")
            failed = rows(
                database_url, f"SELECT count(*) FROM {SCHEMA}.procrastinate_jobs WHERE status = 'failed'"
            )
            hold.set()
            handle.wait(timeout=10)
            await release_parked(service.runtime)
            await queue_drained(database_url)
    finally:
        hold.set()

    assert max(answered) < 2  # acknowledged at once: ingestion never reads Airbyte's table
    assert {status for status, _ in during} <= {"parked", "processed"}
    assert [error for _, error in during] == [None, None, None]
    assert failed == [(0,)]
    assert history_events(database_url) == {f"930000000000000000{n}" for n in range(3)}


async def test_with_airbyte_off_changes_are_applied_at_once(
    emulator: EmulatorServer, database_url: str, tasks: list[dict[str, Any]]
) -> None:
    AirbyteDestinationSimulator(database_url, version="3.x").sync([tasks[1]])  # the table lacks tasks[3]
    async with (
        airbyte_service(emulator, database_url, airbyte_mode="off") as service,
        httpx.AsyncClient() as http,
    ):
        await post_status_change(service, http, tasks[3], "9400000000000000001")
        await queue_drained(database_url)

    assert status_of(database_url, tasks[3]["id"]) == ["processed"]
    assert history_events(database_url) == {"9400000000000000001"}
    assert rows(database_url, f"SELECT count(*) FROM {SCHEMA}.parked_changes") == [(0,)]


async def test_the_service_notices_the_sync_by_itself_and_releases_what_waited(
    emulator: EmulatorServer, database_url: str, tasks: list[dict[str, Any]]
) -> None:
    """No explicit release: the worker's sync watch (every AIRBYTE_POLL_INTERVAL) sees the overwrite
    swap and releases the parked change."""
    new, known = tasks[3], tasks[4]
    simulator = AirbyteDestinationSimulator(database_url, version="3.x")
    simulator.sync([known])
    async with airbyte_service(emulator, database_url) as service, httpx.AsyncClient() as http:
        await post_status_change(service, http, new, "9400000000000000001")
        await until_parked(database_url, new["id"])
        deadline = time.monotonic() + 20
        while rows(
            database_url, f"SELECT count(*) FROM {SCHEMA}.airbyte_observations WHERE observed_at IS NOT NULL"
        ) == [(0,)]:
            assert time.monotonic() < deadline, "the sync watch never looked at Airbyte's table"
            await asyncio.sleep(0.2)
        simulator.sync([known, new])
        while "9400000000000000001" not in history_events(database_url):
            assert time.monotonic() < deadline + 20, "the parked change was not released after the sync"
            await asyncio.sleep(0.2)
    synced = rows(database_url, f"SELECT ended_at IS NOT NULL FROM {SCHEMA}.airbyte_syncs")
    assert (True,) in synced  # the sync was recorded


@pytest.mark.parametrize("version", ["3.x", "2.x"])
async def test_overwrite_syncs_swap_the_table_while_a_burst_of_webhooks_is_processed(
    emulator: EmulatorServer, database_url: str, tasks: list[dict[str, Any]], version: str
) -> None:
    """Airbyte's overwrite swap (DROP + RENAME of the final table) needs an ACCESS EXCLUSIVE lock: the
    service must never hold one in its way, fail a job because of it, or lose a change."""
    simulator = AirbyteDestinationSimulator(database_url, version=version)
    simulator.sync(tasks)
    burst = [(tasks[n % len(tasks)], f"94{n:017d}") for n in range(240)]

    async def post_burst(service: Service, http: httpx.AsyncClient) -> list[float]:
        answered: list[float] = []
        for start in range(0, len(burst), 8):  # 8 in flight, like ClickUp's parallel deliveries
            answered += await asyncio.gather(
                *(post_status_change(service, http, task, item) for task, item in burst[start : start + 8])
            )
        return answered

    async with airbyte_service(emulator, database_url) as service, httpx.AsyncClient() as http:
        posting = asyncio.create_task(post_burst(service, http))
        swaps = 0
        while not posting.done() or swaps < 2:
            started = time.monotonic()
            await asyncio.to_thread(simulator.sync, tasks)  # raises if the swap fails
            assert time.monotonic() - started < 10, "a swap waited on the service"
            swaps += 1
        answered = await posting
        await queue_drained(database_url, seconds=60)
        await release_parked(service.runtime)
        await queue_drained(database_url, seconds=60)

    assert swaps >= 2
    assert max(answered) < 2
    errors = rows(
        database_url, f"SELECT count(*) FROM {SCHEMA}.webhook_deliveries WHERE last_error IS NOT NULL"
    )
    failed = rows(database_url, f"SELECT count(*) FROM {SCHEMA}.procrastinate_jobs WHERE status = 'failed'")
    assert (errors, failed) == ([(0,)], [(0,)])
    assert status_of_all(database_url) == {"processed"}
    assert history_events(database_url) == {item for _, item in burst}


def status_of_all(dsn: str) -> set[str]:
    return {r[0] for r in rows(dsn, f"SELECT DISTINCT status FROM {SCHEMA}.webhook_deliveries")}


async def test_a_new_subtask_is_fetched_while_parked_and_released_as_never_copied_by_airbyte(
    emulator: EmulatorServer, database_url: str, tasks: list[dict[str, Any]]
) -> None:
    """The mirror does not know the task yet, so the gate cannot tell it is a subtask: the delivery
    parks, the task is fetched, and the release sees Airbyte will never copy it — no 26 h wait."""
    truth = emulator.workspace.ground_truth()["tasks"]
    subtask = next(task for task in truth.values() if task["parent"] is not None and not task["archived"])
    AirbyteDestinationSimulator(database_url, version="3.x").sync(tasks)
    async with airbyte_service(emulator, database_url) as service, httpx.AsyncClient() as http:
        await post_status_change(service, http, subtask, "9600000000000000001")
        await until_parked(database_url, subtask["id"])
        await queue_drained(database_url)  # the parked delivery asked for the task's fetch
        assert rows(database_url, f"SELECT parent_task_id FROM {SCHEMA}.tasks WHERE task_id = %s",
                    (subtask["id"],)) == [(subtask["parent"],)]  # fmt: skip
        await release_parked(service.runtime)  # the worker's minutely release job may have been first
        await queue_drained(database_url)

    assert rows(database_url, f"SELECT release_reason FROM {SCHEMA}.parked_changes") == [("not_in_airbyte",)]
    assert status_of(database_url, subtask["id"]) == ["processed"]
    assert "9600000000000000001" in history_events(database_url)
