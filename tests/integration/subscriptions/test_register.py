"""`register`, `list` and `delete` against the emulator over HTTP and a real PostgreSQL: ClickUp ends up
with exactly one webhook per endpoint and location, and we keep its secret."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest

from clickup_sync.clickup.client import ClickUpClient
from clickup_sync.clickup.emulator import EmulatorServer
from clickup_sync.errors import PermanentError
from clickup_sync.subscriptions.register import (
    RegistrationOutcome,
    delete_registered_webhook,
    list_registered_webhooks,
    register_webhook,
)
from clickup_sync.subscriptions.registry import active_secrets, stored_webhooks
from tests.integration.subscriptions.conftest import SCHEMA

pytestmark = pytest.mark.anyio
ENDPOINT = "https://sync.example.com/webhooks/clickup"
Conn = psycopg.AsyncConnection[Any]


def clickup_webhooks(emulator: EmulatorServer) -> list[dict[str, Any]]:
    webhooks: list[dict[str, Any]] = emulator.workspace.list_webhooks(emulator.team_id)["webhooks"]
    return webhooks


async def test_register_creates_the_webhook_and_stores_its_secret(
    emulator: EmulatorServer, client: ClickUpClient, conn: Conn
) -> None:
    registration = await register_webhook(client, conn, SCHEMA, team_id=emulator.team_id, endpoint=ENDPOINT)

    assert registration.outcome is RegistrationOutcome.CREATED
    [created] = clickup_webhooks(emulator)
    assert created["endpoint"] == ENDPOINT
    assert created["events"] == ["*"]
    [stored] = await stored_webhooks(conn, SCHEMA)
    assert stored.webhook_id == created["id"] == registration.webhook.webhook_id
    assert stored.secret == created["secret"]  # deliveries can be verified
    assert (stored.events, stored.space_id, stored.health_status) == (("*",), None, "active")
    assert created["secret"] not in repr(registration)


async def test_registering_again_reuses_the_webhook_instead_of_creating_another(
    emulator: EmulatorServer, client: ClickUpClient, conn: Conn
) -> None:
    space_id = emulator.workspace.spaces(emulator.team_id)["spaces"][0]["id"]
    first = await register_webhook(
        client, conn, SCHEMA, team_id=emulator.team_id, endpoint=ENDPOINT, space_id=space_id
    )
    again = await register_webhook(
        client, conn, SCHEMA, team_id=emulator.team_id, endpoint=ENDPOINT, space_id=space_id
    )

    assert again.outcome is RegistrationOutcome.REUSED
    assert again.webhook.webhook_id == first.webhook.webhook_id
    [only] = clickup_webhooks(emulator)
    assert only["space_id"] == space_id
    assert len(await stored_webhooks(conn, SCHEMA)) == 1
    # The same endpoint for the whole workspace is another subscription.
    workspace_wide = await register_webhook(client, conn, SCHEMA, team_id=emulator.team_id, endpoint=ENDPOINT)
    assert workspace_wide.outcome is RegistrationOutcome.CREATED
    assert len(clickup_webhooks(emulator)) == 2


async def test_registering_other_events_changes_the_existing_webhook(
    emulator: EmulatorServer, client: ClickUpClient, conn: Conn
) -> None:
    first = await register_webhook(client, conn, SCHEMA, team_id=emulator.team_id, endpoint=ENDPOINT)
    narrowed = await register_webhook(
        client,
        conn,
        SCHEMA,
        team_id=emulator.team_id,
        endpoint=ENDPOINT,
        events=["taskUpdated", "taskDeleted"],
    )

    assert narrowed.outcome is RegistrationOutcome.UPDATED
    assert narrowed.webhook.webhook_id == first.webhook.webhook_id
    [only] = clickup_webhooks(emulator)
    assert only["events"] == ["taskUpdated", "taskDeleted"]
    assert narrowed.webhook.events == ("taskUpdated", "taskDeleted")


class RacingClient(ClickUpClient):
    """Another replica registers the same webhook between our list and our create."""

    emulator: EmulatorServer
    hide_secrets = False

    async def create_webhook(
        self, team_id: str, endpoint: str, events: Any, space_id: str | None = None
    ) -> dict[str, Any]:
        self.emulator.workspace.create_webhook(team_id, {"endpoint": endpoint, "events": list(events)})
        return await super().create_webhook(team_id, endpoint, events, space_id)

    async def list_webhooks(self, team_id: str) -> list[dict[str, Any]]:
        listed = await super().list_webhooks(team_id)
        return (
            [{k: v for k, v in w.items() if k != "secret"} for w in listed] if self.hide_secrets else listed
        )


async def test_webhook_configuration_already_exists_means_adopt_it(
    emulator: EmulatorServer, conn: Conn
) -> None:
    async with RacingClient(emulator.base_url, emulator.token) as racing:
        racing.emulator = emulator
        registration = await register_webhook(
            racing, conn, SCHEMA, team_id=emulator.team_id, endpoint=ENDPOINT
        )

    assert registration.outcome is RegistrationOutcome.ADOPTED
    [theirs] = clickup_webhooks(emulator)  # ClickUp answered OAUTH_171; nothing was created twice
    [stored] = await stored_webhooks(conn, SCHEMA)
    assert (stored.webhook_id, stored.secret) == (theirs["id"], theirs["secret"])


async def test_a_webhook_whose_secret_clickup_withholds_is_not_stored(
    emulator: EmulatorServer, conn: Conn
) -> None:
    async with RacingClient(emulator.base_url, emulator.token) as racing:
        racing.emulator, racing.hide_secrets = emulator, True
        with pytest.raises(PermanentError, match="secret") as raised:
            await register_webhook(racing, conn, SCHEMA, team_id=emulator.team_id, endpoint=ENDPOINT)

    [theirs] = clickup_webhooks(emulator)
    assert f"clickup-sync webhooks delete {theirs['id']}" in str(raised.value)
    assert "register again" in str(raised.value)
    assert await stored_webhooks(conn, SCHEMA) == []


class SecretlessCreateClient(ClickUpClient):
    """The creation answer lacks the secret, as one project reported (§9 item 14)."""

    async def create_webhook(
        self, team_id: str, endpoint: str, events: Any, space_id: str | None = None
    ) -> dict[str, Any]:
        created = await super().create_webhook(team_id, endpoint, events, space_id)
        return {k: v for k, v in created.items() if k != "secret"}


async def test_a_secret_missing_from_the_creation_answer_is_read_from_the_list(
    emulator: EmulatorServer, conn: Conn
) -> None:
    async with SecretlessCreateClient(emulator.base_url, emulator.token) as secretless:
        registration = await register_webhook(
            secretless, conn, SCHEMA, team_id=emulator.team_id, endpoint=ENDPOINT
        )

    [created] = clickup_webhooks(emulator)
    assert registration.outcome is RegistrationOutcome.CREATED
    assert registration.webhook.secret == created["secret"]


async def test_list_shows_each_webhooks_health_as_clickup_reports_it(
    emulator: EmulatorServer, client: ClickUpClient, conn: Conn
) -> None:
    healthy = await register_webhook(client, conn, SCHEMA, team_id=emulator.team_id, endpoint=ENDPOINT)
    sick = await register_webhook(
        client, conn, SCHEMA, team_id=emulator.team_id, endpoint="https://other.example.com/hook"
    )
    subscription = emulator.workspace.subscription(sick.webhook.webhook_id)
    subscription.status, subscription.fail_count = "failing", 7

    listings = {
        item.webhook.webhook_id: item for item in await list_registered_webhooks(client, conn, SCHEMA)
    }

    assert (
        listings[healthy.webhook.webhook_id].clickup_status,
        listings[healthy.webhook.webhook_id].clickup_fail_count,
    ) == ("active", 0)
    assert (
        listings[sick.webhook.webhook_id].clickup_status,
        listings[sick.webhook.webhook_id].clickup_fail_count,
    ) == ("failing", 7)


async def test_delete_removes_the_webhook_in_clickup_and_marks_it_deleted(
    emulator: EmulatorServer, client: ClickUpClient, conn: Conn
) -> None:
    registration = await register_webhook(client, conn, SCHEMA, team_id=emulator.team_id, endpoint=ENDPOINT)
    webhook_id = registration.webhook.webhook_id

    deletion = await delete_registered_webhook(
        client, conn, SCHEMA, team_id=emulator.team_id, webhook_id=webhook_id
    )

    assert (deletion.already_gone, deletion.was_stored) == (False, True)
    assert clickup_webhooks(emulator) == []
    assert await stored_webhooks(conn, SCHEMA) == []
    [kept] = await stored_webhooks(conn, SCHEMA, include_deleted=True)
    assert kept.deleted_at is not None
    assert await list_registered_webhooks(client, conn, SCHEMA) == []


async def test_deleting_a_webhook_clickup_no_longer_has_still_marks_it_deleted(
    emulator: EmulatorServer, client: ClickUpClient, conn: Conn
) -> None:
    registration = await register_webhook(client, conn, SCHEMA, team_id=emulator.team_id, endpoint=ENDPOINT)
    emulator.workspace.delete_webhook(registration.webhook.webhook_id)  # someone removed it in ClickUp

    deletion = await delete_registered_webhook(
        client, conn, SCHEMA, team_id=emulator.team_id, webhook_id=registration.webhook.webhook_id
    )

    assert (deletion.already_gone, deletion.was_stored) == (True, True)
    assert await stored_webhooks(conn, SCHEMA) == []


async def test_secrets_of_webhooks_deleted_within_the_hour_still_verify(
    emulator: EmulatorServer, client: ClickUpClient, conn: Conn
) -> None:
    kept = await register_webhook(client, conn, SCHEMA, team_id=emulator.team_id, endpoint=ENDPOINT)
    gone = await register_webhook(
        client, conn, SCHEMA, team_id=emulator.team_id, endpoint="https://old.example.com/hook"
    )
    await delete_registered_webhook(
        client, conn, SCHEMA, team_id=emulator.team_id, webhook_id=gone.webhook.webhook_id
    )

    # A delivery ClickUp is still retrying after the deletion verifies with the old secret.
    assert await active_secrets(conn, SCHEMA) == [kept.webhook.secret, gone.webhook.secret]

    await conn.execute(
        f"UPDATE {SCHEMA}.webhooks SET deleted_at = now() - %s WHERE webhook_id = %s",
        (timedelta(minutes=61), gone.webhook.webhook_id),
    )
    assert await active_secrets(conn, SCHEMA) == [kept.webhook.secret]


async def test_registering_again_after_clickup_lost_the_webhook_retires_the_old_one(
    emulator: EmulatorServer, client: ClickUpClient, conn: Conn
) -> None:
    lost = await register_webhook(client, conn, SCHEMA, team_id=emulator.team_id, endpoint=ENDPOINT)
    emulator.workspace.delete_webhook(lost.webhook.webhook_id)

    fresh = await register_webhook(client, conn, SCHEMA, team_id=emulator.team_id, endpoint=ENDPOINT)

    assert fresh.outcome is RegistrationOutcome.CREATED
    assert fresh.retired == (lost.webhook.webhook_id,)
    assert [w.webhook_id for w in await stored_webhooks(conn, SCHEMA)] == [fresh.webhook.webhook_id]
    assert set(await active_secrets(conn, SCHEMA)) == {fresh.webhook.secret, lost.webhook.secret}
