"""Chaos: the real-time path as it runs in production — `serve --no-worker`, a separate `worker`, the
emulator as its own process delivering signed webhooks with duplicates, reordering and drops — survives
two SIGKILLed workers and a PostgreSQL restart, and ends equal to the emulator's ground truth.

Every piece is a separate process on 127.0.0.1, against an embedded PostgreSQL of this test's own (in
tmp_path): `clickup-sync backfill`, `clickup-sync webhooks register`, then simulated activity during
which the worker is SIGKILLed twice and PostgreSQL is stopped for ~5 s: `serve` must answer 503
meanwhile (ClickUp retries the events later) and both processes must recover without help. Then one
`clickup-sync reconcile`, and the checks.

What the service must recover from by itself (the worker outliving the restart, the killed workers'
jobs going back to the queue, the prompt 503) is collected and asserted last: when it fails, the test
helps (restarts the worker, retries the stalled jobs) so that the data checks still run and one
failure reports everything.

Dropped deliveries are checked item by item: `/_emulator/deliveries?outcome=dropped` says which
history items ClickUp never delivered, and the latest lost change of each task field that no
delivered item superseded must have been recorded from a fetch of the task (`event_id` NULL): by the
reconcile (`source = 'poll'`), or earlier by a webhook-triggered re-fetch (`source = 'webhook'`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import pytest

from clickup_sync.clickup.emulator.server import DEFAULT_TOKEN as TOKEN
from clickup_sync.clickup.signature import sign_clickup_body
from clickup_sync.db.connection import with_database_name
from clickup_sync.db.embedded import EmbeddedPostgres, start_embedded_postgres
from clickup_sync.db.migrate import migrate
from clickup_sync.queue.tasks import STALLED_AFTER_SECONDS, retry_stalled_job
from clickup_sync.sync.history_items import item_effect
from tests.e2e.test_webhook_pipeline import SCHEMA, rows
from tests.integration.sync.test_backfill_reconcile import assert_mirror_equals, mirror_snapshots

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
PROBE_SECRET = "chaos-probe-secret"  # CLICKUP_WEBHOOK_SECRET: lets the test sign its own probe
CLICKUP_DELIVERY_TIMEOUT = 7.0  # ClickUp counts a slower answer as a failed attempt (§7.7)
ACTIVITY_RATE = 4.0  # simulated changes per second
ACTIVITY_SECONDS = 36.0
KILL_WORKER_AT = (3.0, 10.0)  # seconds into the activity
RESTART_POSTGRES_AT = 17.0
POSTGRES_DOWN_SECONDS = 5.0
API_LATENCY_MS = 150  # keeps refresh jobs in flight long enough for a SIGKILL to catch some
STALLED_CHECK_SECONDS = 30  # `retry_stalled_jobs` looks every 30 s for workers silent STALLED_AFTER_SECONDS


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until(what: str, check: Callable[[], Any], seconds: float, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(httpx.HTTPError, psycopg.OperationalError):
            result = check()
            if result:
                return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(interval)


def _sleep_until(started: float, at: float) -> None:
    time.sleep(max(0.0, at - (time.monotonic() - started)))


@dataclass
class Process:
    """A `python -m clickup_sync …` child with its output in log files under tmp_path."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_dir: Path
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> Process:
        self.starts += 1
        with (self.log_dir / f"{self.name}-{self.starts}.log").open("wb") as log:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "clickup_sync", *self.args],
                env=self.env, cwd=self.log_dir, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def sigkill(self) -> None:
        assert self.popen is not None and self.alive(), f"{self.name} died before it was killed"
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen is None or not self.alive():
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=10)

    def last_output(self, chars: int = 3000) -> str:
        return (self.log_dir / f"{self.name}-{self.starts}.log").read_text(errors="replace")[-chars:]


