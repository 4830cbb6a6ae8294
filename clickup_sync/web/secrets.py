"""The secrets a delivery's X-Signature may be made with: every registered webhook's, plus
CLICKUP_WEBHOOK_SECRET. Several are valid at once, for rotation (reference/clickup-api.md §7.5)."""

from __future__ import annotations

import time
from typing import Any

from psycopg_pool import AsyncConnectionPool

from clickup_sync.subscriptions.registry import active_secrets


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
        age = time.monotonic() - self._loaded_at
        # A fresh read at most once a second: a flood of bad signatures must not become a flood of queries.
        if age > self._ttl or (fresh and age > 1.0):
            async with self._pool.connection(timeout=2.0) as conn:
                registered = await active_secrets(conn, self._schema)
            self._cached = registered + ([self._configured] if self._configured else [])
            self._loaded_at = time.monotonic()
        return self._cached
