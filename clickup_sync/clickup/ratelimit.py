"""The ClickUp request budget: one token bucket per API token, shared by every process through PostgreSQL.

ClickUp limits requests per token per window (100 a minute on the lowest plans) and reports
`X-RateLimit-Limit/-Remaining/-Reset` on every answer (clickup-api.md §1.3). Every process using a
token asks the same row of `clickup_rate_budget` (keyed by the token's sha256, never the token) for
permission under a row lock, so together they send at most `usable_fraction` of each window. The
window's length is whatever the answers' reset times say; before the first answer, 100 a minute.

Two lanes. `Lane.WEBHOOK` (refreshes after a webhook) may use the whole usable share; `Lane.BACKFILL`
(pages of a walk) stops `webhook_reserve_fraction` short of it, so backfill in any process can never
starve webhook refreshes. Inside one process a waiting webhook caller is also served first.

The arithmetic (`take_from_budget`, `merge_observation`, `merge_rate_limited`) is pure; a store only
locks the row, applies one of them, and writes the result back.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import itertools
import math
import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from functools import partial
from importlib import resources
from typing import Any, Protocol, TypeVar

import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool
from pydantic import SecretStr

from clickup_sync.clickup.protocol import RateLimitInfo
from clickup_sync.db.connection_source import ConnectionSource

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]
Result = TypeVar("Result")
BudgetChange = Callable[["BudgetState", datetime], tuple["BudgetState", Result]]

# §1.3: resets are whole epoch seconds, so a reset a second or more later is another window.
_NEW_WINDOW_GAP = timedelta(seconds=1)
# A 429 whose reset is unknown or already past (clock skew) still pauses: never retry at once.
_SHORTEST_429_PAUSE = timedelta(seconds=1)


def utc_now() -> datetime:
    return datetime.now(UTC)


class BudgetWaitTooLong(Exception):
    """`RateBudget.acquire` would have to wait longer than the caller allows (`budget_wait_limit`)."""

    def __init__(self, wait_seconds: float) -> None:
        super().__init__(f"the ClickUp rate budget has no room for {wait_seconds:.1f} s")
        self.wait_seconds = wait_seconds


_MAX_WAIT: ContextVar[float | None] = ContextVar("clickup_budget_max_wait", default=None)


@contextmanager
def budget_wait_limit(seconds: float) -> Iterator[None]:
    """Within this block (this asyncio task only), `acquire` raises `BudgetWaitTooLong` instead of
    sleeping longer than `seconds` for the window to reopen. For queue jobs: one sleeping for the
    budget holds a worker slot for up to a minute, and enough of them hold every slot."""
    token = _MAX_WAIT.set(seconds)
    try:
        yield
    finally:
        _MAX_WAIT.reset(token)


class Lane(IntEnum):
    """Who is asking for budget. A lower value is served first."""

    WEBHOOK = 0  # a refresh after a webhook: someone is waiting to see the change
    BACKFILL = 1  # a page of a backfill or reconcile walk


@dataclass(frozen=True)
class BudgetPolicy:
    """How much of ClickUp's limit to use, and how to behave before the limit is known."""

    usable_fraction: float = 0.9
    webhook_reserve_fraction: float = 0.2  # of the usable share, only `Lane.WEBHOOK` may use it
    reset_margin_seconds: float = 1.0  # resets are whole seconds and clocks drift: wait a bit longer
    assumed_limit: int = 100  # §1.3: the lowest plan, until an answer says otherwise
    assumed_window_seconds: float = 60.0

    def __post_init__(self) -> None:
        if not 0 < self.usable_fraction <= 1:
            raise ValueError("usable_fraction must be in (0, 1]")
        if not 0 <= self.webhook_reserve_fraction < 1:
            raise ValueError("webhook_reserve_fraction must be in [0, 1)")
        if self.reset_margin_seconds < 0 or self.assumed_window_seconds <= 0 or self.assumed_limit < 1:
            raise ValueError("reset_margin_seconds must be >= 0, assumed window and limit positive")

    @property
    def reset_margin(self) -> timedelta:
        return timedelta(seconds=self.reset_margin_seconds)

    def allowance(self, limit: int, lane: Lane) -> int:
        """How many requests of one window `lane` may have used before it must wait."""
        usable = max(1, math.floor(limit * self.usable_fraction + 1e-9))
        if lane is Lane.WEBHOOK:
            return usable
        return max(1, usable - math.ceil(usable * self.webhook_reserve_fraction - 1e-9))


