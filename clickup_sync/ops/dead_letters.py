"""Dead letters: work that failed for good, and replaying it.

Two kinds, both shown by the admin page and counted in `ServiceStatus.dead_letters`:

- dead deliveries: `process_delivery` failed `JOB_MAX_ATTEMPTS` times, so the delivery is `dead`
  with its last error (the stored body is kept for inspection and replay);
- other jobs that failed for good (procrastinate status `failed`, e.g. `refresh_task`): procrastinate
  keeps no error text for them, only the task, its arguments and attempts.

A dead delivery is replayed as `clickup-sync replay --dead` does (`queue/replay.py`): reset to
`received` and processed here, in order of arrival; replays are idempotent. Its failed job is then
deleted, as the worker deletes every successful job. Another failed job goes back to the queue
through procrastinate's own retry (a worker runs it).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from procrastinate.exceptions import UniqueViolation
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from clickup_sync.ops.status import PROCESS_DELIVERY_TASK
from clickup_sync.queue.deliveries import process_delivery
from clickup_sync.queue.replay import ReplaySelection
from clickup_sync.runtime import ServiceRuntime

LISTED: Final = 200  # rows per kind on the page; the totals say how many there are
REPLAY_BATCH: Final = 100  # "replay all" processes this many per request, oldest first

_DEAD_DELIVERIES = """
SELECT id, received_at, webhook_id, event, task_id, attempts, last_error
FROM {s}.webhook_deliveries WHERE status = 'dead' ORDER BY received_at, id LIMIT %(limit)s
"""
_FAILED_JOBS = """
SELECT j.id, j.task_name, j.queue_name, j.args, j.attempts,
       (SELECT max(e.at) FROM {s}.procrastinate_events e WHERE e.job_id = j.id) AS failed_at
FROM {s}.procrastinate_jobs j
WHERE j.status = 'failed' AND j.task_name <> %(process_delivery)s
ORDER BY j.id LIMIT %(limit)s
"""
_TOTALS = """
SELECT (SELECT count(*) FROM {s}.webhook_deliveries WHERE status = 'dead'),
       (SELECT count(*) FROM {s}.procrastinate_jobs
         WHERE status = 'failed' AND task_name <> %(process_delivery)s)
"""
_STORED_DELIVERY = """
SELECT id, received_at, webhook_id, event, task_id, status, attempts, last_error, processed_at,
       history_item_ids, body
