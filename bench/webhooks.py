"""Webhook benchmark: the acknowledgement path, API calls per event, and time to history.

Targets (issue #4, 2-core machine):
  1. `POST /webhooks/clickup` (signed, realistic bodies, unique history items): acknowledgement latency
     p50/p95/p99 and the maximum deliveries/s at fixed concurrency levels, next to plain single-row
     `INSERT …; COMMIT`s into the same PostgreSQL at the same concurrency (the ratio is the figure);
     p99 at a paced 300 deliveries/s < 50 ms.
  2. ClickUp API calls per webhook event for a burst of 5,000 events over 100 tasks ≤ 0.05 (the
     emulator's `GET /task/{id}` count).
  3. Time from receipt to `field_changes` committed, p50/p95 (p95 < 1 s).

Everything runs as in production: `clickup-sync serve --no-worker`, `clickup-sync worker` and the
emulator are separate processes; PostgreSQL is BENCH_DATABASE_URL / TEST_DATABASE_URL, else an
embedded server. The bodies are the emulator's own deliveries: a copy of the emulated workspace (same
seed, same task ids) is changed in this process and what its dispatcher would send is captured, signed
with a webhook secret registered in the service's `webhooks` table, and posted by a minimal HTTP/1.1
client (httpx would cost more CPU than the server on 2 cores and measure itself).

    python -m bench.webhooks                    # everything, a few minutes
    python -m bench.webhooks --quick            # smaller runs, for a smoke check
    python -m bench.webhooks --skip-ack --worker-concurrency 16 --api-latency-ms 0 --output NAME

BENCH_LOG_DIR=DIR keeps the service's logs (LOG_LEVEL=INFO for job timings). The machine is shared:
a load average above ~0.5 at the start is printed, since it skews every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import psycopg

from bench.common import bench_database, free_port, print_table, save_results, start_emulator
from clickup_sync.clickup.emulator.server import DEFAULT_TOKEN as TOKEN
from clickup_sync.clickup.emulator.workspace import Workspace
from clickup_sync.clickup.signature import serialize_webhook_body, sign_clickup_body

SCHEMA = "clickup_sync"
SEED = 1
WORKSPACE_TASKS = 300
GET_TASK = "GET /api/v2/task/{task_id}"


# ---------------------------------------------------------------------------------------------- bodies


@dataclass(frozen=True)
class Delivery:
    body: bytes
    signature: str
    item_ids: tuple[str, ...]
    task_id: str


@dataclass
class _Capture:
    """A delivery sink: what the emulator's dispatcher would have been handed."""

    payloads: list[dict[str, Any]] = field(default_factory=list)

    def publish(self, subscription: Any, payload: dict[str, Any]) -> None:
        self.payloads.append(payload)


