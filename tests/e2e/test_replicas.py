"""Replicas: 3 `serve --no-worker` and 3 `worker` processes on one PostgreSQL and one emulator (its
ClickUp rate limit on, 100 requests a minute, and an API latency) stay correct under a webhook burst,
rolling restarts, a SIGKILLed worker and a 30 s database outage.

Everything is a separate process, as in production (built on `test_chaos.py`'s helpers): this test's
own embedded PostgreSQL, the emulator (`python -m clickup_sync emulator`), the six service processes
started at the same moment against a database without any schema, `backfill`, `webhooks register`
and, at the end, `reconcile`. A small round-robin load balancer in this process sits in front of the
three `serve` processes, as docs/scaling.md describes; the emulator's webhook points at it.

What is proved, in order:

1. Migrations ran once: the six processes raced to migrate; `schema_migrations` holds each version
   once, all applied by one transaction (one `applied_at`), and one process logged applying them.
2. A burst of >= 1,000 signed deliveries, posted 16 at a time round-robin straight to the three `serve`
   processes, plus the emulator's activity through the load balancer. The burst is the emulator's own:
   its changes are made while the emulator's chaos knob drops every delivery, then the dropped
   deliveries (`/_emulator/deliveries?outcome=dropped`) are rebuilt exactly as the dispatcher builds
   them, signed with the webhook's secret and posted by the test — so the ground truth includes them.
3. Work for one task never ran concurrently. The service serializes it with a transaction-scoped
   advisory lock taken before the first write (`queue/deliveries.py::lock_task`). The test needs no
   hook in the service: it installs, in its own database only, AFTER row triggers on the tables that
   hold a task's state (`tasks`, `field_changes`, `task_custom_field_values`, `task_relationships`)
   that record the task, the writing transaction's id and the clock time of each write into a
   probe table, and the server runs with `track_commit_timestamp = on`. For every task, each
   transaction that wrote it spans [its first write, its commit]; two such spans of one task must
   never overlap. Sound both ways: a transaction holding the task's lock from before its first write
   to its commit makes the next writer's first write come after that commit; and two writers not
   serialized (both inserting history rows, say, which take no shared row lock) overlap. Only
   committed transactions are recorded (an aborted one's probe rows roll back with it). The test
   also counts pairs whose transactions were open at the same time (the lock made one wait): the
   proof is not vacuous only when there are some, and it asserts there are. (Checked once by hand:
   with `lock_task` made a no-op, a run finds overlapping transactions of several tasks.)
4. Every history item delivered is recorded exactly once in `field_changes`; every stored delivery
   is processed (or a duplicate); the emulator answered 429 zero times in all; after one
   `reconcile` the mirror equals the emulator's ground truth.
5. Graceful shutdown: SIGTERM to a worker with jobs in flight (its jobs at that moment, read from
   `procrastinate_jobs`), some of which cannot finish in time (the emulator answers 20 s late just
   then), and to a `serve`: each exits within 10 s; the worker's jobs are finished or back in the
   queue (none left `doing`, none aborted for good, some returned). Both are then started again (a
   rolling restart). A SIGKILLed worker's jobs (again read at the kill) leave `doing` — put back by
   `retry_stalled_jobs` and run by another worker — within STALLED_AFTER_SECONDS plus one check
   period after the database is reachable again.
6. Database outage: PostgreSQL is stopped for 30 s right after the SIGKILL (the two waits overlap).
   Meanwhile every `serve` answers signed deliveries 503 within 2.5 s and `/readyz` 503, early and
   late in the outage; no process exits; afterwards `/readyz` is 200 again by itself, the emulator's
   retried deliveries are stored and processed, and the queue drains with no help.

Figures are printed (run with `-s`).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import pytest

from clickup_sync.clickup.emulator.publishing import task_payload
from clickup_sync.clickup.emulator.server import DEFAULT_TOKEN as TOKEN
from clickup_sync.clickup.signature import serialize_webhook_body, sign_clickup_body
from clickup_sync.db.connection import with_database_name
from clickup_sync.db.migrate import available_migrations
from clickup_sync.queue.deliveries import REFRESH_TASK
from clickup_sync.queue.tasks import STALLED_AFTER_SECONDS
from tests.e2e.test_chaos import (
    REPO_ROOT,
    STALLED_CHECK_SECONDS,
    Process,
    RestartablePostgres,
    _assert_mirror_equals_ground_truth,
    _assert_one_history_row_per_delivered_item,
    _count,
    _dispatcher_idle,
    _free_port,
    _newest_worker,
    _queue_drained,
    _signed,
    _wait_until,
)
from tests.e2e.test_webhook_pipeline import SCHEMA, rows

pytestmark = pytest.mark.slow

REPLICAS = 3
WORKSPACE_TASKS = 60  # small, so a burst of 1,000 deliveries hits each task many times
RATE_LIMIT_PER_MINUTE = 100  # ClickUp's own (lowest plans)
API_LATENCY_MS = 100
BURST_DELIVERIES = 1000
BURST_SENDERS = 16
ACTIVITY_RATE = 3.0  # simulated changes per second, delivered by the emulator through the balancer
POSTGRES_DOWN_SECONDS = 30.0
SHUTDOWN_LIMIT_SECONDS = 10.0
DB_DOWN_ANSWER_LIMIT_SECONDS = 2.5
PROBE_SECRET = "replicas-probe-secret"  # CLICKUP_WEBHOOK_SECRET: lets the test sign outage probes
PROBE = "replica_probe"  # the test's own schema: write records of the per-task overlap probe


# ------------------------------------------------------------------------------------------ database


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[RestartablePostgres]:
    """This test's own server, with commit timestamps on (a restart is needed to turn them on)."""
    server = RestartablePostgres(tmp_path / "pg")
    try:
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET track_commit_timestamp = on")
        server.stop()
        server.start()
        yield server
    finally:
        server.stop()


