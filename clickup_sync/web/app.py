"""The ASGI application of `clickup-sync serve`."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from clickup_sync.runtime import ServiceRuntime
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
        ]
    )
