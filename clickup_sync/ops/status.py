"""The service's state at a glance: what the admin dashboard shows and `/metrics` exports.

`read_status(pool, schema)` is the stable entry point. It runs three statements on one pooled
connection, each answered from an index or a small table (procrastinate deletes successful jobs,
so its job table holds only waiting, running and failed ones); every list it returns is bounded.
It never touches Airbyte's tables or ClickUp.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from psycopg import sql
from psycopg_pool import AsyncConnectionPool

WEBHOOKS_SHOWN: Final = 100  # more than anyone registers; keeps the result bounded regardless
PROCESS_DELIVERY_TASK: Final = "process_delivery"  # its failures are counted through the delivery
# Outcomes counted in `delivery_counters` instead of stored (ingest.py): anything failing the
# signature or size checks. Deliveries that were stored are counted by their status.
STORED_OUTCOMES: Final = ("received", "processed", "duplicate", "malformed", "parked", "dead")

_SCALARS = """
SELECT
    (SELECT count(*) FROM {s}.procrastinate_jobs WHERE status = 'todo'),
    (SELECT min(coalesce(j.scheduled_at, e.at))
       FROM {s}.procrastinate_jobs j
       LEFT JOIN {s}.procrastinate_events e ON e.job_id = j.id AND e.type = 'deferred'
      WHERE j.status = 'todo' AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())),
    (SELECT count(*) FROM {s}.parked_changes WHERE released_at IS NULL),
    (SELECT count(*) FROM {s}.webhook_deliveries WHERE status = 'dead'),
    (SELECT count(*) FROM {s}.procrastinate_jobs
      WHERE status = 'failed' AND task_name <> %(process_delivery)s),
    (SELECT count(*) FROM {s}.airbyte_syncs),
    (SELECT max(started_at) FROM {s}.airbyte_syncs),
    budget.remaining, budget.window_limit, budget.resets_at,
    backfill.finished_at, backfill.status, backfill.changes,
    reconcile.finished_at, reconcile.status, reconcile.changes,
    now()
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
    SELECT remaining, window_limit, resets_at FROM {s}.clickup_rate_budget ORDER BY updated_at DESC LIMIT 1
) AS budget ON true
LEFT JOIN LATERAL (
    SELECT finished_at, status, (stats->>'changes')::bigint AS changes FROM {s}.sync_runs
    WHERE kind = 'backfill' AND finished_at IS NOT NULL ORDER BY started_at DESC LIMIT 1
) AS backfill ON true
LEFT JOIN LATERAL (
    SELECT finished_at, status, (stats->>'changes')::bigint AS changes FROM {s}.sync_runs
    WHERE kind = 'reconcile' AND finished_at IS NOT NULL ORDER BY started_at DESC LIMIT 1
) AS reconcile ON true
"""
_DELIVERIES_LAST_HOUR = """
SELECT status, count(*) FROM {s}.webhook_deliveries
WHERE received_at >= now() - interval '1 hour' GROUP BY status
UNION ALL
SELECT outcome, sum(count)::bigint FROM {s}.delivery_counters
WHERE minute >= date_trunc('minute', now() - interval '1 hour') GROUP BY outcome
"""
_WEBHOOKS = """
SELECT webhook_id, health_status, fail_count, last_checked_at FROM {s}.webhooks
WHERE deleted_at IS NULL ORDER BY created_at, webhook_id LIMIT %(limit)s
"""


@dataclass(frozen=True)
class SyncRunSummary:
    """The latest finished backfill or reconcile run (`sync_runs`)."""

    finished_at: datetime
    status: str  # succeeded, failed or interrupted
    changes: int | None  # field changes it recorded, when the run reported them


@dataclass(frozen=True)
class WebhookHealth:
    """One registered ClickUp webhook as the last health check saw it."""

    webhook_id: str
    status: str  # active, failing, suspended or unknown (ClickUp no longer lists it)
    fail_count: int
    last_checked_at: datetime | None


@dataclass(frozen=True)
class ServiceStatus:
    """Figures for the dashboard and the metrics. Times are aware UTC datetimes; None = never."""

    read_at: datetime
    # Last hour, by outcome: the statuses of stored deliveries (see STORED_OUTCOMES) plus the
    # rejections that are only counted (`bad_signature`, `too_large`, …). Do not mutate.
    deliveries_last_hour: Mapping[str, int]
    queue_depth: int  # jobs waiting to run (procrastinate status todo), every queue
    # When the longest-waiting due job became due (deferred, or its scheduled time); jobs scheduled
    # for later (retry backoff) count in queue_depth but have not started waiting yet.
    oldest_queued_at: datetime | None
    parked_changes: int  # deliveries waiting for Airbyte's base record of their task
    dead_letters: int  # dead deliveries + other jobs that failed for good
    last_backfill: SyncRunSummary | None
    last_reconcile: SyncRunSummary | None
    airbyte_syncs_detected: int
    last_airbyte_sync_at: datetime | None  # start of the latest detected sync
    rate_limit_remaining: int | None  # shared ClickUp budget; None before the first API call
    rate_limit_limit: int | None
    rate_limit_resets_at: datetime | None
    webhooks: tuple[WebhookHealth, ...] = field(default=())

    @property
    def received_last_hour(self) -> int:
        """Deliveries accepted (valid signature, a delivery's shape), duplicates included."""
        accepted = (outcome for outcome in STORED_OUTCOMES if outcome != "malformed")
        return sum(self.deliveries_last_hour.get(outcome, 0) for outcome in accepted)

    @property
    def rejected_last_hour(self) -> int:
        """Deliveries refused before storing (bad signature, too large) or stored as malformed."""
        counted_only = sum(n for o, n in self.deliveries_last_hour.items() if o not in STORED_OUTCOMES)
        return counted_only + self.deliveries_last_hour.get("malformed", 0)

    @property
    def duplicate_last_hour(self) -> int:
        return self.deliveries_last_hour.get("duplicate", 0)


async def read_status(pool: AsyncConnectionPool[Any], schema: str) -> ServiceStatus:
    """Read the service's status from SYNC_SCHEMA `schema`. Raises psycopg / pool errors as they come
    (the caller decides whether an unreachable database is a 503 or a missing scrape)."""
    s = sql.Identifier(schema)
    async with pool.connection() as conn:
        scalars = await (
            await conn.execute(sql.SQL(_SCALARS).format(s=s), {"process_delivery": PROCESS_DELIVERY_TASK})
        ).fetchone()
        outcome_rows = await (await conn.execute(sql.SQL(_DELIVERIES_LAST_HOUR).format(s=s))).fetchall()
        webhook_rows = await (
            await conn.execute(sql.SQL(_WEBHOOKS).format(s=s), {"limit": WEBHOOKS_SHOWN})
        ).fetchall()
    assert scalars is not None  # a SELECT without FROM always returns one row
    (depth, oldest, parked, dead, failed, syncs, last_sync, remaining, limit, resets_at) = scalars[:10]
    backfill, reconcile, read_at = scalars[10:13], scalars[13:16], scalars[16]
    outcomes: dict[str, int] = {}
    for outcome, count in outcome_rows:
        outcomes[str(outcome)] = outcomes.get(str(outcome), 0) + int(count)
    return ServiceStatus(
        read_at=read_at,
        deliveries_last_hour=outcomes,
        queue_depth=int(depth),
        oldest_queued_at=oldest,
        parked_changes=int(parked),
        dead_letters=int(dead) + int(failed),
        last_backfill=_sync_run(backfill),
        last_reconcile=_sync_run(reconcile),
        airbyte_syncs_detected=int(syncs),
        last_airbyte_sync_at=last_sync,
        rate_limit_remaining=remaining,
        rate_limit_limit=limit,
        rate_limit_resets_at=resets_at,
        webhooks=tuple(
            WebhookHealth(str(webhook_id), str(status), int(fail_count), checked)
            for webhook_id, status, fail_count, checked in webhook_rows
        ),
    )


def _sync_run(columns: tuple[Any, ...]) -> SyncRunSummary | None:
    finished_at, status, changes = columns
    if finished_at is None:
        return None
    return SyncRunSummary(finished_at, str(status), None if changes is None else int(changes))