class DeliveryFactory:
    """Realistic signed deliveries for tasks that exist in the emulator process (same seed and size).

    Changes go through the emulator's own `Workspace` mutations, so the bodies are byte for byte what
    the emulator (and ClickUp, as far as the reference says) sends; every change has new history items.
    """

    def __init__(self, seed: int = SEED, tasks: int = WORKSPACE_TASKS) -> None:
        self.workspace = Workspace.generate(seed, tasks)
        self.capture = _Capture()
        self.workspace.set_sink(self.capture)
        created = self.workspace.create_webhook(
            self.workspace.team_id, {"endpoint": "http://127.0.0.1/webhooks/clickup", "events": ["*"]}
        )
        self.webhook_id: str = created["id"]
        self.secret: str = created["webhook"]["secret"]
        self.random = random.Random(seed)
        self.all_task_ids = self.workspace.live_task_ids()

    def register_sql(self) -> tuple[str, tuple[str, str, str, str]]:
        return (
            f"INSERT INTO {SCHEMA}.webhooks (webhook_id, team_id, endpoint, secret) VALUES (%s, %s, %s, %s)",
            (self.webhook_id, self.workspace.team_id, "http://127.0.0.1/webhooks/clickup", self.secret),
        )

    def deliveries(self, count: int, task_ids: list[str], *, unique_items: bool) -> list[Delivery]:
        """`count` deliveries about `task_ids`. With `unique_items`, one delivery per change (ClickUp also
        sends the specific event, e.g. taskStatusUpdated, with the same items: those are left out)."""
        made: list[Delivery] = []
        for _ in range(count * 20):  # bounded: a change that changes nothing publishes nothing
            if len(made) >= count:
                break
            self.capture.payloads.clear()
            self._change(self.random.choice(task_ids))
            seen: set[tuple[str, ...]] = set()
            for payload in self.capture.payloads:
                items = tuple(str(item["id"]) for item in payload.get("history_items") or [])
                if unique_items and (not items or items in seen):
                    continue
                seen.add(items)
                body = serialize_webhook_body(payload)
                made.append(
                    Delivery(body, sign_clickup_body(self.secret, body), items, str(payload["task_id"]))
                )
        if len(made) < count:
            raise RuntimeError(f"made only {len(made)} of {count} deliveries")
        return made[:count]

    def _change(self, task_id: str) -> None:
        ws, draw = self.workspace, self.random
        task = ws.get_task(task_id)
        kind = draw.choices(
            ["status", "priority", "name", "due_date", "time_estimate", "custom_field"], [25, 8, 6, 8, 3, 50]
        )[0]
        if kind == "status":
            statuses = [s["status"] for s in ws.get_list(task["list"]["id"])["statuses"]]
            ws.update_task(
                task_id, {"status": draw.choice([s for s in statuses if s != task["status"]["status"]])}
            )
        elif kind == "priority":
            ws.update_task(task_id, {"priority": draw.choice([1, 2, 3, 4])})
        elif kind == "name":
            ws.update_task(task_id, {"name": f"Task {draw.randint(1, 10**9)} — 改善 ✅"})
        elif kind == "due_date":
            ws.update_task(
                task_id, {"due_date": int(task["date_created"]) + draw.randint(1, 90) * 86_400_000}
            )
        elif kind == "time_estimate":
            ws.update_task(task_id, {"time_estimate": draw.randint(1, 16) * 1_800_000})
        else:
            self._change_custom_field(task_id)

    def _change_custom_field(self, task_id: str) -> None:
        ws, draw = self.workspace, self.random
        fields = [
            f
            for f in ws.fields_of_task(task_id)
            if f["type"] in {"drop_down", "number", "currency", "short_text", "text", "checkbox"}
        ]
        if not fields:
            ws.update_task(task_id, {"priority": draw.choice([1, 2, 3, 4])})
            return
        definition = draw.choice(fields)
        kind = definition["type"]
        value: Any
        if kind == "drop_down":
            value = draw.choice(definition["type_config"]["options"])["id"]
        elif kind in {"number", "currency"}:
            value = draw.randint(1, 100_000)
        elif kind == "checkbox":
            value = draw.random() < 0.5
        else:
            value = f"note {draw.randint(1, 10**9)} — ünïcödé 🚀"
        ws.set_field_value(task_id, definition["id"], {"value": value})


# ------------------------------------------------------------------------------------------ HTTP client


class Connection:
    """One keep-alive HTTP/1.1 connection: write a request, read the status line, headers and body."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, f"{host}:{port}")

    async def post(self, path: str, delivery: Delivery) -> int:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"X-Signature: {delivery.signature}\r\nContent-Length: {len(delivery.body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + delivery.body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return status

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


@contextlib.asynccontextmanager
async def connections(port: int, count: int) -> AsyncIterator[list[Connection]]:
    opened = [await Connection.open("127.0.0.1", port) for _ in range(count)]
    try:
        yield opened
    finally:
        for connection in opened:
            await connection.close()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


@dataclass
class LoadResult:
    sent: int
    seconds: float
    latencies: list[float]
    statuses: dict[int, int]

    @property
    def rate(self) -> float:
        return self.sent / self.seconds


async def closed_loop(port: int, deliveries: list[Delivery], concurrency: int) -> LoadResult:
    """`concurrency` connections, each posting the next delivery as soon as its previous one is answered."""
    pending = iter(deliveries)
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def run(connection: Connection) -> None:
        for delivery in pending:
            sent = time.perf_counter()
            status = await connection.post("/webhooks/clickup", delivery)
            latencies.append(time.perf_counter() - sent)
            statuses[status] = statuses.get(status, 0) + 1

    async with connections(port, concurrency) as opened:
        began = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(run(c) for c in opened)), timeout=300)
        elapsed = time.perf_counter() - began
    return LoadResult(len(deliveries), elapsed, latencies, statuses)


async def paced(
    port: int, deliveries: list[Delivery], rate: float, *, max_connections: int = 64
) -> tuple[LoadResult, list[float]]:
    """Open loop: delivery i is due at i / rate; its latency counts from when it was due (a slow answer
    delays nothing else, and queueing behind one is counted). Returns the result and each send time."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    sent_at: list[float] = [0.0] * len(deliveries)
    async with connections(port, max_connections) as opened:
        idle: asyncio.Queue[Connection] = asyncio.Queue()
        for connection in opened:
            idle.put_nowait(connection)

        async def one(index: int, due: float) -> None:
            connection = await idle.get()
            sent_at[index] = time.time()
            status = await connection.post("/webhooks/clickup", deliveries[index])
            latencies.append(time.perf_counter() - due)
            statuses[status] = statuses.get(status, 0) + 1
            idle.put_nowait(connection)

        began = time.perf_counter()
        running = []
        for index in range(len(deliveries)):
            due = began + index / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            running.append(asyncio.create_task(one(index, due)))
        await asyncio.wait_for(asyncio.gather(*running), timeout=120)
        elapsed = time.perf_counter() - began
    return LoadResult(len(deliveries), elapsed, latencies, statuses), sent_at


