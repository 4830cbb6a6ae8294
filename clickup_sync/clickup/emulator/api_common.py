"""Shared plumbing of the route modules: the emulator context, bodies, flags, task ids."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

from starlette.requests import Request

from clickup_sync.clickup.emulator import api_errors
from clickup_sync.clickup.emulator.activity import ActivitySimulator
from clickup_sync.clickup.emulator.gateway import RequestStats, RuntimeSettings
from clickup_sync.clickup.emulator.queries import parse_bool
from clickup_sync.clickup.emulator.webhooks import WebhookDispatcher
from clickup_sync.clickup.emulator.workspace import Workspace


@dataclass
class EmulatorContext:
    workspace: Workspace
    runtime: RuntimeSettings
    stats: RequestStats
    dispatcher: WebhookDispatcher | None = None
    activity: ActivitySimulator | None = None

    def activity_simulator(self) -> ActivitySimulator:
        if self.activity is None:
            self.activity = ActivitySimulator(self.workspace, seed=self.runtime.config.seed)
        return self.activity


def context(request: Request) -> EmulatorContext:
    return cast(EmulatorContext, request.app.state.emulator)


def workspace(request: Request) -> Workspace:
    return context(request).workspace


async def json_body(request: Request) -> dict[str, Any]:
    """The JSON object body; an empty body counts as `{}`; anything else is ClickUp's 400."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise api_errors.malformed_body() from None
    if not isinstance(body, dict):
        raise api_errors.malformed_body()
    return body


def flag(request: Request, name: str) -> bool:
    return parse_bool(request.query_params.get(name))


def task_id_of(request: Request) -> str:
    """The task id in the path, resolved from a custom id when `custom_task_ids=true&team_id=…`."""
    path_id = str(request.path_params["task_id"])
    if not flag(request, "custom_task_ids"):
        return path_id
    team_id = request.query_params.get("team_id")
    return workspace(request).resolve_task(path_id, True, team_id).id
