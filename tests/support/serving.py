"""`clickup-sync serve` inside a test's event loop: the real web app on uvicorn, on a free port, and
optionally a worker — so tests talk HTTP to the service as ClickUp and operators do."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import uvicorn

from clickup_sync.runtime import ServiceRuntime
from clickup_sync.service import run_worker
from clickup_sync.web.app import build_web_app

WorkerRun = Callable[[ServiceRuntime], Coroutine[Any, Any, None]]


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def in_process_worker(runtime: ServiceRuntime) -> Coroutine[Any, Any, None]:
    """The worker `serve` runs next to the web app."""
    return run_worker(runtime, install_signal_handlers=False)


@contextlib.asynccontextmanager
async def serving(runtime: ServiceRuntime, *, worker: WorkerRun | None = None) -> AsyncIterator[str]:
    """Serve `runtime`'s web app (and run `worker`, if given) until the block ends; yields the base URL."""
    sock = listening_socket()
    server = uvicorn.Server(uvicorn.Config(build_web_app(runtime), log_config=None, lifespan="off"))
    serving_task = asyncio.create_task(server.serve(sockets=[sock]))
    working = asyncio.create_task(worker(runtime)) if worker is not None else None
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await serving_task
        if working is not None:
            working.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await working
        sock.close()
