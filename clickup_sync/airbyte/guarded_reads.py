"""Short, read-only transactions on Airbyte's tables, retried when Airbyte is in the way.

Airbyte's overwrite sync drops the final table and renames another in its place under an ACCESS
EXCLUSIVE lock (reference airbyte.md §3.4, §3.9). A reader that holds even a share lock for long
stalls that swap and, behind it, every other reader of the table; a reader that arrives during the
swap waits behind it. So every read here runs in its own transaction, READ ONLY, with
`lock_timeout` and `statement_timeout`, without prepared statements (the table is resolved by name on
every query, §7.3), and a read that meets the swap — lock timeout, the table gone or renamed,
serialization trouble — is retried with backoff and then reported as `AirbyteTableUnavailable`:
retry later, never a failure of the service.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from clickup_sync.errors import DatabaseUnavailable, TransientError

log = logging.getLogger(__name__)

Result = TypeVar("Result")
Sleep = Callable[[float], Awaitable[None]]
UnavailableReason = Literal["locked", "missing", "timeout", "changing", "unexpected_shape"]
Query = str | sql.SQL | sql.Composed

# What Airbyte's swap or schema change can make a read meet; each is worth another try.
_RETRYABLE: tuple[tuple[type[psycopg.Error], UnavailableReason], ...] = (
    (pg_errors.LockNotAvailable, "locked"),  # lock_timeout: the swap holds ACCESS EXCLUSIVE
    (pg_errors.UndefinedTable, "missing"),  # dropped or renamed between attempts
    (pg_errors.QueryCanceled, "timeout"),  # statement_timeout
    (pg_errors.ObjectNotInPrerequisiteState, "changing"),
    (pg_errors.SerializationFailure, "changing"),
    (pg_errors.DeadlockDetected, "changing"),
    (pg_errors.FeatureNotSupported, "changing"),  # "cached plan must not change result type"
)
# SQLSTATE classes that mean the connection itself is gone, not the read.
_CONNECTION_LOST_CLASSES = ("08", "57P")


class AirbyteTableUnavailable(TransientError):
    """Airbyte's table cannot be read right now (`reason`); ask again later."""

    def __init__(self, table: str, reason: UnavailableReason, detail: str = "") -> None:
        super().__init__(
            f"Airbyte's table {table} is unavailable ({reason}){': ' + detail if detail else ''}"
        )
        self.table = table
        self.reason: UnavailableReason = reason


@dataclass(frozen=True)
class ReadPolicy:
    """How long one read may wait, and how often it is tried before "unavailable"."""

    lock_timeout_seconds: float = 2.0
    statement_timeout_seconds: float = 10.0
    attempts: int = 3
    backoff_seconds: float = 0.25  # before the second attempt; doubled after each further one
    max_backoff_seconds: float = 2.0

    def __post_init__(self) -> None:
        if self.lock_timeout_seconds <= 0 or self.statement_timeout_seconds <= 0:
            raise ValueError("lock and statement timeouts must be positive (0 would mean 'wait forever')")
        if self.attempts < 1 or self.backoff_seconds < 0 or self.max_backoff_seconds < 0:
            raise ValueError("attempts must be >= 1 and backoffs >= 0")

    def backoff(self, failed_attempts: int) -> float:
        return float(min(self.max_backoff_seconds, self.backoff_seconds * 2.0 ** (failed_attempts - 1)))

    def guard(self) -> sql.Composed:
        """The first statements of every read transaction. `SET LOCAL` ends with the transaction, so a
        pooled connection goes back unchanged."""
        return sql.SQL(
            "SET TRANSACTION READ ONLY; SET LOCAL lock_timeout = {}; SET LOCAL statement_timeout = {}"
        ).format(
            sql.Literal(f"{max(1, round(self.lock_timeout_seconds * 1000))}ms"),
            sql.Literal(f"{max(1, round(self.statement_timeout_seconds * 1000))}ms"),
        )


class ReadTransaction:
    """One guarded transaction. Queries are never prepared: a prepared plan would outlive the table."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn

    async def fetchall(self, query: Query, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        cursor = await self._conn.execute(query, params, prepare=False)
        return await cursor.fetchall()

    async def fetchone(self, query: Query, params: Sequence[Any] | None = None) -> tuple[Any, ...] | None:
        cursor = await self._conn.execute(query, params, prepare=False)
        return await cursor.fetchone()


class ConnectionSource:
    """Connections from a pool, or one connection of our own opened from a DSN (one user at a time)."""

    def __init__(self, database: AsyncConnectionPool[Any] | str, *, purpose: str) -> None:
        self._pool = database if isinstance(database, AsyncConnectionPool) else None
        self._dsn = database if isinstance(database, str) else None
        self._own: psycopg.AsyncConnection[Any] | None = None
        self._own_lock = asyncio.Lock()
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
            if not _connection_lost(exc):
                raise
            await self.aclose()
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise DatabaseUnavailable(f"{self._purpose}: PostgreSQL is unreachable: {first_line}") from exc

    async def aclose(self) -> None:
        if self._own is not None:
            await self._own.close()
            self._own = None


def _connection_lost(exc: psycopg.Error) -> bool:
    return exc.sqlstate is None or exc.sqlstate.startswith(_CONNECTION_LOST_CLASSES)


def unavailable_reason(exc: BaseException) -> UnavailableReason | None:
    """Why a read failed, when the failure is one Airbyte's swap or schema change explains."""
    for error_type, reason in _RETRYABLE:
        if isinstance(exc, error_type):
            return reason
    return None


async def read_guarded(
    source: ConnectionSource,
    policy: ReadPolicy,
    table: str,
    read: Callable[[ReadTransaction], Awaitable[Result]],
    *,
    sleep: Sleep = asyncio.sleep,
) -> Result:
    """Run `read` in a guarded transaction, retrying as `policy` says; `AirbyteTableUnavailable` at last."""
    failure: AirbyteTableUnavailable | None = None
    for attempt in range(1, policy.attempts + 1):
        if attempt > 1:
            await sleep(policy.backoff(attempt - 1))
        try:
            async with source.connection() as conn, conn.transaction():
                await conn.execute(policy.guard(), prepare=False)
                return await read(ReadTransaction(conn))
        except AirbyteTableUnavailable as exc:  # raised by `read` itself, e.g. the table is not there
            if exc.reason == "unexpected_shape":
                raise  # another try cannot add a column
            failure = exc
        except psycopg.Error as exc:
            reason = unavailable_reason(exc)
            if reason is None:
                raise
            failure = AirbyteTableUnavailable(table, reason, _first_line(exc))
        log.debug("read of %s failed (attempt %d of %d): %s", table, attempt, policy.attempts, failure)
    assert failure is not None
    log.info("%s; retry later", failure)
    raise failure


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
