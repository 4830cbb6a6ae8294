"""`budget_wait_limit`: a queue job is refused at once instead of sleeping until the budget's window
reopens (a sleeping job holds a worker slot for up to a minute; see `queue/deliveries.py`)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from clickup_sync.clickup.ratelimit import (
    BudgetPolicy,
    BudgetWaitTooLong,
    Lane,
    RateBudget,
    budget_wait_limit,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.mark.anyio
async def test_a_caller_with_a_wait_limit_is_refused_instead_of_sleeping_for_the_next_window() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    policy = BudgetPolicy(assumed_limit=2, usable_fraction=1.0)
    budget = RateBudget.local("pk_test", policy=policy, clock=lambda: NOW, sleep=sleep)
    with budget_wait_limit(5.0):
        await budget.acquire(Lane.WEBHOOK)
        await budget.acquire(Lane.WEBHOOK)  # the window's share is used up now
        with pytest.raises(BudgetWaitTooLong) as refused:
            await budget.acquire(Lane.WEBHOOK)
    assert refused.value.wait_seconds == pytest.approx(61.0)  # the assumed 60 s window + 1 s margin
    assert slept == []


@pytest.mark.anyio
async def test_a_wait_within_the_limit_still_sleeps() -> None:
    clock = [NOW]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] = clock[0].replace(minute=clock[0].minute + 2)  # past the window's end

    policy = BudgetPolicy(assumed_limit=1, usable_fraction=1.0)
    budget = RateBudget.local("pk_test", policy=policy, clock=lambda: clock[0], sleep=sleep)
    await budget.acquire(Lane.WEBHOOK)
    with budget_wait_limit(120.0):
        await budget.acquire(Lane.WEBHOOK)
    assert slept == [pytest.approx(61.0)]
