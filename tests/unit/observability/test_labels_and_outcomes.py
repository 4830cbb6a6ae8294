"""Bounded labels and outcomes: pure functions and the middleware, without a database."""

from __future__ import annotations

import asyncio
from collections import Counter
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from prometheus_client import generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from clickup_sync.observability.ack_timer import WebhookAckTimer, delivery_outcome
from clickup_sync.observability.clickup_calls import ClickUpCallsCollector, endpoint_labels, status_label
from clickup_sync.observability.process_metrics import ProcessMetrics


@pytest.mark.parametrize(
    ("endpoint", "labels"),
    [
        ("GET /task/{task_id}", ("GET", "/task/{task_id}")),
        ("POST /team/{team_id}/webhook", ("POST", "/team/{team_id}/webhook")),
        ("GET /team", ("GET", "/team")),
        ("GET /task/86a1b2c3", ("GET", "other")),  # a raw id never becomes a label
        ("GET /task/9hx?include_subtasks=true", ("GET", "other")),
        ("PATCH /task/{task_id}", ("other", "/task/{task_id}")),
        ("garbage", ("other", "other")),
    ],
)
def test_endpoints_are_route_templates_or_other(endpoint: str, labels: tuple[str, str]) -> None:
    assert endpoint_labels(endpoint) == labels


@pytest.mark.parametrize(
    ("status", "label"),
    [("200", "200"), ("429", "429"), ("timeout", "timeout"), ("418", "4xx"), ("599", "5xx"), ("x", "other")],
)
def test_statuses_come_from_a_fixed_set(status: str, label: str) -> None:
    assert status_label(status) == label


def test_the_calls_collector_merges_what_collapses_into_one_series() -> None:
    client = SimpleNamespace(
        calls=Counter(
            {("GET /task/{task_id}", "200"): 3, ("GET /task/abc1", "200"): 1, ("GET /task/def2", "200"): 1}
        )
    )
    collector = ClickUpCallsCollector(lambda: client)  # type: ignore[arg-type, return-value]
    samples = {
        tuple(sorted(s.labels.items())): s.value for family in collector.collect() for s in family.samples
    }
    assert samples == {
        (("endpoint", "/task/{task_id}"), ("method", "GET"), ("status", "200")): 3,
        (("endpoint", "other"), ("method", "GET"), ("status", "200")): 2,
    }
    assert next(iter(ClickUpCallsCollector(lambda: None).collect())).samples == []


@pytest.mark.parametrize(
    ("status", "body", "declared", "outcome"),
    [
        (200, b'{"status":"accepted"}', None, "accepted"),
        (200, b'{"status":"duplicate"}', None, "duplicate"),
        (200, b"not json", None, "accepted"),
        (403, b"", None, "rejected_signature"),
        (413, b"", None, "too_large"),
        (400, b"", None, "malformed"),
        (503, b"", None, "db_unavailable"),
        (500, b"", None, "error"),
        (200, b'{"status":"accepted"}', "duplicate", "duplicate"),  # the endpoint's own word wins
        (200, b'{"status":"accepted"}', "made-up", "accepted"),  # …when it is one of the known outcomes
    ],
)
def test_outcome_of_an_answer(status: int, body: bytes, declared: Any, outcome: str) -> None:
    assert delivery_outcome(status, body, declared) == outcome


def app_with_timer(metrics: ProcessMetrics) -> Starlette:
    async def webhook(request: Request) -> Response:
        kind = request.query_params.get("answer", "accepted")
        if kind == "slow":
            await asyncio.sleep(0.05)
        if kind == "declared":
            request.state.delivery_outcome = "duplicate"
        if kind == "boom":
            raise RuntimeError("a bug")
        return JSONResponse({"status": "duplicate" if kind == "dup" else "accepted"})

    async def other(request: Request) -> Response:
        return JSONResponse({})

    return Starlette(
        routes=[
            Route("/webhooks/clickup", webhook, methods=["POST"]),
            Route("/other", other, methods=["GET", "POST"]),
        ],
        middleware=[Middleware(WebhookAckTimer, metrics=metrics)],
    )


@pytest.mark.anyio
async def test_the_timer_counts_only_webhook_posts_by_outcome() -> None:
    metrics = ProcessMetrics(SimpleNamespace(_client=None))  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app_with_timer(metrics), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as http:
        for answer in ("accepted", "slow", "dup", "declared", "boom"):
            await http.post(f"/webhooks/clickup?answer={answer}")
        await http.post("/other")
        await http.get("/webhooks/clickup")  # 405, not a delivery
    registry = metrics.registry
    value = registry.get_sample_value
    assert value("clickup_sync_webhook_deliveries_total", {"outcome": "accepted"}) == 2
    assert value("clickup_sync_webhook_deliveries_total", {"outcome": "duplicate"}) == 2
    assert value("clickup_sync_webhook_deliveries_total", {"outcome": "error"}) == 1
    assert value("clickup_sync_webhook_ack_seconds_count", {"outcome": "accepted"}) == 2
    slowest = value("clickup_sync_webhook_ack_seconds_sum", {"outcome": "accepted"})
    assert slowest is not None and slowest >= 0.05
    assert value("clickup_sync_webhook_ack_seconds_bucket", {"outcome": "accepted", "le": "0.01"}) == 1
    assert b"_created" not in generate_latest(registry)


def test_each_process_metrics_has_its_own_registry() -> None:
    first = ProcessMetrics(SimpleNamespace(_client=None))  # type: ignore[arg-type]
    second = ProcessMetrics(SimpleNamespace(_client=None))  # type: ignore[arg-type]
    first.observe_ack("accepted", 0.01)
    assert (
        first.registry.get_sample_value("clickup_sync_webhook_deliveries_total", {"outcome": "accepted"}) == 1
    )
    assert (
        second.registry.get_sample_value("clickup_sync_webhook_deliveries_total", {"outcome": "accepted"})
        == 0
    )
