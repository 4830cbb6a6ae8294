"""What a running `serve` or `worker` process shares: settings, one connection pool, the mirror
store, the job queue, and a ClickUp client whose rate budget is shared through PostgreSQL.

One pool serves the webhook endpoint, the jobs and procrastinate itself; every connection has
`search_path` set to SYNC_SCHEMA so procrastinate's unqualified names resolve there (our own SQL is
always schema-qualified).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from procrastinate import App
from psycopg_pool import AsyncConnectionPool

from clickup_sync.clickup.client import ClickUpClient
from clickup_sync.clickup.ratelimit import RateBudget
from clickup_sync.db.connection import Database
from clickup_sync.errors import ConfigError
from clickup_sync.ops.sync_runs import recorded_run
from clickup_sync.queue.app import build_queue_app
from clickup_sync.queue.schema import search_path_options
from clickup_sync.settings import Settings
from clickup_sync.sync.jobs import resolve_team_id
from clickup_sync.sync.reconcile import Reconciler, ReconcileSummary
from clickup_sync.sync.store import MirrorStore
from clickup_sync.sync.views import refresh_list_views

log = logging.getLogger(__name__)


@dataclass
class ServiceRuntime:
    settings: Settings
    database: Database
    pool: AsyncConnectionPool[Any]
    queue: App
    store: MirrorStore
    _client: ClickUpClient | None = field(default=None, repr=False)
    _budget: RateBudget | None = field(default=None, repr=False)
    team_id: str | None = None
    # Long-lived helpers built on first use by the jobs that need them (e.g. the Airbyte sync detector).
    helpers: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def schema(self) -> str:
        return self.database.schema

    async def clickup(self) -> ClickUpClient:
        """The ClickUp client, created on first use (ingesting webhooks never needs it)."""
        if self._client is None:
            if self.settings.clickup_api_token is None:
                raise ConfigError("CLICKUP_API_TOKEN: is required to call the ClickUp API")
            self._budget = RateBudget.shared(
                self.pool, schema=self.schema, token=self.settings.clickup_api_token
            )
            self._client = ClickUpClient.from_settings(self.settings, self._budget)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        if self._budget is not None:
            await self._budget.aclose()


def make_pool(database: Database, *, min_size: int = 2, max_size: int = 10) -> AsyncConnectionPool[Any]:
    return AsyncConnectionPool(
        database.dsn,
        min_size=min_size,
        max_size=max_size,
        kwargs={"options": search_path_options(database.schema)},
        open=False,
        # A replaced server (restart, failover) leaves dead connections in the pool: check them.
        check=AsyncConnectionPool.check_connection,
        timeout=10.0,
        reconnect_timeout=0,  # keep retrying forever in the background while the database is away
        name="clickup-sync",
    )


@asynccontextmanager
async def service_runtime(
    settings: Settings, database: Database, *, max_connections: int = 10
) -> AsyncIterator[ServiceRuntime]:
    pool = make_pool(database, max_size=max_connections)
    await pool.open(wait=False)
    queue = build_queue_app(settings)
    runtime = ServiceRuntime(settings, database, pool, queue, MirrorStore(database.schema))
    try:
        async with queue.open_async(pool=pool):
            yield runtime
    finally:
        await runtime.aclose()
        await pool.close()


async def team_id_for(runtime: ServiceRuntime) -> str:
    if runtime.team_id is None:
        runtime.team_id = await resolve_team_id(await runtime.clickup(), runtime.settings)
    return runtime.team_id


async def run_scheduled_reconcile(runtime: ServiceRuntime, *, sweep: bool) -> ReconcileSummary:
    client = await runtime.clickup()
    team_id = await team_id_for(runtime)
    async with (
        runtime.pool.connection() as conn,
        recorded_run(runtime.pool, runtime.schema, "reconcile") as run,  # for the admin dashboard
    ):
        summary = await Reconciler(client, conn, runtime.store, team_id=team_id).run(sweep=sweep)
        run.record(summary)
        async with conn.transaction():
            await refresh_list_views(conn, runtime.schema)
    return summary