@dataclass(frozen=True)
class BudgetState:
    """One token's row: ClickUp's limit, what is left of the window, and when the window ends."""

    limit: int
    remaining: int
    resets_at: datetime

    @property
    def used(self) -> int:
        return self.limit - self.remaining


@dataclass(frozen=True)
class TakeResult:
    granted: bool
    state: BudgetState
    now: datetime
    retry_at: datetime | None = None  # when a refused caller should ask again


@dataclass(frozen=True)
class Grant:
    """Permission for one request, and the budget's clock when it was given."""

    lane: Lane
    granted_at: datetime


@dataclass(frozen=True)
class BudgetSnapshot:
    """The shared budget for metrics and the admin page. `remaining` is ClickUp's count for the window
    ending at `resets_at` (None before the first request); after that moment the window is fresh."""

    limit: int
    remaining: int
    resets_at: datetime | None
    webhook_share: int
    backfill_share: int


def initial_budget_state(now: datetime, policy: BudgetPolicy) -> BudgetState:
    window = timedelta(seconds=policy.assumed_window_seconds)
    return BudgetState(limit=policy.assumed_limit, remaining=policy.assumed_limit, resets_at=now + window)


def take_from_budget(state: BudgetState, lane: Lane, now: datetime, policy: BudgetPolicy) -> TakeResult:
    """Grant one request to `lane` if its share of the window allows, else say when to ask again."""
    if now >= state.resets_at:
        reopens_at = state.resets_at + policy.reset_margin
        if now < reopens_at:
            # ClickUp's clock or its rounding of the reset may lag ours: sending now could land in the
            # old window, which may be full.
            return TakeResult(granted=False, state=state, now=now, retry_at=reopens_at)
        # A new window whose end is unknown until an answer tells: assume a long one, the first
        # answer's reset shortens it (`merge_observation`).
        window = timedelta(seconds=policy.assumed_window_seconds)
        state = BudgetState(limit=state.limit, remaining=state.limit, resets_at=now + window)
    if state.used < policy.allowance(state.limit, lane):
        taken = BudgetState(limit=state.limit, remaining=state.remaining - 1, resets_at=state.resets_at)
        return TakeResult(granted=True, state=taken, now=now)
    return TakeResult(granted=False, state=state, now=now, retry_at=state.resets_at + policy.reset_margin)


def merge_observation(state: BudgetState, observed: RateLimitInfo, now: datetime) -> BudgetState:
    """Fold what an answer's headers say into the row.

    Within one window the lower `remaining` wins: ClickUp has not yet counted requests still in
    flight, and the row has not counted other users of the token. An answer about a later window
    replaces the row; one about a window already over (a slow answer) changes nothing. A different
    limit (the first answer replacing the assumed 100/min, or a plan change) also replaces the row:
    the old `remaining` counted against another limit and means nothing for this one.
    """
    if observed.resets_at <= now:
        return state
    if (
        state.resets_at <= now
        or observed.resets_at >= state.resets_at + _NEW_WINDOW_GAP
        or observed.limit != state.limit
    ):
        return BudgetState(observed.limit, observed.remaining, observed.resets_at)
    return BudgetState(observed.limit, min(state.remaining, observed.remaining), observed.resets_at)


def merge_rate_limited(
    state: BudgetState, resets_at: datetime | None, limit: int | None, now: datetime
) -> BudgetState:
    """After a 429: nothing is left until ClickUp's reset (or, unknown, the end of the known window)."""
    if resets_at is None:
        resets_at = state.resets_at
    if resets_at <= now:
        resets_at = now + _SHORTEST_429_PAUSE
    return BudgetState(limit=limit or state.limit, remaining=0, resets_at=resets_at)


def fingerprint_token(token: SecretStr | str) -> str:
    """The sha256 hex digest that keys a token's budget row; the token itself is never stored."""
    value = token.get_secret_value() if isinstance(token, SecretStr) else token
    return hashlib.sha256(value.strip().encode("utf-8")).hexdigest()


class BudgetStore(Protocol):
    """Where budget rows live. `update` applies `change` atomically with respect to every other caller."""

    async def update(
        self, fingerprint: str, policy: BudgetPolicy, change: BudgetChange[Result]
    ) -> Result: ...

    async def read(self, fingerprint: str) -> BudgetState | None: ...

    async def aclose(self) -> None: ...


class MemoryBudgetStore:
    """Rows in this process only: for a single process and for tests (the clock is injectable)."""

    def __init__(self, clock: Clock = utc_now) -> None:
        self._clock = clock
        self._rows: dict[str, BudgetState] = {}

    async def update(self, fingerprint: str, policy: BudgetPolicy, change: BudgetChange[Result]) -> Result:
        # No await between read and write: atomic within the event loop.
        now = self._clock()
        state = self._rows.get(fingerprint) or initial_budget_state(now, policy)
        self._rows[fingerprint], result = change(state, now)
        return result

    async def read(self, fingerprint: str) -> BudgetState | None:
        return self._rows.get(fingerprint)

    async def aclose(self) -> None:
        return None


