"""Times `POST /webhooks/clickup` from request to answer and counts its outcome.

A pure ASGI middleware, so the endpoint's code (`web/ingest.py`) stays untouched and nothing it does
is slowed: the only extra work is reading the status line and, for a 200, its few-byte JSON body.
The endpoint may name its outcome itself by setting `request.state.delivery_outcome` to one of
`DELIVERY_OUTCOMES`; otherwise it is read from the status code (and `{"status": "duplicate"}`).
"""

from __future__ import annotations

import time
from typing import Final

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clickup_sync.observability.process_metrics import DELIVERY_OUTCOMES, ProcessMetrics

WEBHOOK_PATH: Final = "/webhooks/clickup"
_OUTCOME_BY_STATUS: Final = {
    403: "rejected_signature",
    413: "too_large",
    400: "malformed",
    503: "db_unavailable",
}
_BODY_KEPT_BYTES: Final = 1024  # the 200 answers are `{"status": "accepted"}`-sized


def delivery_outcome(status_code: int, body: bytes, declared: object = None) -> str:
    """The outcome label of one answer. `declared` is what the endpoint said, when it did."""
    if isinstance(declared, str) and declared in DELIVERY_OUTCOMES:
        return declared
    if status_code == 200:
        try:
            answer = orjson.loads(body)
        except orjson.JSONDecodeError:
            return "accepted"
        return "duplicate" if isinstance(answer, dict) and answer.get("status") == "duplicate" else "accepted"
    return _OUTCOME_BY_STATUS.get(status_code, "error")


class WebhookAckTimer:
    def __init__(self, app: ASGIApp, metrics: ProcessMetrics, path: str = WEBHOOK_PATH) -> None:
        self.app = app
        self.metrics = metrics
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_code = 500  # what the client sees when the app raises before answering
        body = bytearray()

        async def send_and_watch(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = int(message["status"])
            elif message["type"] == "http.response.body" and len(body) < _BODY_KEPT_BYTES:
                body.extend(message.get("body", b"")[:_BODY_KEPT_BYTES])
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            state = scope.get("state")
            declared = state.get("delivery_outcome") if isinstance(state, dict) else None
            self.metrics.observe_ack(
                delivery_outcome(status_code, bytes(body), declared), time.perf_counter() - started
            )
