"""`POST /webhooks/airbyte`: Airbyte's sync notifications (reference/airbyte.md §4.3) mark the start
and end of sync windows. Airbyte documents no signature for them: a notification only informs
detection (what it says is checked against the database), it never changes data."""

from __future__ import annotations

import logging

import psycopg
from psycopg_pool import PoolTimeout
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from clickup_sync.airbyte.detect import AirbyteSyncDetector, DetectorConfig
from clickup_sync.airbyte.notifications import parse_airbyte_notification
from clickup_sync.runtime import ServiceRuntime
from clickup_sync.web.ingest import BodyTooLarge, read_limited

log = logging.getLogger(__name__)


class AirbyteNotificationEndpoint:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self._detector: AirbyteSyncDetector | None = None

    def detector(self) -> AirbyteSyncDetector:
        if self._detector is None:
            settings = self.runtime.settings
            self._detector = AirbyteSyncDetector(
                self.runtime.pool,
                schema=self.runtime.schema,
                config=DetectorConfig(
                    airbyte_table=settings.airbyte_task_table,
                    raw_schema=settings.airbyte_raw_schema,
                    connection_id=settings.airbyte_connection_id,
                ),
            )
        return self._detector

    async def handle(self, request: Request) -> Response:
        try:
            body = await read_limited(request)
        except BodyTooLarge:
            return JSONResponse({"error": "body over 1 MiB"}, status_code=413)
        notification = parse_airbyte_notification(body)
        if notification is None:
            return JSONResponse(
                {"status": "ignored", "reason": "not an Airbyte sync notification"}, status_code=400
            )
        try:
            sync = await self.detector().record_notification(notification)
        except (psycopg.OperationalError, PoolTimeout):
            return JSONResponse({"error": "temporarily unavailable"}, status_code=503)
        return JSONResponse({"status": "recorded" if sync is not None else "ignored"})