def _install_overlap_probe(dsn: str) -> None:
    """AFTER row triggers on every table holding a task's state: (task, transaction, time) per write."""
    tables = ("tasks", "field_changes", "task_custom_field_values", "task_relationships")
    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
        conn.execute(
            f"""
            CREATE SCHEMA {PROBE};
            CREATE TABLE {PROBE}.writes (
                task_id  text NOT NULL,
                xact     xid8 NOT NULL DEFAULT pg_current_xact_id(),
                began    timestamptz NOT NULL DEFAULT transaction_timestamp(),
                at       timestamptz NOT NULL DEFAULT clock_timestamp(),
                pid      integer NOT NULL DEFAULT pg_backend_pid(),
                what     text NOT NULL
            );
            CREATE FUNCTION {PROBE}.record() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO {PROBE}.writes (task_id, what) VALUES (
                    CASE WHEN TG_OP = 'DELETE' THEN OLD.task_id ELSE NEW.task_id END,
                    TG_TABLE_NAME || ' ' || TG_OP);
                RETURN NULL;
            END $$;
            """
        )
        for table in tables:
            conn.execute(
                f"CREATE TRIGGER {PROBE} AFTER INSERT OR UPDATE OR DELETE ON {SCHEMA}.{table}"
                f" FOR EACH ROW EXECUTE FUNCTION {PROBE}.record()"
            )


_TRANSACTIONS = f"""
WITH tx AS (
    SELECT task_id, xact, min(began) AS began, min(at) AS first_write,
           pg_xact_commit_timestamp(xid(xact)) AS committed
      FROM {PROBE}.writes GROUP BY task_id, xact
)
"""


@dataclass
class OverlapReport:
    transactions: int
    tasks: int
    contended_pairs: int  # both transactions open at once: one waited for the other's lock
    overlapping_pairs: int
    examples: list[tuple[Any, ...]]  # (task, first write, commit, other's first write, other's commit)


def _overlap_report(dsn: str) -> OverlapReport:
    transactions, tasks, uncommitted = rows(
        dsn,
        _TRANSACTIONS + "SELECT count(*), count(DISTINCT task_id), count(*) FILTER (WHERE committed IS NULL)"
        " FROM tx",
    )[0]
    assert uncommitted == 0, "a recorded write without a commit timestamp (track_commit_timestamp off?)"
    pairs = (
        "FROM tx a JOIN tx b ON a.task_id = b.task_id AND a.xact < b.xact"
        " WHERE a.{start} < b.committed AND b.{start} < a.committed"
    )
    contended = _count(dsn, _TRANSACTIONS + "SELECT count(*) " + pairs.format(start="began"))
    overlapping = _count(dsn, _TRANSACTIONS + "SELECT count(*) " + pairs.format(start="first_write"))
    examples = rows(
        dsn,
        _TRANSACTIONS
        + "SELECT a.task_id, a.first_write, a.committed, b.first_write, b.committed "
        + pairs.format(start="first_write")
        + " LIMIT 3",
    )
    return OverlapReport(int(transactions), int(tasks), contended, overlapping, examples)


