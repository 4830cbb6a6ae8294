"""`POST /webhooks/clickup`: verify, store durably, acknowledge. Nothing else on this path.

- Bad or missing signature → 403 (never 401 or 410: ClickUp suspends a webhook on those, §7.7);
  nothing is stored, a counter is.
- Body over 1 MiB → 413. Valid signature but not a delivery we understand → 400, body kept.
- Valid → the exact bytes and the history items' dedup keys are stored and the processing job is
  queued in the same transaction, then 200. A history item already owned by an earlier delivery
  (same item under taskUpdated and the specific event, or a redelivery) is recorded once.
- Database unreachable → 503: ClickUp retries the event (up to 5 times), nothing is lost.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql
from psycopg_pool import PoolTimeout
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from clickup_sync.clickup.signature import verify_clickup_signature
from clickup_sync.queue.deliveries import defer_processing
from clickup_sync.runtime import ServiceRuntime
from clickup_sync.sync.webhook_delivery import MalformedDelivery, ParsedDelivery, parse_delivery
from clickup_sync.web.secrets import WebhookSecrets

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
# ClickUp counts an answer slower than 7 s as a failure (§7.7): while the database is away, answer 503
# quickly (ClickUp retries) instead of waiting for the pool's usual timeout.
ACK_DB_TIMEOUT_SECONDS = 2.0

# Returns the delivery's id and how many of its history items it owns (0 of n = a duplicate).
_STORE_DELIVERY = """
WITH delivery AS (
    INSERT INTO {s}.webhook_deliveries (webhook_id, event, task_id, body, history_item_ids)
    VALUES (%(webhook)s, %(event)s, %(task)s, %(body)s, %(keys)s) RETURNING id
), owned AS (
    INSERT INTO {s}.webhook_history_items (webhook_id, history_item_id, delivery_id)
    SELECT %(webhook)s, key, delivery.id FROM delivery, unnest(%(keys)s::text[]) AS key
    ON CONFLICT DO NOTHING RETURNING 1
)
SELECT delivery.id, (SELECT count(*) FROM owned) FROM delivery
"""


class BodyTooLarge(Exception):
    pass


async def read_limited(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


class ClickUpWebhookEndpoint:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.secrets = WebhookSecrets(
            runtime.pool,
            runtime.schema,
            runtime.settings.clickup_webhook_secret.get_secret_value()
            if runtime.settings.clickup_webhook_secret
            else None,
        )
        self._s = sql.Identifier(runtime.schema)

    async def handle(self, request: Request) -> Response:
        try:
            body = await read_limited(request)
        except BodyTooLarge:
            await self._count("too_large")
            return JSONResponse({"error": "body over 1 MiB"}, status_code=413)
        try:
            signature = request.headers.get("x-signature")
            valid = verify_clickup_signature(body, signature, await self.secrets.get())
            if not valid:  # perhaps a webhook registered a moment ago by another replica
                valid = verify_clickup_signature(body, signature, await self.secrets.get(fresh=True))
            if not valid:
                await self._count("bad_signature")
                return JSONResponse({"error": "invalid signature"}, status_code=403)
            try:
                delivery = parse_delivery(body)
            except MalformedDelivery as exc:
                await self._store_malformed(body, str(exc))
                return JSONResponse({"error": f"malformed delivery: {exc}"}, status_code=400)
            status = await self._store(body, delivery)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            log.warning("database unavailable, answering 503 so ClickUp retries: %s", exc)
            return JSONResponse({"error": "temporarily unavailable"}, status_code=503)
        return JSONResponse({"status": status})

    async def _store(self, body: bytes, delivery: ParsedDelivery) -> str:
        keys = delivery.dedupe_keys()
        async with self.runtime.pool.connection(timeout=ACK_DB_TIMEOUT_SECONDS) as conn, conn.transaction():
            # The delivery and its items' dedupe keys in one statement: the ack path is round trips.
            row = await (
                await conn.execute(
                    sql.SQL(_STORE_DELIVERY).format(s=self._s),
                    {
                        "webhook": delivery.webhook_id,
                        "event": delivery.event,
                        "task": delivery.task_id,
                        "body": body,
                        "keys": keys,
                    },
                )
            ).fetchone()
            assert row is not None
            delivery_id, owned = int(row[0]), int(row[1])
            if keys and not owned:
                await conn.execute(
                    sql.SQL(
                        "UPDATE {}.webhook_deliveries SET status = 'duplicate', processed_at = now()"
                        " WHERE id = %s"
                    ).format(self._s),
                    (delivery_id,),
                )
                return "duplicate"
            await defer_processing(self.runtime.queue, conn, delivery_id, delivery.task_id)
        return "accepted"

    async def _store_malformed(self, body: bytes, error: str) -> None:
        async with self.runtime.pool.connection(timeout=ACK_DB_TIMEOUT_SECONDS) as conn, conn.transaction():
            await conn.execute(
                sql.SQL(
                    "INSERT INTO {}.webhook_deliveries (body, status, last_error, processed_at)"
                    " VALUES (%s, 'malformed', %s, now())"
                ).format(self._s),
                (body, error),
            )

    async def _count(self, outcome: str) -> None:
        """Rejections are counted, never stored (anyone can POST here)."""
        try:
            async with (
                self.runtime.pool.connection(timeout=ACK_DB_TIMEOUT_SECONDS) as conn,
                conn.transaction(),
            ):
                await conn.execute(
                    sql.SQL(
                        "INSERT INTO {}.delivery_counters (minute, outcome, count)"
                        " VALUES (date_trunc('minute', now()), %s, 1)"
                        " ON CONFLICT (minute, outcome) DO UPDATE SET count = delivery_counters.count + 1"
                    ).format(self._s),
                    (outcome,),
                )
        except (psycopg.OperationalError, PoolTimeout):
            log.warning("could not count a rejected delivery (%s): database unavailable", outcome)
