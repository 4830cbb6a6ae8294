"""`GET /metrics` of `serve`: deliveries by outcome, acknowledgement latency, ClickUp API calls by
route template, and the cluster-wide gauges read from PostgreSQL — over HTTP, against a real
database and the ClickUp emulator."""

from __future__ import annotations

import re
import time

import httpx
import orjson
import pytest

from clickup_sync.clickup.emulator import EmulatorServer
from clickup_sync.errors import ClickUpSyncError
from tests.integration.observability.conftest import (
    SCHEMA,
    execute,
    rows,
    running_service,
    scrape,
    settings_for,
    signed,
)

pytestmark = pytest.mark.anyio


def delivery(task_id: str, item_id: str, event: str = "taskStatusUpdated") -> bytes:
    item = {
        "id": item_id, "type": 1, "date": str(int(time.time() * 1000)), "field": "status", "parent_id": "1",
        "data": {}, "source": None, "user": {"id": 183}, "before": {"status": "to do", "type": "open"},
        "after": {"status": "in progress", "type": "custom"},
    }  # fmt: skip
    return orjson.dumps({"event": event, "history_items": [item], "task_id": task_id, "webhook_id": "w1"})


async def test_deliveries_are_counted_by_outcome_and_their_acknowledgement_timed(
    emulator: EmulatorServer, database_url: str
) -> None:
    body = delivery("t1", "1001")
    settings = settings_for(emulator, database_url)
    async with running_service(settings) as service, httpx.AsyncClient(timeout=10) as http:
        url = f"{service.url}/webhooks/clickup"
        codes = [
            (await http.post(url, content=body, headers=signed(body))).status_code,  # accepted
            (await http.post(url, content=body, headers=signed(body))).status_code,  # duplicate
            (await http.post(url, content=delivery("t1", "1001", "taskUpdated"), headers=signed(
                delivery("t1", "1001", "taskUpdated")))).status_code,  # same item, other event: duplicate
            (await http.post(url, content=body, headers=signed(body, "wrong"))).status_code,
            (await http.post(url, content=b"x" * (1024 * 1024 + 1), headers=signed(b"x"))).status_code,
            (await http.post(url, content=b'{"no": ', headers=signed(b'{"no": '))).status_code,
        ]  # fmt: skip
        page = await scrape(service.url)
        async with running_service(settings) as other_replica:
            other = await scrape(other_replica.url)
    assert codes == [200, 200, 200, 403, 413, 400]
    expected = {"accepted": 1, "duplicate": 2, "rejected_signature": 1, "too_large": 1, "malformed": 1}
    for outcome in (
        "accepted",
        "duplicate",
        "rejected_signature",
        "too_large",
        "malformed",
        "db_unavailable",
    ):
        assert page.value("clickup_sync_webhook_deliveries_total", outcome=outcome) == expected.get(
            outcome, 0
        )
        assert page.value("clickup_sync_webhook_ack_seconds_count", outcome=outcome) == expected.get(
            outcome, 0
        )
    assert page.value("clickup_sync_webhook_ack_seconds_bucket", outcome="duplicate", le="+Inf") == 2
    assert page.value("clickup_sync_webhook_ack_seconds_bucket", outcome="duplicate", le="7.0") == 2
    ack_sum = page.value("clickup_sync_webhook_ack_seconds_sum", outcome="accepted")
    assert ack_sum is not None and 0 < ack_sum < 7

    # Cluster-wide figures come from the database: the same on a replica that answered nothing.
    stored = dict(rows(database_url, f"SELECT status, count(*) FROM {SCHEMA}.webhook_deliveries GROUP BY 1"))
    assert stored == {"received": 1, "duplicate": 2, "malformed": 1}
    for scraped in (page, other):
        assert scraped.value("clickup_sync_database_up") == 1
        last_hour = scraped.series("clickup_sync_webhook_deliveries_last_hour")
        assert {dict(labels)["outcome"]: n for labels, n in last_hour.items() if n} == {
            "received": 1, "duplicate": 2, "malformed": 1, "bad_signature": 1, "too_large": 1,
        }  # fmt: skip
    assert other.value("clickup_sync_webhook_deliveries_total", outcome="accepted") == 0  # its own registry
    assert other.value("clickup_sync_webhook_ack_seconds_count", outcome="accepted") == 0


