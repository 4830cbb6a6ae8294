"""Backfill benchmark: `clickup-sync backfill` of a generated workspace from the emulator (no rate limit).

Targets (issue #3, 2-core machine): ≥ 1,500 tasks/s, API calls ≤ 1.05 × the minimum (pages of 100 plus
hierarchy calls), peak RSS ≤ 250 MB. The emulator and the backfill run as separate processes, as in
production (ClickUp is elsewhere); the backfill's peak RSS is its own, read from the kernel.

    python -m bench.backfill --tasks 20000
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from typing import Any

import httpx

from bench.common import (
    EMULATOR_PIDS,
    bench_database,
    free_port,
    print_table,
    process_cpu_seconds,
    run_measured,
    save_results,
    start_emulator,
)

SUMMARY = re.compile(
    r"Backfill done.*?: (?P<tasks>[\d,]+) tasks, (?P<fields>[\d,]+) fields, (?P<values>[\d,]+) values, "
    r"(?P<relationships>[\d,]+) relationships, .*?(?P<calls>[\d,]+) API calls, (?P<seconds>[\d.]+) s"
)


def minimum_calls(state: dict[str, Any]) -> int:
    """Hierarchy calls plus one page per 100 tasks (and the short page ending each partition)."""
    lists = {item["id"]: item for item in state["lists"]}
    hierarchy = 2 + 4 * len(state["spaces"]) + 2 * len(state["folders"]) + 1 + len(lists)
    tasks = list(state["tasks"].values())

    def pages(count: int) -> int:
        return count // 100 + 1

    live = [t for t in tasks if not lists[t["list"]["id"]]["archived"]]
    calls = (
        hierarchy
        + pages(sum(not t["archived"] for t in live))
        + pages(sum(bool(t["archived"]) for t in live))
    )
    for list_id, item in lists.items():
        if item["archived"]:
            in_list = [t for t in tasks if t["list"]["id"] == list_id]
            calls += pages(sum(not t["archived"] for t in in_list)) + pages(
                sum(bool(t["archived"]) for t in in_list)
            )
    return calls


def workspace_facts(port: int) -> dict[str, Any]:
    state = httpx.get(f"http://127.0.0.1:{port}/_emulator/state", timeout=300).json()
    tasks = state["tasks"].values()
    with_value = sum(sum("value" in f for f in t.get("custom_fields", [])) for t in tasks)
    return {
        "minimum_calls": minimum_calls(state),
        "fields_with_value_per_task": round(with_value / max(1, len(tasks)), 1),
    }


def run(tasks: int) -> dict[str, Any]:
    port = free_port()
    with bench_database() as dsn, start_emulator(port, tasks=tasks) as (base_url, team_id):
        # The ground truth is ~170 MB of JSON at 20k tasks: read it in a child process, or this process
        # would grow to GBs and every later fork would start that big (ru_maxrss counts it).
        facts = json.loads(
            subprocess.run(
                [sys.executable, "-m", "bench.backfill", "--workspace-facts", str(port)],
                capture_output=True, text=True, check=True,
            ).stdout
        )  # fmt: skip
        minimum, fields_per_task = facts["minimum_calls"], facts["fields_with_value_per_task"]
        env = {
            **os.environ,
            "DATABASE_URL": dsn,
            "CLICKUP_API_URL": base_url,
            "CLICKUP_API_TOKEN": "pk_emulator_token",
            "CLICKUP_WORKSPACE_ID": team_id,
            "LOG_LEVEL": "WARNING",
        }
        # The machine is shared: the load before the run says how much the figures can be trusted,
        # and the CPU each process used says where the time went whatever the load.
        load_before = os.getloadavg()[0]
        emulator_cpu_before = process_cpu_seconds(EMULATOR_PIDS[port])
        started = time.monotonic()
        result = run_measured([sys.executable, "-m", "clickup_sync", "backfill"], env)
        wall = time.monotonic() - started
        emulator_cpu = process_cpu_seconds(EMULATOR_PIDS[port]) - emulator_cpu_before
    if result.returncode != 0:
        raise SystemExit(f"backfill failed:\n{result.stderr}")
    match = SUMMARY.search(result.stdout)
    if match is None:
        raise SystemExit(f"unexpected backfill output:\n{result.stdout}")
    done = int(match["tasks"].replace(",", ""))
    calls = int(match["calls"].replace(",", ""))
    seconds = float(match["seconds"])
    return {
        "tasks": done,
        "values": int(match["values"].replace(",", "")),
        "fields_with_value_per_task": fields_per_task,
        "seconds": seconds,
        "process_seconds": round(wall, 1),
        "tasks_per_second": round(done / seconds),
        "api_calls": calls,
        "minimum_api_calls": minimum,
        "calls_over_minimum": round(calls / minimum, 3),
        "peak_rss_mb": round(result.peak_rss_mb),
        "backfill_cpu_seconds": round(result.cpu_seconds, 1),
        "emulator_cpu_seconds": round(emulator_cpu, 1),
        "load_before": round(load_before, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, nargs="+", default=[20_000])
    parser.add_argument("--workspace-facts", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.workspace_facts:
        print(json.dumps(workspace_facts(args.workspace_facts)))
        return
    rows = [{"benchmark": f"backfill {n:,} tasks", **run(n)} for n in args.tasks]
    print_table(rows)
    path = save_results("backfill", rows)
    print(f"\nresults: {path}")
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
