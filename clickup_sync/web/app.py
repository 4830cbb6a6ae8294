"""The ASGI application of `clickup-sync serve`."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route

from clickup_sync.observability.ack_timer import WebhookAckTimer
from clickup_sync.observability.exposition import metrics_endpoint
from clickup_sync.observability.process_metrics import metrics_for
from clickup_sync.runtime import ServiceRuntime
from clickup_sync.web.admin import build_admin_app
from clickup_sync.web.airbyte_notifications import AirbyteNotificationEndpoint
from clickup_sync.web.health import healthz, readyz_endpoint
from clickup_sync.web.ingest import ClickUpWebhookEndpoint


def build_web_app(runtime: ServiceRuntime) -> Starlette:
    return Starlette(
        routes=[
            Route("/webhooks/clickup", ClickUpWebhookEndpoint(runtime).handle, methods=["POST"]),
            Route("/webhooks/airbyte", AirbyteNotificationEndpoint(runtime).handle, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz_endpoint(runtime), methods=["GET"]),
            Route("/metrics", metrics_endpoint(runtime), methods=["GET"]),
            Mount("/admin", app=build_admin_app(runtime)),
        ],
        middleware=[Middleware(WebhookAckTimer, metrics=metrics_for(runtime))],
    )
