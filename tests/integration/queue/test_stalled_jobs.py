"""Jobs of a worker that died go back to the queue — once, even when the same work was queued again
meanwhile under its queueing lock (a refresh of the same task asked for by a later delivery)."""

from __future__ import annotations

import psycopg
import pytest

from clickup_sync.db.connection import Database
from clickup_sync.queue.deliveries import REFRESH_TASK, WEBHOOK_QUEUE
from clickup_sync.queue.schema import search_path_options
from clickup_sync.queue.tasks import STALLED_AFTER_SECONDS, retry_stalled_job
from clickup_sync.runtime import service_runtime
from clickup_sync.settings import load_settings

pytestmark = pytest.mark.anyio
SCHEMA = "clickup_sync"


def insert_job(conn: psycopg.Connection, task_id: str, status: str, worker_id: int | None) -> int:
    row = conn.execute(
        f"INSERT INTO {SCHEMA}.procrastinate_jobs"
        " (queue_name, task_name, queueing_lock, args, status, worker_id)"
        " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (WEBHOOK_QUEUE, REFRESH_TASK, f"refresh:{task_id}", psycopg.types.json.Jsonb({"task_id": task_id}),
         status, worker_id),
    ).fetchone()  # fmt: skip
    assert row is not None
    return int(row[0])


async def test_a_dead_workers_job_is_retried_or_gives_way_to_the_same_work_queued_since(
    database_url: str,
) -> None:
    # procrastinate's triggers name their tables unqualified: they resolve through the search path.
    with psycopg.connect(database_url, options=search_path_options(SCHEMA)) as conn:
        dead = conn.execute(
            f"INSERT INTO {SCHEMA}.procrastinate_workers (last_heartbeat)"
            " VALUES (now() - make_interval(secs => %s)) RETURNING id",
            (STALLED_AFTER_SECONDS * 4,),
        ).fetchone()
        assert dead is not None
        lonely = insert_job(conn, "a", "doing", dead[0])
        superseded = insert_job(conn, "b", "doing", dead[0])
        queued_since = insert_job(conn, "b", "todo", None)

    settings = load_settings(database_url=database_url)
    async with service_runtime(settings, Database(database_url, SCHEMA)) as runtime:
        manager = runtime.queue.job_manager
        stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER_SECONDS))
        assert sorted(job.id for job in stalled) == [lonely, superseded]
        for job in stalled:
            await retry_stalled_job(manager, job)

    with psycopg.connect(database_url) as conn:
        states = dict(conn.execute(f"SELECT id, status FROM {SCHEMA}.procrastinate_jobs").fetchall())
    assert states == {lonely: "todo", superseded: "aborted", queued_since: "todo"}
