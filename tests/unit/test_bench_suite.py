"""`python -m bench.run`: its options, and the table and JSON it assembles from each part's rows
(small hand-made inputs shaped like what bench/backfill.py, bench/webhooks.py and bench/airbyte.py
return; no benchmark runs here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import run as suite

BACKFILL_ROW = {
    "benchmark": "backfill 20,000 tasks",
    "tasks": 20000,
    "values": 173200,
    "fields_with_value_per_task": 8.7,
    "seconds": 19.5,
    "process_seconds": 20.1,
    "tasks_per_second": 1026,
    "api_calls": 499,
    "minimum_api_calls": 497,
    "calls_over_minimum": 1.004,
    "peak_rss_mb": 97,
}
WEBHOOK_ROWS: list[dict[str, Any]] = [
    {"part": "acknowledgement", "test": "closed loop", "concurrency": 1, "deliveries": 500,
     "webhook_per_s": 308, "insert_per_s": 896, "ratio": 0.34, "p50_ms": 2.1, "p95_ms": 9.6, "p99_ms": 13.6},
    {"part": "acknowledgement", "test": "closed loop", "concurrency": 16, "deliveries": 500,
     "webhook_per_s": 470, "insert_per_s": 3895, "ratio": 0.12, "p50_ms": 30.0, "p95_ms": 60.8,
     "p99_ms": 87.5},
    {"part": "acknowledgement", "test": "paced 300/s", "concurrency": "open loop", "deliveries": 4500,
     "webhook_per_s": 300, "p50_ms": 6.1, "p95_ms": 15.0, "p99_ms": 20.7, "target": "p99 < 50 ms"},
    {"part": "api_calls", "test": "burst over 100 tasks", "events": 5000, "get_task_calls": 100,
     "calls_per_event": 0.02, "target": "≤ 0.05"},
    {"part": "time_to_history", "test": "10 deliveries/s for 15 s", "items": 150, "items_recorded": 150,
     "p50_ms": 19.6, "p95_ms": 31.0, "target": "p95 < 1 s"},
]  # fmt: skip
AIRBYTE_ROW = {
    "workspace_tasks": 2000,
    "include_closed_tasks": False,
    "connector_seconds": 3.0,
    "connector_tasks": 618,
    "connector_api_calls": 31,
    "backfill_process_seconds": 1.8,
    "backfill_api_calls": 71,
    "mirror_tasks": 2000,
    "mirror_equals_workspace_count": True,
    "missed_by_airbyte": 1382,
    "missed_share": 0.691,
    "missed_by_reason": {"folderless_list": 788, "archived": 38, "subtask": 360, "closed": 180,
                         "beyond_first_100": 16, "not_yet_synced": 0, "unexplained": 0},
}  # fmt: skip
MACHINE = {
    "cores": 2,
    "memory_gib": 23.5,
    "python": "3.11.7",
    "postgresql": "15.20",
    "platform": "Linux",
    "date": "2026-11-30T03:00:00+00:00",
    "load_average_before": [1.5, 1.4, 1.3],
    "load_average_after": [2.0, 1.6, 1.4],
}


def test_the_cli_runs_everything_by_default_and_a_subset_with_only() -> None:
    everything = suite.parse_args([])
    assert everything.parts == ["backfill", "webhooks", "airbyte"]
    assert everything.backfill_tasks == [20_000, 100_000]
    assert everything.output == "suite"

    subset = suite.parse_args(["--only", "airbyte,backfill", "--quick"])
    assert subset.parts == ["backfill", "airbyte"]  # always in the suite's order
    assert subset.quick and subset.backfill_tasks == [2_000] and subset.airbyte_tasks == 2_000
    assert subset.output == "suite-quick"
    assert suite.parse_args(["--backfill-tasks", "500,1000"]).backfill_tasks == [500, 1000]


def test_the_quick_webhook_settings_are_options_the_webhook_benchmark_accepts() -> None:
    from bench.webhooks import Options

    options = Options(**suite.parse_args(["--quick"]).webhooks)
    assert options.per_level < Options().per_level and options.burst < Options().burst


@pytest.mark.parametrize("only", ["backfil", "", "backfill,soak"])
def test_an_unknown_part_is_refused(only: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        suite.parse_args(["--only", only])
    assert exited.value.code == 2
    assert "--only takes backfill, webhooks, airbyte" in capsys.readouterr().err


def test_the_report_holds_the_machine_every_part_and_one_table(tmp_path: Path) -> None:
    parts = {"backfill": [BACKFILL_ROW], "webhooks": WEBHOOK_ROWS, "airbyte": AIRBYTE_ROW}
    report = suite.build_report(suite.parse_args([]), MACHINE, parts, {}, 12.34)
    path = suite.write_report(report, tmp_path / "suite.json")
    written = json.loads(path.read_text())

    assert tuple(written) == suite.REPORT_KEYS
    assert set(suite.MACHINE_KEYS) <= set(written["machine"])
    assert written["parts"]["airbyte"]["missed_by_reason"]["folderless_list"] == 788
    assert written["errors"] == {} and written["seconds"] == 12.3
    figures = {row["figure"]: row for row in written["table"]}
    assert [row["part"] for row in written["table"]] == sorted(
        (row["part"] for row in written["table"]), key=suite.PARTS.index
    )
    assert figures["throughput, 20,000 tasks"]["measured"] == "1,026 tasks/s (19.5 s)"
    assert figures["API calls, 20,000 tasks"]["measured"] == "499 (minimum 497) = 1.004 ×"
    assert figures["peak RSS, 20,000 tasks"]["measured"] == "97 MB"
    assert figures["maximum deliveries/s acknowledged"]["measured"].startswith("470/s at concurrency 16")
    assert figures["ack latency, paced 300/s"]["target"] == "p99 < 50 ms"
    assert figures["API calls per event, 5,000 events, burst over 100 tasks"]["measured"].startswith("0.02")
    assert "p95 31.0 ms" in figures["receipt → history, 10 deliveries/s for 15 s"]["measured"]
    missed = figures["tasks Airbyte missed, by reason"]["measured"]
    assert missed.startswith("1,382 (69%): folderless_list 788")
    assert "not_yet_synced" not in missed  # zero counts are left out
    assert figures["clickup-sync backfill, same workspace"]["target"] == "all tasks ✓"


def test_a_failed_part_is_one_row_and_its_error_is_kept() -> None:
    error = 'Traceback (most recent call last):\n  ...\nSystemExit: backfill failed: "boom"\n'
    report = suite.build_report(
        suite.parse_args([]), MACHINE, {"airbyte": AIRBYTE_ROW}, {"backfill": error}, 1.0
    )

    assert report["table"][0] == {
        "part": "backfill",
        "figure": "FAILED",
        "measured": 'SystemExit: backfill failed: "boom"',
        "target": "",
    }
    assert report["errors"] == {"backfill": error}
    assert {row["part"] for row in report["table"]} == {"backfill", "airbyte"}
