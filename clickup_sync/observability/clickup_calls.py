"""`clickup_sync_clickup_api_calls_total{method, endpoint, status}`, read from the client's own tally.

`ClickUpClient.calls` already counts every HTTP exchange by `"METHOD /route/{template}"` and status
(retries, 429s, timeouts included), so the collector reads it at scrape time: nothing is added to the
request path. Labels are bounded twice over: the client only ever names route templates, and anything
that does not look like one (a raw id in a path segment) or an unexpected status collapses into
`other` / a status class, so a future mistake cannot explode the series count.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Final

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from clickup_sync.clickup.client import ClickUpClient

API_CALLS: Final = "clickup_sync_clickup_api_calls"
METHODS: Final = frozenset({"GET", "POST", "PUT", "DELETE"})
# Statuses ClickUp's documentation names, plus the client's two failures without an answer.
STATUSES: Final = frozenset(
    {"200", "201", "204", "400", "401", "403", "404", "409", "429", "500", "502", "503", "504"}
    | {"timeout", "connection_error"}
)
# A literal path word (`task`, `field`) or a `{placeholder}`; never an id.
_TEMPLATE_SEGMENT = re.compile(r"^(?:[a-z_]+|\{[a-z_]+\})$")


def endpoint_labels(endpoint: str) -> tuple[str, str]:
    """`"GET /task/{task_id}"` → `("GET", "/task/{task_id}")`; anything else becomes `other`."""
    method, _, path = endpoint.partition(" ")
    segments = path.split("/")[1:]
    is_template = path.startswith("/") and all(_TEMPLATE_SEGMENT.match(s) for s in segments)
    return (method if method in METHODS else "other", path if is_template else "other")


def status_label(status: str) -> str:
    """A known status code or failure as is; other codes as their class (`4xx`); else `other`."""
    if status in STATUSES:
        return status
    if len(status) == 3 and status.isdigit():
        return f"{status[0]}xx"
    return "other"


class ClickUpCallsCollector(Collector):
    """Reads the calls of whatever client `current_client` returns (None before the first call)."""

    def __init__(self, current_client: Callable[[], ClickUpClient | None]) -> None:
        self._current_client = current_client

    def describe(self) -> Iterator[CounterMetricFamily]:
        yield self._family()

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = self._family()
        client = self._current_client()
        totals: Counter[tuple[str, str, str]] = Counter()
        if client is not None:
            for (endpoint, status), count in list(client.calls.items()):
                totals[(*endpoint_labels(endpoint), status_label(status))] += count
        for labels, count in sorted(totals.items()):
            family.add_metric(list(labels), count)
        yield family

    @staticmethod
    def _family() -> CounterMetricFamily:
        return CounterMetricFamily(
            API_CALLS,
            "HTTP exchanges with the ClickUp API by this process (retries and 429s included).",
            labels=["method", "endpoint", "status"],
        )
