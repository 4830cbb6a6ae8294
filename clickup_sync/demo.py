"""`clickup-sync demo`: everything on one machine with nothing configured.

Starts PostgreSQL (embedded unless one is configured), applies the schema, starts the ClickUp
emulator with a generated workspace and a trickle of simulated user activity, and says in plain
words what runs where. Ctrl-C stops everything and says where the data is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from types import FrameType

import uvicorn
from psycopg import sql
from pydantic import SecretStr
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from clickup_sync.clickup.emulator import EmulatorConfig, EmulatorServer
from clickup_sync.db.connection import Database, open_database
from clickup_sync.db.migrate import migrate
from clickup_sync.runtime import ServiceRuntime, service_runtime
from clickup_sync.service import run_worker
from clickup_sync.settings import Settings
from clickup_sync.subscriptions.register import register_webhook
from clickup_sync.sync.backfill import BackfillProgress, BackfillSummary
from clickup_sync.sync.jobs import run_backfill
from clickup_sync.web.app import build_web_app
from clickup_sync.web.listen import listening_socket

DEMO_ACTIVITY_PER_SECOND = 0.5
STATUS_EVERY_SECONDS = 15.0
EXAMPLE_QUERIES = (
    "SELECT name, status, list_id FROM {schema}.tasks ORDER BY date_updated DESC LIMIT 10;",
    "SELECT t.name, f.name AS field, v.value_labels FROM {schema}.task_custom_field_values v "
    "JOIN {schema}.tasks t USING (task_id) JOIN {schema}.custom_fields f USING (field_id) "
    "WHERE v.field_type = 'labels' LIMIT 10;",
    "SELECT changed_at, task_id, field_name, old_value, new_value, source FROM {schema}.field_changes "
    "ORDER BY changed_at DESC LIMIT 20;",
    "SELECT * FROM {schema}.task_time_in_status LIMIT 10;",
)


async def _run_live(
    console: Console,
    settings: Settings,
    database: Database,
    emulator: EmulatorServer,
    stop: threading.Event,
    deadline: float | None,
) -> None:
    """The service as `clickup-sync serve` runs it, with its webhook registered in the emulator."""
    async with service_runtime(settings, database) as runtime:
        sock = listening_socket("127.0.0.1", settings.port)
        port = sock.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(build_web_app(runtime), log_config=None, access_log=False, lifespan="off")
        )
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        worker = asyncio.create_task(run_worker(runtime, install_signal_handlers=False))
        try:
            while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
                await asyncio.sleep(0.05)
            endpoint = f"http://127.0.0.1:{port}/webhooks/clickup"
            async with runtime.pool.connection() as conn:
                registration = await register_webhook(
                    await runtime.clickup(), conn, runtime.schema, team_id=emulator.team_id, endpoint=endpoint
                )
                await conn.commit()
            console.print(
                f"  [green]✓[/green] Service: {endpoint} (webhook {registration.webhook.webhook_id})"
            )
            console.print(f"      health: http://127.0.0.1:{port}/readyz")
            emulator.start_activity(rate_per_second=DEMO_ACTIVITY_PER_SECOND)
            console.print(
                f"  [green]✓[/green] Simulated users make {DEMO_ACTIVITY_PER_SECOND} changes per second; "
                "each reaches field_changes through a signed webhook within a second"
            )
            _print_try_it(console, database, emulator)
            last_report = time.monotonic()
            while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
                await asyncio.sleep(0.2)
                if time.monotonic() - last_report >= STATUS_EVERY_SECONDS:
                    last_report = time.monotonic()
                    console.print(f"  {await _status_line(runtime)}")
        finally:
            emulator.stop_activity()
            server.should_exit = True
            await serving
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
            sock.close()


async def _status_line(runtime: ServiceRuntime) -> str:
    s = sql.Identifier(runtime.schema)
    async with runtime.pool.connection() as conn:
        row = await (
            await conn.execute(
                sql.SQL(
                    "SELECT (SELECT count(*) FROM {s}.webhook_deliveries"
                    "        WHERE received_at > now() - interval '1 minute'),"
                    " (SELECT count(*) FROM {s}.field_changes"
                    "        WHERE recorded_at > now() - interval '1 minute'),"
                    " (SELECT count(*) FROM {s}.field_changes)"
                ).format(s=s)
            )
        ).fetchone()
    deliveries, recent, total = row or (0, 0, 0)
    return (
        f"last minute: {deliveries} webhook deliveries, {recent} changes recorded ({total} in field_changes)"
    )


def _print_try_it(console: Console, database: Database, emulator: EmulatorServer) -> None:
    console.print("\nQuery the mirror:")
    console.print(f"  psql '{database.dsn}'")
    for query in EXAMPLE_QUERIES:
        console.print(f"  [cyan]{query.format(schema=database.schema)}[/cyan]")
    console.print("\nTry the emulator:")
    console.print(f'  curl -H "Authorization: {emulator.token}" {emulator.base_url}/team')
    console.print(f"  curl {emulator.root_url}/_emulator/stats")
    console.print("\nPress Ctrl-C to stop.")


def _backfill_with_progress(console: Console, settings: Settings, database: Database) -> BackfillSummary:
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        bar = progress.add_task("Backfill: walking the workspace ...", total=None)

        def on_progress(update: BackfillProgress) -> None:
            progress.update(bar, description=f"Backfill: {update.tasks_done:,} tasks ({update.phase})")

        return asyncio.run(run_backfill(settings, database, on_progress=on_progress))


def run_demo(settings: Settings, *, tasks: int, emulator_port: int, seconds: float = 0.0) -> None:
    console = Console(soft_wrap=True)  # never break a URL or a command across lines
    stop = threading.Event()

    def _request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGINT, _request_stop)
    signal.signal(signal.SIGTERM, _request_stop)

    console.print("[bold]clickup-sync demo[/bold] — starting everything on this machine\n")
    with console.status("Starting PostgreSQL ..."):
        database = open_database(settings)
    try:
        console.print(f"  [green]✓[/green] Database: {database.describe()}")
        applied = migrate(database.dsn, database.schema)
        state = f"applied migrations {applied}" if applied else "already up to date"
        console.print(f"  [green]✓[/green] Schema [bold]{database.schema}[/bold]: {state}")

        config = EmulatorConfig(seed=1, tasks=tasks, rate_limit_per_minute=100)
        with console.status(f"Generating a ClickUp workspace with {tasks} tasks ..."):
            emulator = EmulatorServer(config, host="127.0.0.1", port=emulator_port)
            emulator.start()
        try:
            console.print(f"  [green]✓[/green] ClickUp emulator: {emulator.base_url}")
            console.print(f"      token: {emulator.token}   workspace (team) id: {emulator.team_id}")
            service_settings = settings.model_copy(
                update={
                    "clickup_api_url": emulator.base_url,
                    "clickup_api_token": SecretStr(emulator.token),
                    "clickup_workspace_id": emulator.team_id,
                }
            )
            summary = _backfill_with_progress(console, service_settings, database)
            console.print(
                f"  [green]✓[/green] Backfill: {summary.tasks:,} tasks, {summary.values:,} custom field "
                f"values, {summary.relationships:,} relationships in {summary.elapsed_seconds:.1f} s "
                f"({summary.api_calls} API calls, within ClickUp's 100/min)"
            )
            deadline = time.monotonic() + seconds if seconds > 0 else None
            asyncio.run(_run_live(console, service_settings, database, emulator, stop, deadline))
        finally:
            emulator.stop()
    finally:
        where = database.describe()
        database.close()
        signal.signal(signal.SIGINT, previous)
        console.print(f"\nStopped. The data is kept in: {where}")
