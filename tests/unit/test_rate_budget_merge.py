"""Folding rate-limit headers into the shared budget row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from clickup_sync.clickup.protocol import RateLimitInfo
from clickup_sync.clickup.ratelimit import BudgetState, merge_observation

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_first_answer_replaces_the_assumed_budget() -> None:
    """Before any answer the budget assumes 100/min; an Enterprise token's first answer says 10,000.
    Keeping the assumed `remaining` would make the budget wait a whole window for nothing."""
    assumed = BudgetState(limit=100, remaining=99, resets_at=NOW + timedelta(seconds=59))
    observed = RateLimitInfo(limit=10_000, remaining=9_999, resets_at=NOW + timedelta(seconds=60))
    merged = merge_observation(assumed, observed, NOW)
    assert (merged.limit, merged.remaining) == (10_000, 9_999)


def test_within_one_window_the_lower_remaining_wins() -> None:
    state = BudgetState(limit=100, remaining=40, resets_at=NOW + timedelta(seconds=30))
    observed = RateLimitInfo(limit=100, remaining=55, resets_at=NOW + timedelta(seconds=30))
    assert merge_observation(state, observed, NOW).remaining == 40
