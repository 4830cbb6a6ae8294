"""`clickup-sync demo`: everything on one machine with nothing configured.

Starts PostgreSQL (embedded unless one is configured), applies the schema, starts the ClickUp
emulator with a generated workspace, fills Airbyte's task table the way Airbyte's connector and
destination would (an initial sync, then an overwrite sync every few minutes, from the destination
simulator), backfills with a progress bar, then runs the service (webhook registered in the
emulator, admin page, metrics) while simulated users make changes. It says in plain words what runs
where; Ctrl-C stops everything and says where the data is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import threading
import time
from types import FrameType

import uvicorn
from psycopg import sql
from pydantic import SecretStr
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from clickup_sync.airbyte.simulator import AirbyteDestinationSimulator, SyncResult, Version
from clickup_sync.airbyte.simulator_feed import airbyte_records_from_ground_truth
from clickup_sync.clickup.emulator import EmulatorConfig, EmulatorServer
from clickup_sync.db.connection import Database, open_database
from clickup_sync.db.migrate import migrate
from clickup_sync.ops.status import read_status
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
AIRBYTE_SYNC_EVERY_SECONDS = 180.0  # Airbyte's real schedule is hours; minutes show a sync in action
AIRBYTE_VERSION: Version = "3.x"
EXAMPLE_QUERIES = (
    "SELECT name, status, list_id FROM {schema}.tasks ORDER BY date_updated DESC LIMIT 10;",
    "SELECT t.name, f.name AS field, v.value_labels FROM {schema}.task_custom_field_values v "
    "JOIN {schema}.tasks t USING (task_id) JOIN {schema}.custom_fields f USING (field_id) "
    "WHERE v.field_type = 'labels' LIMIT 10;",
    "SELECT changed_at, task_id, field_name, old_value, new_value, source FROM {schema}.field_changes "
    "ORDER BY changed_at DESC LIMIT 20;",
    "SELECT * FROM {schema}.task_time_in_status LIMIT 10;",
)


class AirbyteSchedule:
    """Airbyte's connection, played by the destination simulator: an overwrite sync of what the
    connector would read from the emulator, now and every `AIRBYTE_SYNC_EVERY_SECONDS`."""

    def __init__(self, dsn: str, emulator: EmulatorServer) -> None:
        self.simulator = AirbyteDestinationSimulator(dsn, version=AIRBYTE_VERSION)
        self.emulator = emulator
        self.syncs = 0

    def sync_now(self) -> SyncResult:
        records = airbyte_records_from_ground_truth(self.emulator.workspace.ground_truth())
        result = self.simulator.sync(records)
        self.syncs += 1
        return result

    async def run(self, console: Console, stop: threading.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(AIRBYTE_SYNC_EVERY_SECONDS)
            result = await asyncio.to_thread(self.sync_now)
            took = (result.finished_at - result.started_at).total_seconds()
            console.print(
                f"  Airbyte sync #{self.syncs}: overwrote {self.simulator.final_table} with"
                f" {result.records_written} tasks in {took:.1f} s (table swapped: {result.swapped})"
            )


async def _run_live(
    console: Console,
    settings: Settings,
    database: Database,
    emulator: EmulatorServer,
    airbyte: AirbyteSchedule,
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
        syncing = asyncio.create_task(airbyte.run(console, stop))
        try:
            while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
                await asyncio.sleep(0.05)
            base = f"http://127.0.0.1:{port}"
            async with runtime.pool.connection() as conn:
                registration = await register_webhook(
                    await runtime.clickup(),
                    conn,
                    runtime.schema,
                    team_id=emulator.team_id,
                    endpoint=f"{base}/webhooks/clickup",
                )
                await conn.commit()
            console.print(
                f"  [green]✓[/green] Service: {base}/webhooks/clickup"
                f" (webhook {registration.webhook.webhook_id})"
            )
            password = (
                settings.admin_password.get_secret_value() if settings.admin_password else "(ADMIN_TOKEN)"
            )
            console.print(f"      admin:   {base}/admin/   user [bold]{settings.admin_user}[/bold]"
                          f"   password [bold]{password}[/bold]")  # fmt: skip
            console.print(f"      metrics: {base}/metrics   health: {base}/readyz")
            emulator.start_activity(rate_per_second=DEMO_ACTIVITY_PER_SECOND)
            console.print(
                f"  [green]✓[/green] Simulated users make {DEMO_ACTIVITY_PER_SECOND} changes per second; "
                "each reaches field_changes through a signed webhook within a second. Changes to a task "
                "Airbyte has not copied yet wait (parked) for its next sync, every "
                f"{AIRBYTE_SYNC_EVERY_SECONDS / 60:.0f} minutes."
            )
            _print_try_it(console, database, emulator)
            last_report = time.monotonic()
            while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
                await asyncio.sleep(0.2)
                if time.monotonic() - last_report >= STATUS_EVERY_SECONDS:
                    last_report = time.monotonic()
                    console.print(f"  {await _status_line(runtime)}")
        finally:
            stop.set()
            emulator.stop_activity()
            syncing.cancel()
            server.should_exit = True
            await serving
            worker.cancel()
            for task in (worker, syncing):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            sock.close()


async def _status_line(runtime: ServiceRuntime) -> str:
    status = await read_status(runtime.pool, runtime.schema)
    s = sql.Identifier(runtime.schema)
    async with runtime.pool.connection() as conn:
        row = await (
            await conn.execute(
                sql.SQL(
                    "SELECT (SELECT count(*) FROM {s}.field_changes"
                    "        WHERE recorded_at > now() - interval '1 minute'),"
                    " (SELECT count(*) FROM {s}.field_changes)"
                ).format(s=s)
            )
        ).fetchone()
    recent, total = row or (0, 0)
    return (
        f"last hour: {status.received_last_hour} deliveries ({status.duplicate_last_hour} duplicate);"
        f" last minute: {recent} changes recorded ({total} in field_changes); queue {status.queue_depth};"
        f" parked for Airbyte {status.parked_changes}; Airbyte syncs seen {status.airbyte_syncs_detected}"
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
    # A line per job drowns the demo's own status lines; warnings and errors still show.
    logging.getLogger("procrastinate").setLevel(max(logging.WARNING, logging.getLogger().level))
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
            airbyte = AirbyteSchedule(database.dsn, emulator)
            with console.status("Airbyte: first sync of the ClickUp connection ..."):
                first = airbyte.sync_now()
            console.print(
                f"  [green]✓[/green] Airbyte (destination-postgres {AIRBYTE_VERSION}, simulated): "
                f"{first.records_written} tasks in {airbyte.simulator.final_table} — what its ClickUp "
                "connector reads (no subtasks, folderless lists, archived tasks, or tasks past 100 a list)"
            )
            service_settings = settings.model_copy(
                update={
                    "clickup_api_url": emulator.base_url,
                    "clickup_api_token": SecretStr(emulator.token),
                    "clickup_workspace_id": emulator.team_id,
                    "admin_password": settings.admin_password
                    or (None if settings.admin_token else SecretStr(secrets.token_urlsafe(9))),
                }
            )
            summary = _backfill_with_progress(console, service_settings, database)
            console.print(
                f"  [green]✓[/green] Backfill: {summary.tasks:,} tasks, {summary.values:,} custom field "
                f"values, {summary.relationships:,} relationships in {summary.elapsed_seconds:.1f} s "
                f"({summary.api_calls} API calls, within ClickUp's 100/min)"
            )
            deadline = time.monotonic() + seconds if seconds > 0 else None
            asyncio.run(_run_live(console, service_settings, database, emulator, airbyte, stop, deadline))
        finally:
            emulator.stop()
    finally:
        where = database.describe()
        database.close()
        signal.signal(signal.SIGINT, previous)
        console.print(f"\nStopped. The data is kept in: {where}")