class RestartablePostgres:
    """This test's own embedded server; stopped and started again on the same unix socket."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.server: EmbeddedPostgres = start_embedded_postgres(data_dir)
        self.dsn = self.server.dsn

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server = start_embedded_postgres(self.data_dir)
        assert self.server.dsn == self.dsn  # same address: clients reconnect to it


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[RestartablePostgres]:
    server = RestartablePostgres(tmp_path / "pg")
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Stack:
    dsn: str
    env: dict[str, str]
    emulator_url: str
    serve_url: str
    emulator: Process
    serve: Process | None = None
    worker: Process | None = None
    webhook_id: str = ""

    def stop(self) -> None:
        for process in (self.worker, self.serve, self.emulator):
            if process is not None:
                process.stop()


@dataclass
class Chaos:
    """What the test did and what it saw."""

    jobs_at_kill: list[int] = field(default_factory=list)  # jobs running on the worker at each SIGKILL
    last_kill: float = 0.0
    probe_status: int | None = None  # serve's answer to a signed delivery while PostgreSQL was down
    probe_seconds: float = 0.0
    readyz_status: int | None = None
    down_seconds: float = 0.0
    ready_again_seconds: float = 0.0  # from the restart to serve's /readyz answering 200
    changes_made: int = 0
    not_recovered: list[str] = field(default_factory=list)  # asserted empty, last


def _signed(body: bytes, secret: str) -> dict[str, str]:
    return {"X-Signature": sign_clickup_body(secret, body), "Content-Type": "application/json"}


def _count(dsn: str, query: str, params: tuple[Any, ...] = ()) -> int:
    return int(rows(dsn, query, params)[0][0])


def _newest_worker(dsn: str) -> int:
    return _count(dsn, f"SELECT coalesce(max(id), 0) FROM {SCHEMA}.procrastinate_workers")


def _start_worker(stack: Stack) -> None:
    assert stack.worker is not None
    before = _newest_worker(stack.dsn)
    stack.worker.start()
    _wait_until("the worker to register", lambda: _newest_worker(stack.dsn) > before, 30)


def _register_webhook(stack: Stack, cwd: Path) -> str:
    """`clickup-sync webhooks register` when that command exists; otherwise create the webhook through
    the emulator's API and store it in `webhooks` as the command does. Returns the webhook id."""
    endpoint = f"{stack.serve_url}/webhooks/clickup"
    command = subprocess.run(
        [sys.executable, "-m", "clickup_sync", "webhooks", "register", "--url", endpoint],
        env=stack.env, cwd=cwd, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if command.returncode != 0:
        assert "No such command" in command.stderr, command.stdout + command.stderr
        team_id = stack.env["CLICKUP_WORKSPACE_ID"]
        created = httpx.post(
            f"{stack.emulator_url}/api/v2/team/{team_id}/webhook",
            json={"endpoint": endpoint, "events": ["*"]},
            headers={"Authorization": TOKEN},
            timeout=10,
        ).json()["webhook"]
        with psycopg.connect(stack.dsn) as conn:
            conn.execute(
                f"INSERT INTO {SCHEMA}.webhooks (webhook_id, team_id, endpoint, secret)"
                " VALUES (%s, %s, %s, %s)",
                (created["id"], team_id, created["endpoint"], created["secret"]),
            )
    ((webhook_id,),) = rows(
        stack.dsn, f"SELECT webhook_id FROM {SCHEMA}.webhooks WHERE endpoint = %s", (endpoint,)
    )
    return str(webhook_id)


def _start_stack(postgres: RestartablePostgres, tmp_path: Path) -> Stack:
    """Database, emulator, backfill, serve, worker, webhook — each as production runs it."""
    with psycopg.connect(postgres.dsn, autocommit=True) as conn:
        conn.execute("CREATE DATABASE chaos")
    dsn = with_database_name(postgres.dsn, "chaos")
    migrate(dsn, SCHEMA)
    emulator_port, serve_port = _free_port(), _free_port()
    base_env = {key: value for key, value in os.environ.items() if not key.startswith(("CLICKUP_", "PG"))}
    base_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), base_env.get("PYTHONPATH")]))
    emulator = Process(
        "emulator",
        ["emulator", "--port", str(emulator_port), "--tasks", "150", "--rate-limit", "0",
         "--duplicate-rate", "0.1", "--reorder-rate", "0.05", "--drop-rate", "0.05"],
        base_env, tmp_path,
    ).start()  # fmt: skip
    stack = Stack(dsn, {}, f"http://127.0.0.1:{emulator_port}", f"http://127.0.0.1:{serve_port}", emulator)
    try:
        teams = _wait_until(
            "the emulator to start",
            lambda: httpx.get(
                f"{stack.emulator_url}/api/v2/team", headers={"Authorization": TOKEN}, timeout=5
            ),
            60,
        )
        stack.env = {
            **base_env,
            "DATABASE_URL": dsn,
            "CLICKUP_API_URL": f"{stack.emulator_url}/api/v2",
            "CLICKUP_API_TOKEN": TOKEN,
            "CLICKUP_WORKSPACE_ID": str(teams.json()["teams"][0]["id"]),
            "CLICKUP_WEBHOOK_SECRET": PROBE_SECRET,
            "PORT": str(serve_port),
            "AIRBYTE_MODE": "off",
            "RECONCILE_INTERVAL_SECONDS": "86400",  # the test decides when the reconcile runs
            "WEBHOOK_HEALTH_INTERVAL_SECONDS": "86400",
            "LOG_LEVEL": "INFO",
        }
        backfill = subprocess.run(
            [sys.executable, "-m", "clickup_sync", "backfill"],
            env=stack.env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert backfill.returncode == 0, backfill.stderr
        assert "Backfill done" in backfill.stdout
        stack.serve = Process("serve", ["serve", "--no-worker", "--host", "127.0.0.1"], stack.env, tmp_path)
        stack.serve.start()
        _wait_until("serve", lambda: httpx.get(f"{stack.serve_url}/readyz", timeout=5).status_code == 200, 60)
        stack.worker = Process("worker", ["worker"], stack.env, tmp_path)
        _start_worker(stack)
        stack.webhook_id = _register_webhook(stack, tmp_path)
    except BaseException:
        stack.stop()
        raise
    return stack


def _kill_worker_mid_job(stack: Stack, chaos: Chaos) -> None:
    """SIGKILL the worker, while it runs a job when one starts within 3 s; start a new one at once."""
    assert stack.worker is not None
    doing = 0
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and doing == 0:
        doing = _count(stack.dsn, f"SELECT count(*) FROM {SCHEMA}.procrastinate_jobs WHERE status = 'doing'")
        time.sleep(0.02)
    stack.worker.sigkill()
    chaos.jobs_at_kill.append(doing)
    chaos.last_kill = time.monotonic()
    _start_worker(stack)


def _restart_postgres(postgres: RestartablePostgres, stack: Stack, chaos: Chaos) -> None:
    """Stop PostgreSQL for POSTGRES_DOWN_SECONDS, posting a signed delivery to serve meanwhile."""
    # A list event without items: harmless if serve wrongly stores it (no task, no history row).
    body = orjson.dumps(
        {"event": "listUpdated", "history_items": [], "list_id": "chaos-probe", "webhook_id": "chaos-probe"}
    )
    answer: dict[str, Any] = {}

    def post_probe() -> None:
        sent = time.monotonic()
        with contextlib.suppress(httpx.HTTPError):
            answer["status"] = httpx.post(
                f"{stack.serve_url}/webhooks/clickup", content=body, headers=_signed(body, PROBE_SECRET),
                timeout=30,
            ).status_code  # fmt: skip
        answer["seconds"] = time.monotonic() - sent

    stopped = time.monotonic()
    postgres.stop()
    prober = threading.Thread(target=post_probe)
    prober.start()
    with contextlib.suppress(httpx.HTTPError):
        chaos.readyz_status = httpx.get(f"{stack.serve_url}/readyz", timeout=10).status_code
    _sleep_until(stopped, POSTGRES_DOWN_SECONDS)
    postgres.start()
    restarted = time.monotonic()
    chaos.down_seconds = restarted - stopped
    prober.join(timeout=35)
    chaos.probe_status, chaos.probe_seconds = answer.get("status"), answer.get("seconds", 0.0)
    _wait_until(
        "serve to be ready again",
        lambda: httpx.get(f"{stack.serve_url}/readyz", timeout=5).status_code == 200,
        30,
    )
    chaos.ready_again_seconds = time.monotonic() - restarted
    if chaos.probe_status != 503 or chaos.probe_seconds >= CLICKUP_DELIVERY_TIMEOUT:
        chaos.not_recovered.append(
            f"while PostgreSQL was down serve answered a delivery {chaos.probe_status} after "
            f"{chaos.probe_seconds:.1f} s; expected 503 within ClickUp's {CLICKUP_DELIVERY_TIMEOUT:.0f} s"
        )


def _drive_activity_with_chaos(postgres: RestartablePostgres, stack: Stack, chaos: Chaos) -> None:
    assert stack.serve is not None and stack.worker is not None
    emulator = stack.emulator_url
    httpx.put(f"{emulator}/_emulator/config", json={"latency_ms": API_LATENCY_MS}, timeout=10)
    started = httpx.post(f"{emulator}/_emulator/activity", json={"rate": ACTIVITY_RATE}, timeout=10).json()
    assert started["running"]
    began = time.monotonic()
    for at in KILL_WORKER_AT:
        _sleep_until(began, at)
        _kill_worker_mid_job(stack, chaos)
    _sleep_until(began, RESTART_POSTGRES_AT)
    _restart_postgres(postgres, stack, chaos)
    _sleep_until(began, ACTIVITY_SECONDS)
    chaos.changes_made = httpx.delete(f"{emulator}/_emulator/activity", timeout=30).json()["changes_made"]
    httpx.put(f"{emulator}/_emulator/config", json={"latency_ms": 0}, timeout=10)
    assert stack.serve.alive(), f"serve died:\n{stack.serve.last_output()}"
    if not stack.worker.alive():
        chaos.not_recovered.append(
            f"the worker exited (code {stack.worker.popen and stack.worker.popen.returncode}) when "
            f"PostgreSQL restarted:\n{stack.worker.last_output()}"
        )
        _start_worker(stack)


def _dispatcher_idle(emulator_url: str) -> bool:
    stats = httpx.get(f"{emulator_url}/_emulator/stats", timeout=10).json()["deliveries"]["dispatcher"]
    sent = stats["published"] + stats["duplicated"]
    finished = stats["delivered"] + stats["events_given_up"] + stats["dropped"] + stats["suspended_skips"]
    return bool(sent == finished)


def _queue_drained(dsn: str) -> bool:
    pending = _count(
        dsn, f"SELECT count(*) FROM {SCHEMA}.procrastinate_jobs WHERE status IN ('todo', 'doing')"
    )
    received = _count(dsn, f"SELECT count(*) FROM {SCHEMA}.webhook_deliveries WHERE status = 'received'")
    return pending == 0 and received == 0


async def _retry_stalled_jobs(dsn: str) -> list[str]:
    """What `retry_stalled_jobs` should have done: put the jobs of dead workers back in the queue."""
    from procrastinate import App, PsycopgConnector

    from clickup_sync.queue.schema import search_path_options

    connector = PsycopgConnector(
        conninfo=dsn, kwargs={"options": search_path_options(SCHEMA)}, min_size=1, max_size=2
    )
    async with App(connector=connector).open_async() as app:
        stalled = list(await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER_SECONDS))
        for job in stalled:
            await retry_stalled_job(app.job_manager, job)
    return [f"{job.task_name}[{job.id}]" for job in stalled]


