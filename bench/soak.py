"""Soak: the service under steady activity with delivery chaos and Airbyte syncs, for minutes.

    python -m bench.soak                              # 30 minutes, an Airbyte sync every 10
    python -m bench.soak --minutes 3 --airbyte-every 1

As production runs it, each a process of its own: the emulator (activity at `--rate` changes/s,
webhook deliveries duplicated, reordered and dropped at the given rates), `clickup-sync serve
--no-worker` and `clickup-sync worker` (AIRBYTE_MODE=auto, the scheduled reconcile at its default
interval), against a fresh database after `clickup-sync backfill` and `webhooks register`. Every
`--airbyte-every` minutes the destination simulator (destination-postgres 3.x) runs an overwrite sync
of `public.clickup_task` with what Airbyte's connector would read from the emulator's current state
(`simulator_feed.airbyte_records_from_ground_truth`, include_closed_tasks off as the connector's
default). Every `--sample-seconds` the RSS of serve and worker and the queue depth are sampled.

At the end: activity stops, the emulator finishes delivering, the queue drains, one `clickup-sync
reconcile` runs, the queue drains again. Reported: least-squares slopes over the second half of the
samples (MB/min of each process, jobs/min of the queue), dead letters, parked changes, and whether
the mirror equals the emulator's ground truth (every live task's row, custom field values and
relationships, as tests/integration/sync/test_backfill_reconcile.py compares them, and every deletion
marked). Results: bench/results/soak.json. Not a CI test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg_pool import AsyncConnectionPool

from bench.common import RESULTS, bench_database, free_port, print_table, start_emulator
from bench.webhooks import Service
from clickup_sync.airbyte.coverage import missing_task_reasons
from clickup_sync.airbyte.simulator import AirbyteDestinationSimulator, SyncHandle
from clickup_sync.airbyte.simulator_feed import airbyte_records_from_ground_truth
from clickup_sync.clickup.emulator.server import DEFAULT_TOKEN as TOKEN
from clickup_sync.sync.store import MirrorStore
from clickup_sync.sync.task_state import TaskSnapshot, snapshot_from_task_json

SCHEMA = "clickup_sync"
AIRBYTE_TABLE = "public.clickup_task"
ROW_COLUMNS = ("name", "status", "list_id", "parent_task_id", "assignee_ids", "tags", "due_date",
               "date_updated", "archived", "priority", "points", "time_estimate_ms")  # fmt: skip


@dataclass
class Sample:
    minute: float
    serve_rss_mb: float
    worker_rss_mb: float
    jobs_todo: int
    jobs_doing: int
    deliveries_received: int
    parked: int
    dead: int
    failed_jobs: int
    field_changes: int

    @property
    def queue_depth(self) -> int:
        return self.jobs_todo + self.jobs_doing + self.deliveries_received


@dataclass
class AirbyteSync:
    minute: float
    records: int
    seconds: float
    swapped: bool
    error: str | None = None


@dataclass
class SoakRun:
    samples: list[Sample] = field(default_factory=list)
    airbyte_syncs: list[AirbyteSync] = field(default_factory=list)


# ------------------------------------------------------------------------------------------ measuring


def rss_mb(pid: int) -> float:
    """The process's resident set now (VmRSS), in MB; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (minute, value) points; 0 for fewer than two distinct minutes."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def second_half(samples: list[Sample]) -> list[Sample]:
    if not samples:
        return []
    middle = samples[0].minute + (samples[-1].minute - samples[0].minute) / 2
    return [sample for sample in samples if sample.minute >= middle]


def query_one(dsn: str, sql: str, params: tuple[Any, ...] = ()) -> Any:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql, params).fetchone()
    return row[0] if row else None