async def insert_baseline(dsn: str, bodies: list[bytes], concurrency: int) -> LoadResult:
    """Plain single-row INSERTs, each its own transaction (autocommit), `concurrency` connections."""
    pending = iter(bodies)
    latencies: list[float] = []

    async def run(conn: psycopg.AsyncConnection[Any]) -> None:
        for body in pending:
            sent = time.perf_counter()
            await conn.execute("INSERT INTO bench_insert (body) VALUES (%s)", (body,))
            latencies.append(time.perf_counter() - sent)

    opened = [await psycopg.AsyncConnection.connect(dsn, autocommit=True) for _ in range(concurrency)]
    try:
        began = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(run(c) for c in opened)), timeout=300)
        elapsed = time.perf_counter() - began
    finally:
        for conn in opened:
            await conn.close()
    return LoadResult(len(bodies), elapsed, latencies, {})


# ------------------------------------------------------------------------------------------- processes


@dataclass
class Service:
    env: dict[str, str]
    port: int
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, *args: str) -> None:
        """Output goes to $BENCH_LOG_DIR/<command>.log when that is set, else nowhere."""
        log_dir = os.environ.get("BENCH_LOG_DIR")
        with contextlib.ExitStack() as stack:
            output: Any = subprocess.DEVNULL
            if log_dir:
                output = stack.enter_context(open(os.path.join(log_dir, f"{args[0]}.log"), "ab"))
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "clickup_sync", *args],
                    env=self.env,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )
            )

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@contextlib.contextmanager
def service(
    dsn: str, *, api_url: str, team_id: str, worker: bool, worker_concurrency: int = 4
) -> Iterator[Service]:
    """`serve --no-worker` (and a separate `worker` process when asked), ready to answer."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "CLICKUP_API_URL": api_url,
        "CLICKUP_API_TOKEN": TOKEN,
        "CLICKUP_WORKSPACE_ID": team_id,
        "PORT": str(port),
        "AIRBYTE_MODE": "off",
        "RECONCILE_INTERVAL_SECONDS": "86400",
        "WEBHOOK_HEALTH_INTERVAL_SECONDS": "86400",
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
        "APP_ENV": "production",
        "WORKER_CONCURRENCY": str(worker_concurrency),
    }
    running = Service(env, port)
    try:
        running.start("serve", "--no-worker", "--host", "127.0.0.1")
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("serve did not become ready")
            time.sleep(0.2)
        if worker:
            running.start("worker")
        yield running
    finally:
        running.stop()


def query(dsn: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchall()


def wait_drained(dsn: str, seconds: float) -> float:
    """Wait until no job is queued or running and no delivery waits; returns the seconds it took."""
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        ((pending,),) = query(
            dsn,
            f"SELECT (SELECT count(*) FROM {SCHEMA}.procrastinate_jobs WHERE status IN ('todo', 'doing'))"
            f" + (SELECT count(*) FROM {SCHEMA}.webhook_deliveries WHERE status = 'received')",
        )
        if pending == 0:
            return time.monotonic() - began
        time.sleep(0.1)
    raise SystemExit(f"the queue did not drain in {seconds:.0f} s")


# ------------------------------------------------------------------------------------------- the runs


def acknowledgement(
    factory: DeliveryFactory,
    levels: list[int],
    per_level: int,
    paced_rates: list[float],
    paced_seconds: float,
) -> list[dict[str, Any]]:
    """Part 1: serve alone (no worker competing for the 2 cores), a fresh database."""
    rows: list[dict[str, Any]] = []
    with bench_database() as dsn:
        with psycopg.connect(dsn) as conn:
            conn.execute(*factory.register_sql())
            conn.execute("CREATE TABLE bench_insert (id bigserial PRIMARY KEY, body bytea NOT NULL)")
        with service(dsn, api_url="http://127.0.0.1:9/api/v2", team_id="0", worker=False) as running:
            task_ids = factory.all_task_ids
            warmup = factory.deliveries(300, task_ids, unique_items=True)
            asyncio.run(closed_loop(running.port, warmup, 8))
            asyncio.run(insert_baseline(dsn, [d.body for d in warmup], 8))
            for concurrency in levels:
                batch = factory.deliveries(per_level, task_ids, unique_items=True)
                webhook = asyncio.run(closed_loop(running.port, batch, concurrency))
                assert webhook.statuses == {200: per_level}, webhook.statuses
                insert = asyncio.run(insert_baseline(dsn, [d.body for d in batch], concurrency))
                rows.append(
                    {
                        "test": "closed loop",
                        "concurrency": concurrency,
                        "deliveries": per_level,
                        "webhook_per_s": round(webhook.rate),
                        "insert_per_s": round(insert.rate),
                        "ratio": round(webhook.rate / insert.rate, 2),
                        "p50_ms": ms(percentile(webhook.latencies, 50)),
                        "p95_ms": ms(percentile(webhook.latencies, 95)),
                        "p99_ms": ms(percentile(webhook.latencies, 99)),
                        "insert_p99_ms": ms(percentile(insert.latencies, 99)),
                    }
                )
            for rate in paced_rates:
                count = round(rate * paced_seconds)
                batch = factory.deliveries(count, task_ids, unique_items=True)
                result, _ = asyncio.run(paced(running.port, batch, rate))
                assert result.statuses == {200: count}, result.statuses
                rows.append(
                    {
                        "test": f"paced {rate:.0f}/s",
                        "concurrency": "open loop",
                        "deliveries": count,
                        "webhook_per_s": round(result.rate),
                        "p50_ms": ms(percentile(result.latencies, 50)),
                        "p95_ms": ms(percentile(result.latencies, 95)),
                        "p99_ms": ms(percentile(result.latencies, 99)),
                        "target": "p99 < 50 ms" if rate == 300 else "",
                    }
                )
    return rows


def pipeline(
    factory: DeliveryFactory,
    burst: int,
    burst_tasks: int,
    latency_rates: list[float],
    latency_seconds: float,
    api_latency_ms: float,
    worker_concurrency: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Parts 2 and 3: emulator, backfill, serve and a worker, a fresh database."""
    port = free_port()
    extra = ["--seed", str(SEED), "--latency-ms", str(api_latency_ms)]
    with bench_database() as dsn, start_emulator(port, tasks=WORKSPACE_TASKS, extra=extra) as (api_url, team):
        if team != factory.workspace.team_id:
            raise SystemExit("the emulator's workspace differs from this process's copy")
        env = {
            **os.environ,
            "DATABASE_URL": dsn,
            "CLICKUP_API_URL": api_url,
            "CLICKUP_API_TOKEN": TOKEN,
            "CLICKUP_WORKSPACE_ID": team,
            "AIRBYTE_MODE": "off",
            "LOG_LEVEL": "WARNING",
        }
        backfill = [sys.executable, "-m", "clickup_sync", "backfill"]
        subprocess.run(backfill, env=env, check=True, capture_output=True, timeout=300)
        with psycopg.connect(dsn) as conn:
            conn.execute(*factory.register_sql())
        stats_url = f"http://127.0.0.1:{port}/_emulator/stats"

        def task_fetches() -> int:
            by_endpoint = httpx.get(stats_url, timeout=10).json()["requests_by_endpoint"]
            return sum(by_endpoint.get(GET_TASK, {}).values())

        with service(
            dsn, api_url=api_url, team_id=team, worker=True, worker_concurrency=worker_concurrency
        ) as running:
            # -- 2. a burst over `burst_tasks` tasks, sent as fast as 16 connections go --------------
            tasks = factory.random.sample(factory.all_task_ids, burst_tasks)
            batch = factory.deliveries(burst, tasks, unique_items=False)
            before = task_fetches()
            result = asyncio.run(closed_loop(running.port, batch, 16))
            drained = wait_drained(dsn, 300)
            fetches = task_fetches() - before
            ((processed,),) = query(
                dsn, f"SELECT count(*) FROM {SCHEMA}.webhook_deliveries WHERE status = 'processed'"
            )
            burst_rows = [
                {
                    "test": f"burst over {burst_tasks} tasks",
                    "events": burst,
                    "processed": processed,
                    "duplicates": burst - processed,
                    "ingest_per_s": round(result.rate),
                    "drained_after_s": round(result.seconds + drained, 1),
                    "get_task_calls": fetches,
                    "calls_per_event": round(fetches / burst, 4),
                    "target": "≤ 0.05",
                }
            ]
            # -- 3. receipt → field_changes committed, at steady rates ---------------------------------
            latency_rows = []
            for rate in latency_rates:
                count = round(rate * latency_seconds)
                batch = factory.deliveries(count, factory.all_task_ids, unique_items=True)
                before = task_fetches()
                latency_rows.append(asyncio.run(time_to_history(running.port, dsn, batch, rate)))
                wait_drained(dsn, 300)
                latency_rows[-1]["get_task_calls"] = task_fetches() - before
    return burst_rows, latency_rows