async def test_clickup_calls_are_labelled_by_route_template_and_status(
    emulator: EmulatorServer, database_url: str
) -> None:
    task_id = emulator.workspace.live_task_ids()[0]
    async with running_service(settings_for(emulator, database_url)) as service:
        client = await service.runtime.clickup()
        await client.get_task(task_id)
        await client.get_task(task_id)
        with pytest.raises(ClickUpSyncError):
            await client.get_task("nosuchtask")
        await client.get_teams()
        page = await scrape(service.url)
    calls = {
        tuple(sorted(labels)): value
        for labels, value in page.series("clickup_sync_clickup_api_calls_total").items()
    }
    task_route = (("endpoint", "/task/{task_id}"), ("method", "GET"))
    assert calls[(*task_route, ("status", "200"))] == 2
    assert calls[(*task_route, ("status", "404"))] == 1
    assert calls[(("endpoint", "/team"), ("method", "GET"), ("status", "200"))] == 1
    assert sum(calls.values()) == 4
    assert task_id not in page.text and "nosuchtask" not in page.text  # ids never become labels
    for labels in calls:
        assert re.fullmatch(r"(/([a-z_]+|\{[a-z_]+\}))+", dict(labels)["endpoint"])


async def test_cluster_gauges_match_the_database(emulator: EmulatorServer, database_url: str) -> None:
    s = SCHEMA
    execute(
        database_url,
        f"""
        INSERT INTO {s}.webhook_deliveries (body, status) SELECT '\\x7b7d', 'dead' FROM generate_series(1, 3);
        WITH parked AS (
            INSERT INTO {s}.webhook_deliveries (body, status, task_id)
            SELECT '\\x7b7d', 'parked', 'p' || n FROM generate_series(1, 3) AS n RETURNING id, task_id
        )
        INSERT INTO {s}.parked_changes (delivery_id, task_id, released_at)
        SELECT id, task_id, CASE WHEN task_id = 'p3' THEN now() END FROM parked;
        INSERT INTO {s}.procrastinate_jobs (queue_name, task_name, status)
        VALUES ('webhooks', 'refresh_task', 'failed');
        INSERT INTO {s}.webhooks (webhook_id, team_id, endpoint, secret, health_status, fail_count)
        VALUES ('wh-ok', '1', 'http://x', 's1', 'active', 0),
               ('wh-down', '1', 'http://x', 's2', 'suspended', 100),
               ('wh-gone', '1', 'http://x', 's3', 'failing', 7);
        UPDATE {s}.webhooks SET deleted_at = now() WHERE webhook_id = 'wh-gone';
        INSERT INTO {s}.clickup_rate_budget (token_fingerprint, window_limit, remaining, resets_at)
        VALUES ('fp', 100, 37, now() + interval '40 seconds');
        INSERT INTO {s}.airbyte_syncs (airbyte_table, started_at, ended_at)
        VALUES ('public.clickup_task', now() - interval '2 hours', now() - interval '1 hour'),
               ('public.clickup_task', now() - interval '5 minutes', NULL);
        """,
    )
    async with running_service(settings_for(emulator, database_url)) as service, httpx.AsyncClient() as http:
        for number in range(2):  # two accepted deliveries: two jobs wait (no worker runs here)
            body = delivery(f"t{number}", f"{2000 + number}")
            assert (
                await http.post(f"{service.url}/webhooks/clickup", content=body, headers=signed(body))
            ).is_success
        # One of them has waited ten minutes: the "queue stuck" alert's case.
        execute(
            database_url,
            f"UPDATE {s}.procrastinate_events SET at = now() - interval '10 minutes' WHERE job_id ="
            f" (SELECT min(id) FROM {s}.procrastinate_jobs WHERE status = 'todo') AND type = 'deferred'",
        )
        page = await scrape(service.url)

    def scalar(query: str) -> float:
        return float(rows(database_url, query)[0][0])

    assert page.value("clickup_sync_database_up") == 1
    assert page.value("clickup_sync_queue_depth") == scalar(
        f"SELECT count(*) FROM {s}.procrastinate_jobs WHERE status = 'todo'"
    ) == 2  # fmt: skip
    oldest = page.value("clickup_sync_queue_oldest_age_seconds")
    assert oldest is not None and 600 <= oldest < 700
    assert page.value("clickup_sync_parked_changes") == scalar(
        f"SELECT count(*) FROM {s}.parked_changes WHERE released_at IS NULL"
    ) == 2  # fmt: skip
    assert page.value("clickup_sync_dead_letters") == scalar(
        f"SELECT (SELECT count(*) FROM {s}.webhook_deliveries WHERE status = 'dead')"
        f" + (SELECT count(*) FROM {s}.procrastinate_jobs WHERE status = 'failed')"
    ) == 4  # fmt: skip
    health = {
        (dict(labels)["webhook_id"], dict(labels)["state"]): value
        for labels, value in page.series("clickup_sync_webhook_health").items()
    }
    assert {key for key, value in health.items() if value == 1} == {
        ("wh-ok", "active"),
        ("wh-down", "suspended"),
    }
    assert len(health) == 8  # two live webhooks × four states; the deleted one is not listed
    assert page.value("clickup_sync_webhook_fail_count", webhook_id="wh-down") == 100
    assert page.value("clickup_sync_clickup_rate_limit_remaining") == 37
    assert page.value("clickup_sync_clickup_rate_limit_limit") == 100
    assert page.value("clickup_sync_airbyte_syncs_detected_total") == 2
    started = page.value("clickup_sync_airbyte_last_sync_start_timestamp_seconds")
    assert started is not None and abs(started - (time.time() - 300)) < 60