FROM {s}.webhook_deliveries WHERE id = %(id)s
"""
_RESET_TO_RECEIVED = """
UPDATE {s}.webhook_deliveries SET status = 'received'
WHERE id IN (SELECT id FROM {s}.webhook_deliveries WHERE {where} ORDER BY received_at, id LIMIT %s)
RETURNING id, received_at
"""
_DELETE_FAILED_DELIVERY_JOBS = """
DELETE FROM {s}.procrastinate_jobs
WHERE status = 'failed' AND task_name = %(process_delivery)s AND args->>'delivery_id' = %(delivery_id)s
"""


@dataclass(frozen=True)
class DeadDelivery:
    delivery_id: int
    received_at: datetime
    webhook_id: str | None
    event: str | None
    task_id: str | None
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class FailedJob:
    job_id: int
    task_name: str
    queue_name: str
    args: dict[str, Any]
    attempts: int
    failed_at: datetime | None


@dataclass(frozen=True)
class DeadLetters:
    deliveries: list[DeadDelivery]  # the oldest LISTED
    jobs: list[FailedJob]
    total_deliveries: int
    total_jobs: int


@dataclass(frozen=True)
class StoredDelivery:
    delivery_id: int
    received_at: datetime
    webhook_id: str | None
    event: str | None
    task_id: str | None
    status: str
    attempts: int
    last_error: str | None
    processed_at: datetime | None
    history_item_ids: list[str]
    body: bytes

    def body_text(self) -> str:
        """The body as indented JSON when it is JSON, else as text (undecodable bytes replaced)."""
        text = self.body.decode("utf-8", errors="replace")
        try:
            return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            return text


@dataclass
class ReplayOutcome:
    outcomes: Counter[str] = field(default_factory=Counter)  # new status → deliveries
    remaining: int = 0  # dead deliveries left (a batch is bounded)

    def summary(self) -> str:
        done = ", ".join(f"{n} {outcome}" for outcome, n in sorted(self.outcomes.items()))
        return (done or "nothing to replay") + (f"; {self.remaining} still dead" if self.remaining else "")


async def list_dead_letters(pool: AsyncConnectionPool[Any], schema: str, limit: int = LISTED) -> DeadLetters:
    s = sql.Identifier(schema)
    params = {"limit": limit, "process_delivery": PROCESS_DELIVERY_TASK}
    async with pool.connection() as conn:
        deliveries = await (await conn.execute(sql.SQL(_DEAD_DELIVERIES).format(s=s), params)).fetchall()
        jobs = await (await conn.execute(sql.SQL(_FAILED_JOBS).format(s=s), params)).fetchall()
        totals = await (await conn.execute(sql.SQL(_TOTALS).format(s=s), params)).fetchone()
    assert totals is not None
    return DeadLetters(
        deliveries=[DeadDelivery(*row) for row in deliveries],
        jobs=[
            FailedJob(job_id, task, queue, dict(args), attempts, at)
            for job_id, task, queue, args, attempts, at in jobs
        ],
        total_deliveries=int(totals[0]),
        total_jobs=int(totals[1]),
    )


async def read_stored_delivery(
    pool: AsyncConnectionPool[Any], schema: str, delivery_id: int
) -> StoredDelivery | None:
    async with pool.connection() as conn:
        row = await (
            await conn.execute(
                sql.SQL(_STORED_DELIVERY).format(s=sql.Identifier(schema)), {"id": delivery_id}
            )
        ).fetchone()
    if row is None:
        return None
    (
        delivery_id,
        received_at,
        webhook_id,
        event,
        task_id,
        status,
        attempts,
        error,
        processed_at,
        items,
        body,
    ) = row
    return StoredDelivery(
        delivery_id, received_at, webhook_id, event, task_id, status, attempts, error, processed_at,
        history_item_ids=list(items), body=bytes(body),
    )  # fmt: skip


async def replay_dead_deliveries(
    runtime: ServiceRuntime, delivery_ids: list[int] | None = None, *, batch: int = REPLAY_BATCH
) -> ReplayOutcome:
    """Replay the given dead deliveries (all of them, oldest first, `batch` at a time, when None).

    The refresh each processed delivery asks for is queued, not run here: the worker does it."""
    s = sql.Identifier(runtime.schema)
    where, params = ReplaySelection(ids=delivery_ids or [], dead_only=True).where()
    async with runtime.pool.connection() as conn, conn.transaction():
        rows = await (
            await conn.execute(sql.SQL(_RESET_TO_RECEIVED).format(s=s, where=where), [*params, batch])
        ).fetchall()
    result = ReplayOutcome()
    for delivery_id, _ in sorted(rows, key=lambda row: (row[1], row[0])):
        try:
            # final_attempt: a replay that fails again goes back to `dead` rather than waiting for a
            # retry no job will make.
            outcome = await process_delivery(runtime, delivery_id, final_attempt=True)
        except Exception:  # recorded on the delivery (last_error) by process_delivery
            outcome = "failed again"
        else:
            async with runtime.pool.connection() as conn:
                await conn.execute(
                    sql.SQL(_DELETE_FAILED_DELIVERY_JOBS).format(s=s),
                    {"process_delivery": PROCESS_DELIVERY_TASK, "delivery_id": str(delivery_id)},
                )
        result.outcomes[outcome] += 1
    async with runtime.pool.connection() as conn:
        totals = await (
            await conn.execute(sql.SQL(_TOTALS).format(s=s), {"process_delivery": PROCESS_DELIVERY_TASK})
        ).fetchone()
    result.remaining = int(totals[0]) if totals else 0
    return result


async def retry_failed_job(runtime: ServiceRuntime, job_id: int) -> bool:
    """Put a failed job back in the queue, due now. False when an identical job is already waiting
    (its queueing lock is taken): nothing more to do."""
    try:
        await runtime.queue.job_manager.retry_job_by_id_async(job_id, retry_at=datetime.now(UTC))
    except UniqueViolation:
        return False
    return True