async def time_to_history(port: int, dsn: str, batch: list[Delivery], rate: float) -> dict[str, Any]:
    """Post at `rate`; a poller notes when each history item becomes visible in field_changes."""
    first_seen: dict[str, float] = {}
    wanted = {item for delivery in batch for item in delivery.item_ids}
    done = asyncio.Event()

    async def poll() -> None:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            deadline = time.monotonic() + 300
            while not (done.is_set() and len(first_seen) == len(wanted)) and time.monotonic() < deadline:
                missing = list(wanted - first_seen.keys())
                found = await (
                    await conn.execute(
                        f"SELECT event_id FROM {SCHEMA}.field_changes WHERE event_id = ANY(%s)", (missing,)
                    )
                ).fetchall()
                now = time.time()
                for (event_id,) in found:
                    first_seen.setdefault(event_id, now)
                await asyncio.sleep(0.01)

    poller = asyncio.create_task(poll())
    result, sent_at = await paced(port, batch, rate, max_connections=32)
    done.set()
    await asyncio.wait_for(poller, timeout=320)
    client_side = [
        first_seen[item] - sent_at[index]
        for index, delivery in enumerate(batch)
        for item in delivery.item_ids
        if item in first_seen
    ]
    # Cross-check inside PostgreSQL: the processing transaction's start minus the delivery's receipt.
    server_side = [
        float(seconds)
        for (seconds,) in await asyncio.to_thread(
            query,
            dsn,
            f"SELECT extract(epoch FROM c.recorded_at - d.received_at) FROM {SCHEMA}.field_changes c"
            f" JOIN {SCHEMA}.webhook_history_items h ON h.history_item_id = c.event_id"
            f" JOIN {SCHEMA}.webhook_deliveries d ON d.id = h.delivery_id WHERE c.event_id = ANY(%s)",
            (list(wanted),),
        )
    ]
    return {
        "test": f"{rate:.0f} deliveries/s for {len(batch) / rate:.0f} s",
        "events": len(batch),
        "items": len(wanted),
        "items_recorded": len(first_seen),
        "p50_ms": ms(percentile(client_side, 50)),
        "p95_ms": ms(percentile(client_side, 95)),
        "max_ms": ms(max(client_side, default=float("nan"))),
        "db_p50_ms": ms(percentile(server_side, 50)),
        "db_p95_ms": ms(percentile(server_side, 95)),
        "ack_p99_ms": ms(percentile(result.latencies, 99)),
        "target": "p95 < 1 s",
    }


