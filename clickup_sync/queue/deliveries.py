"""The work behind each job: process one stored delivery, refresh one task.

Work for one task never runs concurrently: each job takes the task's transaction-scoped advisory
lock (`lock_task`) before it touches the mirror. (procrastinate's own per-key `lock` serializes jobs
too, but its worker only looks for the next job of a key on a notification or its polling interval,
so a burst of events on one task advanced one event per 5 s.) Deliveries run before any other job
(`DELIVERY_PRIORITY`): they are what turns a receipt into history, and a re-fetch waiting on
ClickUp's API must not hold them up. Deliveries of one task may therefore be applied out of arrival
order — as ClickUp's own deliveries already arrive — and `sync/webhook_apply.py` orders by event time.

A delivery asks for a re-fetch of its task only when its history items do not describe the change
(see `sync/webhook_apply.py`), or — to catch what ClickUp sends no event for (dependencies, links) —
when the task was not re-fetched for a reconcile interval. The re-fetch is scheduled a moment later
under a queueing lock, so a burst of events for one task causes one fetch. Both jobs are idempotent:
a replay or a retry after a crash records nothing twice (history rows are keyed by ClickUp's history
item id).
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
from clickup_sync.clickup.ratelimit import BudgetWaitTooLong, Lane, budget_wait_limit
from clickup_sync.errors import TaskGone
from clickup_sync.observability import observe_history_committed
from clickup_sync.runtime import ServiceRuntime
from clickup_sync.sync.task_state import snapshot_from_task_json
from clickup_sync.sync.webhook_apply import DeliveryApplier, DeliveryOutcome
from clickup_sync.sync.webhook_delivery import MalformedDelivery, ParsedDelivery, parse_delivery

log = logging.getLogger(__name__)

PROCESS_DELIVERY = "process_delivery"
REFRESH_TASK = "refresh_task"
WEBHOOK_QUEUE = "webhooks"
DELIVERY_PRIORITY = 10  # procrastinate runs higher priorities first; everything else is 0
# Long enough for a burst of events on one task to share one fetch, short enough that relationship
# changes show up within seconds.
REFRESH_DELAY_SECONDS = 2
# A refresh job waits at most this long for room in the shared ClickUp budget, then is queued again
# for when the window reopens: jobs sleeping for the budget (up to a minute) held every worker slot,
# so no delivery was processed and no maintenance job ran (stalled jobs stayed stuck) meanwhile.
REFRESH_BUDGET_WAIT_SECONDS = 2.0


def task_lock(task_id: str | None) -> str | None:
    return f"task:{task_id}" if task_id else None


async def lock_task(conn: AsyncConnection[Any], task_id: str | None) -> None:
    """Hold the task's lock until the caller's transaction ends (a hash collision only serializes
    two tasks, it never lets one run twice)."""
    if task_id:
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"clickup_sync.{task_lock(task_id)}",)
        )


async def defer_processing(
    queue: App, conn: AsyncConnection[Any], delivery_id: int, task_id: str | None
) -> None:
    """Queue a delivery's processing in the caller's transaction: stored and queued commit together."""
    await queue.configure_task(
        PROCESS_DELIVERY,
        connection=conn,
        queue=WEBHOOK_QUEUE,
        priority=DELIVERY_PRIORITY,
    ).defer_async(delivery_id=delivery_id)


async def defer_refresh(
    queue: App, conn: AsyncConnection[Any], task_id: str, *, delay_seconds: float = REFRESH_DELAY_SECONDS
) -> bool:
    """Ask for one re-fetch of the task; False when one is already waiting (the burst is coalesced)."""
    try:
        async with conn.transaction():  # a savepoint: the duplicate must not abort the caller's work
            await queue.configure_task(
                REFRESH_TASK,
                connection=conn,
                lock=task_lock(task_id),
                queueing_lock=f"refresh:{task_id}",
                queue=WEBHOOK_QUEUE,
                schedule_in={"seconds": delay_seconds} if delay_seconds > 0 else None,
            ).defer_async(task_id=task_id)
    except AlreadyEnqueued:
        return False
    return True


async def refresh_is_due(
    conn: AsyncConnection[Any], s: sql.Identifier, task_id: str, *, older_than_seconds: float
) -> bool:
    """True when the worker has not re-fetched the task for `older_than_seconds` (or ever)."""
    row = await (
        await conn.execute(
            sql.SQL(
                "SELECT refreshed_at > now() - make_interval(secs => %s) FROM {}.task_refreshes"
                " WHERE task_id = %s"
            ).format(s),
            (older_than_seconds, task_id),
        )
    ).fetchone()
    return row is None or not row[0]


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
        await lock_task(conn, delivery.task_id)
        try:  # any failure from here on (the Airbyte gate included) is recorded on the delivery
            outcome = await _gate_and_apply(runtime, conn, s, delivery_id, delivery, received_at)
        except Exception as exc:
            log.exception("processing delivery %s failed", delivery_id, extra={"delivery_id": delivery_id})
            try:
                await _record_failure(runtime, delivery_id, exc, final=final_attempt)
            except (psycopg.Error, PoolTimeout) as bookkeeping:  # the database itself is away
                log.warning("could not record the failure of delivery %s: %s", delivery_id, bookkeeping)
            raise
        if outcome is None:
            if delivery.task_id and not await _task_mirrored(conn, s, delivery.task_id):
                # Fetch it: the mirror learns the task, and its list tells the release job whether
                # Airbyte will ever copy it (a new subtask, a folderless list: released at once).
                await defer_refresh(runtime.queue, conn, delivery.task_id)
            return "parked"
        if (
            delivery.task_id
            and delivery.event != "taskDeleted"
            and outcome.owned_items
            and (
                outcome.needs_refresh
                or await refresh_is_due(
                    conn,
                    s,
                    delivery.task_id,
                    older_than_seconds=runtime.settings.reconcile_interval_seconds,
                )
            )
        ):
            await defer_refresh(runtime.queue, conn, delivery.task_id)
        await _set_status(conn, s, delivery_id, "processed", None)
        log.debug(
            "delivery %s: %d history rows, %d stale, %d patches",
            delivery_id, outcome.recorded, outcome.stale, outcome.patched,
            extra={"delivery_id": delivery_id, "task_id": delivery.task_id},
        )  # fmt: skip
    observe_history_committed(runtime, outcome.event_times)  # committed: the lag measured ends here
    return "processed"


async def _task_mirrored(conn: AsyncConnection[Any], s: sql.Identifier, task_id: str) -> bool:
    query = sql.SQL("SELECT 1 FROM {}.tasks WHERE task_id = %s").format(s)
    return await (await conn.execute(query, (task_id,))).fetchone() is not None


async def _gate_and_apply(
    runtime: ServiceRuntime,
    conn: AsyncConnection[Any],
    s: sql.Identifier,
    delivery_id: int,
    delivery: ParsedDelivery,
    received_at: datetime,
) -> DeliveryOutcome | None:
    """Apply the history items this delivery owns; None when it was parked instead."""
    # Airbyte on and its table lacks the task: parked until its base record appears (or the max
    # wait passes). A delivery released from parking always proceeds.
    if await gate_for(runtime).check(conn, delivery_id, delivery.task_id, event=delivery.event) == "parked":
        return None
    owned = {
        r[0]
        for r in await (
            await conn.execute(
                sql.SQL("SELECT history_item_id FROM {}.webhook_history_items WHERE delivery_id = %s").format(
                    s
                ),
                (delivery_id,),
            )
        ).fetchall()
    }
    return await DeliveryApplier(runtime.store).apply(conn, delivery, owned, received_at=received_at)


async def refresh_task(
    runtime: ServiceRuntime, task_id: str, *, budget_wait_seconds: float | None = None
) -> str:
    """Re-fetch a task and diff it into the mirror (`source = 'webhook'`): captures what history items
    do not describe — dependencies, links, relationship fields, subtasks, parent.

    With `budget_wait_seconds` (the queue's jobs), a refresh that would wait longer for the ClickUp
    budget is queued again for when the window reopens instead ("postponed")."""
    client = await runtime.clickup()
    try:
        if budget_wait_seconds is None:
            task = await client.get_task(task_id, lane=Lane.WEBHOOK)
        else:
            with budget_wait_limit(budget_wait_seconds):
                task = await client.get_task(task_id, lane=Lane.WEBHOOK)
    except BudgetWaitTooLong as full:
        async with runtime.pool.connection() as conn, conn.transaction():
            await defer_refresh(
                runtime.queue, conn, task_id, delay_seconds=max(REFRESH_DELAY_SECONDS, full.wait_seconds)
            )  # False when a refresh of the task is waiting already: that one will do
        log.info(
            "refresh of task %s postponed %.0f s: the ClickUp budget is used up",
            task_id, full.wait_seconds, extra={"task_id": task_id},
        )  # fmt: skip
        return "postponed"
    except TaskGone:
        async with runtime.pool.connection() as conn, conn.transaction():
            await lock_task(conn, task_id)
            await runtime.store.mark_deleted(conn, task_id, deleted_at=datetime.now(UTC), source="webhook")
        return "deleted"
    snapshot = snapshot_from_task_json(task)
    async with runtime.pool.connection() as conn, conn.transaction():
        await lock_task(conn, task_id)
        result = await runtime.store.apply_snapshots(
            conn, [snapshot], source="webhook", observed_at=datetime.now(UTC)
        )
        await conn.execute(
            sql.SQL(
                "INSERT INTO {}.task_refreshes (task_id, refreshed_at) VALUES (%s, now())"
                " ON CONFLICT (task_id) DO UPDATE SET refreshed_at = excluded.refreshed_at"
            ).format(sql.Identifier(runtime.schema)),
            (task_id,),
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
