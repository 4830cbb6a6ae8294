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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from clickup_sync.db.connection_source import ConnectionSource
from clickup_sync.errors import TransientError

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