@dataclass
class Options:
    """What to run; the defaults are the full benchmark, `quick()` a smoke check."""

    concurrency: list[int] = field(default_factory=lambda: [1, 4, 16, 64])
    per_level: int = 3000
    paced_rates: list[float] = field(default_factory=lambda: [150.0, 300.0])
    paced_seconds: float = 15.0
    burst: int = 5000
    burst_tasks: int = 100
    latency_rates: list[float] = field(default_factory=lambda: [10.0, 25.0, 50.0])
    latency_seconds: float = 15.0
    api_latency_ms: float = 100.0
    worker_concurrency: int = 4
    skip_ack: bool = False

    def quick(self) -> Options:
        return replace(self, per_level=500, paced_seconds=3.0, burst=1000, latency_seconds=4.0)

    @property
    def setup(self) -> str:
        return (
            f"serve + worker (WORKER_CONCURRENCY {self.worker_concurrency}) + emulator with"
            f" {self.api_latency_ms:.0f} ms API latency"
        )


@dataclass
class Results:
    """The three parts' rows, as printed; `rows()` is what bench/results/NAME.json holds."""

    options: Options
    ack: list[dict[str, Any]]
    burst: list[dict[str, Any]]
    latency: list[dict[str, Any]]

    def rows(self) -> list[dict[str, Any]]:
        setup = {
            "api_latency_ms": self.options.api_latency_ms,
            "worker_concurrency": self.options.worker_concurrency,
        }
        return (
            [{"part": "acknowledgement", **row} for row in self.ack]
            + [{"part": "api_calls", **setup, **row} for row in self.burst]
            + [{"part": "time_to_history", **setup, **row} for row in self.latency]
        )

    def print(self) -> None:
        if self.ack:
            print(
                "\n1. Acknowledgement of POST /webhooks/clickup (serve alone)"
                " next to single-row INSERT; COMMIT\n"
            )
            print_table(self.ack)
        print(f"\n2. ClickUp API calls per webhook event: {self.options.setup}\n")
        print_table(self.burst)
        print(
            f"\n3. Receipt → field_changes committed, steady load (p95 target < 1 s): {self.options.setup}\n"
        )
        print_table(self.latency)


