"""Per-token fixed-window rate limit (reference §1.3): `limit` requests per 60 s window per token.

A token's window opens with its first request and lasts 60 s; the next request after that opens a
new one. `X-RateLimit-Reset` is the window's end in epoch seconds.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_SECONDS = 60.0
# Reported as the limit when the emulator runs unlimited, so clients that pace themselves by
# `X-RateLimit-Remaining` still see a number (Enterprise plans get 10,000/min; this is higher).
UNLIMITED_REPORTED_LIMIT = 1_000_000


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_epoch_seconds: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_epoch_seconds),
        }


class FixedWindowRateLimiter:
    def __init__(self, limit_per_minute: int | None, clock: Callable[[], float] = time.time) -> None:
        self._limit = limit_per_minute
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}  # token -> (window start, requests counted)

    def set_limit(self, limit_per_minute: int | None) -> None:
        with self._lock:
            self._limit = limit_per_minute

    def check(self, token: str, *, count: bool = True) -> RateDecision:
        """Count one request for `token` (unless `count=False`) and say whether it may proceed."""
        with self._lock:
            now = self._clock()
            start, used = self._windows.get(token, (now, 0))
            if now >= start + WINDOW_SECONDS:
                start, used = now, 0
            limit = self._limit if self._limit is not None else UNLIMITED_REPORTED_LIMIT
            allowed = self._limit is None or used < self._limit
            if count and allowed:
                used += 1
            self._windows[token] = (start, used)
            return RateDecision(
                allowed=allowed,
                limit=limit,
                remaining=max(0, limit - used),
                reset_epoch_seconds=math.ceil(start + WINDOW_SECONDS),
            )