_QUERY_NAME = re.compile(r"^-- name: (\w+)[ \t]*$", re.MULTILINE)


def _load_queries(schema: str) -> dict[str, sql.Composed]:
    text = (resources.files("clickup_sync.db") / "queries" / "rate_budget.sql").read_text(encoding="utf-8")
    parts = _QUERY_NAME.split(text)  # [preamble, name, body, name, body, ...]
    return {
        name: sql.SQL(body.strip()).format(schema=sql.Identifier(schema))
        for name, body in zip(parts[1::2], parts[2::2], strict=True)
    }


class PostgresBudgetStore:
    """Rows in `{schema}.clickup_rate_budget`, changed under `SELECT … FOR UPDATE` in short transactions.

    Decisions use the database clock, so processes on hosts whose clocks disagree still agree on
    when a window ends. Takes a connection pool, or a DSN for one connection of its own.
    """

    def __init__(self, database: AsyncConnectionPool[Any] | str, *, schema: str) -> None:
        self._source = ConnectionSource(database, purpose="the shared ClickUp rate budget")
        self._schema = schema
        self._queries = _load_queries(schema)

    def __repr__(self) -> str:  # the DSN may hold a password
        return f"PostgresBudgetStore(schema={self._schema!r})"

    def _connection(self) -> AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]:
        return self._source.connection()

    async def update(self, fingerprint: str, policy: BudgetPolicy, change: BudgetChange[Result]) -> Result:
        key = {"fingerprint": fingerprint}
        async with self._connection() as conn, conn.transaction():
            row = await (await conn.execute(self._queries["lock_budget"], key)).fetchone()
            if row is None:
                first = {
                    **key,
                    "limit": policy.assumed_limit,
                    "window_seconds": policy.assumed_window_seconds,
                }
                await conn.execute(self._queries["insert_budget_if_missing"], first)
                row = await (await conn.execute(self._queries["lock_budget"], key)).fetchone()
                assert row is not None, "the budget row exists after the insert"
            state = BudgetState(limit=row[0], remaining=row[1], resets_at=row[2].astimezone(UTC))
            new_state, result = change(state, row[3].astimezone(UTC))
            if new_state != state:
                await conn.execute(
                    self._queries["save_budget"],
                    {
                        **key,
                        "limit": new_state.limit,
                        "remaining": new_state.remaining,
                        "resets_at": new_state.resets_at,
                    },
                )
        return result

    async def read(self, fingerprint: str) -> BudgetState | None:
        async with self._connection() as conn:
            cursor = await conn.execute(self._queries["read_budget"], {"fingerprint": fingerprint})
            row = await cursor.fetchone()
        return None if row is None else BudgetState(row[0], row[1], row[2].astimezone(UTC))

    async def aclose(self) -> None:
        await self._source.aclose()


class _PriorityGate:
    """Turn-taking inside one process: by lane, then by arrival. Only the head asks the store, so a
    webhook caller that arrives while backfill callers wait for the next window is served first."""

    def __init__(self, sleep: Sleep) -> None:
        self._sleep = sleep
        self._queue: list[tuple[int, int]] = []
        self._arrivals = itertools.count()
        self._changed = asyncio.Event()

    def join(self, lane: Lane) -> tuple[int, int]:
        ticket = (int(lane), next(self._arrivals))
        heapq.heappush(self._queue, ticket)
        self._signal()
        return ticket

    def leave(self, ticket: tuple[int, int]) -> None:
        self._queue.remove(ticket)
        heapq.heapify(self._queue)
        self._signal()

    def is_head(self, ticket: tuple[int, int]) -> bool:
        return self._queue[0] == ticket

    async def wait_for_turn(self, ticket: tuple[int, int]) -> None:
        while not self.is_head(ticket):
            await self._changed.wait()

    async def pause(self, ticket: tuple[int, int], seconds: float) -> None:
        """Sleep, but stop early when another caller becomes the head (a webhook caller arrived)."""
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        try:
            while not sleeper.done() and self.is_head(ticket):
                waker = asyncio.ensure_future(self._changed.wait())
                try:
                    await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waker.cancel()
                    await asyncio.gather(waker, return_exceptions=True)
        finally:
            sleeper.cancel()
            await asyncio.gather(sleeper, return_exceptions=True)

    def _signal(self) -> None:
        # Wake everyone waiting on the current event, and give later waiters a fresh one.
        self._changed.set()
        self._changed = asyncio.Event()


