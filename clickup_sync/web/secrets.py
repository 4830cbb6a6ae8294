"""The secrets a delivery's X-Signature may be made with: every registered webhook's, plus
CLICKUP_WEBHOOK_SECRET. Several are valid at once, for rotation (reference/clickup-api.md §7.5)."""

from __future__ import annotations

import time
from typing import Any

from psycopg import sql
from psycopg_pool import AsyncConnectionPool

# A webhook deleted in ClickUp may still have deliveries in flight (ClickUp retries for a while).
_DELETED_GRACE = "1 hour"


class WebhookSecrets:
    """Cached for a few seconds: the acknowledgement path must not query them on every delivery.
    A signature that matches none is re-checked once against a fresh read (a webhook registered a
    moment ago by another replica)."""

    def __init__(
        self, pool: AsyncConnectionPool[Any], schema: str, configured: str | None, ttl: float = 10.0
    ):
        self._pool = pool
        self._schema = schema
        self._configured = configured
        self._ttl = ttl
        self._cached: list[str] = []
        self._loaded_at = float("-inf")

    async def get(self, *, fresh: bool = False) -> list[str]:
        if fresh or time.monotonic() - self._loaded_at > self._ttl:
            async with self._pool.connection() as conn:
                rows = await (
                    await conn.execute(
                        sql.SQL(
                            "SELECT secret FROM {}.webhooks"
                            " WHERE deleted_at IS NULL OR deleted_at > now() - interval '{}'"
                        ).format(sql.Identifier(self._schema), sql.SQL(_DELETED_GRACE))
                    )
                ).fetchall()
            self._cached = [row[0] for row in rows] + ([self._configured] if self._configured else [])
            self._loaded_at = time.monotonic()
        return self._cached
