"""`clickup-sync serve` (HTTP endpoints + a worker + the scheduler, one process) and
`clickup-sync worker` (jobs only). Any number of each can run against one database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time

import uvicorn

from clickup_sync.db.connection import Database
from clickup_sync.observability.worker_exporter import start_worker_metrics
from clickup_sync.runtime import ServiceRuntime, service_runtime
from clickup_sync.settings import Settings
from clickup_sync.web.app import build_web_app

log = logging.getLogger(__name__)

WORKER_HEALTHY_AFTER_SECONDS = 60.0

# In-flight jobs get this long to finish after SIGTERM; the rest return to the queue. Not 10: the whole
# stop (aborting the rest, recording their retries, unregistering, closing the pool) must end within
# 10 s — Docker's default stop timeout — and took ~0.3 s more than the grace (tests/e2e/test_replicas.py).
SHUTDOWN_GRACE_SECONDS = 8.0


async def run_worker(runtime: ServiceRuntime, *, install_signal_handlers: bool) -> None:
    await runtime.queue.run_worker_async(
        concurrency=runtime.settings.worker_concurrency,
        additional_context={"runtime": runtime},
        install_signal_handlers=install_signal_handlers,
        shutdown_graceful_timeout=SHUTDOWN_GRACE_SECONDS,
        wait=True,
        delete_jobs="successful",  # deliveries and history are kept in our own tables
        # A job that waited behind another of the same procrastinate lock gets no notification of its
        # own when that one ends: the worker finds it on its next poll (5 s by default).
        fetch_job_polling_interval=1.0,
    )


async def supervised_worker(runtime: ServiceRuntime) -> None:
    """A worker that outlives database outages: procrastinate's worker stops on a lost connection
    (e.g. PostgreSQL restarting); start it again with backoff until this task is cancelled. Its
    unfinished jobs are retried by the stalled-job recovery."""
    delay = 1.0
    while True:
        started = time.monotonic()
        try:
            await run_worker(runtime, install_signal_handlers=False)
            log.warning("the worker stopped; starting it again in %.0f s", delay)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("the worker stopped (%s); starting it again in %.0f s", exc, delay)
        await asyncio.sleep(delay)
        # Back off while it keeps failing at once; after a good run, the next outage starts from 1 s.
        delay = 1.0 if time.monotonic() - started > WORKER_HEALTHY_AFTER_SECONDS else min(delay * 2, 30.0)


async def serve(
    settings: Settings, database: Database, *, host: str, port: int, with_worker: bool = True
) -> None:
    async with service_runtime(
        settings, database, max_connections=settings.worker_concurrency + 10
    ) as runtime:
        config = uvicorn.Config(
            build_web_app(runtime), host=host, port=port, log_config=None, access_log=False, lifespan="off"
        )
        server = uvicorn.Server(config)
        worker = asyncio.create_task(supervised_worker(runtime)) if with_worker else None
        log.info("serving on http://%s:%d (worker %s)", host, port, "on" if with_worker else "off")
        try:
            await server.serve()  # returns on SIGINT/SIGTERM (uvicorn handles them)
        finally:
            if worker is not None:
                worker.cancel()  # procrastinate stops taking jobs and lets running ones finish
                with contextlib.suppress(asyncio.CancelledError):
                    await worker


async def work(settings: Settings, database: Database) -> None:
    async with service_runtime(
        settings, database, max_connections=settings.worker_concurrency + 4
    ) as runtime:
        exporter = await start_worker_metrics(runtime)  # WORKER_METRICS_PORT; None when 0 (off)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        worker = asyncio.create_task(supervised_worker(runtime))
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({worker, stopper}, return_when=asyncio.FIRST_COMPLETED)
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        stopper.cancel()
        if exporter is not None:
            await exporter.stop()
