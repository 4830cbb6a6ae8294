"""`read_status`: the dashboard's figures (and the metrics' database gauges) from real tables."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from clickup_sync.ops.status import SyncRunSummary, WebhookHealth, read_status
from tests.integration.admin.conftest import SCHEMA, AdminService, execute

pytestmark = pytest.mark.anyio


async def test_an_empty_service_reads_as_zeros_and_nevers(service: AdminService) -> None:
    status = await read_status(service.runtime.pool, SCHEMA)
    assert status.deliveries_last_hour == {}
    assert (status.queue_depth, status.oldest_queued_at, status.parked_changes, status.dead_letters) == (
        0, None, 0, 0,
    )  # fmt: skip
    assert status.last_backfill is None and status.last_reconcile is None
    assert (status.airbyte_syncs_detected, status.rate_limit_remaining, status.webhooks) == (0, None, ())


async def test_every_figure_comes_from_its_table(service: AdminService, seeded: str) -> None:
    execute(
        seeded,
        "INSERT INTO {s}.webhook_deliveries (webhook_id, event, task_id, body, status, last_error) VALUES"
        " ('wh-active', 'taskUpdated', 't1', '{}', 'dead', 'boom'),"
        " ('wh-active', 'taskUpdated', 't1', '{}', 'parked', NULL),"
        " (NULL, NULL, NULL, 'not json', 'malformed', 'not a delivery') RETURNING id",
    )
    execute(
        seeded,
        "INSERT INTO {s}.parked_changes (delivery_id, task_id)"
        " SELECT max(id), 't1' FROM {s}.webhook_deliveries",
    )
    await service.runtime.queue.configure_task("refresh_task", queue="webhooks").defer_async(task_id="t1")
    execute(
        seeded,
        "INSERT INTO {s}.procrastinate_jobs (queue_name, task_name, args, status, attempts)"
        " VALUES ('webhooks', 'refresh_task', '{\"task_id\": \"t9\"}', 'failed', 6),"
        " ('webhooks', 'process_delivery', '{\"delivery_id\": 1}', 'failed', 6)",
    )
    status = await read_status(service.runtime.pool, SCHEMA)

    # Stored deliveries by status within the hour (the one 2 h old is out), rejections counted.
    assert status.deliveries_last_hour == {
        "processed": 2, "duplicate": 1, "dead": 1, "parked": 1, "malformed": 1, "bad_signature": 2,
    }  # fmt: skip
    # Received: accepted ones, duplicates included; rejected: bad signature and malformed.
    assert (status.received_last_hour, status.rejected_last_hour, status.duplicate_last_hour) == (5, 3, 1)
    assert status.queue_depth == 1
    assert status.oldest_queued_at is not None
    assert abs((datetime.now(UTC) - status.oldest_queued_at).total_seconds()) < 60
    assert status.parked_changes == 1
    # The dead delivery, plus the failed refresh; the failed process_delivery job is the delivery's.
    assert status.dead_letters == 2
    assert status.last_backfill == SyncRunSummary(datetime(2026, 11, 29, 1, 5, tzinfo=UTC), "succeeded", 0)
    # The running reconcile has not finished: the last finished one is reported.
    assert status.last_reconcile == SyncRunSummary(
        datetime(2026, 11, 29, 2, 0, 30, tzinfo=UTC), "succeeded", 12
    )
    assert status.airbyte_syncs_detected == 2
    assert status.last_airbyte_sync_at == datetime(2026, 11, 29, tzinfo=UTC)
    assert (status.rate_limit_remaining, status.rate_limit_limit) == (87, 100)
    assert [(w.webhook_id, w.status, w.fail_count) for w in status.webhooks] == [
        ("wh-active", "active", 0),
        ("wh-failing", "failing", 7),
    ]
    assert all(isinstance(w, WebhookHealth) and w.last_checked_at for w in status.webhooks)
