"""The sync jobs as the CLI and the scheduler run them: wire settings, database and ClickUp client
around the engines in `backfill.py`, `reconcile.py` and `views.py`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from psycopg import AsyncConnection

from clickup_sync.clickup.client import ClickUpClient
from clickup_sync.clickup.ratelimit import RateBudget
from clickup_sync.db.connection import Database
from clickup_sync.errors import ConfigError
from clickup_sync.ops.sync_runs import recorded_run
from clickup_sync.settings import Settings
from clickup_sync.sync.backfill import Backfill, BackfillProgress, BackfillSummary
from clickup_sync.sync.reconcile import Reconciler, ReconcileSummary
from clickup_sync.sync.store import MirrorStore
from clickup_sync.sync.views import RefreshResult, refresh_list_views


@asynccontextmanager
async def clickup_client(settings: Settings, database: Database) -> AsyncIterator[ClickUpClient]:
    """A client whose rate budget is shared through PostgreSQL with every other process."""
    if settings.clickup_api_token is None:
        raise ConfigError("CLICKUP_API_TOKEN: is required to call the ClickUp API")
    budget = RateBudget.shared(database.dsn, schema=database.schema, token=settings.clickup_api_token)
    try:
        async with ClickUpClient.from_settings(settings, budget) as client:
            yield client
    finally:
        await budget.aclose()


async def resolve_team_id(client: ClickUpClient, settings: Settings) -> str:
    """`CLICKUP_WORKSPACE_ID`, or the token's only workspace."""
    if settings.clickup_workspace_id:
        return settings.clickup_workspace_id
    teams = await client.get_teams()
    if len(teams) != 1:
        names = ", ".join(f"{t.get('id')} ({t.get('name')})" for t in teams) or "none"
        raise ConfigError(f"CLICKUP_WORKSPACE_ID: must be set; the token can see these workspaces: {names}")
    return str(teams[0]["id"])


@asynccontextmanager
async def _connection(database: Database) -> AsyncIterator[AsyncConnection[Any]]:
    conn = await AsyncConnection.connect(database.dsn)
    try:
        yield conn
    finally:
        await conn.close()


async def run_backfill(
    settings: Settings,
    database: Database,
    *,
    space_ids: list[str] | None = None,
    on_progress: Callable[[BackfillProgress], None] | None = None,
) -> BackfillSummary:
    async with (
        clickup_client(settings, database) as client,
        _connection(database) as conn,
        recorded_run(database.dsn, database.schema, "backfill") as run,  # for the admin dashboard
    ):
        team_id = await resolve_team_id(client, settings)
        backfill = Backfill(
            client,
            conn,
            MirrorStore(database.schema),
            team_id=team_id,
            space_ids=space_ids,
            on_progress=on_progress,
        )
        summary = await backfill.run()
        run.record(summary)
        return summary


async def run_reconcile(settings: Settings, database: Database, *, sweep: bool = True) -> ReconcileSummary:
    async with (
        clickup_client(settings, database) as client,
        _connection(database) as conn,
        recorded_run(database.dsn, database.schema, "reconcile") as run,  # for the admin dashboard
    ):
        team_id = await resolve_team_id(client, settings)
        summary = await Reconciler(client, conn, MirrorStore(database.schema), team_id=team_id).run(
            sweep=sweep
        )
        run.record(summary)
        async with conn.transaction():
            await refresh_list_views(conn, database.schema)
        return summary


async def run_views_refresh(database: Database) -> RefreshResult:
    async with _connection(database) as conn, conn.transaction():
        return await refresh_list_views(conn, database.schema)
