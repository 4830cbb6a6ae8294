"""Sync windows detected while the simulated Airbyte destination syncs (reference airbyte.md §4), and
every sync recorded once in `airbyte_syncs`."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from pydantic import SecretStr

from clickup_sync.airbyte.airbyte_api import AirbyteApiClient, AirbyteApiConfig
from clickup_sync.airbyte.detect import AirbyteSyncDetector, DetectorConfig
from clickup_sync.airbyte.notifications import parse_airbyte_notification
from clickup_sync.airbyte.simulator import AirbyteDestinationSimulator, AirbyteSyncFailed, Version

SCHEMA = "clickup_sync"
CONNECTION_ID = "64d901a1-2520-4d91-93c8-9df438668ff0"
TEMP_TABLE = "airbyte_internal.publicclickup_taskad533a73cf149c45437624f28e1d0665"  # §3.4


def task(number: int) -> dict[str, Any]:
    return {"id": f"86a{number:05d}", "name": f"Task {number}"}


TASKS = [task(number) for number in range(1, 6)]


@pytest.fixture
async def detector(database_url: str) -> AsyncIterator[AirbyteSyncDetector]:
    sync_detector = AirbyteSyncDetector(database_url, schema=SCHEMA)
    yield sync_detector
    await sync_detector.aclose()


def notification_body(
    job_id: int, *, success: bool, started_at: datetime, connection_id: str = CONNECTION_ID
) -> bytes:
    """The §4.3 payload, with this test's times."""
    data = {
        "workspace": {
            "id": "b510e39b-e9e2-4833-9a3a-963e51d35fb4",
            "name": "Workspace1",
            "url": "https://link/to/ws",
        },
        "connection": {
            "id": connection_id,
            "name": "ClickUp → Postgres",
            "url": "https://link/to/connection",
        },
        "source": {"id": "c0655b08-1511-4e72-b7bd-b81a48b21c3c", "name": "ClickUp", "url": "https://link"},
        "destination": {
            "id": "5621c38f-8048-4abb-85ca-b34ff8d9a298",
            "name": "Postgres",
            "url": "https://link",
        },
        "jobId": job_id,
        "startedAt": started_at.isoformat().replace("+00:00", "Z"),
        "finishedAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "recordsEmitted": 2,
        "recordsCommitted": 2 if success else 0,
        "success": success,
    }
    if not success:
        data |= {
            "errorMessage": "cannot drop table",
            "errorType": "config_error",
            "errorOrigin": "destination",
        }
    return json.dumps({"data": data}).encode()