def _doing_jobs(dsn: str, task_name: str | None = None) -> dict[int, list[int]]:
    """Jobs running now (of `task_name`, or all), by procrastinate worker id."""
    running: dict[int, list[int]] = {}
    query = (
        f"SELECT worker_id, id FROM {SCHEMA}.procrastinate_jobs WHERE status = 'doing'"
        " AND task_name = coalesce(%s, task_name)"
    )
    for worker_id, job_id in rows(dsn, query, (task_name,)):
        if worker_id is not None:
            running.setdefault(int(worker_id), []).append(int(job_id))
    return running


def _worker_ids(dsn: str) -> set[int]:
    return {int(r[0]) for r in rows(dsn, f"SELECT id FROM {SCHEMA}.procrastinate_workers")}


def _job_states(dsn: str, job_ids: list[int]) -> Counter[str]:
    """What became of jobs: their status, or `finished` when the row is gone (successful jobs are
    deleted, `delete_jobs="successful"`)."""
    found = dict(
        rows(dsn, f"SELECT id, status FROM {SCHEMA}.procrastinate_jobs WHERE id = ANY(%s)", (job_ids,))
    )
    return Counter(str(found.get(job_id, "finished")) for job_id in job_ids)


# ------------------------------------------------------------------------------------ load balancer


class RoundRobinBalancer:
    """A load balancer in front of the `serve` replicas (docs/scaling.md): each request goes to the
    next replica; one that refuses the connection (stopped) is skipped, any other failure is a 502
    (the sender retries, as ClickUp does)."""

    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self.turns = itertools.count()
        self.forwarded: Counter[str] = Counter()
        self.skipped = 0
        self.client = httpx.Client(timeout=30, trust_env=False)
        balancer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() in ("content-type", "x-signature")
                }
                status, answer = balancer.forward(self.path, body, headers)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def forward(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        first = next(self.turns)
        for offset in range(len(self.backends)):
            backend = self.backends[(first + offset) % len(self.backends)]
            try:
                answer = self.client.post(backend + path, content=body, headers=headers)
            except httpx.ConnectError:
                self.skipped += 1
                continue
            except httpx.HTTPError:
                return 502, b'{"error": "bad gateway"}'
            self.forwarded[backend] += 1
            return answer.status_code, answer.content
        return 502, b'{"error": "no replica"}'

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.client.close()


# --------------------------------------------------------------------------------------------- stack


@dataclass
class Replicas:
    dsn: str
    env: dict[str, str]
    emulator_url: str
    emulator: Process
    serves: list[Process] = field(default_factory=list)
    serve_urls: list[str] = field(default_factory=list)
    workers: list[Process] = field(default_factory=list)
    balancer: RoundRobinBalancer | None = None
    webhook_id: str = ""
    secret: str = ""

    def stop(self) -> None:
        if self.balancer is not None:
            self.balancer.close()
        for process in (*self.workers, *self.serves, self.emulator):
            process.stop()

    def ready(self, url: str) -> bool:
        return httpx.get(f"{url}/readyz", timeout=5).status_code == 200


def _cli(replicas: Replicas, cwd: Path, *args: str, timeout: float = 180) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "clickup_sync", *args],
        env=replicas.env, cwd=cwd, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert done.returncode == 0, f"clickup-sync {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout.strip()


