"""The health monitor against the emulator's real delivery engine and a real PostgreSQL: a failing or
suspended webhook is noticed, a suspended one is revived (3 times an hour at most), and every check
that finds a problem runs one reconcile."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from clickup_sync.clickup.client import ClickUpClient
from clickup_sync.clickup.emulator import EmulatorServer
from clickup_sync.db.connection import Database
from clickup_sync.settings import load_settings
from clickup_sync.subscriptions.health import Reactivation, WebhookHealthMonitor, run_webhook_health_check
from clickup_sync.subscriptions.register import register_webhook
from clickup_sync.subscriptions.registry import StoredWebhook, stored_webhook
from tests.integration.subscriptions.conftest import SCHEMA, Receiver, drive_events

pytestmark = pytest.mark.anyio
Conn = psycopg.AsyncConnection[Any]


class ReconcileSpy:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1


def monitor_for(
    client: ClickUpClient,
    emulator: EmulatorServer,
    database: AsyncConnectionPool[Any] | str,
    spy: ReconcileSpy,
) -> WebhookHealthMonitor:
    return WebhookHealthMonitor(client, database, schema=SCHEMA, team_id=emulator.team_id, reconcile=spy)


async def register(client: ClickUpClient, conn: Conn, emulator: EmulatorServer, url: str) -> StoredWebhook:
    return (await register_webhook(client, conn, SCHEMA, team_id=emulator.team_id, endpoint=url)).webhook


async def reactivations(conn: Conn, webhook_id: str) -> list[str]:
    cursor = await conn.execute(
        f"SELECT result FROM {SCHEMA}.webhook_reactivations WHERE webhook_id = %s ORDER BY reactivated_at",
        (webhook_id,),
    )
    return [row[0] for row in await cursor.fetchall()]


async def test_healthy_webhooks_are_recorded_and_nothing_is_reconciled(
    emulator: EmulatorServer, client: ClickUpClient, conn: Conn, database_url: str
) -> None:
    webhook = await register(client, conn, emulator, "https://sync.example.com/webhooks/clickup")
    spy = ReconcileSpy()

    report = await monitor_for(client, emulator, database_url, spy).check_once()

    assert report.healthy and not report.reconciled
    assert [(c.webhook_id, c.status) for c in report.webhooks] == [(webhook.webhook_id, "active")]
    assert spy.calls == 0
    stored = await stored_webhook(conn, SCHEMA, webhook.webhook_id)
    assert stored is not None and stored.last_checked_at is not None


async def test_a_failing_webhook_is_reported_and_the_lost_events_reconciled(
    emulator: EmulatorServer, client: ClickUpClient, conn: Conn, database_url: str, closed_port_url: str
) -> None:
    webhook = await register(client, conn, emulator, closed_port_url)
    drive_events(emulator, changes=2)  # every attempt is refused: ClickUp gives each event up
    assert emulator.workspace.subscription(webhook.webhook_id).status == "failing"
    spy = ReconcileSpy()

    report = await monitor_for(client, emulator, database_url, spy).check_once()

    assert (report.failing, report.suspended, report.missing) == (1, 0, 0)
    assert report.reconciled and spy.calls == 1
    stored = await stored_webhook(conn, SCHEMA, webhook.webhook_id)
    assert stored is not None
    assert stored.health_status == "failing"
    assert stored.fail_count == emulator.workspace.subscription(webhook.webhook_id).fail_count >= 2


async def test_a_suspended_webhook_is_reactivated_and_the_gap_reconciled(
    emulator: EmulatorServer, client: ClickUpClient, conn: Conn, database_url: str, answering_401: Receiver
) -> None:
    webhook = await register(client, conn, emulator, answering_401.url)
    drive_events(emulator)  # one 401 answer suspends the webhook at once (§7.7)
    assert emulator.workspace.subscription(webhook.webhook_id).status == "suspended"
    spy = ReconcileSpy()

    report = await monitor_for(client, emulator, database_url, spy).check_once()

    assert report.suspended == 1
    assert report.reactivated == (webhook.webhook_id,)
    assert emulator.workspace.subscription(webhook.webhook_id).status == "active"
    assert report.reconciled and spy.calls == 1
    stored = await stored_webhook(conn, SCHEMA, webhook.webhook_id)
    assert stored is not None and stored.health_status == "active"
    assert await reactivations(conn, webhook.webhook_id) == ["reactivated"]


async def test_the_fourth_suspension_within_an_hour_is_left_suspended(
    emulator: EmulatorServer, client: ClickUpClient, conn: Conn, database_url: str, answering_401: Receiver
) -> None:
    webhook = await register(client, conn, emulator, answering_401.url)
    spy = ReconcileSpy()
    monitor = monitor_for(client, emulator, database_url, spy)
    outcomes = []
    for _ in range(4):
        drive_events(emulator)
        report = await monitor.check_once()
        outcomes.append(report.webhooks[0].reactivation)

    assert outcomes == [Reactivation.REACTIVATED] * 3 + [Reactivation.LIMIT_REACHED]
    assert report.not_reactivated == (webhook.webhook_id,)
    assert "NOT reactivated" in report.summary()
    assert emulator.workspace.subscription(webhook.webhook_id).status == "suspended"
    assert spy.calls == 4  # still reconciled: polling is all that keeps the mirror fresh now
    assert await reactivations(conn, webhook.webhook_id) == ["reactivated"] * 3


class LaggingClient(ClickUpClient):
    """Another replica's check runs between this client's GET and the reactivation decision."""

    other_replica: WebhookHealthMonitor

    async def list_webhooks(self, team_id: str) -> list[dict[str, Any]]:
        listed = await super().list_webhooks(team_id)
        await self.other_replica.check_once()
        return listed


async def test_replicas_checking_at_once_reactivate_a_webhook_once(
    emulator: EmulatorServer, client: ClickUpClient, conn: Conn, database_url: str, answering_401: Receiver
) -> None:
    webhook = await register(client, conn, emulator, answering_401.url)
    drive_events(emulator)
    spy = ReconcileSpy()
    async with (
        AsyncConnectionPool(database_url, min_size=1, max_size=2, open=False) as pool,
        LaggingClient(emulator.base_url, emulator.token) as lagging,
    ):
        lagging.other_replica = monitor_for(client, emulator, database_url, spy)
        report = await monitor_for(lagging, emulator, pool, spy).check_once()

    assert report.webhooks[0].reactivation is Reactivation.BY_ANOTHER_REPLICA
    assert await reactivations(conn, webhook.webhook_id) == ["reactivated"]
    assert emulator.workspace.subscription(webhook.webhook_id).status == "active"


async def test_a_webhook_missing_from_clickup_is_marked_unknown_and_reconciled(
    emulator: EmulatorServer, client: ClickUpClient, conn: Conn, database_url: str
) -> None:
    webhook = await register(client, conn, emulator, "https://sync.example.com/webhooks/clickup")
    emulator.workspace.delete_webhook(webhook.webhook_id)  # deleted in ClickUp's UI, say
    spy = ReconcileSpy()

    report = await monitor_for(client, emulator, database_url, spy).check_once()

    assert report.missing == 1 and spy.calls == 1
    stored = await stored_webhook(conn, SCHEMA, webhook.webhook_id)
    assert stored is not None and stored.health_status == "unknown"


async def test_a_refused_token_is_a_configuration_error_that_changes_nothing(
    emulator: EmulatorServer, client: ClickUpClient, conn: Conn, database_url: str, answering_401: Receiver
) -> None:
    webhook = await register(client, conn, emulator, answering_401.url)
    drive_events(emulator)
    before = await stored_webhook(conn, SCHEMA, webhook.webhook_id)
    emulator.configure(valid_tokens=["pk_another_token"])
    spy = ReconcileSpy()

    report = await monitor_for(client, emulator, database_url, spy).check_once()

    assert report.configuration_error is not None and "CLICKUP_API_TOKEN" in report.configuration_error
    assert not report.healthy and spy.calls == 0
    assert await stored_webhook(conn, SCHEMA, webhook.webhook_id) == before
    assert await reactivations(conn, webhook.webhook_id) == []
    assert emulator.workspace.subscription(webhook.webhook_id).status == "suspended"


async def test_a_change_made_while_the_webhook_was_suspended_reaches_the_mirror(
    emulator: EmulatorServer, client: ClickUpClient, conn: Conn, database_url: str, answering_401: Receiver
) -> None:
    """The scheduler's entry point, end to end: reactivate, then the real reconcile fills the gap."""
    webhook = await register(client, conn, emulator, answering_401.url)
    drive_events(emulator)  # suspended
    task_id = emulator.workspace.live_task_ids()[-1]
    emulator.workspace.update_task(task_id, {"name": "renamed while nobody listened"})
    settings = load_settings(
        clickup_api_url=emulator.base_url,
        clickup_api_token=emulator.token,
        clickup_workspace_id=emulator.team_id,
        database_url=database_url,
    )

    report = await run_webhook_health_check(settings, Database(database_url, SCHEMA))

    assert report.reactivated == (webhook.webhook_id,) and report.reconciled
    cursor = await conn.execute(f"SELECT name FROM {SCHEMA}.tasks WHERE task_id = %s", (task_id,))
    assert await cursor.fetchone() == ("renamed while nobody listened",)
