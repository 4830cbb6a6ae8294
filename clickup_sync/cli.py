"""The `clickup-sync` command line. Each command is documented in `docs/cli.md` (a test checks)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from clickup_sync.errors import ConfigError, DatabaseUnavailable, MigrationError
from clickup_sync.settings import Settings, load_settings
from clickup_sync.subscriptions.cli import webhooks_app  # cheap: typer and errors only

if TYPE_CHECKING:
    from clickup_sync.db.connection import Database

app = typer.Typer(
    name="clickup-sync",
    help="Keep ClickUp custom fields, field history and task relationships in PostgreSQL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _settings() -> Settings:
    from clickup_sync.logs import configure_logging

    settings = load_settings()
    configure_logging(settings)
    return settings


@contextmanager
def _migrated_database(settings: Settings) -> Iterator[Database]:
    """The database, with the schema brought up to date (every command that touches data does)."""
    from clickup_sync.db.connection import open_database
    from clickup_sync.db.migrate import migrate as run_migrations

    database = open_database(settings)
    try:
        run_migrations(database.dsn, database.schema)
        yield database
    finally:
        database.close()


@app.command()
def migrate() -> None:
    """Create or upgrade the service's schema (SYNC_SCHEMA); safe to run from several replicas."""
    from clickup_sync.db.connection import open_database
    from clickup_sync.db.migrate import migrate as run_migrations

    settings = _settings()
    database = open_database(settings)
    try:
        applied = run_migrations(database.dsn, database.schema)
    finally:
        database.close()
    if applied:
        typer.echo(
            f"Applied migrations {', '.join(f'{v:04d}' for v in applied)} to schema {settings.sync_schema}."
        )
    else:
        typer.echo(f"Schema {settings.sync_schema} is up to date.")


@app.command()
def backfill(
    space: Annotated[
        list[str] | None, typer.Option("--space", help="Only this space (repeat for several). Default: all.")
    ] = None,
) -> None:
    """Copy every task (closed, archived, subtasks, folderless and archived lists) into the mirror.

    Resumes from the last committed page after a crash or Ctrl-C."""
    import asyncio

    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from clickup_sync.sync.backfill import BackfillProgress
    from clickup_sync.sync.jobs import run_backfill

    settings = _settings()
    with (
        _migrated_database(settings) as database,
        Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True
        ) as progress,
    ):
        bar = progress.add_task("Walking the workspace ...", total=None)

        def on_progress(update: BackfillProgress) -> None:
            progress.update(
                bar, description=f"{update.tasks_done:,} tasks · {update.phase} page {update.page}"
            )

        summary = asyncio.run(
            run_backfill(settings, database, space_ids=space or None, on_progress=on_progress)
        )
    resumed = " (resumed an interrupted run)" if summary.resumed else ""
    typer.echo(
        f"Backfill done{resumed}: {summary.tasks:,} tasks, {summary.fields:,} fields, "
        f"{summary.values:,} values, {summary.relationships:,} relationships, {summary.changes:,} changes, "
        f"{summary.api_calls:,} API calls, "
        f"{summary.elapsed_seconds:.1f} s ({summary.tasks_per_second:,.0f} tasks/s)"
        + (f"; {summary.problems} values could not be normalized (see the log)" if summary.problems else "")
    )


@app.command()
def reconcile(
    sweep: Annotated[
        bool, typer.Option(help="Also re-check tasks that stopped appearing (finds deletions).")
    ] = True,
) -> None:
    """Poll ClickUp for changes since the last run and record what webhooks missed."""
    import asyncio

    from clickup_sync.sync.jobs import run_reconcile

    settings = _settings()
    with _migrated_database(settings) as database:
        summary = asyncio.run(run_reconcile(settings, database, sweep=sweep))
    typer.echo(
        f"Reconcile done: {summary.tasks_seen:,} tasks seen, {summary.changes:,} changes recorded, "
        f"{summary.deleted:,} deletions, {summary.api_calls:,} API calls, {summary.elapsed_seconds:.1f} s"
    )


