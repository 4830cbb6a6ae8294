"""`clickup-sync webhooks …`: register, list, check and delete the ClickUp webhook that feeds the mirror.

Mounted by `clickup_sync/cli.py` as `app.add_typer(webhooks_app, name="webhooks")`. Secrets are stored
for signature checks and never printed. ClickUp refusing the token exits 2 like every configuration
error; any other ClickUp failure exits 1 with one line.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from clickup_sync.errors import (
    ClickUpAuthError,
    ClickUpSyncError,
    ConfigError,
    DatabaseUnavailable,
    MigrationError,
)

if TYPE_CHECKING:
    # Imported where used: `clickup-sync --help` must not load the ClickUp client and the sync engines.
    from psycopg import AsyncConnection

    from clickup_sync.clickup.client import ClickUpClient
    from clickup_sync.db.connection import Database
    from clickup_sync.settings import Settings
    from clickup_sync.subscriptions.health import HealthReport
    from clickup_sync.subscriptions.register import Deletion, Registration, WebhookListing

T = TypeVar("T")

webhooks_app = typer.Typer(
    help="The ClickUp webhook that feeds the mirror in real time: register, list, check, delete.",
    no_args_is_help=True,
)


@webhooks_app.command("register")
def register(
    url: Annotated[
        str,
        typer.Option(
            "--url", help="Where ClickUp sends events, e.g. https://sync.example.com/webhooks/clickup."
        ),
    ],
    space: Annotated[
        str | None, typer.Option("--space", help="Only events of this space. Default: the whole workspace.")
    ] = None,
    events: Annotated[
        list[str] | None,
        typer.Option("--events", help="Event names (repeat, or separate with commas). Default: * (all)."),
    ] = None,
) -> None:
    """Create the ClickUp webhook, or reuse the one ClickUp already has for this URL and location."""
    if not url.startswith(("https://", "http://")):
        raise typer.BadParameter("must be an http(s) URL", param_hint="--url")
    names = [name for value in events or [] for name in value.split(",")]
    with _service() as (settings, database):
        registration = _run(_register(settings, database, url, space.strip() if space else None, names))
    typer.echo(_describe_registration(registration))


@webhooks_app.command("list")
def list_(
    all_: Annotated[bool, typer.Option("--all", help="Also show deleted webhooks.")] = False,
) -> None:
    """Show our webhooks with their health as ClickUp reports it now."""
    with _service() as (settings, database):
        listings = _run(_list(settings, database, all_))
    if not listings:
        typer.echo("No webhooks registered. Run `clickup-sync webhooks register --url …`.")
        return
    for line in _table(listings):
        typer.echo(line)


@webhooks_app.command("check")
def check() -> None:
    """Check the webhooks' health now, reactivate suspended ones, reconcile if events were lost.

    The service does the same every WEBHOOK_HEALTH_INTERVAL_SECONDS."""
    from clickup_sync.subscriptions.health import run_webhook_health_check

    with _service() as (settings, database):
        report: HealthReport = _run(run_webhook_health_check(settings, database))
    if report.configuration_error is not None:
        _fail(f"configuration error: {report.configuration_error}", code=2)
    typer.echo(f"Webhook health: {report.summary()}." if report.webhooks else "No webhooks registered.")


@webhooks_app.command("delete")
def delete(webhook_id: Annotated[str, typer.Argument(help="The webhook id (see `webhooks list`).")]) -> None:
    """Delete the webhook in ClickUp and mark it deleted here.

    Its secret still verifies late deliveries for an hour."""
    with _service() as (settings, database):
        deletion = _run(_delete(settings, database, webhook_id))
    where = "was already gone from ClickUp" if deletion.already_gone else "deleted in ClickUp"
    stored = "marked deleted here" if deletion.was_stored else "it was not registered here"
    typer.echo(f"Webhook {deletion.webhook_id} {where}; {stored}.")


# --- the async work --------------------------------------------------------------------------------


@asynccontextmanager
async def _clickup_and_connection(
    settings: Settings, database: Database
) -> AsyncIterator[tuple[ClickUpClient, AsyncConnection[Any]]]:
    from psycopg import AsyncConnection

    from clickup_sync.sync.jobs import clickup_client

    async with (
        clickup_client(settings, database) as client,
        await AsyncConnection.connect(database.dsn, autocommit=True) as conn,
    ):
        yield client, conn


async def _register(
    settings: Settings, database: Database, endpoint: str, space_id: str | None, events: list[str]
) -> Registration:
    from clickup_sync.subscriptions.register import register_webhook
    from clickup_sync.sync.jobs import resolve_team_id

    async with _clickup_and_connection(settings, database) as (client, conn):
        team_id = await resolve_team_id(client, settings)
        return await register_webhook(
            client,
            conn,
            database.schema,
            team_id=team_id,
            endpoint=endpoint,
            events=events,
            space_id=space_id,
        )


async def _list(settings: Settings, database: Database, include_deleted: bool) -> list[WebhookListing]:
    from clickup_sync.subscriptions.register import list_registered_webhooks

    async with _clickup_and_connection(settings, database) as (client, conn):
        return await list_registered_webhooks(client, conn, database.schema, include_deleted=include_deleted)


async def _delete(settings: Settings, database: Database, webhook_id: str) -> Deletion:
    from clickup_sync.subscriptions.register import delete_registered_webhook
    from clickup_sync.sync.jobs import resolve_team_id

    async with _clickup_and_connection(settings, database) as (client, conn):
        team_id = await resolve_team_id(client, settings)
        return await delete_registered_webhook(
            client, conn, database.schema, team_id=team_id, webhook_id=webhook_id
        )


# --- output ----------------------------------------------------------------------------------------


def _describe_registration(registration: Registration) -> str:
    from clickup_sync.subscriptions.register import RegistrationOutcome

    webhook = registration.webhook
    where = f"space {webhook.space_id}" if webhook.space_id else f"workspace {webhook.team_id}"
    events = ", ".join(webhook.events)
    first = {
        RegistrationOutcome.CREATED: f"Created webhook {webhook.webhook_id}",
        RegistrationOutcome.REUSED: f"Webhook {webhook.webhook_id} was already registered; reusing it",
        RegistrationOutcome.UPDATED: f"Webhook {webhook.webhook_id} was already registered; set its events",
        RegistrationOutcome.ADOPTED: (
            f"ClickUp already had webhook {webhook.webhook_id} (OAUTH_171); adopted it"
        ),
    }[registration.outcome]
    lines = [
        f"{first}: {webhook.endpoint} ({where}; events: {events}).",
        f"Health: {webhook.health_status} (fail_count {webhook.fail_count}). "
        "Its secret is stored for signature checks.",
    ]
    if registration.retired:
        lines.append(f"Marked replaced webhooks deleted: {', '.join(registration.retired)}.")
    return "\n".join(lines)


def _table(listings: list[WebhookListing]) -> list[str]:
    header = ("WEBHOOK ID", "HEALTH", "FAILS", "LAST CHECKED", "SPACE", "EVENTS", "ENDPOINT")
    rows = [header]
    for listing in listings:
        webhook = listing.webhook
        if webhook.deleted_at is not None:
            health = f"deleted {_utc(webhook.deleted_at)}"
        else:
            health = listing.clickup_status or "missing"  # ClickUp does not list it (§9 item 12)
        fails = "" if listing.clickup_fail_count is None else str(listing.clickup_fail_count)
        checked = _utc(webhook.last_checked_at) if webhook.last_checked_at else "never"
        rows.append(
            (webhook.webhook_id, health, fails, checked, webhook.space_id or "-", ",".join(webhook.events),
             webhook.endpoint)
        )  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    return [
        "  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]]) for row in rows
    ]


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M}Z"


# --- plumbing --------------------------------------------------------------------------------------


@contextmanager
def _service() -> Iterator[tuple[Settings, Database]]:
    """Settings, logging and the migrated database, as every data command of `clickup_sync.cli` has."""
    from clickup_sync.cli import _migrated_database, _settings

    settings = _settings()
    with _migrated_database(settings) as database:
        yield settings, database


def _run(work: Coroutine[Any, Any, T]) -> T:
    """Run `work`; a ClickUp failure ends the command with one line (main() handles the others)."""
    try:
        return asyncio.run(work)
    except (ConfigError, DatabaseUnavailable, MigrationError):
        raise
    except ClickUpAuthError as error:
        _fail(f"configuration error: {error}", code=2)
    except ClickUpSyncError as error:
        _fail(str(error), code=1)


def _fail(message: str, *, code: int) -> NoReturn:
    typer.echo(f"clickup-sync: {message}", err=True)
    raise typer.Exit(code)
