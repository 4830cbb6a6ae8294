"""Dead letters made by the real pipeline (a signed webhook, procrastinate's worker, a processing
failure on every attempt), shown with their error and payload, then replayed from the admin page:
the job really runs again and its history reaches the mirror."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest

from clickup_sync.clickup.signature import sign_clickup_body
from clickup_sync.ops.status import read_status
from tests.integration.admin.conftest import (
    PASSWORD,
    SCHEMA,
    WEBHOOK_SECRET,
    AdminService,
    admin_service,
    admin_settings,
    execute,
)

pytestmark = pytest.mark.anyio
SABOTAGE = """
CREATE FUNCTION {s}.refuse_history() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'history is read-only in this test'; END $$;
CREATE TRIGGER refuse_history BEFORE INSERT ON {s}.field_changes
    FOR EACH ROW EXECUTE FUNCTION {s}.refuse_history();
"""
REPAIR = "DROP TRIGGER refuse_history ON {s}.field_changes"


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[AdminService]:
    """The fewest attempts, so a failing delivery is dead at once."""
    settings = admin_settings(database_url, job_max_attempts=1)
    async with admin_service(settings, database_url, auth=httpx.BasicAuth("admin", PASSWORD)) as running:
        yield running


def status_change(item_id: str, task_id: str) -> bytes:
    item = {
        "id": item_id, "type": 1, "date": "1764460800000", "field": "status", "parent_id": "1", "data": {},
        "source": None, "user": {"id": 184}, "before": {"status": "to do", "type": "open"},
        "after": {"status": "review", "type": "custom"},
    }  # fmt: skip
    return orjson.dumps(
        {"event": "taskStatusUpdated", "history_items": [item], "task_id": task_id, "webhook_id": "w1"}
    )


async def deliver_and_work(service: AdminService, *bodies: bytes) -> None:
    for body in bodies:
        headers = {"X-Signature": sign_clickup_body(WEBHOOK_SECRET, body), "Content-Type": "application/json"}
        assert (
            await service.http.post("/webhooks/clickup", content=body, headers=headers)
        ).status_code == 200
    for _ in range(5):
        await service.runtime.queue.run_worker_async(
            queues=["webhooks"], wait=False, install_signal_handlers=False, delete_jobs="successful",
            additional_context={"runtime": service.runtime},
        )  # fmt: skip
        # A retry is scheduled seconds ahead (exponential backoff): bring it forward instead of waiting.
        waiting = execute(
            service.database_url,
            "UPDATE {s}.procrastinate_jobs SET scheduled_at = now()"
            " WHERE queue_name = 'webhooks' AND status = 'todo' RETURNING id",
        )
        if not waiting:
            return
    raise AssertionError("the jobs kept being retried")


async def replay(service: AdminService, **form: str) -> dict[str, int]:
    token = await service.csrf_token("/admin/dead-letters")
    answer = await service.http.post("/admin/dead-letters/replay", data={"csrf_token": token, **form})
    assert answer.status_code == 303
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    return {name: int(values[0]) for name, values in query.items()}


async def test_a_dead_delivery_is_listed_and_replaying_it_runs_it_again(service: AdminService) -> None:
    url = service.database_url
    execute(url, SABOTAGE.replace("{s}", SCHEMA))
    await deliver_and_work(service, status_change("item-1", "t1"))

    [(delivery_id, status, attempts, error)] = execute(
        url, "SELECT id, status, attempts, last_error FROM {s}.webhook_deliveries"
    )
    assert status == "dead" and attempts >= 1 and "history is read-only" in error
    assert execute(
        url, "SELECT task_name, status FROM {s}.procrastinate_jobs WHERE queue_name = 'webhooks'"
    ) == [("process_delivery", "failed")]
    assert (await read_status(service.runtime.pool, SCHEMA)).dead_letters == 1

    page = (await service.http.get("/admin/dead-letters")).text
    listed = page.split('id="dead-deliveries"')[1].split("</table>")[0]
    assert f"#{delivery_id}" in listed and "history is read-only in this test" in listed and "t1" in listed

    # Still broken: the replay fails again and the delivery stays dead, its error and attempts kept.
    assert await replay(service, delivery_id=str(delivery_id)) == {
        "processed": 0, "parked": 0, "malformed": 0, "failed": 1, "remaining": 1,
    }  # fmt: skip
    assert execute(url, "SELECT status, attempts FROM {s}.webhook_deliveries") == [("dead", attempts + 1)]

    execute(url, REPAIR.replace("{s}", SCHEMA))
    assert (await replay(service, delivery_id=str(delivery_id)))["processed"] == 1
    history = execute(
        url, "SELECT field_name, new_value, changed_by, source, event_id FROM {s}.field_changes"
    )
    assert history == [("status", "review", "184", "webhook", "item-1")]
    assert execute(url, "SELECT status FROM {s}.webhook_deliveries") == [("processed",)]
    # The failed job is gone (as the worker deletes successful ones); the task's refresh is queued.
    assert execute(
        url, "SELECT task_name, status FROM {s}.procrastinate_jobs WHERE queue_name = 'webhooks'"
    ) == [("refresh_task", "todo")]
    assert (await read_status(service.runtime.pool, SCHEMA)).dead_letters == 0
    assert "Replayed: 1 processed" in (await service.http.get("/admin/dead-letters?processed=1")).text


async def test_replay_all_takes_every_dead_delivery_oldest_first(service: AdminService) -> None:
    url = service.database_url
    execute(url, SABOTAGE.replace("{s}", SCHEMA))
    await deliver_and_work(service, status_change("item-a", "ta"), status_change("item-b", "tb"))
    assert execute(url, "SELECT count(*) FROM {s}.webhook_deliveries WHERE status = 'dead'") == [(2,)]
    execute(url, REPAIR.replace("{s}", SCHEMA))

    assert (await replay(service, all="1"))["processed"] == 2
    assert execute(url, "SELECT event_id FROM {s}.field_changes ORDER BY id") == [("item-a",), ("item-b",)]
    assert (await replay(service, all="1")) == {
        "processed": 0, "parked": 0, "malformed": 0, "failed": 0, "remaining": 0,
    }  # fmt: skip


async def test_a_failed_job_goes_back_to_the_queue(service: AdminService) -> None:
    url = service.database_url
    [(job_id,)] = execute(
        url,
        "INSERT INTO {s}.procrastinate_jobs (queue_name, task_name, args, status, attempts, queueing_lock)"
        " VALUES ('webhooks', 'refresh_task', '{\"task_id\": \"t9\"}', 'failed', 1, 'refresh:t9')"
        " RETURNING id",
    )
    page = (await service.http.get("/admin/dead-letters")).text
    assert "refresh_task" in page.split('id="failed-jobs"')[1] and "t9" in page

    token = await service.csrf_token("/admin/dead-letters")
    answer = await service.http.post(f"/admin/jobs/{job_id}/retry", data={"csrf_token": token})
    assert answer.headers["location"] == "/admin/dead-letters?requeued=1"
    assert execute(url, "SELECT status, attempts FROM {s}.procrastinate_jobs") == [("todo", 2)]

    # Failed again while an identical refresh waits: its queueing lock says the work is queued already.
    execute(url, "UPDATE {s}.procrastinate_jobs SET status = 'failed'")
    await service.runtime.queue.configure_task(
        "refresh_task", queueing_lock="refresh:t9", queue="webhooks"
    ).defer_async(task_id="t9")
    answer = await service.http.post(f"/admin/jobs/{job_id}/retry", data={"csrf_token": token})
    assert answer.headers["location"] == "/admin/dead-letters?waiting=1"
