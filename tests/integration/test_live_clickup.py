"""Smoke test against the real ClickUp API: runs only with CLICKUP_API_TOKEN and CLICKUP_TEST_SPACE_ID
set (never in CI here), and touches only that space, read-only."""

from __future__ import annotations

import os

import psycopg
import pytest

from clickup_sync.db.connection import Database
from clickup_sync.settings import load_settings
from clickup_sync.sync.jobs import run_backfill

pytestmark = [
    pytest.mark.live,
    pytest.mark.anyio,
    pytest.mark.skipif(
        not (os.environ.get("CLICKUP_API_TOKEN") and os.environ.get("CLICKUP_TEST_SPACE_ID")),
        reason="set CLICKUP_API_TOKEN and CLICKUP_TEST_SPACE_ID to run against the real ClickUp API",
    ),
]


async def test_backfill_of_the_test_space_mirrors_its_tasks(database_url: str) -> None:
    settings = load_settings(database_url=database_url)
    space = os.environ["CLICKUP_TEST_SPACE_ID"]
    summary = await run_backfill(settings, Database(database_url, "clickup_sync"), space_ids=[space])
    with psycopg.connect(database_url) as conn:
        (stored,) = conn.execute(
            "SELECT count(*) FROM clickup_sync.tasks WHERE space_id = %s", (space,)
        ).fetchone() or (0,)
    assert stored == summary.tasks
    assert summary.api_calls > 0