def _start_replicas(postgres: RestartablePostgres, tmp_path: Path) -> Replicas:
    """A fresh database (no schema), the emulator, then 3 serve + 3 worker processes at once."""
    with psycopg.connect(postgres.dsn, autocommit=True) as conn:
        conn.execute("CREATE DATABASE replicas")
    dsn = with_database_name(postgres.dsn, "replicas")
    base_env = {key: value for key, value in os.environ.items() if not key.startswith(("CLICKUP_", "PG"))}
    base_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), base_env.get("PYTHONPATH")]))
    emulator_port = _free_port()
    emulator = Process(
        "emulator",
        ["emulator", "--port", str(emulator_port), "--tasks", str(WORKSPACE_TASKS),
         "--rate-limit", str(RATE_LIMIT_PER_MINUTE), "--latency-ms", str(API_LATENCY_MS)],
        base_env, tmp_path,
    ).start()  # fmt: skip
    replicas = Replicas(dsn, {}, f"http://127.0.0.1:{emulator_port}", emulator)
    try:
        teams = _wait_until(
            "the emulator to start",
            lambda: httpx.get(f"{replicas.emulator_url}/api/v2/team", headers={"Authorization": TOKEN}),
            60,
        )
        replicas.env = {
            **base_env,
            "DATABASE_URL": dsn,
            "CLICKUP_API_URL": f"{replicas.emulator_url}/api/v2",
            "CLICKUP_API_TOKEN": TOKEN,
            "CLICKUP_WORKSPACE_ID": str(teams.json()["teams"][0]["id"]),
            "CLICKUP_WEBHOOK_SECRET": PROBE_SECRET,
            "AIRBYTE_MODE": "off",
            "RECONCILE_INTERVAL_SECONDS": "86400",  # the test decides when the reconcile runs
            "WEBHOOK_HEALTH_INTERVAL_SECONDS": "86400",
            "LOG_LEVEL": "INFO",
        }
        for index in range(REPLICAS):
            port = _free_port()
            replicas.serve_urls.append(f"http://127.0.0.1:{port}")
            replicas.serves.append(
                Process(
                    f"serve{index}",
                    ["serve", "--no-worker", "--host", "127.0.0.1"],
                    {**replicas.env, "PORT": str(port)},
                    tmp_path,
                )
            )
            replicas.workers.append(Process(f"worker{index}", ["worker"], replicas.env, tmp_path))
        for process in (*replicas.serves, *replicas.workers):  # all six at once, against no schema
            process.start()
        for url in replicas.serve_urls:
            _wait_until(f"{url} to be ready", partial(replicas.ready, url), 120, 0.25)
        _wait_until("three workers", lambda: len(_worker_ids(dsn)) == REPLICAS, 120, 0.25)
    except BaseException:
        replicas.stop()
        raise
    return replicas


def _assert_migrated_once(replicas: Replicas) -> None:
    applied = rows(replicas.dsn, f"SELECT version, applied_at FROM {SCHEMA}.schema_migrations ORDER BY 1")
    expected = [m.version for m in available_migrations()]
    assert [version for version, _ in applied] == expected
    assert len({at for _, at in applied}) == 1, "migrations applied by more than one transaction"
    logs = [p.last_output(10**9) for p in (*replicas.serves, *replicas.workers)]
    applying = [sum(f"applying migration {v:04d}_" in log for log in logs) for v in expected]
    assert applying == [1] * len(expected), f"processes that applied each migration: {applying}"
    exited = [p.name for p in (*replicas.serves, *replicas.workers) if not p.alive()]
    assert exited == [], f"exited while migrating: {exited}"


# --------------------------------------------------------------------------------------------- burst


def _burst_deliveries(replicas: Replicas) -> tuple[list[tuple[bytes, str]], int]:
    """The emulator's own deliveries of >= BURST_DELIVERIES history-carrying events, withheld from its
    dispatcher (dropped) and rebuilt byte for byte, signed with the webhook's secret."""
    emulator = replicas.emulator_url
    httpx.put(f"{emulator}/_emulator/config", json={"chaos": {"drop_rate": 1.0}}, timeout=10)
    changes = 0
    deliveries: list[dict[str, Any]] = []
    try:
        while len(deliveries) < BURST_DELIVERIES:
            made = httpx.post(f"{emulator}/_emulator/activity", json={"changes": 100}, timeout=60).json()
            changes += len(made["changes"])
            _wait_until("the emulator to drop them", lambda: _dispatcher_idle(emulator), 30, 0.2)
            dropped = httpx.get(
                f"{emulator}/_emulator/deliveries", params={"outcome": "dropped"}, timeout=60
            ).json()["deliveries"]
            deliveries = [
                d for d in dropped if d["task_id"] is not None and d["webhook_id"] == replicas.webhook_id
            ]
    finally:
        httpx.put(f"{emulator}/_emulator/config", json={"chaos": {"drop_rate": 0.0}}, timeout=10)
    signed = []
    for delivery in deliveries:
        items = None if delivery["event"] == "taskDeleted" else delivery["history_items"]
        payload = task_payload(delivery["event"], items, delivery["task_id"], delivery["webhook_id"])
        body = serialize_webhook_body(payload)
        signed.append((body, sign_clickup_body(replicas.secret, body)))
    return signed, changes


