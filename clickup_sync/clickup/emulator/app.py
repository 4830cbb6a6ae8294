"""The Starlette application of the emulator: ClickUp API v2 (and the one v3 move endpoint) under
`/api/`, control endpoints under `/_emulator/`, wrapped in the auth / rate-limit / fault gateway.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from clickup_sync.clickup.emulator import api_control, api_errors, api_hierarchy, api_tasks, api_webhooks
from clickup_sync.clickup.emulator.api_common import EmulatorContext
from clickup_sync.clickup.emulator.api_errors import ApiError
from clickup_sync.clickup.emulator.gateway import ApiGateway


async def _api_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    return JSONResponse(error.body(), status_code=error.status)


async def _http_error(request: Request, error: Exception) -> Response:
    # Unknown routes and methods answer in ClickUp's error shape, not Starlette's plain text.
    assert isinstance(error, HTTPException)
    if error.status_code == 405:
        return JSONResponse({"err": "Method not allowed", "ECODE": "APP_405"}, status_code=405)
    fallback = api_errors.route_not_found()
    return JSONResponse(fallback.body(), status_code=error.status_code)


def build_app(context: EmulatorContext) -> ApiGateway:
    routes = [*api_hierarchy.ROUTES, *api_tasks.ROUTES, *api_webhooks.ROUTES, *api_control.ROUTES]
    app = Starlette(routes=routes, exception_handlers={ApiError: _api_error, HTTPException: _http_error})
    app.state.emulator = context
    return ApiGateway(app, context.runtime, context.stats, app.routes)
