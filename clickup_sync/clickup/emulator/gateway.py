"""What stands in front of every `/api/` call: auth, the per-token rate limit, injected latency and
faults, rate-limit headers on every answer, and request statistics.

Order: auth (401 OAUTH_017 / OAUTH_025) → rate limit (429 APP_002) → latency / slow / 5xx faults →
the route. The three `X-RateLimit-*` headers go on every answer, errors included (reference §1.3).
`/_emulator/` control endpoints pass straight through: no auth, no limit, not counted.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clickup_sync.clickup.emulator import api_errors
from clickup_sync.clickup.emulator.api_errors import ApiError
from clickup_sync.clickup.emulator.config import EmulatorConfig
from clickup_sync.clickup.emulator.ratelimit import FixedWindowRateLimiter, RateDecision

API_PREFIX = "/api/"
_FAULT_STATUSES = (500, 502, 503)


class RuntimeSettings:
    """The emulator's current knobs; `PUT /_emulator/config` replaces them while it runs."""

    def __init__(self, config: EmulatorConfig) -> None:
        self._lock = threading.Lock()
        self._config = config
        self.rate_limiter = FixedWindowRateLimiter(config.rate_limit_per_minute)
        self.fault_random = random.Random(f"faults:{config.seed}")

    @property
    def config(self) -> EmulatorConfig:
        with self._lock:
            return self._config

    def update(self, **changes: Any) -> EmulatorConfig:
        with self._lock:
            self._config = replace(self._config, **changes)
            self.rate_limiter.set_limit(self._config.rate_limit_per_minute)
            return self._config

    def token_is_valid(self, header: str) -> bool:
        credential = header.removeprefix("Bearer ")
        valid_tokens = self.config.valid_tokens
        if valid_tokens is not None:
            return credential in valid_tokens
        return header.startswith(("pk_", "Bearer ")) and bool(credential.strip())


@dataclass(frozen=True)
class _Outcome:
    endpoint: str
    status: int


class RequestStats:
    """Requests by endpoint and status, and how many 429s were served."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_endpoint: Counter[tuple[str, int]] = Counter()

    def record(self, endpoint: str, status: int) -> None:
        with self._lock:
            self._by_endpoint[(endpoint, status)] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            items = sorted(self._by_endpoint.items())
        by_endpoint: dict[str, dict[str, int]] = {}
        by_status: Counter[str] = Counter()
        for (endpoint, status), count in items:
            by_endpoint.setdefault(endpoint, {})[str(status)] = count
            by_status[str(status)] += count
        return {
            "requests_total": sum(by_status.values()),
            "requests_by_status": dict(sorted(by_status.items())),
            "requests_by_endpoint": by_endpoint,
            "rate_limited_429": by_status.get("429", 0),
        }


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def _send_error(send: Send, error: ApiError, extra_headers: dict[str, str]) -> None:
    body = json.dumps(error.body(), separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in extra_headers.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ApiGateway:
    """ASGI middleware around the Starlette app."""

    def __init__(
        self, app: ASGIApp, runtime: RuntimeSettings, stats: RequestStats, routes: list[BaseRoute]
    ) -> None:
        self.app = app
        self.runtime = runtime
        self.stats = stats
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        method = str(scope["method"])
        header = _header(scope, b"authorization")
        config = self.runtime.config
        rejection: ApiError | None = None
        if header is None or not header.strip():
            rejection = api_errors.authorization_header_required()
            decision = self.runtime.rate_limiter.check("", count=False)
        elif not self.runtime.token_is_valid(header):
            rejection = api_errors.token_invalid()
            decision = self.runtime.rate_limiter.check(header.removeprefix("Bearer "), count=False)
        else:
            decision = self.runtime.rate_limiter.check(header.removeprefix("Bearer "))
            if not decision.allowed:
                rejection = api_errors.rate_limit_reached()
            else:
                rejection = await self._inject_faults(config)
        if rejection is not None:
            await _send_error(send, rejection, decision.headers())
            self.stats.record(f"{method} {self._guess_endpoint(scope)}", rejection.status)
            return
        await self._forward(scope, receive, send, decision, method)

    async def _inject_faults(self, config: EmulatorConfig) -> ApiError | None:
        draw = self.runtime.fault_random
        delay_ms = config.latency_ms
        if config.slow_rate and draw.random() < config.slow_rate:
            delay_ms += config.slow_ms
        if delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000)
        if config.fault_5xx_rate and draw.random() < config.fault_5xx_rate:
            return api_errors.server_fault(draw.choice(_FAULT_STATUSES))
        return None

    async def _forward(
        self, scope: Scope, receive: Receive, send: Send, decision: RateDecision, method: str
    ) -> None:
        status_seen = 500
        extra = [(k.lower().encode(), v.encode()) for k, v in decision.headers().items()]

        async def send_with_headers(message: Message) -> None:
            nonlocal status_seen
            if message["type"] == "http.response.start":
                status_seen = int(message["status"])
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            self.stats.record(f"{method} {self._endpoint(scope)}", status_seen)

    @staticmethod
    def _endpoint(scope: Scope) -> str:
        route = scope.get("route")
        path = getattr(route, "path", None)
        return str(path) if path else "unmatched"

    def _guess_endpoint(self, scope: Scope) -> str:
        # Rejected before routing: find the route template ourselves, so stats stay per endpoint.
        for route in self.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return str(getattr(route, "path", "unmatched"))
        return "unmatched"
