"""The work behind each job: process one stored delivery, refresh one task.

A delivery is processed under the task's lock (procrastinate `lock=task:<id>`), so work for one task
never runs concurrently; the refresh it asks for is deferred with a queueing lock, so a burst of N
events for one task causes one fetch. Both are idempotent: a replay or a retry after a crash
records nothing twice (history rows are keyed by ClickUp's history item id).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import psycopg
from procrastinate import App
from procrastinate.exceptions import AlreadyEnqueued
from psycopg import AsyncConnection, sql
from psycopg_pool import PoolTimeout

from clickup_sync.airbyte.parking import gate_for
from clickup_sync.clickup.ratelimit import Lane
from clickup_sync.errors import TaskGone
from clickup_sync.runtime import ServiceRuntime
from clickup_sync.sync.history_items import MalformedDelivery, parse_delivery
from clickup_sync.sync.task_state import snapshot_from_task_json
from clickup_sync.sync.webhook_apply import DeliveryApplier, DeliveryOutcome

log = logging.getLogger(__name__)

PROCESS_DELIVERY = "process_delivery"
REFRESH_TASK = "refresh_task"
WEBHOOK_QUEUE = "webhooks"


def task_lock(task_id: str | None) -> str | None:
    return f"task:{task_id}" if task_id else None


async def defer_processing(
    queue: App, conn: AsyncConnection[Any], delivery_id: int, task_id: str | None
) -> None:
    """Queue a delivery's processing in the caller's transaction: stored and queued commit together."""
    await queue.configure_task(
        PROCESS_DELIVERY, connection=conn, lock=task_lock(task_id), queue=WEBHOOK_QUEUE
    ).defer_async(delivery_id=delivery_id)


async def defer_refresh(queue: App, conn: AsyncConnection[Any], task_id: str) -> bool:
    """Ask for one re-fetch of the task; False when one is already waiting (the burst is coalesced)."""
    try:
        async with conn.transaction():  # a savepoint: the duplicate must not abort the caller's work
            await queue.configure_task(
                REFRESH_TASK,
                connection=conn,
                lock=task_lock(task_id),
                queueing_lock=f"refresh:{task_id}",
                queue=WEBHOOK_QUEUE,
            ).defer_async(task_id=task_id)
    except AlreadyEnqueued:
        return False
    return True


async def process_delivery(runtime: ServiceRuntime, delivery_id: int, *, final_attempt: bool = False) -> str:
    """Apply one stored delivery. Returns its new status."""
    s = sql.Identifier(runtime.schema)
    async with runtime.pool.connection() as conn, conn.transaction():
        row = await (
            await conn.execute(
                sql.SQL(
                    "SELECT body, status, received_at FROM {}.webhook_deliveries WHERE id = %s FOR UPDATE"
                ).format(s),
                (delivery_id,),
            )
        ).fetchone()
        if row is None:
            log.warning("delivery %s is gone (deleted by retention?)", delivery_id)
            return "missing"
        body, status, received_at = bytes(row[0]), row[1], row[2]
        if status in ("processed", "duplicate", "malformed"):
            return str(status)
        try:
            delivery = parse_delivery(body)
        except MalformedDelivery as exc:  # stored as received; nothing to apply
            await _set_status(conn, s, delivery_id, "malformed", str(exc))
            return "malformed"
        # Airbyte on and its table lacks the task: parked until its base record appears (or the max
        # wait passes). A delivery released from parking always proceeds.
        gate = gate_for(runtime)
        if await gate.check(conn, delivery_id, delivery.task_id, event=delivery.event) == "parked":
            return "parked"
        owned = {
            r[0]
            for r in await (
                await conn.execute(
                    sql.SQL(
                        "SELECT history_item_id FROM {}.webhook_history_items WHERE delivery_id = %s"
                    ).format(s),
                    (delivery_id,),
                )
            ).fetchall()
        }
        try:
            outcome: DeliveryOutcome = await DeliveryApplier(runtime.store).apply(
                conn, delivery, owned, received_at=received_at
            )
        except Exception as exc:
            log.exception("processing delivery %s failed", delivery_id, extra={"delivery_id": delivery_id})
            try:
                await _record_failure(runtime, delivery_id, exc, final=final_attempt)
            except (psycopg.Error, PoolTimeout) as bookkeeping:  # the database itself is away
                log.warning("could not record the failure of delivery %s: %s", delivery_id, bookkeeping)
            raise
        if delivery.task_id and delivery.event != "taskDeleted" and owned:
            await defer_refresh(runtime.queue, conn, delivery.task_id)
        await _set_status(conn, s, delivery_id, "processed", None)
        log.debug(
            "delivery %s: %d history rows, %d stale, %d patches",
            delivery_id, outcome.recorded, outcome.stale, outcome.patched,
            extra={"delivery_id": delivery_id, "task_id": delivery.task_id},
        )  # fmt: skip
    return "processed"


async def refresh_task(runtime: ServiceRuntime, task_id: str) -> str:
    """Re-fetch a task and diff it into the mirror (`source = 'webhook'`): captures what history items
    do not describe — dependencies, links, relationship fields, subtasks, parent."""
    client = await runtime.clickup()
    try:
        task = await client.get_task(task_id, lane=Lane.WEBHOOK)
    except TaskGone:
        async with runtime.pool.connection() as conn, conn.transaction():
            await runtime.store.mark_deleted(conn, task_id, deleted_at=datetime.now(UTC), source="webhook")
        return "deleted"
    snapshot = snapshot_from_task_json(task)
    async with runtime.pool.connection() as conn, conn.transaction():
        result = await runtime.store.apply_snapshots(
            conn, [snapshot], source="webhook", observed_at=datetime.now(UTC)
        )
    return "stale" if result.tasks_stale else "refreshed"


async def _set_status(
    conn: AsyncConnection[Any], s: sql.Identifier, delivery_id: int, status: str, error: str | None
) -> None:
    await conn.execute(
        sql.SQL(
            "UPDATE {}.webhook_deliveries SET status = %s, last_error = %s, processed_at = now(),"
            " attempts = attempts + 1 WHERE id = %s"
        ).format(s),
        (status, error, delivery_id),
    )


async def _record_failure(
    runtime: ServiceRuntime, delivery_id: int, error: BaseException, *, final: bool
) -> None:
    """Outside the failed transaction: the attempt, the error, and `dead` after the last attempt."""
    s = sql.Identifier(runtime.schema)
    async with runtime.pool.connection() as conn, conn.transaction():
        await conn.execute(
            sql.SQL(
                "UPDATE {}.webhook_deliveries SET attempts = attempts + 1, last_error = %s,"
                " status = CASE WHEN %s THEN 'dead' ELSE status END WHERE id = %s"
            ).format(s),
            (f"{type(error).__name__}: {error}"[:2000], final, delivery_id),
        )
