"""`clickup-sync worker` serves its own `/metrics` on WORKER_METRICS_PORT (0 = off).

A worker has no web app, yet does the work whose figures are per process (processing lag, ClickUp
calls, reconciles). The exporter is a two-route Starlette app on uvicorn in the worker's event loop,
so it reads the same registry and the same pool as the jobs, with no thread in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route

from clickup_sync.errors import ConfigError
from clickup_sync.observability.exposition import metrics_endpoint
from clickup_sync.web.health import healthz

if TYPE_CHECKING:
    from clickup_sync.runtime import ServiceRuntime

log = logging.getLogger(__name__)

BIND_HOST = "0.0.0.0"  # noqa: S104 - scraped from outside the container, like `serve` on PORT


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the worker's own SIGINT/SIGTERM handlers stop the process; uvicorn must not take them


class WorkerMetricsServer:
    def __init__(self, server: uvicorn.Server, serving: asyncio.Task[None], sock: socket.socket) -> None:
        self._server = server
        self._serving = serving
        self._sock = sock

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    async def stop(self) -> None:
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._serving
        self._sock.close()


def worker_metrics_app(runtime: ServiceRuntime) -> Starlette:
    return Starlette(
        routes=[
            Route("/metrics", metrics_endpoint(runtime), methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


async def start_worker_metrics(
    runtime: ServiceRuntime, *, host: str = BIND_HOST, port: int | None = None
) -> WorkerMetricsServer | None:
    """Serve the worker's metrics; None when WORKER_METRICS_PORT is 0. A port in use is a ConfigError
    at start (binding here, not inside uvicorn, which would exit the process on that error)."""
    port = runtime.settings.worker_metrics_port if port is None else port
    if not port:
        return None
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"WORKER_METRICS_PORT: cannot listen on {host}:{port} ({exc.strerror})") from None
    sock.listen(64)
    config = uvicorn.Config(worker_metrics_app(runtime), log_config=None, access_log=False, lifespan="off")
    server = _QuietServer(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn exposes a flag only
        await asyncio.sleep(0.01)
    log.info("worker metrics on http://%s:%d/metrics", host, port)
    return WorkerMetricsServer(server, serving, sock)