@app.command()
def serve(
    worker: Annotated[bool, typer.Option(help="Also run a worker in this process.")] = True,
    host: Annotated[str, typer.Option(help="Address to bind (PORT sets the port).")] = "0.0.0.0",  # noqa: S104
) -> None:
    """Run the webhook endpoints, health checks, a worker and the scheduler in one process."""
    import asyncio

    from clickup_sync.service import serve as run_serve

    settings = _settings()
    with _migrated_database(settings) as database:
        asyncio.run(run_serve(settings, database, host=host, port=settings.port, with_worker=worker))


@app.command("worker")
def worker_command() -> None:
    """Run a worker only (processes deliveries, refreshes tasks, runs scheduled jobs)."""
    import asyncio

    from clickup_sync.service import work

    settings = _settings()
    with _migrated_database(settings) as database:
        asyncio.run(work(settings, database))


@app.command()
def replay(
    delivery: Annotated[list[int] | None, typer.Option("--id", help="A delivery id (repeatable).")] = None,
    task: Annotated[str | None, typer.Option(help="Every delivery of this task.")] = None,
    since: Annotated[str | None, typer.Option(help="Received at or after (ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option(help="Received before (ISO 8601).")] = None,
    dead: Annotated[bool, typer.Option("--dead", help="Only dead letters.")] = False,
) -> None:
    """Re-run stored deliveries (dead letters included). Idempotent: nothing is recorded twice."""
    import asyncio

    from clickup_sync.queue.replay import ReplaySelection, replay_deliveries

    settings = _settings()
    selection = ReplaySelection(ids=delivery or [], task_id=task, since=since, until=until, dead_only=dead)
    if selection.is_empty():
        raise typer.BadParameter("choose deliveries: --id, --task, --since/--until or --dead")
    with _migrated_database(settings) as database:
        result = asyncio.run(replay_deliveries(settings, database, selection))
    typer.echo(f"Replayed {result.replayed} deliveries: {result.summary()}.")
    if result.outcomes["failed"]:
        typer.echo("Some deliveries failed again: they are dead letters, with their error.", err=True)
        raise typer.Exit(1)


views_app = typer.Typer(help="Generated analyst views.", no_args_is_help=True)
app.add_typer(views_app, name="views")
app.add_typer(webhooks_app, name="webhooks")


@views_app.command("refresh")
def views_refresh() -> None:
    """Create or update one view per list with one column per custom field."""
    import asyncio

    from clickup_sync.sync.jobs import run_views_refresh

    settings = _settings()
    with _migrated_database(settings) as database:
        result = asyncio.run(run_views_refresh(database))
    typer.echo(
        f"Views: {result.created} created, {result.replaced} replaced, {result.dropped} dropped, "
        f"{result.unchanged} unchanged."
    )


@app.command()
def emulator(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8089,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    seed: Annotated[
        int, typer.Option(help="Seed of the generated workspace and of every random choice.")
    ] = 1,
    tasks: Annotated[int, typer.Option(help="Tasks in the generated workspace (subtasks included).")] = 300,
    rate_limit: Annotated[
        int, typer.Option(help="Requests per minute per token; 0 = unlimited. ClickUp's own is 100.")
    ] = 100,
    latency_ms: Annotated[float, typer.Option(help="Latency added to every API response.")] = 0.0,
    fault_5xx_rate: Annotated[float, typer.Option(help="Share of API calls that answer 5xx.")] = 0.0,
    duplicate_rate: Annotated[float, typer.Option(help="Share of webhook deliveries sent twice.")] = 0.0,
    reorder_rate: Annotated[
        float, typer.Option(help="Share of webhook deliveries overtaken by the next.")
    ] = 0.0,
    drop_rate: Annotated[float, typer.Option(help="Share of webhook deliveries never sent.")] = 0.0,
    delay_rate: Annotated[float, typer.Option(help="Share of webhook deliveries sent late.")] = 0.0,
    activity_rate: Annotated[
        float, typer.Option(help="Simulated user changes per second (0 = none; start later via the API).")
    ] = 0.0,
) -> None:
    """Serve a faithful ClickUp API v2 emulator with a generated workspace under /api/v2."""
    from clickup_sync.clickup.emulator.config import ChaosConfig, EmulatorConfig
    from clickup_sync.clickup.emulator.server import serve

    _settings()
    config = EmulatorConfig(
        seed=seed,
        tasks=tasks,
        rate_limit_per_minute=rate_limit or None,
        latency_ms=latency_ms,
        fault_5xx_rate=fault_5xx_rate,
        chaos=ChaosConfig(
            duplicate_rate=duplicate_rate,
            reorder_rate=reorder_rate,
            drop_rate=drop_rate,
            delay_rate=delay_rate,
        ),
    )
    serve(config, host=host, port=port, activity_rate=activity_rate)


@app.command()
def demo(
    data_dir: Annotated[
        Path | None, typer.Option(help="Where the embedded PostgreSQL keeps its data (default: DATA_DIR).")
    ] = None,
    tasks: Annotated[int, typer.Option(help="Tasks in the emulated workspace.")] = 500,
    emulator_port: Annotated[int, typer.Option(help="Port of the ClickUp emulator.")] = 8089,
    seconds: Annotated[
        float, typer.Option(help="Stop after this many seconds (0 = run until Ctrl-C).")
    ] = 0.0,
) -> None:
    """Run everything on this machine: embedded PostgreSQL, the ClickUp emulator, and the service."""
    from clickup_sync.demo import run_demo

    settings = _settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    run_demo(settings, tasks=tasks, emulator_port=emulator_port, seconds=seconds)


airbyte_app = typer.Typer(
    help="What Airbyte's ClickUp sync covers, and changes waiting for it.", no_args_is_help=True
)
app.add_typer(airbyte_app, name="airbyte")


@airbyte_app.command("coverage")
def airbyte_coverage(
    include_closed: Annotated[
        bool,
        typer.Option(
            help="Airbyte's connection has include_closed_tasks on (default: AIRBYTE_INCLUDE_CLOSED_TASKS)."
        ),
    ] = False,
) -> None:
    """Count the tasks Airbyte's table lacks, by reason (subtask, folderless list, archived, ...)."""
    import asyncio

    from psycopg_pool import AsyncConnectionPool

    from clickup_sync.airbyte.coverage import CoverageRow, coverage_report
    from clickup_sync.airbyte.guarded_reads import AirbyteTableUnavailable

    settings = _settings()

    async def report(dsn: str, schema: str) -> list[CoverageRow]:
        async with AsyncConnectionPool(dsn, min_size=1, max_size=2, open=False) as pool:
            return await coverage_report(
                pool,
                schema,
                settings.airbyte_task_table,
                include_closed=include_closed or settings.airbyte_include_closed_tasks,
            )

    with _migrated_database(settings) as database:
        try:
            rows = asyncio.run(report(database.dsn, database.schema))
        except AirbyteTableUnavailable as exc:
            typer.echo(f"clickup-sync: {exc}; try again", err=True)
            raise typer.Exit(1) from None
    for row in rows:
        example = f"  e.g. {', '.join(row.sample_task_ids[:3])}" if row.sample_task_ids else ""
        typer.echo(f"{row.reason:<17} {row.task_count:>8,}  {row.description}{example}")


@airbyte_app.command("release")
def airbyte_release() -> None:
    """Release parked changes whose task Airbyte now holds (or that waited BASE_RECORD_MAX_WAIT)."""
    import asyncio

    from clickup_sync.airbyte.parking import ReleaseReport, release_parked
    from clickup_sync.runtime import service_runtime

    settings = _settings()

    async def release(database: Database) -> ReleaseReport:
        async with service_runtime(settings, database, max_connections=3) as runtime:
            return await release_parked(runtime)

    with _migrated_database(settings) as database:
        report = asyncio.run(release(database))
    typer.echo(
        f"Parked changes: {report.released} released ({report.released_base_record} base record, "
        f"{report.released_max_wait} max wait, {report.released_airbyte_off} Airbyte off, "
        f"{report.released_not_in_airbyte} never copied by Airbyte), "
        f"{report.still_waiting} still waiting"
        + ("; Airbyte's table could not be read, try again" if report.airbyte_unavailable else "")
    )


def main() -> None:
    """Entry point: known failures end with one clear line and exit code 2, never a traceback."""
    try:
        app()
    except ConfigError as exc:
        print(f"clickup-sync: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except (DatabaseUnavailable, MigrationError) as exc:
        print(f"clickup-sync: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
