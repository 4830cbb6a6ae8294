"""Keep our ClickUp webhooks delivering: poll their health, revive suspended ones, reconcile the gaps.

ClickUp never says when a webhook's health changes (§7.7): we poll `GET /team/{id}/webhook`
(`check_once`, every `WEBHOOK_HEALTH_INTERVAL_SECONDS`). What each state means for the mirror:

- `failing`: some events failed five attempts and were dropped for good (§7.7, §9 item 11).
- `suspended`: nothing is sent any more (100 failures, or one 401/410 answer). We reactivate it with
  `PUT /webhook/{id}` status active (§7.1), at most 3 times per webhook per rolling hour, so a
  receiver that keeps answering 401 does not make us flap forever. The limit holds across replicas:
  the decision is taken under a row lock on the webhook and recorded in `webhook_reactivations`.
- missing from ClickUp's list (deleted by someone, or its user lost access, §9 item 12): stored as
  `unknown`; an operator must register again.

Any of these means events may have been lost, so the check then runs one reconcile (injected), and a
lost event is in the mirror within two checks. A 401/403 from ClickUp is a configuration error: it is
reported and nothing is changed (it says nothing about the webhooks).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from clickup_sync.errors import ClickUpAuthError, ClickUpSyncError, DatabaseUnavailable
from clickup_sync.subscriptions import registry
from clickup_sync.subscriptions.register import JsonObject, WebhookApi, webhook_events, webhook_health
from clickup_sync.subscriptions.registry import StoredWebhook
from clickup_sync.sync.jobs import clickup_client, resolve_team_id, run_reconcile

if TYPE_CHECKING:
    from clickup_sync.db.connection import Database
    from clickup_sync.settings import Settings

log = logging.getLogger(__name__)

REACTIVATION_LIMIT: Final = 3
REACTIVATION_WINDOW: Final = timedelta(hours=1)
MISSING: Final = "unknown"  # `health_status` of a webhook ClickUp does not list


class Reactivation(StrEnum):
    REACTIVATED = "reactivated"
    LIMIT_REACHED = "limit_reached"  # already revived REACTIVATION_LIMIT times within the window
    BY_ANOTHER_REPLICA = "by_another_replica"  # revived after our GET, by someone else
    FAILED = "failed"  # ClickUp refused or did not answer the PUT
    DELETED = "deleted"  # deleted here (`webhooks delete`) while we checked: nothing to revive


@dataclass(frozen=True)
class WebhookCheck:
    """One of our webhooks as ClickUp reported it (`status` `unknown`: not listed) and what we did."""

    webhook_id: str
    endpoint: str
    status: str
    fail_count: int | None
    reactivation: Reactivation | None = None

    @property
    def healthy(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True)
class HealthReport:
    checked_at: datetime
    webhooks: tuple[WebhookCheck, ...] = ()
    configuration_error: str | None = None  # ClickUp refused the token (401/403): nothing was changed
    reconciled: bool = False
    reconcile_error: str | None = None

    def count(self, status: str) -> int:
        return sum(1 for check in self.webhooks if check.status == status)

    @property
    def failing(self) -> int:
        return self.count("failing")

    @property
    def suspended(self) -> int:
        return self.count("suspended")

    @property
    def missing(self) -> int:
        return self.count(MISSING)

    @property
    def reactivated(self) -> tuple[str, ...]:
        return tuple(c.webhook_id for c in self.webhooks if c.reactivation is Reactivation.REACTIVATED)

    @property
    def not_reactivated(self) -> tuple[str, ...]:
        """Suspended webhooks still suspended after this check (limit reached, or the PUT failed)."""
        stuck = {Reactivation.LIMIT_REACHED, Reactivation.FAILED, None}
        return tuple(
            c.webhook_id for c in self.webhooks if c.status == "suspended" and c.reactivation in stuck
        )

    @property
    def healthy(self) -> bool:
        return self.configuration_error is None and all(check.healthy for check in self.webhooks)

    def summary(self) -> str:
        if self.configuration_error is not None:
            return f"configuration error: {self.configuration_error}"
        parts = [
            f"{len(self.webhooks)} checked: {self.count('active')} active, {self.failing} failing, "
            f"{self.suspended} suspended, {self.missing} missing from ClickUp"
        ]
        if self.reactivated:
            parts.append(f"reactivated {', '.join(self.reactivated)}")
        if self.not_reactivated:
            parts.append(f"NOT reactivated {', '.join(self.not_reactivated)}")
        if self.reconciled:
            parts.append("reconciled")
        if self.reconcile_error is not None:
            parts.append(f"reconcile failed: {self.reconcile_error}")
        return "; ".join(parts)


class WebhookHealthMonitor:
    """`await WebhookHealthMonitor(client, pool_or_dsn, schema=…, team_id=…, reconcile=…).check_once()`.

    With a DSN each check opens (and closes) a connection of its own: checks are minutes apart.
    """

    def __init__(
        self,
        client: WebhookApi,
        database: AsyncConnectionPool[Any] | str,
        *,
        schema: str,
        team_id: str,
        reconcile: Callable[[], Awaitable[object]],
        reactivation_limit: int = REACTIVATION_LIMIT,
        reactivation_window: timedelta = REACTIVATION_WINDOW,
    ) -> None:
        self.client = client
        self._database = database
        self.schema = schema
        self.team_id = team_id
        self._reconcile = reconcile
        self.reactivation_limit = reactivation_limit
        self.reactivation_window = reactivation_window

    def __repr__(self) -> str:  # the DSN may hold a password
        return f"WebhookHealthMonitor(schema={self.schema!r}, team_id={self.team_id!r})"

    async def check_once(self) -> HealthReport:
        """Look at our webhooks in ClickUp once, store their health, act, and report.

        ClickUp refusing the token is reported, not raised; a ClickUp outage (`ClickUpTransientError`)
        or `DatabaseUnavailable` is raised for the scheduler to log, and the next check tries again.
        """
        checked_at = datetime.now(UTC)
        async with self._connection() as conn:
            async with conn.transaction():
                ours = await registry.stored_webhooks(conn, self.schema, team_id=self.team_id)
                looked_at = await registry.database_clock(conn)
            if not ours:
                return HealthReport(checked_at)
            try:
                listed = await self.client.list_webhooks(self.team_id)
            except ClickUpAuthError as error:
                log.error("webhook health check: ClickUp refused the token; nothing changed: %s", error)
                return HealthReport(checked_at, configuration_error=str(error))
            remote = {str(webhook.get("id")): webhook for webhook in listed}
            checks: list[WebhookCheck] = []
            configuration_error: str | None = None
            for webhook in ours:
                check = await self._record(conn, webhook, remote.get(webhook.webhook_id))
                if check.status == "suspended" and configuration_error is None:
                    try:
                        outcome = await self._reactivate(conn, webhook, remote[webhook.webhook_id], looked_at)
                    except ClickUpAuthError as error:
                        log.error(
                            "webhook %s: ClickUp refused to reactivate it: %s", webhook.webhook_id, error
                        )
                        configuration_error, outcome = str(error), Reactivation.FAILED
                    check = WebhookCheck(
                        check.webhook_id, check.endpoint, check.status, check.fail_count, outcome
                    )
                checks.append(check)
        report = HealthReport(checked_at, tuple(checks), configuration_error)
        if all(check.healthy for check in checks):
            return report
        return await self._reconcile_gap(report)

    # -- steps ---------------------------------------------------------------------------------------

    async def _record(
        self, conn: AsyncConnection[Any], webhook: StoredWebhook, found: JsonObject | None
    ) -> WebhookCheck:
        """Store what ClickUp says about `webhook` now, and warn about what needs attention."""
        extra = {"webhook_id": webhook.webhook_id}
        if found is None:
            status, fail_count = MISSING, None
            log.warning(
                "webhook %s (%s) is not in ClickUp's list: deleted, or its user lost access (§9 item 12); "
                "no events arrive until it is registered again",
                webhook.webhook_id,
                webhook.endpoint,
                extra=extra,
            )
        else:
            status, fail_count = webhook_health(found)
            if status == "failing":
                log.warning(
                    "webhook %s is failing (fail_count %d): ClickUp dropped events after 5 attempts each",
                    webhook.webhook_id,
                    fail_count,
                    extra=extra,
                )
            elif status == "suspended":
                log.warning("webhook %s is suspended: ClickUp sends nothing", webhook.webhook_id, extra=extra)
        async with conn.transaction():
            await registry.record_health(conn, self.schema, webhook.webhook_id, status, fail_count)
        return WebhookCheck(webhook.webhook_id, webhook.endpoint, status, fail_count)

    async def _reactivate(
        self, conn: AsyncConnection[Any], webhook: StoredWebhook, found: JsonObject, looked_at: datetime
    ) -> Reactivation:
        """PUT status active, unless the limit is reached or another replica already did it since
        `looked_at` (database time just before our GET). Holds the webhook's row lock throughout."""
        webhook_id, extra = webhook.webhook_id, {"webhook_id": webhook.webhook_id}
        async with conn.transaction():
            if not await registry.lock_for_reactivation(conn, self.schema, webhook_id):
                return Reactivation.DELETED
            recent = await registry.recent_reactivations(
                conn, self.schema, webhook_id, window=self.reactivation_window, since=looked_at
            )
            if recent.since_look:
                return Reactivation.BY_ANOTHER_REPLICA
            if recent.within_window >= self.reactivation_limit:
                log.error(
                    "webhook %s is suspended again after %d reactivations within %s; leaving it suspended "
                    "(is the receiver answering 401 or 410?); reconciliation covers the gap meanwhile",
                    webhook_id,
                    recent.within_window,
                    self.reactivation_window,
                    extra=extra,
                )
                return Reactivation.LIMIT_REACHED
            # Same endpoint and events as ClickUp has them now; the PUT requires all three (§7.1).
            endpoint = str(found.get("endpoint") or webhook.endpoint)
            try:
                revived = await self.client.update_webhook(
                    webhook_id, endpoint, list(webhook_events(found)), "active"
                )
            except ClickUpAuthError:
                raise  # the transaction rolls back: a refused token changes nothing
            except ClickUpSyncError as error:
                log.warning("webhook %s: reactivation failed: %s", webhook_id, error, extra=extra)
                await registry.record_reactivation(conn, self.schema, webhook_id, Reactivation.FAILED.value)
                return Reactivation.FAILED
            # Counted even when it does not last: the limit is on attempts, so a flapping receiver stops us.
            await registry.record_reactivation(conn, self.schema, webhook_id, Reactivation.REACTIVATED.value)
            status, fail_count = webhook_health(revived)
            await registry.record_health(conn, self.schema, webhook_id, status, fail_count)
        log.warning("webhook %s reactivated", webhook_id, extra=extra)
        return Reactivation.REACTIVATED

    async def _reconcile_gap(self, report: HealthReport) -> HealthReport:
        """One reconcile for the whole check: it polls every task changed since its cursor, whichever
        webhook lost the events. A failure is reported; the reconcile cursor did not move, so the next
        successful reconcile still covers the gap."""
        try:
            await self._reconcile()
        except ClickUpSyncError as error:
            log.error("reconcile after a webhook health problem failed: %s", error)
            return HealthReport(
                report.checked_at, report.webhooks, report.configuration_error, reconcile_error=str(error)
            )
        return HealthReport(report.checked_at, report.webhooks, report.configuration_error, reconciled=True)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        if isinstance(self._database, AsyncConnectionPool):
            async with self._database.connection() as conn:
                yield conn
            return
        try:
            conn = await AsyncConnection.connect(self._database, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise DatabaseUnavailable(
                f"webhook health check: PostgreSQL is unreachable: {first_line}"
            ) from exc
        try:
            yield conn
        finally:
            await conn.close()


async def run_webhook_health_check(
    settings: Settings, database: Database, *, sweep: bool = True
) -> HealthReport:
    """One check with the service's settings (what the scheduler runs every
    `WEBHOOK_HEALTH_INTERVAL_SECONDS`); a health problem runs `run_reconcile`, with the deletion
    sweep by default, because a dropped `taskDeleted` is only found by the sweep (§4.3)."""
    async with clickup_client(settings, database) as client:
        try:
            team_id = await resolve_team_id(client, settings)
        except ClickUpAuthError as error:
            return HealthReport(datetime.now(UTC), configuration_error=str(error))
        monitor = WebhookHealthMonitor(
            client,
            database.dsn,
            schema=database.schema,
            team_id=team_id,
            reconcile=lambda: run_reconcile(settings, database, sweep=sweep),
        )
        return await monitor.check_once()