COUNTS = f"""
SELECT (SELECT count(*) FROM {SCHEMA}.procrastinate_jobs WHERE status = 'todo'),
       (SELECT count(*) FROM {SCHEMA}.procrastinate_jobs WHERE status = 'doing'),
       (SELECT count(*) FROM {SCHEMA}.webhook_deliveries WHERE status = 'received'),
       (SELECT count(*) FROM {SCHEMA}.webhook_deliveries WHERE status = 'parked'),
       (SELECT count(*) FROM {SCHEMA}.webhook_deliveries WHERE status = 'dead'),
       (SELECT count(*) FROM {SCHEMA}.procrastinate_jobs WHERE status = 'failed'),
       (SELECT count(*) FROM {SCHEMA}.field_changes)
"""


def sample(dsn: str, began: float, service: Service) -> Sample:
    serve, worker = service.processes
    with psycopg.connect(dsn) as conn:
        row = conn.execute(COUNTS).fetchone()
    assert row is not None
    return Sample(
        round((time.monotonic() - began) / 60, 3), rss_mb(serve.pid), rss_mb(worker.pid), *map(int, row)
    )


def wait_until(what: str, check: Any, seconds: float, interval: float = 0.5) -> float:
    began = time.monotonic()
    while not check():
        if time.monotonic() - began > seconds:
            raise TimeoutError(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(interval)
    return time.monotonic() - began


def dispatcher_idle(emulator: str) -> bool:
    stats = httpx.get(f"{emulator}/_emulator/stats", timeout=30).json()["deliveries"]["dispatcher"]
    sent = stats["published"] + stats["duplicated"]
    finished = stats["delivered"] + stats["events_given_up"] + stats["dropped"] + stats["suspended_skips"]
    return bool(sent == finished)


def queue_drained(dsn: str) -> bool:
    pending = query_one(
        dsn,
        f"SELECT (SELECT count(*) FROM {SCHEMA}.procrastinate_jobs WHERE status IN ('todo', 'doing'))"
        f" + (SELECT count(*) FROM {SCHEMA}.webhook_deliveries WHERE status = 'received')",
    )
    return int(pending) == 0


# ---------------------------------------------------------------------------------- mirror vs truth


def mirror_differences(truth_task: dict[str, Any], stored: TaskSnapshot | None) -> list[str]:
    """What differs between the mirror's task and the ground truth's (the columns, values and
    relationships tests/integration/sync/test_backfill_reconcile.py `assert_mirror_equals` checks)."""
    if stored is None:
        return ["missing"]
    expected = snapshot_from_task_json(truth_task)
    differences = [c for c in ROW_COLUMNS if getattr(stored.row, c) != getattr(expected.row, c)]
    if stored.values.keys() != expected.values.keys():
        differences.append("custom field set")
    for field_id, value in expected.values.items():
        mirrored = stored.values.get(field_id)
        if mirrored is not None and not (
            mirrored.same_value(value) and mirrored.value_ids == value.value_ids
        ):
            differences.append(f"value {field_id}")
    if stored.relationships != expected.relationships:
        differences.append("relationships")
    return differences


async def _snapshots(dsn: str, task_ids: list[str]) -> dict[str, TaskSnapshot]:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        return await MirrorStore(SCHEMA).load_snapshots(conn, task_ids)


def compare_with_truth(dsn: str, truth: dict[str, Any]) -> dict[str, Any]:
    live: dict[str, dict[str, Any]] = truth["tasks"]
    stored = asyncio.run(_snapshots(dsn, list(live)))
    mismatched = {}
    for task_id, task in live.items():
        differences = mirror_differences(task, stored.get(task_id))
        if differences:
            mismatched[task_id] = differences
    # As tests/e2e/test_chaos.py: a deletion is marked on every mirrored task ClickUp deleted (a task
    # created and deleted between two looks may never have been mirrored), and no other task is gone.
    deleted = set(truth.get("deleted_task_ids", []))
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(f"SELECT task_id, deleted_at IS NOT NULL FROM {SCHEMA}.tasks").fetchall()
    mirrored = {str(task_id) for task_id, _ in rows}
    marked = {str(task_id) for task_id, gone in rows if gone}
    not_marked = (deleted & mirrored) - marked
    wrongly_marked = marked - deleted
    unknown = (mirrored - deleted) ^ live.keys()
    with psycopg.connect(dsn) as conn:
        waiting = {
            str(row[0])
            for row in conn.execute(
                f"SELECT DISTINCT task_id FROM {SCHEMA}.parked_changes WHERE released_at IS NULL"
            )
        }
    by_column = Counter(
        difference.split(" ")[0] if difference.startswith("value ") else difference
        for differences in mismatched.values()
        for difference in differences
    )
    return {
        "live_tasks": len(live),
        "mismatched_tasks": len(mismatched),
        "mismatched_by_column": dict(by_column.most_common()),
        "mismatched_only_date_updated": sum(d == ["date_updated"] for d in mismatched.values()),
        "mismatched_with_parked_changes": len(mismatched.keys() & waiting),
        "mismatch_sample": dict(list(mismatched.items())[:10]),
        "deleted_tasks": len(deleted),
        "deleted_never_mirrored": len(deleted - mirrored),
        "deletions_not_marked": len(not_marked),
        "marked_deleted_but_not_deleted": len(wrongly_marked),
        "task_set_differences": len(unknown),
        "equal": not (mismatched or not_marked or wrongly_marked or unknown),
    }


async def parked_by_reason(dsn: str) -> dict[str, int]:
    """Why the deliveries still parked wait: the coverage reason their task is missing from Airbyte's
    table (`coverage.py`, include_closed_tasks off as the simulated connection), or
    `in_airbyte_table` when the base record is there and the release has not run yet."""
    async with AsyncConnectionPool(dsn, min_size=1, max_size=2, open=False) as pool:
        reasons = await missing_task_reasons(pool, SCHEMA, AIRBYTE_TABLE, include_closed=False)
        async with pool.connection() as conn:
            parked = await (
                await conn.execute(
                    f"SELECT task_id, count(*) FROM {SCHEMA}.parked_changes"
                    " WHERE released_at IS NULL GROUP BY task_id"
                )
            ).fetchall()
    counts: Counter[str] = Counter()
    for task_id, deliveries in parked:
        counts[reasons.get(str(task_id), "in_airbyte_table")] += int(deliveries)
    return dict(counts.most_common())


# ---------------------------------------------------------------------------------------------- run


@dataclass
class SoakOptions:
    minutes: float = 30.0
    rate: float = 20.0
    tasks: int = 2000
    airbyte_every: float = 10.0
    sample_seconds: float = 10.0
    duplicate_rate: float = 0.05
    reorder_rate: float = 0.05
    drop_rate: float = 0.02
    delay_rate: float = 0.02
    api_latency_ms: float = 0.0
    worker_concurrency: int = 4
    seed: int = 1
    output: str = "soak"


def airbyte_sync(emulator: str, simulator: AirbyteDestinationSimulator) -> tuple[SyncHandle, int]:
    truth = httpx.get(f"{emulator}/_emulator/state", timeout=120).json()
    records = airbyte_records_from_ground_truth(truth)
    return simulator.start_sync(records), len(records)


def soak(options: SoakOptions, log_dir: Path) -> dict[str, Any]:
    port = free_port()
    emulator = f"http://127.0.0.1:{port}"
    chaos = [
        "--seed", str(options.seed), "--latency-ms", str(options.api_latency_ms),
        "--duplicate-rate", str(options.duplicate_rate), "--reorder-rate", str(options.reorder_rate),
        "--drop-rate", str(options.drop_rate), "--delay-rate", str(options.delay_rate),
    ]  # fmt: skip
    run = SoakRun()
    with bench_database() as dsn, start_emulator(port, tasks=options.tasks, extra=chaos) as (api_url, team):
        simulator = AirbyteDestinationSimulator(dsn, version="3.x")
        first, _ = airbyte_sync(emulator, simulator)
        first.wait(timeout=300)
        serve_port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": dsn,
            "CLICKUP_API_URL": api_url,
            "CLICKUP_API_TOKEN": TOKEN,
            "CLICKUP_WORKSPACE_ID": team,
            "PORT": str(serve_port),
            "AIRBYTE_MODE": "auto",
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
            "APP_ENV": "production",
            "WORKER_CONCURRENCY": str(options.worker_concurrency),
        }
        backfill = subprocess.run(
            [sys.executable, "-m", "clickup_sync", "backfill"], env=env, capture_output=True, text=True,
            timeout=1800,
        )  # fmt: skip
        if backfill.returncode != 0:
            raise SystemExit(f"backfill failed:\n{backfill.stderr[-3000:]}")
        os.environ.setdefault("BENCH_LOG_DIR", str(log_dir))
        service = Service(env, serve_port)
        try:
            service.start("serve", "--no-worker", "--host", "127.0.0.1")
            wait_until(
                "serve to be ready",
                lambda: _ok(f"http://127.0.0.1:{serve_port}/readyz"),
                60,
                0.2,
            )
            service.start("worker")
            register = subprocess.run(
                [sys.executable, "-m", "clickup_sync", "webhooks", "register", "--url",
                 f"http://127.0.0.1:{serve_port}/webhooks/clickup"],
                env=env, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            if register.returncode != 0:
                raise SystemExit(f"webhooks register failed:\n{register.stdout}{register.stderr}")
            result = _drive(options, dsn, emulator, service, simulator, run)
            truth = httpx.get(f"{emulator}/_emulator/state", timeout=300).json()
            result["mirror_before_reconcile"] = compare_with_truth(dsn, truth)
            reconcile = subprocess.run(
                [sys.executable, "-m", "clickup_sync", "reconcile"], env=env, capture_output=True,
                text=True, timeout=1800,
            )  # fmt: skip
            if reconcile.returncode != 0:
                raise SystemExit(f"reconcile failed:\n{reconcile.stderr[-3000:]}")
            result["reconcile_output"] = reconcile.stdout.strip().splitlines()[-1:]
            result["drain_after_reconcile_seconds"] = round(
                wait_until("the queue to drain after the reconcile", lambda: queue_drained(dsn), 600), 1
            )
            result["after_reconcile"] = asdict(sample(dsn, time.monotonic(), service))
            result["processes_alive_at_end"] = all(p.poll() is None for p in service.processes)
        finally:
            service.stop()
        truth = httpx.get(f"{emulator}/_emulator/state", timeout=300).json()
        result["mirror"] = compare_with_truth(dsn, truth)
        result["parked_by_reason"] = asyncio.run(parked_by_reason(dsn))
        stats = httpx.get(f"{emulator}/_emulator/stats", timeout=30).json()
        result["emulator"] = {
            "requests_total": stats["requests_total"],
            "rate_limited_429": stats["rate_limited_429"],
            "deliveries": stats["deliveries"]["dispatcher"],
            "by_outcome": stats["deliveries"]["by_outcome"],
        }
    return result


def _ok(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(url, timeout=5).status_code == 200
    return False


def _drive(
    options: SoakOptions,
    dsn: str,
    emulator: str,
    service: Service,
    simulator: AirbyteDestinationSimulator,
    run: SoakRun,
) -> dict[str, Any]:
    started = httpx.post(f"{emulator}/_emulator/activity", json={"rate": options.rate}, timeout=30).json()
    if not started.get("running"):
        raise SystemExit(f"the emulator's activity did not start: {started}")
    began = time.monotonic()
    end = began + options.minutes * 60
    next_sample = began
    next_sync = began + options.airbyte_every * 60
    syncing: tuple[SyncHandle, int, float, float] | None = None
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= next_sample:
            run.samples.append(sample(dsn, began, service))
            latest = run.samples[-1]
            print(
                f"  {latest.minute:6.2f} min  serve {latest.serve_rss_mb:6.1f} MB  worker"
                f" {latest.worker_rss_mb:6.1f} MB  queue {latest.queue_depth:5d}  parked {latest.parked:5d}"
                f"  dead {latest.dead}  field_changes {latest.field_changes:,}",
                flush=True,
            )
            next_sample += options.sample_seconds
        if syncing is None and now >= next_sync:
            handle, records = airbyte_sync(emulator, simulator)
            syncing = (handle, records, now, (now - began) / 60)
            next_sync += options.airbyte_every * 60
        if syncing is not None and syncing[0].done():
            handle, records, sync_began, minute = syncing
            try:
                swapped, error = handle.wait().swapped, None
            except Exception as failed:  # a failed sync is a figure, not the end of the soak
                swapped, error = False, repr(failed)
            run.airbyte_syncs.append(
                AirbyteSync(
                    round(minute, 2), records, round(time.monotonic() - sync_began, 1), swapped, error
                )
            )
            print(
                f"  Airbyte sync at {minute:.1f} min: {records:,} records, {run.airbyte_syncs[-1]}",
                flush=True,
            )
            syncing = None
        if any(process.poll() is not None for process in service.processes):
            raise SystemExit("serve or worker exited during the soak; see " + os.environ["BENCH_LOG_DIR"])
        time.sleep(0.2)
    if syncing is not None:
        syncing[0].wait(timeout=300)
    stopped = httpx.delete(f"{emulator}/_emulator/activity", timeout=60).json()
    final_sample = sample(dsn, began, service)
    idle = wait_until("the emulator to deliver everything", lambda: dispatcher_idle(emulator), 300)
    drained = wait_until("the queue to drain", lambda: queue_drained(dsn), 900)
    half = second_half(run.samples)
    return {
        "options": asdict(options),
        "changes_made": stopped.get("changes_made"),
        "changes_per_second": round((stopped.get("changes_made") or 0) / (options.minutes * 60), 1),
        "samples": [asdict(s) for s in run.samples],
        "airbyte_syncs": [asdict(s) for s in run.airbyte_syncs],
        "at_stop": asdict(final_sample),
        "delivered_after_stop_seconds": round(idle, 1),
        "drained_after_stop_seconds": round(idle + drained, 1),
        "slopes_second_half": {
            "samples": len(half),
            "serve_rss_mb_per_min": round(slope_per_minute([(s.minute, s.serve_rss_mb) for s in half]), 3),
            "worker_rss_mb_per_min": round(slope_per_minute([(s.minute, s.worker_rss_mb) for s in half]), 3),
            "queue_jobs_per_min": round(slope_per_minute([(s.minute, s.queue_depth) for s in half]), 3),
            "parked_per_min": round(slope_per_minute([(s.minute, s.parked) for s in half]), 3),
        },
        "rss_mb": {
            "serve_first": run.samples[0].serve_rss_mb if run.samples else None,
            "serve_last": run.samples[-1].serve_rss_mb if run.samples else None,
            "worker_first": run.samples[0].worker_rss_mb if run.samples else None,
            "worker_last": run.samples[-1].worker_rss_mb if run.samples else None,
        },
        "queue_depth_max": max((s.queue_depth for s in run.samples), default=0),
    }


def summary_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    slopes, after, mirror = result["slopes_second_half"], result["after_reconcile"], result["mirror"]
    before = result["mirror_before_reconcile"]
    parked = result["parked_by_reason"].items()
    syncs = result["airbyte_syncs"]
    dispatcher = result["emulator"]["deliveries"]
    return [
        {"figure": "changes made",
         "measured": f"{result['changes_made']:,} ({result['changes_per_second']}/s)"},
        {"figure": "deliveries: published / duplicated / dropped / delivered",
         "measured": f"{dispatcher.get('published')} / {dispatcher.get('duplicated')} /"
                     f" {dispatcher.get('dropped')} / {dispatcher.get('delivered')}"},
        {"figure": "Airbyte overwrite syncs",
         "measured": f"{len(syncs)} ({sum(1 for s in syncs if s['error'] is None)} succeeded)"},
        {"figure": "serve RSS slope, second half",
         "measured": f"{slopes['serve_rss_mb_per_min']} MB/min ({result['rss_mb']['serve_first']} →"
                     f" {result['rss_mb']['serve_last']} MB)"},
        {"figure": "worker RSS slope, second half",
         "measured": f"{slopes['worker_rss_mb_per_min']} MB/min ({result['rss_mb']['worker_first']} →"
                     f" {result['rss_mb']['worker_last']} MB)"},
        {"figure": "queue depth slope, second half",
         "measured": f"{slopes['queue_jobs_per_min']} jobs/min (max {result['queue_depth_max']})"},
        {"figure": "drained after activity stopped", "measured": f"{result['drained_after_stop_seconds']} s"},
        {"figure": "dead letters (deliveries / failed jobs)",
         "measured": f"{after['dead']} / {after['failed_jobs']}"},
        {"figure": "parked, waiting for Airbyte's base record",
         "measured": f"{after['parked']}: " + ", ".join(f"{reason} {count}" for reason, count in parked)},
        {"figure": "rate limited (429)", "measured": result["emulator"]["rate_limited_429"]},
        {"figure": "mirror equals ground truth after reconcile",
         "measured": f"{'yes' if mirror['equal'] else 'NO'} ({mirror['live_tasks']:,} live tasks,"
                     f" {mirror['mismatched_tasks']} mismatched, {mirror['deletions_not_marked']} deletions"
                     " not marked)"},
        {"figure": "tasks differing before the reconcile",
         "measured": f"{before['mismatched_tasks']} mismatched ({before['mismatched_only_date_updated']} only"
                     f" date_updated, {before['mismatched_with_parked_changes']} with parked changes),"
                     f" {before['task_set_differences']} not mirrored yet"},
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    defaults = SoakOptions()
    parser.add_argument("--minutes", type=float, default=defaults.minutes)
    parser.add_argument("--rate", type=float, default=defaults.rate, help="emulator changes per second")
    parser.add_argument("--tasks", type=int, default=defaults.tasks, help="tasks in the emulated workspace")
    parser.add_argument("--airbyte-every", type=float, default=defaults.airbyte_every, help="minutes")
    parser.add_argument("--sample-seconds", type=float, default=defaults.sample_seconds)
    parser.add_argument("--duplicate-rate", type=float, default=defaults.duplicate_rate)
    parser.add_argument("--reorder-rate", type=float, default=defaults.reorder_rate)
    parser.add_argument("--drop-rate", type=float, default=defaults.drop_rate)
    parser.add_argument("--delay-rate", type=float, default=defaults.delay_rate)
    parser.add_argument("--api-latency-ms", type=float, default=defaults.api_latency_ms)
    parser.add_argument("--worker-concurrency", type=int, default=defaults.worker_concurrency)
    parser.add_argument("--output", default=defaults.output, help="bench/results/NAME.json")
    args = parser.parse_args()
    options = SoakOptions(**{key: value for key, value in vars(args).items()})
    load_before = [round(value, 2) for value in os.getloadavg()]
    log_dir = Path(os.environ.get("BENCH_LOG_DIR") or tempfile.mkdtemp(prefix="bench-soak-"))
    print(f"soak: {options}\nload average {load_before}; service logs in {log_dir}", flush=True)
    result = soak(options, log_dir)
    from bench.run import machine_info

    machine = machine_info()
    machine["load_average_before"] = load_before
    machine["load_average_after"] = [round(value, 2) for value in os.getloadavg()]
    print()
    print_table(summary_rows(result))
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{options.output}.json"
    path.write_text(json.dumps({"machine": machine, "soak": result}, indent=2, ensure_ascii=False))
    print(f"\nmachine: {machine}\nresults: {path}")


if __name__ == "__main__":
    main()
