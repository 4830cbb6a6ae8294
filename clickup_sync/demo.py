"""`clickup-sync demo`: everything on one machine with nothing configured.

Starts PostgreSQL (embedded unless one is configured), applies the schema, starts the ClickUp
emulator with a generated workspace and a trickle of simulated user activity, and says in plain
words what runs where. Ctrl-C stops everything and says where the data is kept.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from types import FrameType

from pydantic import SecretStr
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from clickup_sync.clickup.emulator import EmulatorConfig, EmulatorServer
from clickup_sync.db.connection import Database, open_database
from clickup_sync.db.migrate import migrate
from clickup_sync.settings import Settings
from clickup_sync.sync.backfill import BackfillProgress, BackfillSummary
from clickup_sync.sync.jobs import run_backfill, run_reconcile

DEMO_ACTIVITY_PER_SECOND = 0.5
RECONCILE_EVERY_SECONDS = 30.0
EXAMPLE_QUERIES = (
    "SELECT name, status, list_id FROM {schema}.tasks ORDER BY date_updated DESC LIMIT 10;",
    "SELECT t.name, f.name AS field, v.value_labels FROM {schema}.task_custom_field_values v "
    "JOIN {schema}.tasks t USING (task_id) JOIN {schema}.custom_fields f USING (field_id) "
    "WHERE v.field_type = 'labels' LIMIT 10;",
    "SELECT changed_at, task_id, field_name, old_value, new_value, source FROM {schema}.field_changes "
    "ORDER BY changed_at DESC LIMIT 20;",
    "SELECT * FROM {schema}.task_time_in_status LIMIT 10;",
)


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
            emulator.start_activity(rate_per_second=DEMO_ACTIVITY_PER_SECOND)
            console.print(
                f"  [green]✓[/green] Simulated users make {DEMO_ACTIVITY_PER_SECOND} changes per second; "
                f"a reconcile every {RECONCILE_EVERY_SECONDS:.0f} s records them in field_changes"
            )
            console.print("\nQuery the mirror:")
            console.print(f"  psql '{database.dsn}'")
            for query in EXAMPLE_QUERIES:
                console.print(f"  [cyan]{query.format(schema=database.schema)}[/cyan]")
            console.print("\nTry the emulator:")
            console.print(f'  curl -H "Authorization: {emulator.token}" {emulator.base_url}/team')
            console.print(
                f'  curl -H "Authorization: {emulator.token}" '
                f'"{emulator.base_url}/team/{emulator.team_id}/task?subtasks=true&include_closed=true"'
            )
            console.print(f"  curl {emulator.root_url}/_emulator/stats")
            console.print("\nPress Ctrl-C to stop.")
            deadline = time.monotonic() + seconds if seconds > 0 else None
            next_reconcile = time.monotonic() + RECONCILE_EVERY_SECONDS
            while not stop.wait(0.2):
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    break
                if now >= next_reconcile:
                    result = asyncio.run(run_reconcile(service_settings, database, sweep=False))
                    console.print(
                        f"  reconcile: {result.changes} changes recorded from {result.tasks_seen} tasks"
                    )
                    next_reconcile = time.monotonic() + RECONCILE_EVERY_SECONDS
        finally:
            emulator.stop()
    finally:
        where = database.describe()
        database.close()
        signal.signal(signal.SIGINT, previous)
        console.print(f"\nStopped. The data is kept in: {where}")
