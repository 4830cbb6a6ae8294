"""Webhook CRUD endpoints (reference §7.1)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from clickup_sync.clickup.emulator.api_common import json_body, workspace


async def create_webhook(request: Request) -> JSONResponse:
    body = await json_body(request)
    return JSONResponse(workspace(request).create_webhook(request.path_params["team_id"], body))


async def list_webhooks(request: Request) -> JSONResponse:
    return JSONResponse(workspace(request).list_webhooks(request.path_params["team_id"]))


async def update_webhook(request: Request) -> JSONResponse:
    body = await json_body(request)
    return JSONResponse(workspace(request).update_webhook(request.path_params["webhook_id"], body))


async def delete_webhook(request: Request) -> JSONResponse:
    workspace(request).delete_webhook(request.path_params["webhook_id"])
    return JSONResponse({})


ROUTES = [
    Route("/api/v2/team/{team_id}/webhook", create_webhook, methods=["POST"]),
    Route("/api/v2/team/{team_id}/webhook", list_webhooks, methods=["GET"]),
    Route("/api/v2/webhook/{webhook_id}", update_webhook, methods=["PUT"]),
    Route("/api/v2/webhook/{webhook_id}", delete_webhook, methods=["DELETE"]),
]
