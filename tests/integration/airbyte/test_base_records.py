"""Reading Airbyte's task table while Airbyte syncs into it (simulated, reference airbyte.md §3.4, §3.9):
answers, or "unavailable, retry later", never an error and never a stalled swap."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from clickup_sync.airbyte.base_records import AirbyteTableReader
from clickup_sync.airbyte.destination_sql import TableName
from clickup_sync.airbyte.guarded_reads import (
    AirbyteTableUnavailable,
    ConnectionSource,
    ReadPolicy,
    ReadTransaction,
    read_guarded,
)
from clickup_sync.airbyte.simulator import AirbyteDestinationSimulator, Version

FINAL = TableName("public", "clickup_task")
# Short waits so a test meets the held swap quickly; the retries are what is under test.
IMPATIENT = ReadPolicy(
    lock_timeout_seconds=0.1, statement_timeout_seconds=5, attempts=2, backoff_seconds=0.01
)


def task(number: int) -> dict[str, Any]:
    return {"id": f"86a{number:05d}", "name": f"Task {number}", "status": {"status": "to do", "type": "open"}}


TASKS = [task(number) for number in range(1, 6)]
IDS = [t["id"] for t in TASKS]


@pytest.fixture
async def reader(database_url: str) -> AsyncIterator[AirbyteTableReader]:
    table_reader = AirbyteTableReader(database_url, FINAL, policy=IMPATIENT)
    yield table_reader
    await table_reader.aclose()


def locks_held_by_others_on(dsn: str, table: str) -> list[str]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT mode FROM pg_locks WHERE relation = to_regclass(%s) AND pid <> pg_backend_pid()", (table,)
        ).fetchall()
    return [row[0] for row in rows]


@pytest.mark.parametrize("version", ["3.x", "2.x"])
@pytest.mark.anyio
async def test_the_base_record_check_finds_the_tasks_airbyte_synced(
    database_url: str, reader: AirbyteTableReader, version: Version
) -> None:
    assert not await reader.exists()
    AirbyteDestinationSimulator(database_url, version=version).sync(TASKS[:3])

    assert await reader.exists()
    assert await reader.task_ids_present([*IDS, "86a00001", "not-a-task"]) == set(IDS[:3])
    assert await reader.task_ids_present([]) == set()
    # Nothing is left holding a lock on Airbyte's table between reads.
    assert locks_held_by_others_on(database_url, "public.clickup_task") == []


@pytest.mark.parametrize("version", ["3.x", "2.x"])
@pytest.mark.anyio
async def test_signals_tell_which_sync_wrote_the_table(
    database_url: str, reader: AirbyteTableReader, version: Version
) -> None:
    simulator = AirbyteDestinationSimulator(database_url, version=version)
    first = simulator.sync(TASKS)
    second = simulator.sync(TASKS[:2])

    signals = await reader.signals()

    assert signals.table_oid == second.table_oid_after != first.table_oid_after
    assert (signals.max_generation_id, signals.max_sync_id) == (second.generation_id, second.sync_id)
    assert signals.max_extracted_at is not None and first.finished_at < signals.max_extracted_at
    assert await reader.count_rows() == 2
    assert await reader.oldest_extracted_at() == await reader.oldest_extracted_at(after=first.finished_at)


@pytest.mark.parametrize("version", ["3.x", "2.x"])
@pytest.mark.anyio
async def test_during_the_swap_reads_are_unavailable_then_succeed_and_never_delay_it(
    database_url: str, reader: AirbyteTableReader, version: Version
) -> None:
    simulator = AirbyteDestinationSimulator(database_url, version=version)
    simulator.sync(TASKS)
    hold = threading.Event()
    handle = simulator.start_sync(TASKS[:2], hold_swap=hold)
    assert handle.wait_until_swap_locked(timeout=10)

    started = time.monotonic()
    with pytest.raises(AirbyteTableUnavailable) as unavailable:
        await reader.task_ids_present(IDS)
    waited = time.monotonic() - started
    exists_during_swap = await reader.exists()  # a catalog lookup: does not wait for the lock

    hold.set()
    handle.wait(timeout=10)  # our reads left nothing the swap had to wait for

    assert unavailable.value.reason == "locked"
    assert 0.15 <= waited < 2  # two attempts of lock_timeout 0.1 s, then "retry later"
    assert exists_during_swap
    assert await reader.task_ids_present(IDS) == set(IDS[:2])


@pytest.mark.anyio
async def test_a_table_dropped_while_a_read_waits_is_read_again_once_it_is_back(database_url: str) -> None:
    simulator = AirbyteDestinationSimulator(database_url, version="3.x")
    simulator.sync(TASKS)
    lock_taken, dropped = threading.Event(), threading.Event()

    def drop_while_read_waits() -> None:
        # Someone replaces the table non-atomically (DROP, later CREATE), as PyAirbyte's REPLACE does (§5).
        with psycopg.connect(database_url) as conn:
            conn.execute("LOCK TABLE public.clickup_task IN ACCESS EXCLUSIVE MODE")
            lock_taken.set()
            time.sleep(0.3)
            conn.execute("DROP TABLE public.clickup_task")
            conn.commit()
        dropped.set()

    async def sleep_until_the_table_is_back(seconds: float) -> None:
        await asyncio.to_thread(simulator.sync, TASKS[:1])

    reader = AirbyteTableReader(
        database_url,
        FINAL,
        policy=ReadPolicy(lock_timeout_seconds=5, attempts=2, backoff_seconds=0.01),
        sleep=sleep_until_the_table_is_back,
    )
    dropper = threading.Thread(target=drop_while_read_waits)
    dropper.start()
    assert lock_taken.wait(timeout=10)

    present = await reader.task_ids_present(IDS)
    dropper.join(timeout=10)
    await reader.aclose()

    assert dropped.is_set()
    assert present == set(IDS[:1])


@pytest.mark.anyio
async def test_a_table_that_stays_gone_is_reported_unavailable_not_raised(
    database_url: str, reader: AirbyteTableReader
) -> None:
    AirbyteDestinationSimulator(database_url, version="3.x").sync(TASKS)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP TABLE public.clickup_task")

    with pytest.raises(AirbyteTableUnavailable) as unavailable:
        await reader.task_ids_present(IDS)

    assert unavailable.value.reason == "missing"
    assert not await reader.exists()
    assert (await reader.signals()).table_oid is None


@pytest.mark.anyio
async def test_every_read_is_read_only_and_cut_short_by_its_statement_timeout(database_url: str) -> None:
    source = ConnectionSource(database_url, purpose="test")
    policy = ReadPolicy(statement_timeout_seconds=0.2, attempts=1)

    async def slow(read: ReadTransaction) -> list[tuple[Any, ...]]:
        return await read.fetchall("SELECT pg_sleep(2)")

    async def write(read: ReadTransaction) -> list[tuple[Any, ...]]:
        return await read.fetchall("CREATE TABLE public.clickup_task (id varchar) ")

    started = time.monotonic()
    with pytest.raises(AirbyteTableUnavailable) as unavailable:
        await read_guarded(source, policy, "public.clickup_task", slow)
    assert unavailable.value.reason == "timeout" and time.monotonic() - started < 1.5
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        await read_guarded(source, policy, "public.clickup_task", write)
    await source.aclose()