def _settle(stack: Stack, chaos: Chaos) -> None:
    """Wait for the emulator to deliver everything and the queue to drain."""
    _wait_until("the emulator to deliver everything", lambda: _dispatcher_idle(stack.emulator_url), 60, 0.5)
    # A SIGKILLed worker's jobs come back once its heartbeat is 30 s old, at the next 30 s check.
    deadline = chaos.last_kill + STALLED_AFTER_SECONDS + STALLED_CHECK_SECONDS + 10
    with contextlib.suppress(AssertionError):
        _wait_until("the queue to drain", lambda: _queue_drained(stack.dsn), deadline - time.monotonic(), 0.5)
    if not _queue_drained(stack.dsn):
        stalled = asyncio.run(_retry_stalled_jobs(stack.dsn))
        chaos.not_recovered.append(
            f"{len(stalled)} jobs of the SIGKILLed workers were still 'doing' "
            f"{time.monotonic() - chaos.last_kill:.0f} s after the last kill: {stalled}"
        )
        _wait_until("the queue to drain", lambda: _queue_drained(stack.dsn), 30, 0.5)


def _mismatched_tasks(truth: dict[str, Any], dsn: str) -> list[str]:
    live: dict[str, dict[str, Any]] = truth["tasks"]
    stored = asyncio.run(mirror_snapshots(dsn, list(live)))
    mismatched = []
    for task_id, task in live.items():
        try:
            assert_mirror_equals(task, stored.get(task_id))
        except AssertionError:
            mismatched.append(task_id)
    return mismatched


