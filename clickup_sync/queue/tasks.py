"""The jobs the queue runs, and the periodic ones (the scheduler).

Each task finds the process's `ServiceRuntime` in the job context (`additional_context["runtime"]`,
set when the worker starts). Periodic tasks are deduplicated by procrastinate across every worker,
so running several workers never runs a reconcile twice for the same tick.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from procrastinate import App, JobContext, RetryStrategy
from procrastinate.exceptions import AlreadyEnqueued, UniqueViolation
from procrastinate.jobs import Job, Status
from procrastinate.manager import JobManager

from clickup_sync.airbyte.detect import AirbyteSyncDetector, DetectorConfig
from clickup_sync.airbyte.parking import airbyte_enabled, release_parked
from clickup_sync.observability import record_reconcile
from clickup_sync.queue.deliveries import (
    PROCESS_DELIVERY,
    REFRESH_BUDGET_WAIT_SECONDS,
    REFRESH_TASK,
    WEBHOOK_QUEUE,
    process_delivery,
    refresh_task,
)
from clickup_sync.queue.retention import prune_deliveries
from clickup_sync.runtime import ServiceRuntime, run_scheduled_reconcile, team_id_for
from clickup_sync.settings import Settings
from clickup_sync.subscriptions.health import WebhookHealthMonitor

log = logging.getLogger(__name__)

MAINTENANCE_QUEUE = "maintenance"
RELEASE_PARKED_EVERY_SECONDS = 60
PRUNE_EVERY_SECONDS = 3600
STALLED_AFTER_SECONDS = 30  # a worker that missed its heartbeats this long is gone (SIGKILL, crash)
JobFunction = Callable[[JobContext, int], Awaitable[None]]  # a periodic job: (context, tick timestamp)


def _runtime(context: JobContext) -> ServiceRuntime:
    runtime = context.additional_context.get("runtime")
    if not isinstance(runtime, ServiceRuntime):
        raise RuntimeError("the worker was started without a ServiceRuntime")
    return runtime


def cron_every(seconds: int) -> str:
    """A cron expression for "every N seconds". procrastinate (croniter) reads an optional sixth field
    as seconds — the last field, not the first."""
    if seconds < 60:
        return f"* * * * * */{seconds}"
    minutes = max(1, round(seconds / 60))
    return f"*/{minutes} * * * *" if minutes < 60 else f"0 */{max(1, minutes // 60)} * * *"


async def retry_stalled_job(manager: JobManager, job: Job) -> None:
    """Put a dead worker's job back in the queue — unless the same work was queued meanwhile under its
    queueing lock (a refresh of the same task, say): then this one is marked aborted, the other runs."""
    try:
        await manager.retry_job(job)
    except UniqueViolation:
        log.info("job %s (%s) of a dead worker is queued again already; aborted", job.id, job.task_name)
        await manager.finish_job(job, status=Status.ABORTED, delete_job=False)
    else:
        log.warning("job %s (%s) was running on a worker that died; retrying it", job.id, job.task_name)


async def defer_reconcile(app: App) -> bool:
    """Queue a reconcile now (with the deletion sweep) unless one is already waiting."""
    try:
        await app.configure_task(
            "reconcile", queueing_lock="reconcile", lock="reconcile", queue=MAINTENANCE_QUEUE
        ).defer_async(timestamp=0)
    except AlreadyEnqueued:
        return False
    return True


def register_tasks(app: App, settings: Settings) -> None:
    max_attempts = settings.job_max_attempts
    # procrastinate's max_attempts counts retries (a job runs max_attempts + 1 times): JOB_MAX_ATTEMPTS
    # counts runs. 0 would mean "retry forever" to procrastinate, so one run is no retry at all.
    retry: RetryStrategy | bool = (
        RetryStrategy(max_attempts=max_attempts - 1, exponential_wait=2) if max_attempts > 1 else False
    )
    sweep_every = max(1, 3600 // settings.reconcile_interval_seconds)  # the deletion sweep: hourly

    @app.task(name=PROCESS_DELIVERY, queue=WEBHOOK_QUEUE, pass_context=True, retry=retry)
    async def process_delivery_job(context: JobContext, delivery_id: int) -> None:
        final = context.job.attempts + 1 >= max_attempts
        await process_delivery(_runtime(context), delivery_id, final_attempt=final)

    @app.task(name=REFRESH_TASK, queue=WEBHOOK_QUEUE, pass_context=True, retry=retry)
    async def refresh_task_job(context: JobContext, task_id: str) -> None:
        await refresh_task(_runtime(context), task_id, budget_wait_seconds=REFRESH_BUDGET_WAIT_SECONDS)

    def maintenance(name: str, every_seconds: int, *, exclusive: bool = True) -> Callable[[JobFunction], Any]:
        """A periodic job, deferred once per tick across every worker, with at most one waiting
        (queueing lock) and, when `exclusive`, at most one running (lock)."""

        def register(function: JobFunction) -> Any:
            task = app.task(
                name=name, queue=MAINTENANCE_QUEUE, pass_context=True, queueing_lock=name,
                lock=name if exclusive else None,
            )(function)  # fmt: skip
            return app.periodic(cron=cron_every(every_seconds), periodic_id=name)(task)

        return register

    # Not exclusive: a run left `doing` by a dead worker must not block the one job that recovers it.
    @maintenance("retry_stalled_jobs", STALLED_AFTER_SECONDS, exclusive=False)
    async def retry_stalled_jobs(context: JobContext, timestamp: int) -> None:
        """Jobs of a worker that died (no heartbeat) go back to the queue."""
        manager = context.app.job_manager
        for job in await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER_SECONDS):
            await retry_stalled_job(manager, job)

    @maintenance("reconcile", settings.reconcile_interval_seconds)
    async def reconcile_job(context: JobContext, timestamp: int) -> None:
        """Poll for what webhooks did not deliver (and, hourly, sweep for deletions)."""
        runtime = _runtime(context)
        sweep = (timestamp // settings.reconcile_interval_seconds) % sweep_every == 0
        summary = await run_scheduled_reconcile(runtime, sweep=sweep)
        record_reconcile(runtime, summary)
        log.info(
            "reconcile: %d tasks seen, %d changes, %d deletions",
            summary.tasks_seen,
            summary.changes,
            summary.deleted,
        )

    @maintenance("webhook_health", settings.webhook_health_interval_seconds)
    async def webhook_health_job(context: JobContext, timestamp: int) -> None:
        """ClickUp notifies no one when a webhook fails: look every few minutes, reactivate suspended
        webhooks, and reconcile after any problem so a dropped event is recovered within minutes."""
        runtime = _runtime(context)
        monitor = WebhookHealthMonitor(
            await runtime.clickup(),
            runtime.pool,
            schema=runtime.schema,
            team_id=await team_id_for(runtime),
            reconcile=lambda: defer_reconcile(context.app),
        )
        log.info("webhook health: %s", (await monitor.check_once()).summary())

    @maintenance("prune_deliveries", PRUNE_EVERY_SECONDS)
    async def prune_deliveries_job(context: JobContext, timestamp: int) -> None:
        """Stored webhook bodies older than DELIVERY_RETENTION_DAYS go (0 keeps them all)."""
        days = settings.delivery_retention_days
        if days > 0:
            await prune_deliveries(_runtime(context), older_than=timedelta(days=days))

    @maintenance("release_parked", RELEASE_PARKED_EVERY_SECONDS)
    async def release_parked_job(context: JobContext, timestamp: int) -> None:
        """Parked changes whose task Airbyte now holds, or that waited BASE_RECORD_MAX_WAIT, go back
        to the queue (all of them when Airbyte is off)."""
        await release_parked(_runtime(context))  # logs what it released

    @maintenance("airbyte_watch", max(1, round(settings.airbyte_poll_seconds)))
    async def airbyte_watch_job(context: JobContext, timestamp: int) -> None:
        """Record Airbyte sync windows as they happen; when one ends, release what waited for it."""
        runtime = _runtime(context)
        if not await airbyte_enabled(runtime):
            return
        detector = runtime.helpers.get("airbyte_detector")
        if detector is None:
            detector = runtime.helpers["airbyte_detector"] = AirbyteSyncDetector(
                runtime.pool,
                schema=runtime.schema,
                config=DetectorConfig(
                    airbyte_table=settings.airbyte_task_table,
                    raw_schema=settings.airbyte_raw_schema,
                    connection_id=settings.airbyte_connection_id,
                ),
            )
        window = await detector.poll()
        latest = (await detector.recent_syncs(1) or [None])[0]
        ended = latest.id if latest is not None and latest.ended_at is not None else None
        if (
            not window.running
            and ended is not None
            and runtime.helpers.get("airbyte_released_after") != ended
        ):
            runtime.helpers["airbyte_released_after"] = ended
            await release_parked(runtime)
