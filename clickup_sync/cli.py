"""The `clickup-sync` command line. Each command is documented in `docs/cli.md` (a test checks)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from clickup_sync.errors import ConfigError, DatabaseUnavailable, MigrationError
from clickup_sync.settings import Settings, load_settings

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