def _assert_every_acknowledged_delivery_was_stored_and_processed(
    dsn: str, webhook_id: str, outcomes: Counter[str]
) -> None:
    """None dead, none left behind. An attempt ClickUp stopped waiting for (timeout) may have been
    stored too; its retry then was a duplicate."""
    statuses = dict(
        rows(
            dsn,
            f"SELECT status, count(*) FROM {SCHEMA}.webhook_deliveries WHERE webhook_id = %s GROUP BY 1",
            (webhook_id,),
        )
    )
    acknowledged = outcomes["delivered"] + outcomes["duplicate"]
    unanswered = outcomes["timeout"] + outcomes["failed"]
    assert acknowledged <= sum(statuses.values()) <= acknowledged + unanswered, (statuses, outcomes)
    assert set(statuses) <= {"processed", "duplicate"}, statuses


def _assert_one_history_row_per_delivered_item(dsn: str, webhook_id: str, changes_made: int) -> None:
    """field_changes: one row per delivered history item, and per delivered taskDeleted (keyed
    `webhook:taskDeleted:task`, it carries no item); none twice, none that nobody delivered."""
    delivered: set[str] = set()
    query = f"SELECT body FROM {SCHEMA}.webhook_deliveries WHERE webhook_id = %s"
    for (body,) in rows(dsn, query, (webhook_id,)):
        payload = orjson.loads(bytes(body))
        delivered.update(str(item["id"]) for item in payload.get("history_items") or [])
        if payload["event"] == "taskDeleted":
            delivered.add(f"{webhook_id}:taskDeleted:{payload['task_id']}")
    query = f"SELECT event_id FROM {SCHEMA}.field_changes WHERE event_id IS NOT NULL"
    recorded = Counter(event_id for (event_id,) in rows(dsn, query))
    assert len(delivered) > changes_made * 0.8
    assert [event for event, n in recorded.items() if n > 1] == [], "history items recorded twice"
    assert sorted(delivered - recorded.keys()) == [], "delivered history items never recorded"
    assert sorted(recorded.keys() - delivered) == [], "history rows with an item id nobody delivered"


