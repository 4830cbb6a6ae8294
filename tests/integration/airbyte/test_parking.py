"""Parking deliveries until Airbyte's table holds their task, on a real PostgreSQL with Airbyte's
destination simulated: parked, released after the sync or after BASE_RECORD_MAX_WAIT, re-queued,
never failing or waiting while Airbyte swaps its table."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from clickup_sync.airbyte.guarded_reads import ReadPolicy
from clickup_sync.airbyte.parking import (
    WAIT_EXCEEDED_FLAG,
    BaseRecordGate,
    Decision,
    airbyte_enabled,
    gate_for,
    parked_summary,
    release_for_replay,
    release_parked,
)
from clickup_sync.airbyte.simulator import AirbyteDestinationSimulator
from clickup_sync.db.connection import Database
from clickup_sync.runtime import ServiceRuntime, service_runtime
from clickup_sync.settings import load_settings

pytestmark = pytest.mark.anyio
SCHEMA = "clickup_sync"
RuntimeFactory = Callable[..., AbstractAsyncContextManager[ServiceRuntime]]


def record(task_id: str) -> dict[str, Any]:
    return {"id": task_id, "name": f"Task {task_id}", "status": {"status": "to do", "type": "open"}}


def rows(dsn: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query.replace("{s}", SCHEMA), params).fetchall()


def store_delivery(dsn: str, task_id: str | None, event: str = "taskStatusUpdated") -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            f"INSERT INTO {SCHEMA}.webhook_deliveries (webhook_id, event, task_id, body)"
            " VALUES ('w1', %s, %s, '{}') RETURNING id",
            (event, task_id),
        ).fetchone()
    assert row is not None
    return int(row[0])


async def check(runtime: ServiceRuntime, delivery_id: int, task_id: str | None, **kwargs: Any) -> Decision:
    """As process_delivery calls it: in its transaction, after locking the delivery's row."""
    async with runtime.pool.connection() as conn, conn.transaction():
        await conn.execute(
            f"SELECT 1 FROM {SCHEMA}.webhook_deliveries WHERE id = %s FOR UPDATE", (delivery_id,)
        )
        return await gate_for(runtime).check(conn, delivery_id, task_id, **kwargs)


def state_of(dsn: str, delivery_id: int) -> tuple[str, list[str], str | None]:
    """(delivery status, flags, release reason or 'waiting'/None)."""
    ((status, flags, reason),) = rows(
        dsn,
        "SELECT d.status, d.flags, CASE WHEN p.delivery_id IS NULL THEN NULL"
        " ELSE coalesce(p.release_reason, 'waiting') END"
        " FROM {s}.webhook_deliveries d LEFT JOIN {s}.parked_changes p ON p.delivery_id = d.id"
        " WHERE d.id = %s",
        (delivery_id,),
    )
    return status, list(flags), reason


def queued_deliveries(dsn: str) -> list[int]:
    found = rows(
        dsn,
        "SELECT (args->>'delivery_id')::bigint FROM {s}.procrastinate_jobs"
        " WHERE task_name = 'process_delivery' AND status = 'todo' ORDER BY id",
    )
    return [int(r[0]) for r in found]


@pytest.fixture
def make_runtime(database_url: str) -> RuntimeFactory:
    def factory(**overrides: Any) -> AbstractAsyncContextManager[ServiceRuntime]:
        settings = load_settings(database_url=database_url, **{"airbyte_mode": "on", **overrides})
        return service_runtime(settings, Database(database_url, SCHEMA), max_connections=4)

    return factory


@pytest.fixture
async def runtime(make_runtime: RuntimeFactory) -> AsyncIterator[ServiceRuntime]:
    async with make_runtime() as service:
        yield service


async def test_a_change_waits_for_the_base_record_and_is_queued_again_after_the_sync(
    database_url: str, runtime: ServiceRuntime, make_runtime: RuntimeFactory
) -> None:
    simulator = AirbyteDestinationSimulator(database_url, version="3.x")
    simulator.sync([record("known")])
    waiting, present = store_delivery(database_url, "new"), store_delivery(database_url, "known")

    assert await check(runtime, waiting, "new") == "parked"
    assert await check(runtime, present, "known") == "proceed"
    assert state_of(database_url, waiting) == ("parked", [], "waiting")
    assert state_of(database_url, present) == ("received", [], None)
    first = await release_parked(runtime)  # Airbyte has not synced the task yet: it keeps waiting
    assert (first.released, first.still_waiting) == (0, 1)

    simulator.sync([record("known"), record("new")])
    second = await release_parked(runtime)

    assert (second.released_base_record, second.requeued, second.still_waiting) == (1, 1, 0)
    assert state_of(database_url, waiting) == ("received", [], "base_record")
    assert queued_deliveries(database_url) == [waiting]
    assert await check(runtime, waiting, "new") == "proceed"  # released: processed when its job runs
    # Another process, after a sync that no longer holds the task, still knows its base record was seen.
    simulator.sync([record("known")])
    later = store_delivery(database_url, "new")
    async with make_runtime() as other_process:
        assert await check(other_process, later, "new") == "proceed"
    async with runtime.pool.connection() as conn:
        summary = await parked_summary(conn, SCHEMA)
    assert summary["waiting"] == 0 and summary["released"]["base_record"] == 1


