"""Backfill and reconcile runs are recorded in `sync_runs`, so the dashboard can say when each last
ran and how many changes it found; a failed run is recorded as failed, with its error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from clickup_sync.clickup.emulator import EmulatorConfig, EmulatorServer
from clickup_sync.db.connection import Database
from clickup_sync.errors import ClickUpSyncError
from clickup_sync.ops.status import read_status
from clickup_sync.runtime import run_scheduled_reconcile, service_runtime
from clickup_sync.sync.jobs import run_backfill, run_reconcile
from tests.integration.admin.conftest import SCHEMA, admin_settings, execute

pytestmark = pytest.mark.anyio


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(seed=5, tasks=30, rate_limit_per_minute=None)) as server:
        yield server


async def test_runs_are_recorded_with_their_changes(emulator: EmulatorServer, database_url: str) -> None:
    settings = admin_settings(
        database_url,
        clickup_api_url=emulator.base_url,
        clickup_api_token=emulator.token,
        clickup_workspace_id=emulator.team_id,
    )
    database = Database(database_url, SCHEMA)
    backfill = await run_backfill(settings, database)
    [task_id, *_] = sorted(emulator.workspace.ground_truth()["tasks"])
    emulator.workspace.update_task(task_id, {"name": "renamed 🚀"})
    reconcile = await run_reconcile(settings, database, sweep=False)
    assert reconcile.changes >= 1

    async with service_runtime(settings, database) as runtime:
        scheduled = await run_scheduled_reconcile(runtime, sweep=False)
        status = await read_status(runtime.pool, SCHEMA)
    assert status.last_backfill is not None and status.last_backfill.status == "succeeded"
    assert status.last_backfill.changes == backfill.changes
    assert status.last_reconcile is not None and status.last_reconcile.changes == scheduled.changes
    runs = execute(
        database_url, "SELECT kind, status, (stats->>'changes')::int FROM {s}.sync_runs ORDER BY id"
    )
    assert runs == [
        ("backfill", "succeeded", backfill.changes),
        ("reconcile", "succeeded", reconcile.changes),
        ("reconcile", "succeeded", scheduled.changes),
    ]


async def test_a_failed_run_is_recorded_as_failed(emulator: EmulatorServer, database_url: str) -> None:
    settings = admin_settings(
        database_url,
        clickup_api_url=emulator.base_url,
        clickup_api_token=emulator.token,
        clickup_workspace_id="no-such-workspace",
    )
    with pytest.raises(ClickUpSyncError):  # ClickUp refuses a workspace the token cannot see
        await run_reconcile(settings, Database(database_url, SCHEMA), sweep=False)
    [(kind, status, error, finished)] = execute(
        database_url, "SELECT kind, status, error, finished_at IS NOT NULL FROM {s}.sync_runs"
    )
    assert (kind, status, finished) == ("reconcile", "failed", True) and error
