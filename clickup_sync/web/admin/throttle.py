"""Slow down password guessing: per client address, failures beyond a few make the next attempt
wait, doubling each time up to a minute. Memory is bounded (least recently failing clients are
forgotten first) and state is per process: with several replicas an attacker gets each replica's
allowance, which still keeps guessing a long password hopeless. Documented in docs/admin.md."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

FREE_FAILURES: Final = 3  # typos cost nothing
FIRST_WAIT_SECONDS: Final = 1.0
MAX_WAIT_SECONDS: Final = 60.0
FORGET_AFTER_SECONDS: Final = 15 * 60
MAX_CLIENTS: Final = 10_000


@dataclass
class _Failures:
    count: int
    last_at: float


class LoginThrottle:
    def __init__(
        self,
        *,
        free_failures: int = FREE_FAILURES,
        first_wait: float = FIRST_WAIT_SECONDS,
        max_wait: float = MAX_WAIT_SECONDS,
        forget_after: float = FORGET_AFTER_SECONDS,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._free = free_failures
        self._first_wait = first_wait
        self._max_wait = max_wait
        self._forget_after = forget_after
        self._max_clients = max_clients
        self._clock = clock
        self._clients: OrderedDict[str, _Failures] = OrderedDict()

    def __len__(self) -> int:
        return len(self._clients)

    def retry_after(self, client: str) -> float:
        """Seconds before `client` may try credentials again (0: now)."""
        failures = self._clients.get(client)
        if failures is None:
            return 0.0
        elapsed = self._clock() - failures.last_at
        if elapsed > self._forget_after:
            del self._clients[client]
            return 0.0
        return max(0.0, self._wait_after(failures.count) - elapsed)

    def failed(self, client: str) -> None:
        failures = self._clients.pop(client, None) or _Failures(0, 0.0)
        failures.count += 1
        failures.last_at = self._clock()
        self._clients[client] = failures  # most recent last
        while len(self._clients) > self._max_clients:
            self._clients.popitem(last=False)

    def succeeded(self, client: str) -> None:
        self._clients.pop(client, None)

    def _wait_after(self, count: int) -> float:
        if count <= self._free:
            return 0.0
        return float(min(self._max_wait, self._first_wait * 2 ** (count - self._free - 1)))