async def test_after_base_record_max_wait_the_change_is_processed_anyway_and_flagged(
    database_url: str, runtime: ServiceRuntime
) -> None:
    AirbyteDestinationSimulator(database_url, version="3.x").sync([record("known")])
    delivery = store_delivery(database_url, "subtask-airbyte-never-reads")
    assert await check(runtime, delivery, "subtask-airbyte-never-reads") == "parked"

    soon = await release_parked(runtime, now=datetime.now(UTC) + timedelta(hours=25))
    late = await release_parked(runtime, now=datetime.now(UTC) + timedelta(hours=27))  # default max: 26 h

    assert (soon.released, late.released_max_wait, late.requeued) == (0, 1, 1)
    assert state_of(database_url, delivery) == ("received", [WAIT_EXCEEDED_FLAG], "max_wait")
    assert queued_deliveries(database_url) == [delivery]
    assert await check(runtime, delivery, "subtask-airbyte-never-reads") == "proceed"  # never parks twice


async def test_a_later_change_of_a_waiting_task_waits_behind_it_and_both_are_released_in_order(
    database_url: str, runtime: ServiceRuntime
) -> None:
    simulator = AirbyteDestinationSimulator(database_url, version="3.x")
    simulator.sync([record("known")])
    first = store_delivery(database_url, "new")
    assert await check(runtime, first, "new") == "parked"
    simulator.sync([record("known"), record("new")])  # the base record is there, not released yet
    second = store_delivery(database_url, "new")

    assert await check(runtime, second, "new") == "parked"
    report = await release_parked(runtime)

    assert report.released_base_record == 2
    assert queued_deliveries(database_url) == [first, second]


async def test_while_airbyte_swaps_its_table_checks_park_at_once_and_the_swap_is_not_delayed(
    database_url: str, runtime: ServiceRuntime
) -> None:
    simulator = AirbyteDestinationSimulator(database_url, version="3.x")
    simulator.sync([record("known"), record("seen")])
    seen = store_delivery(database_url, "seen")
    assert await check(runtime, seen, "seen") == "proceed"  # its base record is remembered
    hold = threading.Event()
    handle = simulator.start_sync([record("known"), record("seen"), record("new")], hold_swap=hold)
    try:
        assert handle.wait_until_swap_locked(timeout=10)
        during = [store_delivery(database_url, task) for task in ("new", "seen")]
        started = time.monotonic()
        decisions = [await check(runtime, during[0], "new"), await check(runtime, during[1], "seen")]
        checking = time.monotonic() - started
        later = datetime.now(UTC) + timedelta(hours=27)
        report = await release_parked(
            runtime, now=later, policy=ReadPolicy(lock_timeout_seconds=0.2, attempts=1)
        )
    finally:
        hold.set()
    handle.wait(timeout=10)

    assert decisions == ["parked", "proceed"]  # unreadable table: park; a known base record: go on
    assert report.airbyte_unavailable and report.released_max_wait == 1  # max wait needs no table
    assert checking < 2  # one short try of the lock (GATE_READ_POLICY), then park
    assert state_of(database_url, during[0]) == ("received", [WAIT_EXCEEDED_FLAG], "max_wait")


async def test_with_airbyte_off_nothing_is_parked_and_what_waited_is_released(
    database_url: str, make_runtime: RuntimeFactory
) -> None:
    async with make_runtime(airbyte_mode="on") as on:  # the table does not even exist
        parked = store_delivery(database_url, "t1")
        assert await check(on, parked, "t1") == "parked"
    async with make_runtime(airbyte_mode="off") as off:
        fresh = store_delivery(database_url, "t1")
        assert await check(off, fresh, "t1") == "proceed"
        report = await release_parked(off)

    assert (report.released_airbyte_off, report.requeued) == (1, 1)
    assert state_of(database_url, fresh) == ("received", [], None)
    assert state_of(database_url, parked) == ("received", [], "airbyte_off")


async def test_auto_mode_follows_the_table_and_believes_the_answer_for_a_minute(
    database_url: str, make_runtime: RuntimeFactory
) -> None:
    clock = [1000.0]
    async with make_runtime(airbyte_mode="auto") as runtime:
        before = await airbyte_enabled(runtime, monotonic=lambda: clock[0])
        AirbyteDestinationSimulator(database_url, version="2.x").sync([record("known")])
        clock[0] += 30
        cached = await airbyte_enabled(runtime, monotonic=lambda: clock[0])
        clock[0] += 31
        after = await airbyte_enabled(runtime, monotonic=lambda: clock[0])

    assert (before, cached, after) == (False, False, True)