def _post_burst(replicas: Replicas, deliveries: list[tuple[bytes, str]]) -> tuple[Counter[int], float]:
    """Posted BURST_SENDERS at a time, round-robin across the serve processes."""
    local = threading.local()

    def post(numbered: tuple[int, tuple[bytes, str]]) -> int:
        number, (body, signature) = numbered
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=30, trust_env=False)
        url = replicas.serve_urls[number % len(replicas.serve_urls)]
        headers = {"X-Signature": signature, "Content-Type": "application/json"}
        return int(local.client.post(f"{url}/webhooks/clickup", content=body, headers=headers).status_code)

    began = time.monotonic()
    with ThreadPoolExecutor(BURST_SENDERS) as pool:
        statuses = Counter(pool.map(post, enumerate(deliveries)))
    return statuses, time.monotonic() - began


# ------------------------------------------------------------------------------------------ shutdown


@dataclass
class Observed:
    """What the test saw; asserted after the data checks so that one failure reports everything."""

    burst_posted: int = 0
    burst_statuses: Counter[int] = field(default_factory=Counter)
    burst_seconds: float = 0.0
    changes_made: int = 0
    sigterm_worker_seconds: float = 0.0
    sigterm_worker_jobs: Counter[str] = field(default_factory=Counter)
    sigterm_serve_seconds: float = 0.0
    serve_refuses_after_exit: bool = False
    killed_jobs: list[int] = field(default_factory=list)
    killed_at: float = 0.0
    killed_jobs_back_seconds: float | None = None
    killed_jobs_deadline_seconds: float = 0.0
    probes: list[tuple[str, int | None, float]] = field(default_factory=list)  # (what, status, seconds)
    down_seconds: float = 0.0
    ready_again_seconds: float = 0.0
    exited: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _terminate(process: Process) -> float:
    """SIGTERM; seconds until the process exited (killed after 30 s, and reported as 30)."""
    assert process.popen is not None and process.alive(), f"{process.name} died before SIGTERM"
    sent = time.monotonic()
    process.popen.send_signal(signal.SIGTERM)
    try:
        process.popen.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.popen.kill()
        process.popen.wait(timeout=10)
    return time.monotonic() - sent


def _wait_for_jobs_on(
    dsn: str, worker_ids: set[int], seconds: float, task_name: str | None = None
) -> dict[int, list[int]]:
    """The running jobs by worker, once every worker of `worker_ids` runs one (of `task_name`, when
    given), or `seconds` passed."""
    deadline = time.monotonic() + seconds
    while True:
        if worker_ids <= _doing_jobs(dsn, task_name).keys() or time.monotonic() > deadline:
            return _doing_jobs(dsn)
        time.sleep(0.05)