async def test_an_unreachable_database_still_answers_the_scrape_quickly(emulator: EmulatorServer) -> None:
    nothing_listens = "postgresql://postgres@127.0.0.1:9/postgres"  # the discard port: refused at once
    async with (
        running_service(settings_for(emulator, nothing_listens)) as service,
        httpx.AsyncClient(timeout=15) as http,
    ):
        body = delivery("t1", "3001")
        assert (
            await http.post(f"{service.url}/webhooks/clickup", content=body, headers=signed(body))
        ).status_code == 503
        started = time.perf_counter()
        page = await scrape(service.url)
        elapsed = time.perf_counter() - started
    assert elapsed < 3.5
    assert page.value("clickup_sync_database_up") == 0
    assert page.value("clickup_sync_queue_depth") is None  # unknown, not a made-up zero
    assert page.value("clickup_sync_webhook_deliveries_total", outcome="db_unavailable") == 1
    assert page.value("clickup_sync_webhook_ack_seconds_count", outcome="db_unavailable") == 1


async def test_a_blocked_database_read_is_abandoned_at_its_deadline(
    emulator: EmulatorServer, database_url: str
) -> None:
    import psycopg

    async with running_service(settings_for(emulator, database_url)) as service:
        with psycopg.connect(database_url) as blocker:
            blocker.execute(f"LOCK TABLE {SCHEMA}.clickup_rate_budget IN ACCESS EXCLUSIVE MODE")
            started = time.perf_counter()
            blocked = await scrape(service.url)
            elapsed = time.perf_counter() - started
        # The lock is gone: the next scrape reads again (the abandoned read left no broken connection).
        after = await scrape(service.url)
    assert blocked.value("clickup_sync_database_up") == 0
    assert 1.9 < elapsed < 3.5
    assert after.value("clickup_sync_database_up") == 1
