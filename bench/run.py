"""Every benchmark behind one command: one table on stdout, one JSON file with the machine it ran on.

    python -m bench.run                          # everything (about 7 min on 2 cores)
    python -m bench.run --quick                  # small sizes, a smoke check (about 1 min)
    python -m bench.run --only backfill,airbyte  # a subset

Parts (each on fresh databases, with the emulator as its own process, as the single benchmarks do):

- backfill: `clickup-sync backfill` of generated 20,000- and 100,000-task workspaces
  (`bench/backfill.py`): throughput, API calls against the minimum, the backfill's peak RSS.
- webhooks: `bench/webhooks.py`: acknowledgement latency and deliveries/s against plain
  INSERT+COMMIT, API calls per event under a burst, receipt → field_changes latency.
- airbyte: Airbyte's real ClickUp connector and `clickup-sync backfill` reading the same workspace
  (`bench/airbyte.py`): time, tasks, and how many tasks Airbyte missed, by reason.

A part that fails is reported (table and JSON `errors`) and the others still run; the exit code is
then 1. PostgreSQL is BENCH_DATABASE_URL / TEST_DATABASE_URL, else an embedded server. The machine is
shared: the load average before and after is recorded, since it skews every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PARTS = ("backfill", "webhooks", "airbyte")
REPORT_KEYS = ("machine", "config", "table", "parts", "errors", "seconds")
MACHINE_KEYS = (
    "cores",
    "memory_gib",
    "python",
    "postgresql",
    "platform",
    "date",
    "load_average_before",
    "load_average_after",
)


@dataclass
class SuiteConfig:
    """What each part runs; `quick` shrinks every size for a smoke check."""

    parts: list[str] = field(default_factory=lambda: list(PARTS))
    quick: bool = False
    backfill_tasks: list[int] = field(default_factory=lambda: [20_000, 100_000])
    airbyte_tasks: int = 20_000
    airbyte_include_closed: bool = False
    webhooks: dict[str, Any] = field(default_factory=dict)  # bench.webhooks.Options fields
    output: str = "suite"


def parse_args(argv: Sequence[str] | None = None) -> SuiteConfig:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--only", default=",".join(PARTS), help=f"parts to run, comma-separated: {', '.join(PARTS)}"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke check")
    parser.add_argument(
        "--backfill-tasks", help="workspace sizes for the backfill part, comma-separated (20000,100000)"
    )
    parser.add_argument("--airbyte-tasks", type=int, help="workspace size for the Airbyte part (20000)")
    parser.add_argument(
        "--airbyte-include-closed",
        action="store_true",
        help="the Airbyte connection's include_closed_tasks (off by default, as the connector's)",
    )
    parser.add_argument("--output", help="bench/results/NAME.json (suite; suite-quick with --quick)")
    args = parser.parse_args(argv)
    parts = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = [part for part in parts if part not in PARTS]
    if unknown or not parts:
        parser.error(f"--only takes {', '.join(PARTS)}; got {args.only!r}")
    config = SuiteConfig(parts=[part for part in PARTS if part in parts], quick=args.quick)
    if args.quick:
        config.backfill_tasks = [2_000]
        config.airbyte_tasks = 2_000
        config.webhooks = {
            "concurrency": [1, 16],
            "per_level": 500,
            "paced_rates": [150.0],
            "paced_seconds": 3.0,
            "burst": 1000,
            "latency_rates": [10.0],
            "latency_seconds": 4.0,
        }
        config.output = "suite-quick"
    if args.backfill_tasks:
        config.backfill_tasks = [int(size) for size in args.backfill_tasks.split(",")]
    if args.airbyte_tasks:
        config.airbyte_tasks = args.airbyte_tasks
    config.airbyte_include_closed = args.airbyte_include_closed
    if args.output:
        config.output = args.output
    return config


# ------------------------------------------------------------------------------------------- machine


def memory_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def postgresql_version() -> str:
    """The server the benchmarks use (one fresh database, dropped again)."""
    import psycopg

    from bench.common import bench_database

    with bench_database() as dsn, psycopg.connect(dsn) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


def machine_info() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "memory_gib": memory_gib(),
        "python": platform.python_version(),
        "postgresql": postgresql_version(),
        "platform": platform.platform(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_before": load_average(),
        "load_average_after": None,
    }


# --------------------------------------------------------------------------------------------- parts


def run_backfill(config: SuiteConfig) -> list[dict[str, Any]]:
    from bench import backfill

    return [{"benchmark": f"backfill {size:,} tasks", **backfill.run(size)} for size in config.backfill_tasks]


def run_webhooks(config: SuiteConfig) -> list[dict[str, Any]]:
    from bench import webhooks

    results = webhooks.run(webhooks.Options(**config.webhooks))
    results.print()
    return results.rows()


def run_airbyte(config: SuiteConfig) -> dict[str, Any]:
    from bench import airbyte

    return airbyte.run(config.airbyte_tasks, include_closed=config.airbyte_include_closed)


RUNNERS: dict[str, Callable[[SuiteConfig], Any]] = {
    "backfill": run_backfill,
    "webhooks": run_webhooks,
    "airbyte": run_airbyte,
}


# --------------------------------------------------------------------------------------------- table


def _n(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) >= 100:
        value = int(value)
    return f"{value:,}" if isinstance(value, int | float) else str(value)


def backfill_table(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    table = []
    for row in rows:
        size = f"{row['tasks']:,} tasks"
        table += [
            {
                "part": "backfill",
                "figure": f"throughput, {size}",
                "measured": f"{_n(row['tasks_per_second'])} tasks/s ({_n(row['seconds'])} s)",
                "target": "≥ 1,500 tasks/s",
            },
            {
                "part": "backfill",
                "figure": f"API calls, {size}",
                "measured": f"{_n(row['api_calls'])} (minimum {_n(row['minimum_api_calls'])})"
                f" = {row['calls_over_minimum']} ×",
                "target": "≤ 1.05 ×",
            },
            {
                "part": "backfill",
                "figure": f"peak RSS, {size}",
                "measured": f"{_n(row['peak_rss_mb'])} MB",
                "target": "≤ 250 MB",
            },
        ]
    return table


def webhooks_table(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    table = []
    closed = [row for row in rows if row.get("part") == "acknowledgement" and row["test"] == "closed loop"]
    for row in closed:
        table.append(
            {
                "part": "webhooks",
                "figure": f"ack, closed loop, concurrency {row['concurrency']}",
                "measured": f"{_n(row['webhook_per_s'])}/s, p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms;"
                f" INSERT+COMMIT {_n(row['insert_per_s'])}/s (ratio {row['ratio']})",
                "target": "",
            }
        )
    if closed:
        best = max(closed, key=lambda row: row["webhook_per_s"])
        table.append(
            {
                "part": "webhooks",
                "figure": "maximum deliveries/s acknowledged",
                "measured": f"{_n(best['webhook_per_s'])}/s at concurrency {best['concurrency']}"
                f" (INSERT+COMMIT {_n(best['insert_per_s'])}/s)",
                "target": "",
            }
        )
    for row in rows:
        if row.get("part") == "acknowledgement" and row["test"] != "closed loop":
            table.append(
                {
                    "part": "webhooks",
                    "figure": f"ack latency, {row['test']}",
                    "measured": f"p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms, p99 {row['p99_ms']} ms",
                    "target": row.get("target", ""),
                }
            )
        elif row.get("part") == "api_calls":
            table.append(
                {
                    "part": "webhooks",
                    "figure": f"API calls per event, {_n(row['events'])} events, {row['test']}",
                    "measured": f"{row['calls_per_event']} ({_n(row['get_task_calls'])} GET /task)",
                    "target": row.get("target", ""),
                }
            )
        elif row.get("part") == "time_to_history":
            table.append(
                {
                    "part": "webhooks",
                    "figure": f"receipt → history, {row['test']}",
                    "measured": f"p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms"
                    f" ({_n(row['items_recorded'])} of {_n(row['items'])} items)",
                    "target": row.get("target", ""),
                }
            )
    return table


def airbyte_table(row: dict[str, Any]) -> list[dict[str, str]]:
    reasons = ", ".join(f"{reason} {_n(count)}" for reason, count in row["missed_by_reason"].items() if count)
    closed = "on" if row["include_closed_tasks"] else "off"
    return [
        {
            "part": "airbyte",
            "figure": f"Airbyte ClickUp connector 0.2.0 (include_closed_tasks {closed})",
            "measured": f"{_n(row['connector_seconds'])} s, {_n(row['connector_tasks'])} of"
            f" {_n(row['workspace_tasks'])} tasks, {_n(row['connector_api_calls'])} API calls",
            "target": "",
        },
        {
            "part": "airbyte",
            "figure": "tasks Airbyte missed, by reason",
            "measured": f"{_n(row['missed_by_airbyte'])} ({row['missed_share']:.0%}): {reasons or 'none'}",
            "target": "",
        },
        {
            "part": "airbyte",
            "figure": "clickup-sync backfill, same workspace",
            "measured": f"{_n(row['backfill_process_seconds'])} s, {_n(row['mirror_tasks'])} of"
            f" {_n(row['workspace_tasks'])} tasks, {_n(row['backfill_api_calls'])} API calls",
            "target": "all tasks" + (" ✓" if row["mirror_equals_workspace_count"] else " — **not met**"),
        },
    ]


TABLES: dict[str, Callable[[Any], list[dict[str, str]]]] = {
    "backfill": backfill_table,
    "webhooks": webhooks_table,
    "airbyte": airbyte_table,
}


def summary_table(parts: dict[str, Any], errors: dict[str, str]) -> list[dict[str, str]]:
    """One row per figure, in PARTS order; a failed part is one row saying so."""
    table: list[dict[str, str]] = []
    for name in PARTS:
        if name in errors:
            last = errors[name].strip().splitlines()[-1] if errors[name].strip() else "failed"
            table.append({"part": name, "figure": "FAILED", "measured": last, "target": ""})
        elif name in parts:
            table += TABLES[name](parts[name])
    return table


def build_report(
    config: SuiteConfig,
    machine: dict[str, Any],
    parts: dict[str, Any],
    errors: dict[str, str],
    seconds: float,
) -> dict[str, Any]:
    return {
        "machine": machine,
        "config": asdict(config),
        "table": summary_table(parts, errors),
        "parts": parts,
        "errors": errors,
        "seconds": round(seconds, 1),
    }


def print_report(report: dict[str, Any]) -> None:
    from bench.common import print_table

    machine = report["machine"]
    print(
        f"\nMachine: {machine['cores']} cores, {machine['memory_gib']} GiB, Python {machine['python']},"
        f" PostgreSQL {machine['postgresql']}, {machine['date']};"
        f" load average before {machine['load_average_before']}, after {machine['load_average_after']}\n"
    )
    print_table(report["table"])


def write_report(report: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return path


def main(argv: Sequence[str] | None = None) -> int:
    from bench.common import RESULTS

    config = parse_args(argv)
    began = time.monotonic()
    machine = machine_info()
    if machine["load_average_before"][0] > 0.5:
        print(
            f"note: load average {machine['load_average_before'][0]} before starting;"
            " other work on this machine skews the figures",
            flush=True,
        )
    parts: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in config.parts:
        print(f"\n=== {name} ===", flush=True)
        started = time.monotonic()
        try:
            parts[name] = RUNNERS[name](config)
        except (Exception, SystemExit):  # one failed part must not lose the others' figures
            errors[name] = traceback.format_exc()
            print(errors[name], file=sys.stderr, flush=True)
        print(f"=== {name}: {time.monotonic() - started:.0f} s ===", flush=True)
    machine["load_average_after"] = load_average()
    report = build_report(config, machine, parts, errors, time.monotonic() - began)
    print_report(report)
    path = write_report(report, RESULTS / f"{config.output}.json")
    print(f"\nresults: {path}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
