"""Cluster-wide gauges, read from PostgreSQL at scrape time (`ops.status.read_status`).

Every replica shares one database, so every replica answers these the same: queue depth, parked
changes, dead letters, webhook health, the shared ClickUp rate budget, Airbyte syncs, deliveries of
the last hour. The read has a deadline: past it (or when the database is away) the scrape still
answers at once, with `clickup_sync_database_up 0` and without the figures it could not read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from psycopg_pool import AsyncConnectionPool

from clickup_sync.ops.status import STORED_OUTCOMES, ServiceStatus, read_status

log = logging.getLogger(__name__)

READ_DEADLINE_SECONDS: Final = 2.0
WEBHOOK_STATES: Final = ("active", "failing", "suspended", "unknown")
# Rejections ingest.py counts in `delivery_counters` instead of storing the delivery.
COUNTED_OUTCOMES: Final = ("bad_signature", "too_large")

Family = GaugeMetricFamily | CounterMetricFamily

# Reads abandoned at their deadline finish (or fail) in the background; keep a reference meanwhile.
_abandoned: set[asyncio.Task[ServiceStatus]] = set()


@dataclass(frozen=True)
class ClusterRead:
    status: ServiceStatus | None  # None: the database did not answer in time
    seconds: float


async def read_cluster(
    pool: AsyncConnectionPool[Any], schema: str, *, deadline: float = READ_DEADLINE_SECONDS
) -> ClusterRead:
    """The status, or None after `deadline` seconds or any database error; never raises."""
    started = time.perf_counter()
    reading = asyncio.create_task(read_status(pool, schema))
    done, _ = await asyncio.wait({reading}, timeout=deadline)
    elapsed = time.perf_counter() - started
    if not done:
        # Cancelling interrupts the statement in the server too (psycopg cancels an interrupted
        # query); not awaiting it keeps the scrape within its deadline even if that takes a while.
        reading.cancel()
        _abandoned.add(reading)
        reading.add_done_callback(_forget)
        log.warning("metrics: the database did not answer within %.1f s", deadline)
        return ClusterRead(None, elapsed)
    error = reading.exception()
    if error is not None:
        log.warning("metrics: could not read the service status: %s", _first_line(error))
        return ClusterRead(None, elapsed)
    return ClusterRead(reading.result(), elapsed)


def _first_line(error: BaseException) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0]


def _forget(task: asyncio.Task[ServiceStatus]) -> None:
    _abandoned.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not report it as never retrieved


class ClusterFamilies(Collector):
    """The families of one read: a throwaway collector, so concurrent scrapes never share state."""

    def __init__(self, read: ClusterRead) -> None:
        self.read = read

    def collect(self) -> Iterator[Family]:
        status = self.read.status
        up = 0 if status is None else 1
        yield _gauge("clickup_sync_database_up", "1 when the status read from PostgreSQL succeeded.", up)
        yield _gauge("clickup_sync_status_read_seconds", "How long the status read took.", self.read.seconds)
        if status is not None:
            yield from _status_families(status)


def _status_families(status: ServiceStatus) -> Iterator[Family]:
    read_at = status.read_at
    yield _gauge("clickup_sync_queue_depth", "Jobs waiting to run, every queue.", status.queue_depth)
    yield _gauge(
        "clickup_sync_queue_oldest_age_seconds",
        "How long the longest-waiting due job has waited (0 when none).",
        _age(status.oldest_queued_at, read_at),
    )
    yield _gauge(
        "clickup_sync_parked_changes",
        "Deliveries parked until Airbyte's table holds their task.",
        status.parked_changes,
    )
    yield _gauge(
        "clickup_sync_dead_letters",
        "Dead deliveries plus other jobs that failed for good.",
        status.dead_letters,
    )
    recent = GaugeMetricFamily(
        "clickup_sync_webhook_deliveries_last_hour",
        "Deliveries of the last hour, every replica: stored ones by status, rejected ones by reason.",
        labels=["outcome"],
    )
    known = (*STORED_OUTCOMES, *COUNTED_OUTCOMES)
    other = sum(n for outcome, n in status.deliveries_last_hour.items() if outcome not in known)
    for outcome in known:
        recent.add_metric([outcome], status.deliveries_last_hour.get(outcome, 0))
    recent.add_metric(["other"], other)
    yield recent
    yield from _webhook_families(status)
    yield from _budget_families(status)
    syncs = CounterMetricFamily(
        "clickup_sync_airbyte_syncs_detected", "Airbyte syncs detected (every replica, all time)."
    )
    syncs.add_metric([], status.airbyte_syncs_detected)
    yield syncs
    if status.last_airbyte_sync_at is not None:
        yield _gauge(
            "clickup_sync_airbyte_last_sync_start_timestamp_seconds",
            "Start of the latest detected Airbyte sync (Unix time).",
            status.last_airbyte_sync_at.timestamp(),
        )
    for kind, run in (("reconcile", status.last_reconcile), ("backfill", status.last_backfill)):
        if run is not None:
            yield _gauge(
                f"clickup_sync_last_{kind}_timestamp_seconds",
                f"When the latest {kind} run finished (Unix time).",
                run.finished_at.timestamp(),
            )


def _webhook_families(status: ServiceStatus) -> Iterator[Family]:
    health = GaugeMetricFamily(
        "clickup_sync_webhook_health",
        "1 for each registered ClickUp webhook's current health state, 0 for the others.",
        labels=["webhook_id", "state"],
    )
    fails = GaugeMetricFamily(
        "clickup_sync_webhook_fail_count",
        "ClickUp's fail_count of each webhook (suspended at 100).",
        labels=["webhook_id"],
    )
    for webhook in status.webhooks:  # bounded: ops.status lists at most WEBHOOKS_SHOWN
        for state in WEBHOOK_STATES:
            health.add_metric([webhook.webhook_id, state], 1 if webhook.status == state else 0)
        fails.add_metric([webhook.webhook_id], webhook.fail_count)
    yield health
    yield fails


def _budget_families(status: ServiceStatus) -> Iterator[Family]:
    if status.rate_limit_remaining is None:
        return  # no API call yet: nothing known, so nothing claimed
    remaining = status.rate_limit_remaining
    resets_at = status.rate_limit_resets_at
    if resets_at is not None and resets_at <= status.read_at and status.rate_limit_limit is not None:
        remaining = status.rate_limit_limit  # the window the row describes is over: all of it is back
    yield _gauge(
        "clickup_sync_clickup_rate_limit_remaining",
        "Requests left in the current ClickUp rate-limit window (shared by every process).",
        remaining,
    )
    if status.rate_limit_limit is not None:
        yield _gauge(
            "clickup_sync_clickup_rate_limit_limit",
            "Requests allowed per ClickUp rate-limit window.",
            status.rate_limit_limit,
        )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _age(since: datetime | None, now: datetime) -> float:
    return 0.0 if since is None else max(0.0, (now - since).total_seconds())
