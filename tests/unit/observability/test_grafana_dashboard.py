"""`deploy/grafana-dashboard.json` is a dashboard Grafana imports, with a panel for each figure of
issue 5 §2, every query going through the templated Prometheus datasource."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

DASHBOARD = Path(__file__).resolve().parents[3] / "deploy" / "grafana-dashboard.json"
METRIC_NAME = re.compile(r"\bclickup_sync_[a-z0-9_]+")

# One metric per figure the issue asks for; each must be plotted by some panel.
REQUIRED = {
    "deliveries by outcome": "clickup_sync_webhook_deliveries_total",
    "acknowledgement latency": "clickup_sync_webhook_ack_seconds_bucket",
    "processing lag": "clickup_sync_processing_lag_seconds_bucket",
    "queue depth": "clickup_sync_queue_depth",
    "queue oldest item": "clickup_sync_queue_oldest_age_seconds",
    "parked": "clickup_sync_parked_changes",
    "dead letters": "clickup_sync_dead_letters",
    "API calls by endpoint and status": "clickup_sync_clickup_api_calls_total",
    "rate-limit remaining": "clickup_sync_clickup_rate_limit_remaining",
    "reconcile changes found": "clickup_sync_reconcile_changes_total",
    "Airbyte syncs detected": "clickup_sync_airbyte_syncs_detected_total",
    "webhook health": "clickup_sync_webhook_health",
    "database reachable": "clickup_sync_database_up",
}


def load() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def query_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [panel for panel in dashboard["panels"] if panel["type"] != "row"]


def dashboard_metric_names() -> set[str]:
    return {
        name
        for panel in query_panels(load())
        for target in panel["targets"]
        for name in METRIC_NAME.findall(target["expr"])
    }


def test_the_dashboard_is_an_importable_grafana_dashboard() -> None:
    dashboard = load()
    assert 36 <= dashboard["schemaVersion"] <= 41
    assert dashboard["uid"] and dashboard["title"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_every_query_uses_the_templated_datasource_and_names_a_metric() -> None:
    for panel in query_panels(load()):
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
            assert METRIC_NAME.search(target["expr"]), (panel["title"], target["expr"])
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]


def test_each_figure_of_the_issue_has_a_panel() -> None:
    plotted = dashboard_metric_names()
    missing = {figure: metric for figure, metric in REQUIRED.items() if metric not in plotted}
    assert not missing


def test_panels_do_not_overlap() -> None:
    cells: set[tuple[int, int]] = set()
    for panel in load()["panels"]:
        box = panel["gridPos"]
        assert box["x"] + box["w"] <= 24, panel["title"]
        area = {
            (x, y) for x in range(box["x"], box["x"] + box["w"]) for y in range(box["y"], box["y"] + box["h"])
        }
        assert not cells & area, panel["title"]
        cells |= area
