"""Retention of stored webhook bodies: a delivery that was processed (or was a duplicate, or
malformed) is kept `DELIVERY_RETENTION_DAYS` for inspection and replay, then deleted with its dedupe
keys and parking record. Dead, parked and waiting deliveries are kept until someone deals with them;
`field_changes` (the history itself) is never pruned. Forgetting an old dedupe key is safe: a very
late redelivery of the same history item still records nothing twice (`field_changes.event_id` is
unique). Outcome counters older than the retention go too.

Deletes run in batches of short transactions, so pruning a backlog never holds locks for long.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from psycopg import sql

from clickup_sync.runtime import ServiceRuntime

log = logging.getLogger(__name__)

PRUNE_BATCH = 5000
PRUNABLE_STATUSES = ("processed", "duplicate", "malformed")

# Oldest first, through webhook_deliveries_received_idx.
DELETE_BATCH = """
DELETE FROM {s}.webhook_deliveries WHERE id IN (
    SELECT id FROM {s}.webhook_deliveries
    WHERE received_at < now() - %(age)s AND status = ANY(%(statuses)s)
    ORDER BY received_at LIMIT %(batch)s
)
"""
DELETE_COUNTERS = "DELETE FROM {s}.delivery_counters WHERE minute < now() - %(age)s"


@dataclass(frozen=True)
class PruneReport:
    deliveries: int
    counter_rows: int


async def prune_deliveries(
    runtime: ServiceRuntime, *, older_than: timedelta, batch: int = PRUNE_BATCH
) -> PruneReport:
    s = sql.Identifier(runtime.schema)
    params = {"age": older_than, "statuses": list(PRUNABLE_STATUSES), "batch": batch}
    deleted = 0
    while True:
        async with runtime.pool.connection() as conn, conn.transaction():
            cursor = await conn.execute(sql.SQL(DELETE_BATCH).format(s=s), params)
            deleted += cursor.rowcount
        if cursor.rowcount < batch:
            break
    async with runtime.pool.connection() as conn, conn.transaction():
        counters = (await conn.execute(sql.SQL(DELETE_COUNTERS).format(s=s), params)).rowcount
    if deleted or counters:
        log.info("retention: deleted %d stored deliveries and %d counter rows older than %s",
                 deleted, counters, older_than)  # fmt: skip
    return PruneReport(deleted, counters)