# History item fields whose change a fetch of the task shows (diff.py names them the same way).
_FETCHABLE_FIELDS = {"status", "name", "priority", "due_date", "time_estimate", "assignees", "tags"}


def _field_key(task_id: str, item: dict[str, Any]) -> tuple[str, str] | None:
    effect = item_effect(item, received_at=datetime.now(UTC))
    if effect.field_id is not None:
        return task_id, effect.field_id
    return (task_id, effect.field_name) if effect.field_name in _FETCHABLE_FIELDS else None


def _assert_dropped_changes_were_fetched(
    dsn: str, webhook_id: str, dropped: list[dict[str, Any]], live: set[str]
) -> None:
    delivered_at: dict[tuple[str, str], int] = {}  # newest delivered change per task field
    delivered_ids: set[str] = set()
    query = f"SELECT body FROM {SCHEMA}.webhook_deliveries WHERE webhook_id = %s"
    for (body,) in rows(dsn, query, (webhook_id,)):
        payload = orjson.loads(bytes(body))
        for item in payload.get("history_items") or []:
            delivered_ids.add(str(item["id"]))
            if (key := _field_key(str(payload["task_id"]), item)) is not None:
                delivered_at[key] = max(delivered_at.get(key, 0), int(item["date"]))
    lost: dict[tuple[str, str], int] = {}
    for delivery in dropped:
        for item in delivery["history_items"]:
            key = _field_key(str(delivery["task_id"]), item)
            if str(item["id"]) in delivered_ids or key is None or key[0] not in live:
                continue
            if int(item["date"]) > delivered_at.get(key, 0):  # nothing delivered superseded it
                lost[key] = max(lost.get(key, 0), int(item["date"]))
    fetched = {
        (task_id, field_id or field_name)
        for task_id, field_id, field_name in rows(
            dsn,
            f"SELECT task_id, field_id, field_name FROM {SCHEMA}.field_changes"
            " WHERE event_id IS NULL AND source IN ('poll', 'webhook')",
        )
    }
    found = len(lost.keys() & fetched)
    print(f"dropped changes never delivered in another form: {len(lost)}; recorded from a fetch: {found}")
    assert sorted(lost.keys() - fetched) == [], "dropped changes that no fetch recorded"


