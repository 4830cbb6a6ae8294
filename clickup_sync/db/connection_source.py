"""Connections from the service's pool, or — for a command that has no pool — one connection of our
own opened from a DSN and reused (one user at a time). Used by the shared ClickUp rate budget and by
the readers of Airbyte's tables, which both run inside and outside a `ServiceRuntime`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from clickup_sync.errors import DatabaseUnavailable

# SQLSTATE classes of a lost or refused connection: connection exceptions, operator intervention
# (admin shutdown, crash recovery). Others (a lock timeout, a cancelled statement) are the caller's.
_CONNECTION_LOST_CLASSES = ("08", "57P")


class ConnectionSource:
    def __init__(self, database: AsyncConnectionPool[Any] | str, *, purpose: str) -> None:
        self._pool = database if isinstance(database, AsyncConnectionPool) else None
        self._dsn = database if isinstance(database, str) else None
        self._own: psycopg.AsyncConnection[Any] | None = None
        self._own_lock = asyncio.Lock()  # one connection runs one transaction at a time
        self._purpose = purpose

    def __repr__(self) -> str:  # the DSN may hold a password
        return f"ConnectionSource(purpose={self._purpose!r})"

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A connection; `DatabaseUnavailable` when PostgreSQL cannot be reached or the connection dies."""
        try:
            if self._pool is not None:
                async with self._pool.connection() as conn:
                    yield conn
                return
            async with self._own_lock:
                if self._own is None or self._own.closed or self._own.broken:
                    assert self._dsn is not None
                    self._own = await psycopg.AsyncConnection.connect(
                        self._dsn, autocommit=True, connect_timeout=10
                    )
                yield self._own
        except psycopg.OperationalError as exc:
            if not connection_lost(exc):
                raise
            await self.aclose()
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise DatabaseUnavailable(f"{self._purpose}: PostgreSQL is unreachable: {first_line}") from exc

    async def aclose(self) -> None:
        if self._own is not None:
            await self._own.close()
            self._own = None


def connection_lost(exc: psycopg.Error) -> bool:
    return exc.sqlstate is None or exc.sqlstate.startswith(_CONNECTION_LOST_CLASSES)
