"""The admin interface, mounted at /admin by `clickup_sync/web/app.py` (docs/admin.md)."""

from __future__ import annotations

import logging

import psycopg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from clickup_sync.runtime import ServiceRuntime
from clickup_sync.web.admin import actions, pages
from clickup_sync.web.admin.gate import AdminGate
from clickup_sync.web.admin.rendering import STATIC_DIR, build_templates
from clickup_sync.web.admin.security import AdminSecrets
from clickup_sync.web.admin.throttle import LoginThrottle

log = logging.getLogger(__name__)


def build_admin_app(runtime: ServiceRuntime) -> AdminGate:
    secrets = AdminSecrets(runtime.settings)
    app = Starlette(
        routes=[
            Route("/", pages.dashboard),
            Route("/login", actions.login_page, methods=["GET"]),
            Route("/login", actions.login, methods=["POST"]),
            Route("/logout", actions.logout, methods=["POST"]),
            Route("/dead-letters", pages.dead_letters),
            Route("/dead-letters/replay", actions.replay, methods=["POST"]),
            Route("/jobs/{job_id:int}/retry", actions.retry_job, methods=["POST"]),
            Route("/deliveries/{delivery_id:int}", pages.delivery),
            Route("/tasks", pages.task_search),
            Route("/tasks/{task_id}", pages.task_page),
            Route("/changes", pages.changes),
            Route("/changes.csv", pages.changes_export),
            Route("/coverage", pages.coverage),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        exception_handlers={
            403: _plain_error,
            400: _plain_error,
            # The pool's timeouts and a closed pool are OperationalErrors too.
            psycopg.OperationalError: _database_unavailable,
        },
    )
    gate = AdminGate(app, secrets, LoginThrottle())
    app.state.runtime = runtime
    app.state.secrets = secrets
    app.state.gate = gate
    app.state.templates = build_templates(secrets)
    return gate


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("admin page %s: the database is unreachable (%s)", request.url.path, exc)
    return PlainTextResponse(
        "The database is unreachable; try again shortly.\n", status_code=503, headers={"Retry-After": "5"}
    )


async def _plain_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    detail = getattr(exc, "detail", "")
    return PlainTextResponse(f"{detail}\n", status_code=status)