async def test_deletions_and_deliveries_without_a_task_are_never_parked_and_replay_releases(
    database_url: str, runtime: ServiceRuntime
) -> None:
    AirbyteDestinationSimulator(database_url, version="3.x").sync([record("known")])
    deleted = store_delivery(database_url, "gone", event="taskDeleted")
    no_task = store_delivery(database_url, None, event="listUpdated")
    parked = store_delivery(database_url, "new")

    assert await check(runtime, deleted, "gone", event="taskDeleted") == "proceed"
    assert await check(runtime, no_task, None) == "proceed"
    assert await check(runtime, parked, "new") == "parked"
    async with runtime.pool.connection() as conn, conn.transaction():
        assert await release_for_replay(conn, SCHEMA, [parked, deleted]) == 1
    assert await check(runtime, parked, "new") == "proceed"
    assert state_of(database_url, parked)[2] == "replay"


async def test_a_fresh_gate_reads_airbyte_for_each_unseen_task_and_remembers_what_it_found(
    database_url: str, runtime: ServiceRuntime
) -> None:
    simulator = AirbyteDestinationSimulator(database_url, version="3.x")
    simulator.sync([record("known")])
    gate = BaseRecordGate(runtime)
    first, second = store_delivery(database_url, "known"), store_delivery(database_url, "known")
    async with runtime.pool.connection() as conn, conn.transaction():
        assert await gate.check(conn, first, "known") == "proceed"
    simulator.sync([])  # gone from Airbyte's table (archived, say): what was seen stays seen

    async with runtime.pool.connection() as conn, conn.transaction():
        assert await gate.check(conn, second, "known") == "proceed"
    assert "cached=1" in repr(gate)


def mirror_task(
    dsn: str, task_id: str, *, list_id: str, parent: str | None = None, status_type: str = "open"
) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(
            f"INSERT INTO {SCHEMA}.tasks (task_id, list_id, parent_task_id, status_type, raw)"
            " VALUES (%s, %s, %s, %s, '{}')",
            (task_id, list_id, parent, status_type),
        )


def mirror_list(dsn: str, list_id: str, *, folder_id: str | None, archived: bool = False) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(
            f"INSERT INTO {SCHEMA}.lists (list_id, name, folder_id, space_id, archived)"
            " VALUES (%s, 'L', %s, 'space', %s)",
            (list_id, folder_id, archived),
        )


async def test_tasks_airbyte_never_copies_are_not_parked_and_waiting_ones_are_released(
    database_url: str, runtime: ServiceRuntime
) -> None:
    """Subtasks and tasks of folderless or archived lists never reach Airbyte's table (coverage.py):
    their changes must not wait BASE_RECORD_MAX_WAIT for a base record that cannot come."""
    AirbyteDestinationSimulator(database_url, version="3.x").sync([record("top")])
    mirror_list(database_url, "foldered", folder_id="f1")
    mirror_list(database_url, "folderless", folder_id=None)
    mirror_list(database_url, "old", folder_id="f1", archived=True)
    mirror_task(database_url, "top", list_id="foldered")
    mirror_task(database_url, "child", list_id="foldered", parent="top")
    mirror_task(database_url, "loose", list_id="folderless")
    mirror_task(database_url, "shelved", list_id="old")
    mirror_task(database_url, "unsynced", list_id="foldered")  # Airbyte could copy it: it waits
    mirror_task(database_url, "done", list_id="foldered", status_type="closed")  # include_closed_tasks off
    for task_id in ("child", "loose", "shelved", "done"):
        delivery = store_delivery(database_url, task_id)
        assert await check(runtime, delivery, task_id) == "proceed", task_id
        assert state_of(database_url, delivery) == ("received", [], None)
    waits = store_delivery(database_url, "unsynced")
    assert await check(runtime, waits, "unsynced") == "parked"

    # Parked before the mirror knew the task (a new subtask, say); the release sees it now.
    early = store_delivery(database_url, "newborn")
    assert await check(runtime, early, "newborn") == "parked"
    mirror_task(database_url, "newborn", list_id="foldered", parent="top")
    report = await release_parked(runtime)
    assert (report.released_not_in_airbyte, report.still_waiting) == (1, 1)
    assert state_of(database_url, early) == ("received", [], "not_in_airbyte")
    assert state_of(database_url, waits)[2] == "waiting"


async def test_closed_tasks_wait_for_airbyte_when_its_connection_includes_them(
    database_url: str, make_runtime: RuntimeFactory
) -> None:
    AirbyteDestinationSimulator(database_url, version="3.x").sync([record("other")])
    mirror_list(database_url, "foldered", folder_id="f1")
    mirror_task(database_url, "done", list_id="foldered", status_type="closed")
    delivery = store_delivery(database_url, "done")
    async with make_runtime(airbyte_include_closed_tasks=True) as runtime:
        assert await check(runtime, delivery, "done") == "parked"
        assert (await release_parked(runtime)).still_waiting == 1
