"""`/_emulator/` control endpoints (no auth, not rate limited, not counted), so a test in another
process can read the ground truth and the statistics, drive activity and change fault knobs.

    GET    /_emulator/state      ground truth (Workspace.ground_truth)
    GET    /_emulator/stats      requests by endpoint and status, 429s, deliveries by outcome
    GET    /_emulator/deliveries every delivery attempt the dispatcher logged (newest 10,000), with
                                 the history items each carried; `?outcome=dropped` filters
    POST   /_emulator/activity   {"rate": 5.0} starts background activity; {"changes": 20} makes
                                 exactly 20 changes now and answers what they were (both continue
                                 the one simulator's seeded choices)
    DELETE /_emulator/activity   stops background activity
    GET    /_emulator/config     the current knobs
    PUT    /_emulator/config     {"latency_ms", "fault_5xx_rate", "slow_rate", "slow_ms",
                                  "rate_limit_per_minute", "valid_tokens", "chaos": {…}} (any subset)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, fields
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from clickup_sync.clickup.emulator import api_errors
from clickup_sync.clickup.emulator.api_common import EmulatorContext, context, json_body
from clickup_sync.clickup.emulator.config import ChaosConfig, EmulatorConfig

_RUNTIME_KNOBS = {
    "latency_ms",
    "fault_5xx_rate",
    "slow_rate",
    "slow_ms",
    "rate_limit_per_minute",
    "valid_tokens",
}


def emulator_stats(ctx: EmulatorContext) -> dict[str, Any]:
    stats = ctx.stats.snapshot()
    dispatcher = ctx.dispatcher
    outcomes: Counter[str] = Counter()
    if dispatcher is not None:
        outcomes.update(record.outcome for record in list(dispatcher.deliveries))
    stats["deliveries"] = {
        "by_outcome": dict(sorted(outcomes.items())),
        "dispatcher": dispatcher.stats() if dispatcher is not None else {},
    }
    stats["activity"] = ctx.activity.status() if ctx.activity is not None else {}
    stats["workspace_version"] = ctx.workspace.state.version
    return stats


def config_json(config: EmulatorConfig) -> dict[str, Any]:
    data = asdict(config)
    data["valid_tokens"] = sorted(config.valid_tokens) if config.valid_tokens is not None else None
    data["webhook_retry_delays"] = list(config.webhook_retry_delays)
    return data


def apply_config_changes(ctx: EmulatorContext, body: dict[str, Any]) -> EmulatorConfig:
    unknown = set(body) - _RUNTIME_KNOBS - {"chaos"}
    if unknown:
        raise api_errors.bad_request(f"Unknown or fixed settings: {', '.join(sorted(unknown))}")
    changes: dict[str, Any] = {key: body[key] for key in _RUNTIME_KNOBS & set(body)}
    if "valid_tokens" in changes and changes["valid_tokens"] is not None:
        changes["valid_tokens"] = frozenset(str(token) for token in changes["valid_tokens"])
    if "chaos" in body:
        chaos_fields = {f.name for f in fields(ChaosConfig)}
        if not isinstance(body["chaos"], dict) or not set(body["chaos"]) <= chaos_fields:
            raise api_errors.bad_request(f"chaos takes {', '.join(sorted(chaos_fields))}")
        changes["chaos"] = ChaosConfig(**{**asdict(ctx.runtime.config.chaos), **body["chaos"]})
    config = ctx.runtime.update(**changes)
    if "chaos" in changes and ctx.dispatcher is not None:
        ctx.dispatcher.set_chaos(config.chaos)
    return config


async def get_state(request: Request) -> Response:
    # Big workspaces take a while to encode: keep the event loop serving meanwhile.
    body = await run_in_threadpool(context(request).workspace.ground_truth_encoded)
    return Response(body, media_type="application/json")


async def get_stats(request: Request) -> JSONResponse:
    return JSONResponse(emulator_stats(context(request)))


async def get_deliveries(request: Request) -> Response:
    """What each attempt carried, so a test can tell which history items ClickUp never delivered."""
    dispatcher = context(request).dispatcher
    wanted = request.query_params.get("outcome")
    records = [] if dispatcher is None else list(dispatcher.deliveries)
    listed = [
        {
            "webhook_id": record.webhook_id,
            "event": record.event,
            "task_id": record.task_id,
            "attempt": record.attempt,
            "status_code": record.status_code,
            "outcome": record.outcome,
            "at": record.at,
            "history_items": orjson.loads(record.body).get("history_items") or [],
        }
        for record in records
        if wanted is None or record.outcome == wanted
    ]
    return Response(orjson.dumps({"deliveries": listed}), media_type="application/json")


async def start_activity(request: Request) -> JSONResponse:
    ctx = context(request)
    body = await json_body(request)
    simulator = ctx.activity_simulator()
    if "changes" in body:
        count = body["changes"]
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise api_errors.bad_request("changes must be a non-negative integer")
        made = simulator.run(count)
        return JSONResponse({"changes": [change.to_json() for change in made]})
    rate = body.get("rate")
    if not isinstance(rate, int | float) or isinstance(rate, bool) or rate <= 0:
        raise api_errors.bad_request("rate must be a positive number of changes per second")
    simulator.start(float(rate))
    return JSONResponse(simulator.status())


async def stop_activity(request: Request) -> JSONResponse:
    simulator = context(request).activity_simulator()
    simulator.stop()
    return JSONResponse(simulator.status())


async def get_config(request: Request) -> JSONResponse:
    return JSONResponse(config_json(context(request).runtime.config))


async def put_config(request: Request) -> JSONResponse:
    ctx = context(request)
    try:
        config = apply_config_changes(ctx, await json_body(request))
    except (TypeError, ValueError) as error:
        raise api_errors.bad_request(str(error)) from None
    return JSONResponse(config_json(config))


ROUTES = [
    Route("/_emulator/state", get_state, methods=["GET"]),
    Route("/_emulator/stats", get_stats, methods=["GET"]),
    Route("/_emulator/deliveries", get_deliveries, methods=["GET"]),
    Route("/_emulator/activity", start_activity, methods=["POST"]),
    Route("/_emulator/activity", stop_activity, methods=["DELETE"]),
    Route("/_emulator/config", get_config, methods=["GET"]),
    Route("/_emulator/config", put_config, methods=["PUT"]),
]
