"""The rate budget shared through PostgreSQL: several independent budgets (one connection each, as
separate processes would have) together stay under the usable share of ClickUp's limit.

The fake ClickUp here counts requests in fixed windows of 0.4 s, so a few windows pass in about a
second of real time; its reset header carries the window's end like ClickUp's (§1.3).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from clickup_sync.clickup.protocol import RateLimitInfo, parse_rate_limit_headers
from clickup_sync.clickup.ratelimit import BudgetPolicy, Lane, RateBudget
from clickup_sync.errors import DatabaseUnavailable

SCHEMA = "clickup_sync"
TOKEN = "pk_81234567_SHAREDSHAREDSHAREDSHARED"
WINDOW_SECONDS = 0.4
LIMIT = 60
USABLE = 54  # 90% of 60
BACKFILL_SHARE = 43  # 54 less the webhook reserve of 20%, rounded up: 11
FAST_POLICY = BudgetPolicy(reset_margin_seconds=0.05)


class FakeClickUpWindows:
    """Counts arrivals per fixed window and answers with ClickUp's rate-limit headers."""

    def __init__(self) -> None:
        self.arrivals: Counter[int] = Counter()

    def arrive(self) -> RateLimitInfo:
        now = time.time()
        window = math.floor(now / WINDOW_SECONDS)
        self.arrivals[window] += 1
        headers = {
            "X-RateLimit-Limit": str(LIMIT),
            "X-RateLimit-Remaining": str(max(0, LIMIT - self.arrivals[window])),
            "X-RateLimit-Reset": str((window + 1) * WINDOW_SECONDS),
        }
        parsed = parse_rate_limit_headers(headers, now=datetime.now(UTC))
        assert parsed is not None
        return parsed


def window_of(when: datetime) -> int:
    return math.floor(when.timestamp() / WINDOW_SECONDS)


def shared_budgets(database_url: str, count: int = 3) -> list[RateBudget]:
    """Independent budgets with a connection each, as separate processes would have."""
    return [
        RateBudget.shared(database_url, schema=SCHEMA, token=TOKEN, policy=FAST_POLICY) for _ in range(count)
    ]


@pytest.mark.anyio
async def test_three_budgets_together_never_exceed_ninety_percent_of_a_window(database_url: str) -> None:
    clickup = FakeClickUpWindows()
    granted: Counter[tuple[int, Lane]] = Counter()
    budgets = shared_budgets(database_url)
    wanted = 150  # over two windows' worth: the budget must learn the 0.4 s window from the resets

    async def flat_out(budget: RateBudget, lane: Lane) -> None:
        while sum(granted.values()) < wanted:
            grant = await budget.acquire(lane)
            granted[(window_of(grant.granted_at), lane)] += 1
            await budget.observe(clickup.arrive())

    # Two processes walk a backfill, the third refreshes after webhooks; three callers each.
    lanes = [Lane.BACKFILL, Lane.BACKFILL, Lane.WEBHOOK]
    async with asyncio.timeout(20):
        await asyncio.gather(
            *(flat_out(budget, lane) for budget, lane in zip(budgets, lanes, strict=True) for _ in range(3))
        )
    for budget in budgets:
        await budget.aclose()

    windows = {window for window, _ in granted}
    assert sum(granted.values()) >= wanted
    assert max(granted[(w, Lane.BACKFILL)] + granted[(w, Lane.WEBHOOK)] for w in windows) <= USABLE
    assert max(granted[(w, Lane.BACKFILL)] for w in windows) <= BACKFILL_SHARE
    assert max(clickup.arrivals.values()) <= LIMIT  # ClickUp would never have answered 429


@pytest.mark.anyio
async def test_backfill_in_every_process_leaves_webhook_refreshes_their_reserve(database_url: str) -> None:
    budgets = shared_budgets(database_url)
    # A window far longer than the test: the shares, not the reset, decide who waits.
    window = RateLimitInfo(limit=LIMIT, remaining=LIMIT, resets_at=datetime.now(UTC) + timedelta(seconds=30))
    await budgets[0].observe(window)

    async def each_asks(count: int, lane: Lane) -> None:
        await asyncio.gather(*(budgets[n % 3].acquire(lane) for n in range(count)))

    async def another_process_must_wait(lane: Lane) -> None:
        (latecomer,) = shared_budgets(database_url, count=1)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(latecomer.acquire(lane), timeout=0.2)
        await latecomer.aclose()

    await asyncio.wait_for(each_asks(BACKFILL_SHARE, Lane.BACKFILL), timeout=10)
    await another_process_must_wait(Lane.BACKFILL)  # backfill's share is used up
    await asyncio.wait_for(each_asks(USABLE - BACKFILL_SHARE, Lane.WEBHOOK), timeout=10)  # the reserve
    await another_process_must_wait(Lane.WEBHOOK)  # and then 90% of the limit, for webhooks too

    snapshot = await budgets[0].snapshot()
    for budget in budgets:
        await budget.aclose()
    assert (snapshot.limit, snapshot.remaining) == (LIMIT, LIMIT - USABLE)
    assert (snapshot.webhook_share, snapshot.backfill_share) == (USABLE, BACKFILL_SHARE)


@pytest.mark.anyio
async def test_a_429_seen_by_one_process_makes_the_others_wait_for_the_reset(database_url: str) -> None:
    first = RateBudget.shared(database_url, schema=SCHEMA, token=TOKEN, policy=FAST_POLICY)
    async with AsyncConnectionPool(database_url, min_size=1, max_size=2, open=False) as pool:
        second = RateBudget.shared(pool, schema=SCHEMA, token=TOKEN, policy=FAST_POLICY)
        resets_at = datetime.now(UTC) + timedelta(seconds=0.3)
        await first.observe_rate_limited(resets_at, limit=100)

        snapshot = await second.snapshot()
        assert (snapshot.limit, snapshot.remaining) == (100, 0)
        assert snapshot.resets_at is not None and abs(snapshot.resets_at - resets_at) < timedelta(
            milliseconds=1
        )

        grant = await second.acquire(Lane.WEBHOOK)
        assert grant.granted_at >= resets_at + timedelta(seconds=FAST_POLICY.reset_margin_seconds)
    await first.aclose()


@pytest.mark.anyio
async def test_the_table_keys_the_budget_by_a_fingerprint_never_the_token(database_url: str) -> None:
    budget = RateBudget.shared(database_url, schema=SCHEMA, token=f"  {TOKEN}\n", policy=FAST_POLICY)
    await budget.acquire(Lane.BACKFILL)
    await budget.aclose()
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(f"SELECT * FROM {SCHEMA}.clickup_rate_budget").fetchall()
    assert len(rows) == 1
    assert rows[0][0] == hashlib.sha256(TOKEN.encode()).hexdigest()
    assert TOKEN not in repr(rows) and TOKEN not in repr(budget)
    # Before any answer the budget assumes ClickUp's lowest plan: 100 a minute (§1.3).
    assert (rows[0][1], rows[0][2]) == (100, 99)


@pytest.mark.anyio
async def test_an_unreachable_database_is_reported_as_unavailable() -> None:
    budget = RateBudget.shared("postgresql://postgres@127.0.0.1:1/postgres", schema=SCHEMA, token=TOKEN)
    with pytest.raises(DatabaseUnavailable, match="rate budget"):
        await budget.acquire(Lane.WEBHOOK)
    await budget.aclose()
