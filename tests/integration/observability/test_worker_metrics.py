"""Per-process figures of the work itself — processing lag, reconciles — in `serve` and in a separate
`clickup-sync worker` process serving its own /metrics on WORKER_METRICS_PORT."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest

from clickup_sync.clickup.emulator import EmulatorServer
from clickup_sync.db.connection import Database
from clickup_sync.errors import ConfigError
from clickup_sync.observability.worker_exporter import start_worker_metrics
from clickup_sync.queue.tasks import defer_reconcile
from clickup_sync.sync.jobs import run_backfill
from tests.integration.observability.conftest import (
    SCHEMA,
    SECRET,
    Scrape,
    free_port,
    rows,
    running_service,
    scrape,
    settings_for,
    signed,
    wait_until,
)

pytestmark = pytest.mark.anyio


def delivery_made_ago(seconds: float, task_id: str, item_id: str) -> bytes:
    item = {
        "id": item_id, "type": 1, "date": str(int((time.time() - seconds) * 1000)), "field": "name",
        "parent_id": "1", "data": {}, "source": None, "user": {"id": 183},
        "before": "old name", "after": "new name",
    }  # fmt: skip
    return orjson.dumps(
        {"event": "taskUpdated", "history_items": [item], "task_id": task_id, "webhook_id": "w1"}
    )


def delivery_status(database_url: str, delivery_id: int) -> str:
    return str(
        rows(database_url, f"SELECT status FROM {SCHEMA}.webhook_deliveries WHERE id = %s", (delivery_id,))[
            0
        ][0]
    )


async def test_processing_lag_runs_from_clickups_event_time_to_the_commit(
    emulator: EmulatorServer, database_url: str
) -> None:
    body = delivery_made_ago(30, emulator.workspace.live_task_ids()[0], "4001")
    async with (
        running_service(settings_for(emulator, database_url), worker=True) as service,
        httpx.AsyncClient() as http,
    ):
        assert (
            await http.post(f"{service.url}/webhooks/clickup", content=body, headers=signed(body))
        ).is_success
        await wait_until(lambda: delivery_status(database_url, 1) == "processed", what="processing")
        page = await scrape(service.url)
    assert page.value("clickup_sync_processing_lag_seconds_count") == 1
    lag = page.value("clickup_sync_processing_lag_seconds_sum")
    assert lag is not None and 30 <= lag < 90
    assert page.value("clickup_sync_processing_lag_seconds_bucket", le="10.0") == 0
    assert page.value("clickup_sync_processing_lag_seconds_bucket", le="60.0") == 1


async def test_reconcile_changes_are_counted_by_the_process_that_found_them(
    emulator: EmulatorServer, database_url: str
) -> None:
    settings = settings_for(emulator, database_url)
    await run_backfill(settings, Database(database_url, SCHEMA))
    for task_id in emulator.workspace.live_task_ids()[:3]:  # changed while no webhook watches
        emulator.workspace.update_task(task_id, {"name": f"renamed {task_id}"})
    async with running_service(settings, worker=True) as service:
        # Queued now, or already waiting because the scheduler's first tick deferred one: either way
        # one reconcile runs in this process (the queueing lock keeps it to one).
        await defer_reconcile(service.runtime.queue)
        latest: list[Scrape] = []

        async def reconciled() -> bool:
            latest[:] = [await scrape(service.url)]
            return (latest[0].value("clickup_sync_reconcile_runs_total") or 0) >= 1

        deadline = time.monotonic() + 60
        while not await reconciled():
            assert time.monotonic() < deadline, "the reconcile did not run"
            await asyncio.sleep(0.2)
    page = latest[0]
    found = rows(database_url, f"SELECT count(*) FROM {SCHEMA}.field_changes WHERE source = 'poll'")[0][0]
    assert found >= 3
    assert page.value("clickup_sync_reconcile_changes_total") == found
    calls = page.series("clickup_sync_clickup_api_calls_total")
    assert any(dict(labels)["endpoint"] == "/team/{team_id}/task" for labels in calls)


async def test_a_worker_process_serves_its_metrics_on_worker_metrics_port(
    emulator: EmulatorServer, database_url: str, tmp_path: Path
) -> None:
    body = delivery_made_ago(20, emulator.workspace.live_task_ids()[0], "5001")
    async with running_service(settings_for(emulator, database_url)) as service, httpx.AsyncClient() as http:
        assert (
            await http.post(f"{service.url}/webhooks/clickup", content=body, headers=signed(body))
        ).is_success
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""), "DATABASE_URL": database_url, "WORKER_METRICS_PORT": str(port),
        "CLICKUP_API_URL": emulator.base_url, "CLICKUP_API_TOKEN": emulator.token,
        "CLICKUP_WORKSPACE_ID": emulator.team_id, "CLICKUP_WEBHOOK_SECRET": SECRET, "AIRBYTE_MODE": "off",
        "APP_ENV": "production",
    }  # fmt: skip
    worker = subprocess.Popen(  # noqa: ASYNC220 - spawning does not block; it is read after SIGTERM
        [sys.executable, "-m", "clickup_sync", "worker"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        page: Scrape | None = None
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(timeout=5) as http:
            while time.monotonic() < deadline and worker.poll() is None:
                try:
                    answer = await http.get(f"http://127.0.0.1:{port}/metrics")
                except httpx.TransportError:
                    answer = None
                if answer is not None and answer.status_code == 200:
                    page = Scrape.parse(answer.text)
                    if page.value("clickup_sync_processing_lag_seconds_count") == 1:
                        break
                await asyncio.sleep(0.2)
            health = await http.get(f"http://127.0.0.1:{port}/healthz")
    finally:
        worker.send_signal(signal.SIGTERM)
        _, stderr = worker.communicate(timeout=30)
    assert page is not None, stderr
    assert page.value("clickup_sync_processing_lag_seconds_count") == 1, stderr
    lag = page.value("clickup_sync_processing_lag_seconds_sum")
    assert lag is not None and 20 <= lag < 80
    assert page.value("clickup_sync_database_up") == 1
    assert page.value("clickup_sync_queue_depth") is not None
    assert health.status_code == 200
    assert worker.returncode == 0, stderr
    # Production logs: one JSON object a line; procrastinate's job lines carry the delivery id.
    entries = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    assert any("worker metrics on" in entry["message"] for entry in entries)
    assert any(entry.get("delivery_id") == 1 and entry.get("job_id") for entry in entries), stderr


async def test_the_worker_exporter_is_off_at_port_0_and_refuses_a_taken_port(
    emulator: EmulatorServer, database_url: str
) -> None:
    async with running_service(settings_for(emulator, database_url)) as service:
        assert await start_worker_metrics(service.runtime, port=0) is None
        taken = int(service.url.rsplit(":", 1)[1])
        with pytest.raises(ConfigError, match="WORKER_METRICS_PORT"):
            await start_worker_metrics(service.runtime, host="127.0.0.1", port=taken)
        exporter = await start_worker_metrics(service.runtime, host="127.0.0.1", port=free_port())
        assert exporter is not None
        try:
            async with httpx.AsyncClient() as http:
                answer = await http.get(f"http://127.0.0.1:{exporter.port}/metrics")
        finally:
            await exporter.stop()
    assert answer.status_code == 200
    assert Scrape.parse(answer.text).value("clickup_sync_database_up") == 1