def run(options: Options) -> Results:
    """Every part of the benchmark, in order (each on a fresh database)."""
    factory = DeliveryFactory()
    ack = (
        []
        if options.skip_ack
        else acknowledgement(
            factory, options.concurrency, options.per_level, options.paced_rates, options.paced_seconds
        )
    )
    burst, latency = pipeline(
        factory,
        options.burst,
        options.burst_tasks,
        options.latency_rates,
        options.latency_seconds,
        options.api_latency_ms,
        options.worker_concurrency,
    )
    return Results(options, ack, burst, latency)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", default="1,4,16,64", help="closed-loop levels, comma-separated")
    parser.add_argument("--per-level", type=int, default=3000, help="deliveries per concurrency level")
    parser.add_argument("--paced-rates", default="150,300", help="open-loop deliveries/s, comma-separated")
    parser.add_argument("--paced-seconds", type=float, default=15.0)
    parser.add_argument("--burst", type=int, default=5000)
    parser.add_argument("--burst-tasks", type=int, default=100)
    parser.add_argument(
        "--latency-rates", default="10,25,50", help="deliveries/s for part 3, comma-separated"
    )
    parser.add_argument("--latency-seconds", type=float, default=15.0)
    parser.add_argument("--api-latency-ms", type=float, default=100.0, help="the emulator's API latency")
    parser.add_argument("--worker-concurrency", type=int, default=4, help="WORKER_CONCURRENCY of the worker")
    parser.add_argument("--skip-ack", action="store_true", help="only parts 2 and 3")
    parser.add_argument("--output", default="webhooks", help="bench/results/NAME.json")
    parser.add_argument("--quick", action="store_true", help="small runs, for a smoke check")
    args = parser.parse_args()
    options = Options(
        concurrency=[int(level) for level in args.concurrency.split(",")],
        per_level=args.per_level,
        paced_rates=[float(rate) for rate in args.paced_rates.split(",")],
        paced_seconds=args.paced_seconds,
        burst=args.burst,
        burst_tasks=args.burst_tasks,
        latency_rates=[float(rate) for rate in args.latency_rates.split(",")],
        latency_seconds=args.latency_seconds,
        api_latency_ms=args.api_latency_ms,
        worker_concurrency=args.worker_concurrency,
        skip_ack=args.skip_ack,
    )
    if args.quick:
        options = options.quick()

    busy = os.getloadavg()[0]
    if busy > 0.5:
        print(f"note: load average {busy:.1f} before starting; other work on this machine skews the figures")
    results = run(options)
    results.print()
    path = save_results(args.output, results.rows())
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main()
