"""Airbyte's real ClickUp connector next to `clickup-sync backfill`, reading the same emulator workspace.

The connector is `airbyte-source-clickup-api` 0.2.0, run from its own virtualenv under `.cache/`
(`clickup_sync/airbyte/source_connector.py`; installed on first use, which takes minutes). It reads
the `task` stream in full refresh, as an Airbyte connection does, with `include_closed_tasks` as
given (off by default, the connector's default). Then `clickup-sync backfill` reads the same
workspace into a fresh database. What the connector read is written into `public.clickup_task` of
that database by the destination simulator (destination-postgres 3.x), and the service's own
coverage report (`clickup_sync/airbyte/coverage.py`) says, task by task, why each of the mirror's
tasks is missing from Airbyte's table. The mirror is checked against the emulator's task count.

    python -m bench.airbyte --tasks 20000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg_pool import AsyncConnectionPool

from bench.backfill import SUMMARY
from bench.common import (
    ROOT,
    bench_database,
    free_port,
    print_table,
    run_measured,
    save_results,
    start_emulator,
)
from clickup_sync.airbyte.coverage import REASONS, missing_task_reasons
from clickup_sync.airbyte.simulator import AirbyteDestinationSimulator
from clickup_sync.airbyte.source_connector import ensure_connector_venv, patched_manifest, read
from clickup_sync.clickup.emulator.server import DEFAULT_TOKEN as TOKEN

SCHEMA = "clickup_sync"
AIRBYTE_TABLE = "public.clickup_task"


def requests_total(port: int) -> int:
    stats = httpx.get(f"http://127.0.0.1:{port}/_emulator/stats", timeout=30).json()
    return int(stats["requests_total"])


def truth_facts(port: int) -> dict[str, Any]:
    """Counts from the emulator's ground truth (run in a child: at 20k tasks it is ~170 MB of JSON)."""
    state = httpx.get(f"http://127.0.0.1:{port}/_emulator/state", timeout=600).json()
    tasks = state["tasks"]
    return {"tasks": len(tasks), "deleted": len(state.get("deleted_task_ids", []))}


async def _reasons(dsn: str, include_closed: bool) -> dict[str, str]:
    async with AsyncConnectionPool(dsn, min_size=1, max_size=2, open=False) as pool:
        found = await missing_task_reasons(pool, SCHEMA, AIRBYTE_TABLE, include_closed=include_closed)
    return dict(found)


def run(tasks: int, *, include_closed: bool = False, seed: int = 1) -> dict[str, Any]:
    """One row: the connector's time, records, API calls; the backfill's; what Airbyte missed and why."""
    venv = ensure_connector_venv(ROOT / ".cache")
    port = free_port()
    extra = ["--seed", str(seed)]
    with bench_database() as dsn, start_emulator(port, tasks=tasks, extra=extra) as (base_url, team_id):
        facts = json.loads(
            subprocess.run(
                [sys.executable, "-m", "bench.airbyte", "--truth-facts", str(port)],
                capture_output=True, text=True, check=True,
            ).stdout
        )  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="bench-airbyte-") as work:
            manifest = patched_manifest(venv, base_url, Path(work) / "manifest.yaml")
            config = {"api_token": TOKEN, "include_closed_tasks": include_closed}
            calls_before = requests_total(port)
            started = time.monotonic()
            connector = read(venv, manifest, config, ["task"], timeout=3600)
            connector_seconds = time.monotonic() - started
            connector_calls = requests_total(port) - calls_before
        if connector.errors:
            raise RuntimeError(f"the connector reported errors: {connector.errors[:3]}")
        records = connector.records["task"]

        env = {
            **os.environ,
            "DATABASE_URL": dsn,
            "CLICKUP_API_URL": base_url,
            "CLICKUP_API_TOKEN": TOKEN,
            "CLICKUP_WORKSPACE_ID": team_id,
            "AIRBYTE_MODE": "off",
            "LOG_LEVEL": "WARNING",
        }
        # Its peak RSS is not reported here: after the connector's records were read, this process is
        # big, and a forked child's ru_maxrss counts the parent's pages (bench/backfill.py measures it).
        started = time.monotonic()
        backfill = run_measured([sys.executable, "-m", "clickup_sync", "backfill"], env)
        backfill_wall = time.monotonic() - started
        if backfill.returncode != 0:
            raise RuntimeError(f"backfill failed:\n{backfill.stderr[-3000:]}")
        match = SUMMARY.search(backfill.stdout)
        if match is None:
            raise RuntimeError(f"unexpected backfill output:\n{backfill.stdout[-3000:]}")

        # Airbyte's destination writes what the connector read; the coverage report explains the gap.
        AirbyteDestinationSimulator(dsn, version="3.x").sync(records)
        reasons = asyncio.run(_reasons(dsn, include_closed))
        with psycopg.connect(dsn) as conn:
            ((mirrored,),) = conn.execute(
                f"SELECT count(*) FROM {SCHEMA}.tasks WHERE deleted_at IS NULL"
            ).fetchall()
    by_reason = Counter(reasons.values())
    unique_read = len({str(record["id"]) for record in records})
    return {
        "workspace_tasks": facts["tasks"],
        "include_closed_tasks": include_closed,
        "connector_seconds": round(connector_seconds, 1),
        "connector_read_seconds": round(connector.elapsed_seconds, 1),
        "connector_records": len(records),
        "connector_tasks": unique_read,
        "connector_api_calls": connector_calls,
        "connector_tasks_per_second": round(unique_read / connector_seconds, 1),
        "backfill_seconds": float(match["seconds"]),
        "backfill_process_seconds": round(backfill_wall, 1),
        "backfill_tasks": int(match["tasks"].replace(",", "")),
        "backfill_api_calls": int(match["calls"].replace(",", "")),
        "mirror_tasks": int(mirrored),
        "mirror_equals_workspace_count": int(mirrored) == facts["tasks"],
        "missed_by_airbyte": len(reasons),
        "missed_share": round(len(reasons) / max(1, facts["tasks"]), 3),
        "missed_by_reason": {reason: by_reason.get(reason, 0) for reason in REASONS},
    }


def table_rows(row: dict[str, Any]) -> list[dict[str, Any]]:
    """Connector and backfill side by side."""
    reasons = ", ".join(f"{reason} {count:,}" for reason, count in row["missed_by_reason"].items() if count)
    return [
        {
            "reader": "Airbyte connector 0.2.0",
            "seconds": row["connector_seconds"],
            "tasks": row["connector_tasks"],
            "of_workspace": row["workspace_tasks"],
            "missed": row["missed_by_airbyte"],
            "api_calls": row["connector_api_calls"],
            "why_missed": reasons,
        },
        {
            "reader": "clickup-sync backfill",
            "seconds": row["backfill_process_seconds"],
            "tasks": row["mirror_tasks"],
            "of_workspace": row["workspace_tasks"],
            "missed": row["workspace_tasks"] - row["mirror_tasks"],
            "api_calls": row["backfill_api_calls"],
            "why_missed": "",
        },
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--include-closed", action="store_true", help="the connection's include_closed_tasks")
    parser.add_argument("--truth-facts", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.truth_facts:
        print(json.dumps(truth_facts(args.truth_facts)))
        return
    row = run(args.tasks, include_closed=args.include_closed)
    print_table(table_rows(row))
    path = save_results("airbyte", [row])
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main()