def dependent_view(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE VIEW public.someone_elses_view AS SELECT id FROM public.clickup_task")


@pytest.mark.parametrize(
    ("version", "staging_table"), [("3.x", TEMP_TABLE), ("2.x", "public.clickup_task_airbyte_tmp")]
)
@pytest.mark.anyio
async def test_an_overwrite_sync_held_in_its_swap_is_running_then_recorded_with_the_new_table(
    database_url: str, detector: AirbyteSyncDetector, version: Version, staging_table: str
) -> None:
    simulator = AirbyteDestinationSimulator(database_url, version=version)
    first = simulator.sync(TASKS)
    await detector.poll()
    hold = threading.Event()
    handle = simulator.start_sync(TASKS[:2], hold_swap=hold)
    assert handle.wait_until_swap_locked(timeout=10)

    started = time.monotonic()
    during = await detector.poll()
    poll_seconds = time.monotonic() - started
    hold.set()
    second = handle.wait(timeout=10)
    after = await detector.poll()

    assert during.running and during.since is not None
    assert {"temp_table", "lock"} <= set(during.detected_by)
    assert during.sync is not None and during.sync.details["staging_tables"] == [staging_table]
    assert poll_seconds < 0.5  # never queued behind the swap
    assert not after.running
    [sync] = await detector.recent_syncs()
    assert sync.ended_at is not None and during.since <= sync.ended_at
    assert {"table_oid", "generation_id", "sync_id"} <= set(sync.detected_by)
    assert (sync.table_oid_before, sync.table_oid_after) == (first.table_oid_after, second.table_oid_after)
    assert (sync.sync_id, sync.records) == (str(second.sync_id), 2)


@pytest.mark.anyio
async def test_a_sync_between_two_polls_is_recorded_from_what_it_changed(database_url: str) -> None:
    simulator = AirbyteDestinationSimulator(database_url, version="3.x")
    first = simulator.sync(TASKS)
    before = AirbyteSyncDetector(database_url, schema=SCHEMA)
    await before.poll()
    await before.aclose()

    second = simulator.sync(TASKS[:3])
    appended = simulator.sync(TASKS[3:], mode="append")
    after_restart = AirbyteSyncDetector(database_url, schema=SCHEMA)  # what was seen survives restarts
    window = await after_restart.poll()
    third = simulator.sync(TASKS, mode="append")
    await after_restart.poll()
    syncs = await after_restart.recent_syncs()
    await after_restart.aclose()

    assert not window.running
    # Two syncs between the same two polls look like one: what the database can tell.
    newest, overwrite = syncs
    assert overwrite.ended_at is not None and overwrite.started_at <= overwrite.ended_at
    assert overwrite.started_at >= second.started_at - timedelta(seconds=1)
    assert set(overwrite.detected_by) == {"table_oid", "extracted_at", "generation_id", "sync_id"}
    assert (overwrite.table_oid_before, overwrite.table_oid_after) == (
        first.table_oid_after,
        second.table_oid_after,
    )
    assert overwrite.sync_id == str(appended.sync_id)
    assert overwrite.details["started_at_basis"] == "oldest_new_extracted_at"
    # An append keeps the table: only its extracted_at and sync id move.
    assert set(newest.detected_by) == {"extracted_at", "sync_id"}
    assert newest.sync_id == str(third.sync_id) and newest.table_oid_after is None


@pytest.mark.anyio
async def test_replicas_polling_together_record_each_sync_once(database_url: str) -> None:
    simulator = AirbyteDestinationSimulator(database_url, version="3.x")
    simulator.sync(TASKS)
    replicas = [AirbyteSyncDetector(database_url, schema=SCHEMA) for _ in range(3)]
    await asyncio.gather(*(replica.poll() for replica in replicas))
    hold = threading.Event()
    handle = simulator.start_sync(TASKS[:2], hold_swap=hold)
    assert handle.wait_until_swap_locked(timeout=10)

    during = await asyncio.gather(*(replica.poll() for replica in replicas for _ in range(2)))
    hold.set()
    handle.wait(timeout=10)
    await asyncio.gather(*(replica.poll() for replica in replicas for _ in range(2)))
    syncs = await replicas[0].recent_syncs()
    for replica in replicas:
        await replica.aclose()

    assert [window.running for window in during] == [True] * 6
    assert len({window.sync.id for window in during if window.sync}) == 1
    assert len(syncs) == 1 and syncs[0].ended_at is not None


@pytest.mark.anyio
async def test_a_success_notification_ends_the_running_sync_and_its_effects_join_it(
    database_url: str, detector: AirbyteSyncDetector
) -> None:
    simulator = AirbyteDestinationSimulator(database_url, version="3.x")
    simulator.sync(TASKS)
    await detector.poll()
    hold = threading.Event()
    handle = simulator.start_sync(TASKS[:2], hold_swap=hold)
    assert handle.wait_until_swap_locked(timeout=10)
    running = await detector.poll()
    hold.set()
    result = handle.wait(timeout=10)

    notification = parse_airbyte_notification(
        notification_body(9988, success=True, started_at=result.started_at)
    )
    assert notification is not None
    notified = await detector.record_notification(notification)
    again = await detector.record_notification(notification)  # redelivered: the same sync
    after = await detector.poll()

    assert running.sync is not None and notified is not None and again is not None
    assert notified.id == again.id == running.sync.id
    assert (notified.job_id, notified.outcome) == ("9988", "succeeded")
    assert notified.details["notification"]["records_committed"] == 2  # of every stream of the connection
    assert notified.started_at <= result.started_at + timedelta(milliseconds=1)
    assert not after.running
    [sync] = await detector.recent_syncs()
    assert sync.detected_by[:3] == ("temp_table", "lock", "notification")
    assert "table_oid" in sync.detected_by and sync.table_oid_after == result.table_oid_after
    assert sync.records == 2  # counted in the task table Airbyte swapped in


@pytest.mark.anyio
async def test_a_notification_after_the_database_recorded_the_sync_completes_that_sync(
    database_url: str, detector: AirbyteSyncDetector
) -> None:
    simulator = AirbyteDestinationSimulator(database_url, version="2.x")
    simulator.sync(TASKS)
    await detector.poll()
    result = simulator.sync(TASKS[:2])
    await detector.poll()  # recorded from its effects, ended when seen

    notification = parse_airbyte_notification(
        notification_body(9991, success=True, started_at=result.started_at)
    )
    assert notification is not None
    notified = await detector.record_notification(notification)

    [sync] = await detector.recent_syncs()
    assert notified is not None and notified.id == sync.id
    assert (sync.job_id, sync.outcome, sync.records) == ("9991", "succeeded", 2)
    assert sync.detected_by[-1] == "notification" and "table_oid" in sync.detected_by
    assert sync.details["ended_at_basis"] == "observed"


@pytest.mark.anyio
async def test_a_failed_sync_leaves_its_temp_table_which_no_longer_counts_once_notified(
    database_url: str, detector: AirbyteSyncDetector
) -> None:
    simulator = AirbyteDestinationSimulator(database_url, version="3.x")
    simulator.sync(TASKS)
    await detector.poll()
    dependent_view(database_url)
    attempted_at = datetime.now(UTC)
    with pytest.raises(AirbyteSyncFailed):
        simulator.sync(TASKS[:2])  # the swap's DROP is refused: the temp table stays (§3.4, §3.9)

    left_over = await detector.poll()
    notification = parse_airbyte_notification(notification_body(9989, success=False, started_at=attempted_at))
    assert notification is not None
    await detector.record_notification(notification)
    after = await detector.poll()

    assert left_over.running and left_over.detected_by == ("temp_table",)
    assert not after.running
    [failed] = await detector.recent_syncs()  # the first sync predates the first poll: a baseline
    assert (failed.outcome, failed.job_id, failed.table_oid_after) == ("failed", "9989", None)
    assert failed.details["notification"]["error_type"] == "config_error"


@pytest.mark.anyio
async def test_a_temp_table_that_stops_changing_is_a_leftover_after_a_while(database_url: str) -> None:
    simulator = AirbyteDestinationSimulator(database_url, version="3.x")
    simulator.sync(TASKS)
    detector = AirbyteSyncDetector(
        database_url, schema=SCHEMA, config=DetectorConfig(staging_stale_after=timedelta(seconds=0.3))
    )
    await detector.poll()
    dependent_view(database_url)
    with pytest.raises(AirbyteSyncFailed):
        simulator.sync(TASKS[:2])

    fresh = await detector.poll()
    await asyncio.sleep(0.4)
    stale = await detector.poll()
    later = await detector.poll()
    [failed] = await detector.recent_syncs()  # the first sync predates the first poll: a baseline
    await detector.aclose()

    assert fresh.running and not stale.running and not later.running
    assert failed.details["staging_left_over"] == [TEMP_TABLE]


@pytest.mark.anyio
async def test_notifications_of_other_connections_are_ignored(database_url: str) -> None:
    detector = AirbyteSyncDetector(
        database_url, schema=SCHEMA, config=DetectorConfig(connection_id=CONNECTION_ID)
    )
    body = notification_body(
        1, success=True, started_at=datetime.now(UTC), connection_id="another-connection"
    )
    notification = parse_airbyte_notification(body)
    assert notification is not None

    assert await detector.record_notification(notification) is None
    assert await detector.recent_syncs() == []
    await detector.aclose()


@pytest.mark.anyio
async def test_a_notification_alone_records_a_completed_sync(detector: AirbyteSyncDetector) -> None:
    started_at = datetime.now(UTC) - timedelta(minutes=5)
    notification = parse_airbyte_notification(notification_body(7, success=True, started_at=started_at))
    assert notification is not None

    sync = await detector.record_notification(notification)

    assert sync is not None and sync.detected_by == ("notification",)
    assert abs(sync.started_at - started_at) < timedelta(milliseconds=1)
    assert sync.ended_at is not None and sync.ended_at > sync.started_at
    assert not (await detector.poll()).running


@pytest.mark.anyio
async def test_a_job_running_in_airbyte_api_opens_the_window_until_the_api_says_it_ended(
    database_url: str,
) -> None:
    jobs = {"status": "running"}

    def airbyte(request: httpx.Request) -> httpx.Response:
        job = {
            "jobId": 9990,
            "status": jobs["status"],
            "jobType": "sync",
            "startTime": "2026-01-01T06:00:00Z",
            "connectionId": CONNECTION_ID,
            "lastUpdatedAt": "2026-01-01T06:05:00Z",
        }  # JobResponse, §4.1
        if request.url.path.endswith("/jobs/9990"):
            return httpx.Response(200, json=job)
        listed = [job] if request.url.params.get("status") == job["status"] else []
        return httpx.Response(200, json={"data": listed, "next": None, "previous": None})

    api = AirbyteApiClient(
        AirbyteApiConfig(
            base_url="http://airbyte.local/api/public/v1",
            connection_id=CONNECTION_ID,
            bearer_token=SecretStr("t"),
        ),
        transport=httpx.MockTransport(airbyte),
    )
    config = DetectorConfig(connection_id=CONNECTION_ID, api_poll_interval=timedelta(0))
    detector = AirbyteSyncDetector(database_url, schema=SCHEMA, config=config, api=api)

    await detector.poll()
    running = await detector.poll()
    jobs["status"] = "succeeded"
    ended = await detector.poll()
    quiet = await detector.wait_until_quiet(timeout=1)
    [sync] = await detector.recent_syncs()
    await detector.aclose()
    await api.aclose()

    assert running.running and running.detected_by == ("api",)
    assert running.since == datetime(2026, 1, 1, 6, 0, tzinfo=UTC)
    assert not ended.running and quiet
    assert (sync.job_id, sync.outcome) == ("9990", "succeeded")
    assert sync.details["closed_because"] == "api_job_ended"


@pytest.mark.anyio
async def test_wait_until_quiet_gives_up_while_a_sync_holds_its_swap(database_url: str) -> None:
    simulator = AirbyteDestinationSimulator(database_url, version="2.x")
    simulator.sync(TASKS)
    detector = AirbyteSyncDetector(
        database_url, schema=SCHEMA, config=DetectorConfig(poll_interval_seconds=0.05)
    )
    await detector.poll()
    hold = threading.Event()
    handle = simulator.start_sync(TASKS, hold_swap=hold)
    assert handle.wait_until_swap_locked(timeout=10)

    gave_up = not await detector.wait_until_quiet(timeout=0.2)
    threading.Timer(0.2, hold.set).start()
    quiet = await detector.wait_until_quiet(timeout=10)
    handle.wait(timeout=10)
    await detector.aclose()

    assert gave_up and quiet


@pytest.mark.anyio
async def test_nothing_of_ours_depends_on_airbytes_table_so_its_swap_succeeds_without_cascade(
    database_url: str, detector: AirbyteSyncDetector
) -> None:
    simulator = AirbyteDestinationSimulator(database_url, version="3.x", drop_cascade=False)
    simulator.sync(TASKS)
    await detector.poll()

    result = simulator.sync(TASKS[:1])
    await detector.poll()

    assert result.swapped and result.table_oid_after != result.table_oid_before
    with psycopg.connect(database_url, autocommit=True) as conn:
        dependents = conn.execute(
            "SELECT classid::regclass::text FROM pg_depend WHERE refobjid = 'public.clickup_task'::regclass"
            " AND classid IN ('pg_rewrite'::regclass, 'pg_constraint'::regclass, 'pg_trigger'::regclass,"
            " 'pg_policy'::regclass)"
        ).fetchall()
    assert dependents == []
    assert len(await detector.recent_syncs()) == 1
