"""Know when an Airbyte sync is running, and record every sync (issue #4 §4).

`AirbyteSyncDetector.poll()` looks at the database (`sync_signals`: staging tables, writer locks,
the final table's OID and `_airbyte_*` columns; reference airbyte.md §4.4) and, when configured, at
Airbyte's API (`airbyte_api`, §4.1); `record_notification()` takes Airbyte's sync notifications
(`notifications`, §4.3). Each start and end is recorded once in `airbyte_syncs`, whatever the
number of replicas: each look and decision happens under a row lock on the table's
`airbyte_observations` row, which also keeps what was last seen across restarts. Airbyte's tables are
read on a second connection, in their own short guarded transactions (`guarded_reads`), so no lock
on Airbyte's tables is ever held with ours: Airbyte never waits on us. Given a pool, a poll uses two
of its connections at once.

    detector = AirbyteSyncDetector(dsn_or_pool, schema="clickup_sync", config=DetectorConfig())
    window = await detector.poll()          # every few seconds
    if window.running: ...                  # since window.since, seen by window.detected_by
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from clickup_sync.airbyte.airbyte_api import AirbyteApiClient, AirbyteApiError, AirbyteApiRejected
from clickup_sync.airbyte.guarded_reads import ReadPolicy, Sleep
from clickup_sync.airbyte.notifications import AirbyteNotification
from clickup_sync.airbyte.sync_decisions import ApiView, Decision, SyncChange, decide
from clickup_sync.airbyte.sync_log import AirbyteSync, SyncLog
from clickup_sync.airbyte.sync_signals import DatabaseProber, ProbeHint
from clickup_sync.airbyte.tables import DEFAULT_RAW_SCHEMA, AirbyteTables
from clickup_sync.db.connection_source import ConnectionSource

log = logging.getLogger(__name__)

# A poll must stay cheap and never queue long behind the swap: one short try per read.
POLL_READ_POLICY = ReadPolicy(lock_timeout_seconds=0.5, statement_timeout_seconds=5.0, attempts=1)


@dataclass(frozen=True)
class DetectorConfig:
    """`airbyte_table` is `AIRBYTE_TASK_TABLE`; `connection_id` (`AIRBYTE_CONNECTION_ID`) filters
    notifications, which Airbyte sends for every connection of the workspace."""

    airbyte_table: str = "public.clickup_task"
    raw_schema: str = DEFAULT_RAW_SCHEMA
    connection_id: str | None = None
    staging_stale_after: timedelta = timedelta(minutes=30)
    api_poll_interval: timedelta = timedelta(seconds=30)
    poll_interval_seconds: float = 5.0
    read_policy: ReadPolicy = field(default=POLL_READ_POLICY)


@dataclass(frozen=True)
class SyncWindow:
    """Whether a sync runs now, since when, and how it was seen."""

    running: bool
    since: datetime | None
    detected_by: tuple[str, ...]
    sync: AirbyteSync | None  # the running sync's row
    observed_at: datetime | None


class AirbyteSyncDetector:
    def __init__(
        self,
        database: AsyncConnectionPool[Any] | str,
        *,
        schema: str,
        config: DetectorConfig | None = None,
        api: AirbyteApiClient | None = None,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config or DetectorConfig()
        self.tables = AirbyteTables.from_qualified_name(
            self.config.airbyte_table, raw_schema=self.config.raw_schema
        )
        # Two connections: our bookkeeping transaction holds the observation row lock while Airbyte's
        # tables are read in separate short transactions, so no Airbyte lock is ever held with it.
        self._state = ConnectionSource(database, purpose="recording Airbyte syncs")
        self._airbyte = ConnectionSource(database, purpose="reading Airbyte's tables")
        self._prober = DatabaseProber(self._airbyte, self.tables, self.config.read_policy)
        self._log = SyncLog(schema, str(self.tables.final))
        self._api = api
        self._sleep = sleep
        self._monotonic = monotonic
        self._api_view: ApiView | None = None
        self._api_checked_at: float | None = None

    def __repr__(self) -> str:
        return f"AirbyteSyncDetector(table={str(self.tables.final)!r})"

    async def aclose(self) -> None:
        await self._state.aclose()
        await self._airbyte.aclose()

    async def poll(self) -> SyncWindow:
        """Look once (a few catalog queries, an index read) and record what changed.

        The look happens under the observation row lock, so the looks of all replicas are taken and
        compared in one order, each against the one before it."""
        api_view = None
        if self._api is not None:
            async with self._state.connection() as conn:
                api_view = await self._ask_api(await self._log.open_sync(conn))
        async with self._state.connection() as conn, conn.transaction():
            previous = await self._log.lock_observation(conn)
            open_sync = await self._log.open_sync(conn)
            hint = None
            if previous.observed_at is not None:
                hint = ProbeHint(
                    table_oid=previous.table_oid,
                    max_extracted_at=previous.max_extracted_at,
                    open_sync_table_oid_before=open_sync.table_oid_before if open_sync else None,
                )
            probe = await self._prober.probe(hint)
            last_ended = await self._log.last_ended_sync(conn)
            api_view = await self._without_recorded_jobs(conn, api_view, open_sync)
            decision = decide(
                previous,
                probe,
                open_sync=open_sync.as_open() if open_sync else None,
                last_ended=last_ended.as_ended() if last_ended else None,
                api=api_view,
                staging_stale_after=self.config.staging_stale_after,
            )
            sync = await self._apply(conn, decision)
            await self._log.save_observation(conn, decision.observation)
        running = sync if sync is not None and sync.running else None
        return _window(running, probe.observed_at)

    async def wait_until_quiet(self, timeout: float) -> bool:  # noqa: ASYNC109 - answers False, no raise
        """Poll until no sync runs: True then, False if one still runs after `timeout` seconds."""
        deadline = self._monotonic() + timeout
        while True:
            if not (await self.poll()).running:
                return True
            remaining = deadline - self._monotonic()
            if remaining <= 0:
                return False
            await self._sleep(min(self.config.poll_interval_seconds, remaining))

    async def recent_syncs(self, limit: int = 20) -> list[AirbyteSync]:
        """The latest syncs, newest first."""
        async with self._state.connection() as conn:
            return await self._log.recent_syncs(conn, limit)

    async def record_notification(self, notification: AirbyteNotification) -> AirbyteSync | None:
        """Record the end Airbyte notified (§4.3) on the sync it ends; None when the notification is
        about another connection."""
        wanted = self.config.connection_id
        if wanted and notification.connection_id and notification.connection_id != wanted:
            log.info("Airbyte notification for connection %s ignored", notification.connection_id)
            return None
        change = _notification_change(notification)
        async with self._state.connection() as conn, conn.transaction():
            await self._log.lock_observation(conn)  # decide one at a time with the pollers
            target = await self._log.sync_by_job(conn, notification.job_id)
            if target is None:
                open_sync = await self._log.open_sync(conn)
                if open_sync is not None and open_sync.job_id in (None, notification.job_id):
                    target = open_sync
            if target is None:
                last = await self._log.last_ended_sync(conn)
                # The database may have seen this sync end already (its effect, before the notification).
                if (
                    last is not None
                    and last.job_id is None
                    and last.ended_at is not None
                    and notification.started_at is not None
                    and last.ended_at >= notification.started_at
                ):
                    target = last
            if target is None or target.running:  # the notification's end is the one recorded
                change = replace(change, details={**change.details, "ended_at_basis": "notification"})
            if target is not None:
                sync = await self._log.update_sync(conn, target.id, change)
            else:
                sync = await self._log.insert_sync(conn, _as_new_sync(change))
        log.info("Airbyte job %s %s (sync %d)", notification.job_id, notification.outcome, sync.id)
        return sync

    # ------------------------------------------------------------------------------------ inner

    async def _apply(self, conn: AsyncConnection[Any], decision: Decision) -> AirbyteSync | None:
        change, row_id = decision.change, decision.sync_row_id
        if decision.action == "none" or change is None:
            return await self._log.open_sync(conn)
        if decision.action in ("open", "record"):
            sync = await self._log.insert_sync(conn, change)
        else:
            assert row_id is not None
            sync = await self._log.update_sync(conn, row_id, change)
        if decision.action != "touch":
            log.info(
                "Airbyte sync %d of %s: %s (%s)",
                sync.id,
                sync.airbyte_table,
                decision.action,
                ", ".join(sync.detected_by),
            )
        return sync

    async def _ask_api(self, open_sync: AirbyteSync | None) -> ApiView | None:
        """The API's view, asked at most every `api_poll_interval` (the last answer in between)."""
        if self._api is None:
            return None
        now = self._monotonic()
        interval = self.config.api_poll_interval.total_seconds()
        if self._api_checked_at is not None and now - self._api_checked_at < interval:
            return self._api_view
        self._api_checked_at = now
        try:
            running = await self._api.running_job()
            ended = None
            open_job = open_sync.job_id if open_sync is not None else None
            if open_job and (running is None or running.job_id != open_job):
                job = await self._api.get_job(open_job)
                ended = job if job is not None and job.ended else None
            self._api_view = ApiView(running_job=running, ended_job=ended)
        except (AirbyteApiError, AirbyteApiRejected) as exc:
            log.warning("Airbyte's API cannot tell whether a sync runs: %s", exc)
            self._api_view = None
        return self._api_view

    async def _without_recorded_jobs(
        self, conn: AsyncConnection[Any], view: ApiView | None, open_sync: AirbyteSync | None
    ) -> ApiView | None:
        """An API answer older than a notification may still call an ended job running: drop it. Keep
        only the ended job of the sync that is open now."""
        if view is None:
            return None
        running, ended = view.running_job, view.ended_job
        if running is not None:
            recorded = await self._log.sync_by_job(conn, running.job_id)
            if recorded is not None and (not recorded.running or (open_sync and recorded.id != open_sync.id)):
                running = None
        if ended is not None and (open_sync is None or open_sync.job_id != ended.job_id):
            ended = None
        return replace(view, running_job=running, ended_job=ended)


def _window(sync: AirbyteSync | None, observed_at: datetime | None) -> SyncWindow:
    if sync is None or not sync.running:
        return SyncWindow(running=False, since=None, detected_by=(), sync=None, observed_at=observed_at)
    return SyncWindow(
        running=True, since=sync.started_at, detected_by=sync.detected_by, sync=sync, observed_at=observed_at
    )


def _notification_change(notification: AirbyteNotification) -> SyncChange:
    return SyncChange(
        detected_by=("notification",),
        started_at=notification.started_at,
        ended_at=notification.finished_at or datetime.now(UTC),
        outcome=notification.outcome,
        job_id=notification.job_id,
        # `records` stays the task table's own count: the notification counts every stream of the
        # connection (its figures are kept in details).
        details={"notification": notification.summary()},
    )


def _as_new_sync(change: SyncChange) -> SyncChange:
    """A sync only the notification told us about: it started when Airbyte says, else when it ended."""
    assert change.ended_at is not None
    started = min(change.started_at or change.ended_at, change.ended_at)
    basis = "notification" if change.started_at else "ended_at"
    return replace(change, started_at=started, details={**change.details, "started_at_basis": basis})
