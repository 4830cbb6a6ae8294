"""Every metric the Grafana dashboard queries is one `/metrics` exposes (a renamed metric would leave
a panel silently empty)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from clickup_sync.clickup.emulator import EmulatorServer
from clickup_sync.observability import record_reconcile
from clickup_sync.sync.reconcile import ReconcileSummary
from tests.integration.observability.conftest import (
    SCHEMA,
    execute,
    running_service,
    scrape,
    settings_for,
    signed,
)
from tests.unit.observability.test_grafana_dashboard import dashboard_metric_names

pytestmark = pytest.mark.anyio
DOCS = (Path(__file__).resolve().parents[3] / "docs" / "observability.md").read_text(encoding="utf-8")


async def test_every_metric_the_dashboard_queries_is_exposed_and_documented(
    emulator: EmulatorServer, database_url: str
) -> None:
    execute(
        database_url,
        f"""
        INSERT INTO {SCHEMA}.webhooks (webhook_id, team_id, endpoint, secret)
        VALUES ('wh', '1', 'http://x', 's');
        INSERT INTO {SCHEMA}.airbyte_syncs (airbyte_table, started_at) VALUES ('public.clickup_task', now());
        """,
    )
    async with running_service(settings_for(emulator, database_url)) as service, httpx.AsyncClient() as http:
        body = b'{"event":"taskUpdated","history_items":[],"task_id":"t1","webhook_id":"w1"}'
        await http.post(f"{service.url}/webhooks/clickup", content=body, headers=signed(body))
        await (await service.runtime.clickup()).get_teams()  # one API call: the budget row and a call series
        record_reconcile(service.runtime, ReconcileSummary(changes=2))
        page = await scrape(service.url)
    exposed = page.sample_names
    queried = dashboard_metric_names()
    assert len(queried) >= 15
    assert queried <= exposed, sorted(queried - exposed)
    undocumented = [
        name for name in page.families if name.startswith("clickup_sync_") and f"`{name}" not in DOCS
    ]
    assert undocumented == []
