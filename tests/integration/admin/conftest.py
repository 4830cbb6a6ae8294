"""The real service app (webhooks, queue, /admin) on a fresh migrated database, driven over ASGI by
httpx, and a small mirror whose names carry emoji, CJK, HTML and SQL-ish text."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.types.json import Jsonb

from clickup_sync.db.connection import Database
from clickup_sync.queue.schema import search_path_options
from clickup_sync.runtime import ServiceRuntime, service_runtime
from clickup_sync.settings import Settings, load_settings
from clickup_sync.web.app import build_web_app

SCHEMA = "clickup_sync"
PASSWORD = "correct horse battery staple"
TOKEN = "admin-token-0123456789abcdef"
WEBHOOK_SECRET = "admin-test-webhook-secret"
BASE_URL = "https://testserver"  # the admin cookies are Secure: httpx sends them over https only

EMOJI_NAME = "🚀 Launch 発射 '; DROP TABLE tasks; --"
HTML_NAME = "<script>alert('x')</script> & parent"
FIELD_NAME = "🔥 Priority ☕"
OLD_NAME = 'old, "quoted"\nname'  # commas, quotes and a newline: CSV must quote it


@dataclass
class AdminService:
    runtime: ServiceRuntime
    http: httpx.AsyncClient
    database_url: str

    async def csrf_token(self, page: str = "/admin/login") -> str:
        """The hidden CSRF field of a page (the GET also gives this client its seed cookie)."""
        html = (await self.http.get(page)).text
        match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
        assert match, f"no CSRF field on {page}"
        return match[1]


def admin_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "admin_password": PASSWORD,
        "admin_token": TOKEN,
        "clickup_webhook_secret": WEBHOOK_SECRET,
        "airbyte_mode": "off",
    }
    return load_settings(**(values | overrides))


@asynccontextmanager
async def admin_service(
    settings: Settings, database_url: str, *, auth: httpx.Auth | None = None
) -> AsyncIterator[AdminService]:
    async with service_runtime(settings, Database(database_url, SCHEMA)) as runtime:
        transport = httpx.ASGITransport(app=build_web_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, auth=auth) as http:
            yield AdminService(runtime, http, database_url)


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[AdminService]:
    """Signed in with basic auth."""
    async with admin_service(
        admin_settings(database_url), database_url, auth=httpx.BasicAuth("admin", PASSWORD)
    ) as running:
        yield running


@pytest.fixture
def seeded(database_url: str) -> str:
    seed_mirror(database_url)
    return database_url


def execute(database_url: str, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    # procrastinate's triggers use unqualified names: connect the way the service does.
    with psycopg.connect(database_url, autocommit=True, options=search_path_options(SCHEMA)) as conn:
        cursor = conn.execute(query.replace("{s}", SCHEMA), params)
        return cursor.fetchall() if cursor.description else []


def seed_mirror(database_url: str) -> None:
    """Two tasks, a custom field, relationships, history, and pipeline rows for the dashboard."""
    run = partial(execute, database_url)
    run(
        "INSERT INTO {s}.tasks (task_id, custom_id, name, status, status_type, list_id, space_id, tags,"
        " assignee_ids, date_created, date_updated, raw) VALUES"
        " ('t1', 'DEF-43', %s, 'in progress', 'custom', 'l-folderless', 's1', '{urgent,日本}', '{183}',"
        "  now() - interval '10 days', now() - interval '1 day', '{}'),"
        " ('t-parent', NULL, %s, 'to do', 'open', 'l-foldered', 's1', '{}', '{}',"
        "  now() - interval '20 days', now() - interval '2 days', '{}')",
        (EMOJI_NAME, HTML_NAME),
    )
    run(
        "INSERT INTO {s}.lists (list_id, name, space_id, folder_id) VALUES"
        " ('l-folderless', 'Inbox 📥', 's1', NULL), ('l-foldered', 'Roadmap', 's1', 'f1')"
    )
    run(
        "INSERT INTO {s}.custom_fields (field_id, name, type) VALUES ('f-prio', %s, 'drop_down')",
        (FIELD_NAME,),
    )
    run(
        "INSERT INTO {s}.task_custom_field_values (task_id, field_id, field_type, raw_value, value,"
        " value_ids, value_labels, source)"
        " VALUES ('t1', 'f-prio', 'drop_down', '0', %s, '{o-high}', '{高い}', 'backfill')",
        (Jsonb({"id": "o-high", "name": "高い"}),),
    )
    run(
        "INSERT INTO {s}.task_relationships (task_id, related_task_id, relationship_type, source) VALUES"
        " ('t1', 't-parent', 'subtask_of', 'backfill'), ('t1', 't-other', 'waiting_on', 'poll')"
    )
    run(
        "INSERT INTO {s}.field_changes (task_id, field_id, field_name, field_type, old_value, new_value,"
        " changed_at, changed_by, source, event_id) VALUES"
        " ('t1', NULL, 'status', NULL, '\"to do\"', '\"in progress\"', '2026-11-01T10:00:00Z', '183',"
        "  'webhook', 'hist-1'),"
        " ('t1', 'f-prio', %s, 'drop_down', NULL, %s, '2026-11-02T11:30:00Z', NULL, 'poll', NULL),"
        " ('t-parent', NULL, 'name', NULL, %s, %s, '2026-11-03T12:00:00Z', '184', 'backfill', NULL)",
        (FIELD_NAME, Jsonb({"id": "o-high", "name": "高い"}), Jsonb(OLD_NAME), Jsonb(HTML_NAME)),
    )
    seed_pipeline(database_url)


def seed_pipeline(database_url: str) -> None:
    run = partial(execute, database_url)
    run(
        "INSERT INTO {s}.webhooks (webhook_id, team_id, endpoint, secret, health_status, fail_count,"
        " last_checked_at) VALUES"
        " ('wh-active', 'team', 'https://x/webhooks/clickup', 's1', 'active', 0, now()),"
        " ('wh-failing', 'team', 'https://x/webhooks/clickup', 's2', 'failing', 7, now())"
    )
    run(
        "INSERT INTO {s}.webhook_deliveries (received_at, webhook_id, event, task_id, body, status) VALUES"
        " (now() - interval '5 minutes', 'wh-active', 'taskUpdated', 't1', '{}', 'processed'),"
        " (now() - interval '4 minutes', 'wh-active', 'taskUpdated', 't1', '{}', 'processed'),"
        " (now() - interval '3 minutes', 'wh-active', 'taskUpdated', 't1', '{}', 'duplicate'),"
        " (now() - interval '2 hours', 'wh-active', 'taskUpdated', 't1', '{}', 'processed')"
    )
    run(
        "INSERT INTO {s}.delivery_counters (minute, outcome, count) VALUES"
        " (date_trunc('minute', now()), 'bad_signature', 2),"
        " (date_trunc('minute', now() - interval '2 hours'), 'bad_signature', 50)"
    )
    run(
        "INSERT INTO {s}.sync_runs (kind, started_at, finished_at, status, stats) VALUES"
        " ('backfill', '2026-11-29T01:00:00Z', '2026-11-29T01:05:00Z', 'succeeded', '{\"changes\": 0}'),"
        " ('reconcile', '2026-11-29T02:00:00Z', '2026-11-29T02:00:30Z', 'succeeded', '{\"changes\": 12}'),"
        " ('reconcile', '2026-11-29T03:00:00Z', NULL, 'running', '{}')"
    )
    run(
        "INSERT INTO {s}.clickup_rate_budget (token_fingerprint, window_limit, remaining, resets_at)"
        " VALUES ('fp', 100, 87, now() + interval '30 seconds')"
    )
    run(
        "INSERT INTO {s}.airbyte_syncs (airbyte_table, started_at, ended_at) VALUES"
        " ('public.clickup_task', '2026-11-28T00:00:00Z', '2026-11-28T00:10:00Z'),"
        " ('public.clickup_task', '2026-11-29T00:00:00Z', '2026-11-29T00:10:00Z')"
    )
