"""`GET /metrics`: this process's registry followed by the cluster-wide families of one fresh read."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final

from prometheus_client import generate_latest
from starlette.requests import Request
from starlette.responses import Response

from clickup_sync.observability.cluster import ClusterFamilies, read_cluster
from clickup_sync.observability.process_metrics import metrics_for

if TYPE_CHECKING:
    from clickup_sync.runtime import ServiceRuntime

# The classic text format: every Prometheus version and most scrapers read it.
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"


async def render_metrics(runtime: ServiceRuntime) -> bytes:
    process = generate_latest(metrics_for(runtime).registry)
    cluster = generate_latest(ClusterFamilies(await read_cluster(runtime.pool, runtime.schema)))
    return process + cluster  # two registries, disjoint names: the concatenation is one valid page


def metrics_endpoint(runtime: ServiceRuntime) -> Callable[[Request], Awaitable[Response]]:
    metrics_for(runtime)  # created now, so the first scrape already lists every family

    async def metrics(request: Request) -> Response:
        return Response(await render_metrics(runtime), media_type=CONTENT_TYPE)

    return metrics