def _assert_mirror_equals_ground_truth(dsn: str, truth: dict[str, Any]) -> None:
    """Every live task's row, custom field values and relationships — what dropped deliveries carried
    included, recovered by the reconcile — and every deletion marked."""
    live: dict[str, dict[str, Any]] = truth["tasks"]
    stored = asyncio.run(mirror_snapshots(dsn, list(live)))
    for task_id, task in live.items():
        assert_mirror_equals(task, stored.get(task_id))
    deleted = set(truth["deleted_task_ids"])
    marked = {r[0] for r in rows(dsn, f"SELECT task_id FROM {SCHEMA}.tasks WHERE deleted_at IS NOT NULL")}
    mirrored = {r[0] for r in rows(dsn, f"SELECT task_id FROM {SCHEMA}.tasks")}
    assert deleted & mirrored, "the activity deleted no mirrored task"
    assert marked == deleted & mirrored
    assert mirrored - deleted == set(live), "the mirror and ClickUp disagree on which tasks exist"


def test_webhooks_survive_killed_workers_a_postgres_restart_and_delivery_chaos(
    postgres: RestartablePostgres, tmp_path: Path
) -> None:
    began = time.monotonic()
    chaos = Chaos()
    stack = _start_stack(postgres, tmp_path)
    try:
        _drive_activity_with_chaos(postgres, stack, chaos)
        _settle(stack, chaos)
        truth = orjson.loads(httpx.get(f"{stack.emulator_url}/_emulator/state", timeout=60).content)
        before_reconcile = _mismatched_tasks(truth, stack.dsn)
        reconcile = subprocess.run(
            [sys.executable, "-m", "clickup_sync", "reconcile"],
            env=stack.env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert reconcile.returncode == 0, reconcile.stderr
        stats = httpx.get(f"{stack.emulator_url}/_emulator/stats", timeout=10).json()
        dropped = httpx.get(
            f"{stack.emulator_url}/_emulator/deliveries", params={"outcome": "dropped"}, timeout=30
        ).json()["deliveries"]
    finally:
        stack.stop()
    dsn, webhook_id = stack.dsn, stack.webhook_id
    dispatcher = stats["deliveries"]["dispatcher"]
    outcomes = Counter(stats["deliveries"]["by_outcome"])
    print(
        f"\nchaos: {chaos.changes_made} changes; dispatcher {dispatcher}; attempts {dict(outcomes)}; "
        f"jobs running at each SIGKILL {chaos.jobs_at_kill}; PostgreSQL down {chaos.down_seconds:.1f} s, "
        f"probe {chaos.probe_status} after {chaos.probe_seconds:.1f} s, /readyz {chaos.readyz_status}, "
        f"ready {chaos.ready_again_seconds:.1f} s after the restart; {len(before_reconcile)} tasks differed "
        f"before the reconcile; {reconcile.stdout.strip()}; total {time.monotonic() - began:.0f} s"
    )
    assert stats["workspace_version"] == truth["version"]  # nothing changed since the truth was read

    # The chaos happened: deliveries dropped, duplicated and reordered; the outage failed attempts;
    # the SIGKILLs caught workers running jobs.
    assert chaos.changes_made >= ACTIVITY_RATE * ACTIVITY_SECONDS * 0.8
    assert dispatcher["dropped"] > 0 and dispatcher["duplicated"] > 0 and dispatcher["reordered"] > 0
    assert dispatcher["failed_attempts"] > 0, "no delivery met the PostgreSQL outage"
    assert sum(chaos.jobs_at_kill) > 0, "no SIGKILL caught a worker running a job"
    assert chaos.readyz_status == 503  # not ready while the database is away ...
    assert chaos.ready_again_seconds < 15  # ... and ready again soon after, by itself
    # ClickUp's retries outlasted the outage: no event was given up.
    assert dispatcher["events_given_up"] == 0, dispatcher

    _assert_every_acknowledged_delivery_was_stored_and_processed(dsn, webhook_id, outcomes)
    _assert_one_history_row_per_delivered_item(dsn, webhook_id, chaos.changes_made)
    _assert_dropped_changes_were_fetched(dsn, webhook_id, dropped, set(truth["tasks"]))
    _assert_mirror_equals_ground_truth(dsn, truth)

    # Last, what the service must recover from by itself (the test helped, see above).
    assert chaos.not_recovered == [], "\n\n".join(chaos.not_recovered)