class RateBudget:
    """Permission to call ClickUp with one token: `await acquire(lane)` before each request,
    `await observe(headers)` after each answer, `await observe_rate_limited(...)` after a 429."""

    def __init__(
        self,
        store: BudgetStore,
        *,
        token: SecretStr | str,
        policy: BudgetPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.token_fingerprint = fingerprint_token(token)
        self.policy = policy or BudgetPolicy()
        self._store = store
        self._gate = _PriorityGate(sleep)
        self._last_state: BudgetState | None = None

    @classmethod
    def shared(
        cls,
        database: AsyncConnectionPool[Any] | str,
        *,
        schema: str,
        token: SecretStr | str,
        policy: BudgetPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> RateBudget:
        """A budget shared through PostgreSQL with every process that uses the same token."""
        return cls(PostgresBudgetStore(database, schema=schema), token=token, policy=policy, sleep=sleep)

    @classmethod
    def local(
        cls,
        token: SecretStr | str,
        *,
        policy: BudgetPolicy | None = None,
        clock: Clock = utc_now,
        sleep: Sleep = asyncio.sleep,
    ) -> RateBudget:
        """A budget for this process alone (single process, tests)."""
        return cls(MemoryBudgetStore(clock), token=token, policy=policy, sleep=sleep)

    def __repr__(self) -> str:
        return f"RateBudget(token_fingerprint={self.token_fingerprint[:12]!r}…, store={self._store!r})"

    async def acquire(self, lane: Lane) -> Grant:
        """Wait until one request of `lane` fits in the window's share, and count it."""
        ticket = self._gate.join(lane)
        try:
            while True:
                await self._gate.wait_for_turn(ticket)
                taken = await self._store.update(
                    self.token_fingerprint, self.policy, partial(_take_change, lane=lane, policy=self.policy)
                )
                self._last_state = taken.state
                if taken.granted:
                    return Grant(lane=lane, granted_at=taken.now)
                if taken.retry_at is not None:
                    wait = max(0.0, (taken.retry_at - taken.now).total_seconds())
                    limit = _MAX_WAIT.get()
                    if limit is not None and wait > limit:
                        raise BudgetWaitTooLong(wait)
                    await self._gate.pause(ticket, wait)
        finally:
            self._gate.leave(ticket)

    async def observe(self, observed: RateLimitInfo) -> None:
        """Fold an answer's rate-limit headers into the shared row."""
        last = self._last_state
        if (
            last is not None
            and observed.limit == last.limit
            and observed.resets_at == last.resets_at
            and observed.remaining >= last.remaining
        ):
            return  # the row already holds as little or less for this window: nothing to write
        self._last_state = await self._store.update(
            self.token_fingerprint, self.policy, partial(_observe_change, observed=observed)
        )

    async def observe_rate_limited(self, resets_at: datetime | None, *, limit: int | None = None) -> None:
        """ClickUp answered 429: nothing is left until `resets_at` (§1.3)."""
        self._last_state = await self._store.update(
            self.token_fingerprint,
            self.policy,
            partial(_rate_limited_change, resets_at=resets_at, limit=limit),
        )

    async def snapshot(self) -> BudgetSnapshot:
        """The current budget, for metrics and the admin page."""
        state = await self._store.read(self.token_fingerprint)
        limit = state.limit if state else self.policy.assumed_limit
        return BudgetSnapshot(
            limit=limit,
            remaining=state.remaining if state else limit,
            resets_at=state.resets_at if state else None,
            webhook_share=self.policy.allowance(limit, Lane.WEBHOOK),
            backfill_share=self.policy.allowance(limit, Lane.BACKFILL),
        )

    async def aclose(self) -> None:
        await self._store.aclose()


def _take_change(
    state: BudgetState, now: datetime, *, lane: Lane, policy: BudgetPolicy
) -> tuple[BudgetState, TakeResult]:
    taken = take_from_budget(state, lane, now, policy)
    return taken.state, taken


def _observe_change(
    state: BudgetState, now: datetime, *, observed: RateLimitInfo
) -> tuple[BudgetState, BudgetState]:
    merged = merge_observation(state, observed, now)
    return merged, merged


def _rate_limited_change(
    state: BudgetState, now: datetime, *, resets_at: datetime | None, limit: int | None
) -> tuple[BudgetState, BudgetState]:
    merged = merge_rate_limited(state, resets_at, limit, now)
    return merged, merged