def _rolling_restart(replicas: Replicas, seen: Observed) -> int:
    """SIGTERM worker 0 and serve 0 together; both must exit within 10 s; then both start again.
    Returns the restarted worker's procrastinate id.

    The worker is stopped while it runs jobs, one of them at least a re-fetch that cannot finish in
    time: the emulator answers every API call 20 s late from just before (its `slow` knob)."""
    dsn = replicas.dsn
    emulator = replicas.emulator_url
    workers_before = _worker_ids(dsn)
    httpx.put(f"{emulator}/_emulator/config", json={"slow_rate": 1.0, "slow_ms": 20_000}, timeout=10)
    try:
        # Re-fetches are running at once unless the budget's window is used up: then they are
        # postponed to its end (at most a minute away), and run then.
        _wait_for_jobs_on(dsn, workers_before, 65, task_name=REFRESH_TASK)
        time.sleep(0.5)  # past the usual API latency: those re-fetches wait for the slow answer
        doing = _doing_jobs(dsn)
        timings: dict[str, float] = {}
        threads = [
            threading.Thread(target=lambda p=p: timings.__setitem__(p.name, _terminate(p)))
            for p in (replicas.workers[0], replicas.serves[0])
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        httpx.put(f"{emulator}/_emulator/config", json={"slow_rate": 0.0}, timeout=10)
    seen.sigterm_worker_seconds = timings[replicas.workers[0].name]
    seen.sigterm_serve_seconds = timings[replicas.serves[0].name]
    gone = workers_before - _worker_ids(dsn)
    assert len(gone) == 1, f"workers unregistered by the SIGTERM: {gone}"
    in_flight = doing.get(gone.pop(), [])
    seen.sigterm_worker_jobs = _job_states(dsn, in_flight)
    seen.sigterm_worker_jobs["in flight at SIGTERM"] = len(in_flight)
    seen.serve_refuses_after_exit = not _answers(replicas.serve_urls[0])
    newest = _newest_worker(dsn)
    replicas.workers[0].start()
    replicas.serves[0].start()
    _wait_until("the restarted worker", lambda: _newest_worker(dsn) > newest, 60, 0.1)
    _wait_until("the restarted serve", lambda: replicas.ready(replicas.serve_urls[0]), 60, 0.1)
    return _newest_worker(dsn)


def _answers(url: str) -> bool:
    try:
        httpx.get(f"{url}/healthz", timeout=2)
    except httpx.HTTPError:
        return False
    return True


# ------------------------------------------------------------------------------------------- outage


def _probe(url: str, what: str) -> tuple[str, int | None, float]:
    """A signed delivery (no task, no history items: harmless if wrongly stored), or /readyz."""
    body = orjson.dumps(
        {
            "event": "listUpdated",
            "history_items": [],
            "list_id": "replica-probe",
            "webhook_id": "replica-probe",
        }
    )
    status: int | None = None
    with httpx.Client(timeout=30, trust_env=False) as client:  # made first: only the answer is timed
        sent = time.monotonic()
        with contextlib.suppress(httpx.HTTPError):
            if what == "delivery":
                headers = _signed(body, PROBE_SECRET)
                status = client.post(f"{url}/webhooks/clickup", content=body, headers=headers).status_code
            else:
                status = client.get(f"{url}/readyz").status_code
        seconds = time.monotonic() - sent
    return f"{what} {url.rsplit(':', 1)[1]}", status, seconds


def _probe_all(replicas: Replicas) -> list[tuple[str, int | None, float]]:
    targets = [(url, what) for url in replicas.serve_urls for what in ("delivery", "readyz")]
    with ThreadPoolExecutor(len(targets)) as pool:
        return list(pool.map(lambda target: _probe(*target), targets))


def _kill_worker_and_stop_postgres(
    postgres: RestartablePostgres, replicas: Replicas, worker_id: int, seen: Observed
) -> None:
    """SIGKILL the restarted worker while it runs jobs, stop PostgreSQL at once for 30 s, probe."""
    dsn = replicas.dsn
    seen.killed_jobs = _wait_for_jobs_on(dsn, {worker_id}, 15).get(worker_id, [])
    replicas.workers[0].sigkill()
    seen.killed_at = time.monotonic()
    postgres.stop()
    stopped = time.monotonic()
    time.sleep(1.0)
    seen.probes += _probe_all(replicas)  # early: the pools still hold dead connections
    time.sleep(max(0.0, POSTGRES_DOWN_SECONDS - 5 - (time.monotonic() - stopped)))
    seen.probes += _probe_all(replicas)  # late: the pools are empty and reconnecting
    time.sleep(max(0.0, POSTGRES_DOWN_SECONDS - (time.monotonic() - stopped)))
    seen.exited = [p.name for p in (*replicas.serves, *replicas.workers[1:]) if not p.alive()]
    postgres.start()
    restarted = time.monotonic()
    seen.down_seconds = restarted - stopped
    for url in replicas.serve_urls:
        _wait_until(f"{url} ready again", partial(replicas.ready, url), 60, 0.25)
    seen.ready_again_seconds = time.monotonic() - restarted
    # The killed worker's heartbeat is STALLED_AFTER_SECONDS old at killed_at + 30, but nothing can
    # put its jobs back before the database is back: then the next check (every 30 s) does.
    stalled_from = max(seen.killed_at + STALLED_AFTER_SECONDS, restarted)
    seen.killed_jobs_deadline_seconds = stalled_from + STALLED_CHECK_SECONDS + 10 - seen.killed_at


def _wait_for_killed_jobs(replicas: Replicas, seen: Observed) -> None:
    deadline = seen.killed_at + seen.killed_jobs_deadline_seconds
    while time.monotonic() < deadline:
        if _job_states(replicas.dsn, seen.killed_jobs)["doing"] == 0:
            seen.killed_jobs_back_seconds = time.monotonic() - seen.killed_at
            return
        time.sleep(0.5)
    seen.problems.append(
        f"jobs of the SIGKILLed worker still 'doing' {seen.killed_jobs_deadline_seconds:.0f} s after the "
        f"kill: {_job_states(replicas.dsn, seen.killed_jobs)}"
    )


# --------------------------------------------------------------------------------------------- test


def _retried_then_delivered(emulator_url: str) -> list[dict[str, Any]]:
    """Events whose delivery failed at first (the outage) and succeeded on a retry."""
    records = httpx.get(f"{emulator_url}/_emulator/deliveries", timeout=60).json()["deliveries"]
    return [r for r in records if r["outcome"] == "delivered" and r["attempt"] > 1]


def test_three_serves_and_three_workers_on_one_database(
    postgres: RestartablePostgres, tmp_path: Path
) -> None:
    began = time.monotonic()
    seen = Observed()
    replicas = _start_replicas(postgres, tmp_path)
    started_seconds = time.monotonic() - began
    try:
        _assert_migrated_once(replicas)
        backfill = _cli(replicas, tmp_path, "backfill")
        _install_overlap_probe(replicas.dsn)
        replicas.balancer = RoundRobinBalancer(replicas.serve_urls)
        _cli(replicas, tmp_path, "webhooks", "register", "--url", f"{replicas.balancer.url}/webhooks/clickup")
        ((replicas.webhook_id, replicas.secret),) = rows(
            replicas.dsn, f"SELECT webhook_id, secret FROM {SCHEMA}.webhooks"
        )

        burst, burst_changes = _burst_deliveries(replicas)
        seen.burst_posted = len(burst)
        seen.burst_statuses, seen.burst_seconds = _post_burst(replicas, burst)
        activity = httpx.post(
            f"{replicas.emulator_url}/_emulator/activity", json={"rate": ACTIVITY_RATE}, timeout=10
        ).json()
        assert activity["running"]

        restarted_worker = _rolling_restart(replicas, seen)
        _kill_worker_and_stop_postgres(postgres, replicas, restarted_worker, seen)
        time.sleep(2)  # a little activity after the outage too
        # The simulator's count includes the burst's changes (one simulator).
        seen.changes_made = httpx.delete(f"{replicas.emulator_url}/_emulator/activity", timeout=30).json()[
            "changes_made"
        ]
        activity_changes = seen.changes_made - burst_changes
        _wait_for_killed_jobs(replicas, seen)
        _wait_until(
            "the emulator to deliver everything", lambda: _dispatcher_idle(replicas.emulator_url), 90, 0.5
        )
        _wait_until("the queue to drain", lambda: _queue_drained(replicas.dsn), 120, 0.5)
        still_running = [p.name for p in (*replicas.serves, *replicas.workers[1:]) if not p.alive()]
        truth = orjson.loads(httpx.get(f"{replicas.emulator_url}/_emulator/state", timeout=60).content)
        reconcile = _cli(replicas, tmp_path, "reconcile")
        stats = httpx.get(f"{replicas.emulator_url}/_emulator/stats", timeout=10).json()
        retried = _retried_then_delivered(replicas.emulator_url)
        forwarded = dict(replicas.balancer.forwarded)
        skipped = replicas.balancer.skipped
    finally:
        replicas.stop()
    dsn, webhook_id = replicas.dsn, replicas.webhook_id
    overlap = _overlap_report(dsn)
    statuses = dict(
        rows(
            dsn,
            f"SELECT status, count(*) FROM {SCHEMA}.webhook_deliveries WHERE webhook_id = %s GROUP BY 1",
            (webhook_id,),
        )
    )
    dispatcher = stats["deliveries"]["dispatcher"]
    print(
        f"\nreplicas: {REPLICAS} serve + {REPLICAS} worker started and migrated in {started_seconds:.1f} s; "
        f"{backfill}\n"
        f"burst: {seen.burst_posted} deliveries of {burst_changes} changes posted in "
        f"{seen.burst_seconds:.1f} s ({dict(seen.burst_statuses)}); activity: {activity_changes} changes; "
        f"balancer forwarded "
        f"{sorted(forwarded.values())} (skipped a stopped replica {skipped}x)\n"
        f"stored deliveries {statuses}; dispatcher {dispatcher}; retried then delivered {len(retried)}\n"
        f"per-task writes: {overlap.transactions} transactions on {overlap.tasks} tasks, "
        f"{overlap.contended_pairs} pairs open at once (waited), {overlap.overlapping_pairs} overlapping\n"
        f"ClickUp API: {stats['requests_total']} requests, by status {stats['requests_by_status']}, "
        f"429s {stats['rate_limited_429']}\n"
        f"SIGTERM: worker exited in {seen.sigterm_worker_seconds:.1f} s "
        f"(its jobs {dict(seen.sigterm_worker_jobs)}), "
        f"serve in {seen.sigterm_serve_seconds:.1f} s; SIGKILL: {len(seen.killed_jobs)} jobs running, back "
        f"after {seen.killed_jobs_back_seconds or float('nan'):.1f} s "
        f"(deadline {seen.killed_jobs_deadline_seconds:.0f} s)\n"
        f"outage: PostgreSQL down {seen.down_seconds:.1f} s; answers "
        f"{[(what, status, round(seconds, 2)) for what, status, seconds in seen.probes]}; ready again "
        f"{seen.ready_again_seconds:.1f} s after the restart\n"
        f"{reconcile}; total {time.monotonic() - began:.0f} s"
    )
    assert stats["workspace_version"] == truth["version"]

    # Load: the burst reached all three serve processes and was acknowledged; so was the activity.
    assert seen.burst_posted >= BURST_DELIVERIES and seen.burst_statuses == {200: seen.burst_posted}
    assert len(forwarded) == REPLICAS, forwarded
    # Every stored delivery processed or a duplicate; every delivered item recorded exactly once.
    assert set(statuses) <= {"processed", "duplicate"}, statuses
    _assert_one_history_row_per_delivered_item(dsn, webhook_id, seen.changes_made)
    # Work for one task never overlapped, and the proof had contention to prove something.
    assert overlap.overlapping_pairs == 0, f"transactions of one task overlapped, e.g. {overlap.examples}"
    assert overlap.contended_pairs > 0
    # One ClickUp rate budget for all processes: never exceeded.
    assert stats["rate_limited_429"] == 0
    # The outage: quick 503s, readyz 503, nobody exited, ready again by itself, retries stored.
    assert len(seen.probes) == 4 * REPLICAS
    for what, status, seconds in seen.probes:
        assert status == 503 and seconds < DB_DOWN_ANSWER_LIMIT_SECONDS, (what, status, seconds)
    assert seen.exited == [] and still_running == [], (seen.exited, still_running)
    assert dispatcher["failed_attempts"] > 0 and retried, "no delivery met the outage and was retried"
    retried_items = {str(item["id"]) for record in retried for item in record["history_items"]}
    query = f"SELECT event_id FROM {SCHEMA}.field_changes WHERE event_id = ANY(%s)"
    recorded = {r[0] for r in rows(dsn, query, (list(retried_items),))}
    assert recorded == retried_items, "retried deliveries' history items not recorded"
    _assert_mirror_equals_ground_truth(dsn, truth)
    # Graceful shutdown and the SIGKILLed worker.
    assert seen.sigterm_worker_jobs["in flight at SIGTERM"] > 0, "SIGTERM caught no job in flight"
    assert seen.sigterm_worker_jobs["todo"] > 0, "no job was still running at the end of the grace"
    assert seen.sigterm_worker_jobs["doing"] == 0 and seen.sigterm_worker_jobs["aborted"] == 0
    assert seen.sigterm_worker_seconds < SHUTDOWN_LIMIT_SECONDS
    assert seen.sigterm_serve_seconds < SHUTDOWN_LIMIT_SECONDS and seen.serve_refuses_after_exit
    assert seen.killed_jobs, "the SIGKILL caught no job in flight"
    assert seen.problems == [], "\n".join(seen.problems)
