"""Register, list and delete our ClickUp webhook, keeping the `webhooks` table in step (§7.1).

Registering is idempotent: a webhook of ours for the same endpoint and location found in ClickUp's
list is reused (its events updated when they differ), and ClickUp's `OAUTH_171` "Webhook
configuration already exists" (another replica, or an earlier run that crashed before storing it;
§9 item 9) means "find it in the list and adopt it". Either way its secret must be known, or no
delivery could be verified (§9 item 14).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, Protocol

from psycopg import AsyncConnection

from clickup_sync.errors import ClickUpAuthError, PermanentError
from clickup_sync.subscriptions import registry
from clickup_sync.subscriptions.registry import StoredWebhook

log = logging.getLogger(__name__)

JsonObject = dict[str, Any]
DEFAULT_EVENTS: Final = ("*",)  # §7.1: every event
WEBHOOK_EXISTS_ECODE: Final = "OAUTH_171"
_OTHER_LOCATION_KEYS: Final = ("folder_id", "list_id", "task_id")  # we only subscribe per workspace or space


class WebhookApi(Protocol):
    """The part of `ClickUpClient` this package uses."""

    async def create_webhook(
        self, team_id: str, endpoint: str, events: Sequence[str], space_id: str | None = None
    ) -> JsonObject: ...
    async def list_webhooks(self, team_id: str) -> list[JsonObject]: ...
    async def update_webhook(
        self, webhook_id: str, endpoint: str, events: Sequence[str] | str, status: str
    ) -> JsonObject: ...
    async def delete_webhook(self, webhook_id: str) -> None: ...


# --- ClickUp's webhook object (§7.1): pure readers ---------------------------------------------------


def normalize_events(events: Iterable[str]) -> tuple[str, ...]:
    """Distinct event names in the given order; `("*",)` when empty or when `*` is among them."""
    names = tuple(dict.fromkeys(name.strip() for name in events if name.strip()))
    return DEFAULT_EVENTS if not names or "*" in names else names


def _id(value: object) -> str | None:
    # §7.1: location ids arrive as ints or strings ([GOCU]); compare them as text.
    return None if value is None or value == "" else str(value)


def is_same_subscription(webhook: JsonObject, endpoint: str, space_id: str | None) -> bool:
    """Whether ClickUp's webhook object has our endpoint and location (the workspace or one space)."""
    return (
        webhook.get("endpoint") == endpoint
        and _id(webhook.get("space_id")) == space_id
        and all(_id(webhook.get(key)) is None for key in _OTHER_LOCATION_KEYS)
    )


def find_webhook(webhooks: Iterable[JsonObject], endpoint: str, space_id: str | None) -> JsonObject | None:
    return next((w for w in webhooks if is_same_subscription(w, endpoint, space_id)), None)


def webhook_events(webhook: JsonObject) -> tuple[str, ...]:
    events = webhook.get("events")
    if isinstance(events, str):  # PUT accepts "*" as a plain string (§7.1)
        return normalize_events([events])
    return normalize_events(str(e) for e in events) if isinstance(events, list) else DEFAULT_EVENTS


def webhook_health(webhook: JsonObject) -> tuple[str, int]:
    """`(status, fail_count)` from `health` (§7.7); a status we do not know becomes `unknown`."""
    health = webhook.get("health")
    health = health if isinstance(health, dict) else {}
    status = health.get("status")
    fail_count = health.get("fail_count")
    return (
        status if isinstance(status, str) and status in registry.HEALTH_STATUSES else "unknown",
        fail_count if isinstance(fail_count, int) and not isinstance(fail_count, bool) else 0,
    )


def webhook_secret(webhook: JsonObject) -> str | None:
    secret = webhook.get("secret")
    return secret if isinstance(secret, str) and secret else None


def is_webhook_exists_error(error: PermanentError) -> bool:
    return not isinstance(error, ClickUpAuthError) and error.ecode == WEBHOOK_EXISTS_ECODE


# --- register ----------------------------------------------------------------------------------------


class RegistrationOutcome(StrEnum):
    CREATED = "created"  # a new webhook in ClickUp
    REUSED = "reused"  # ClickUp already had it for this endpoint and location
    UPDATED = "updated"  # reused, with the events changed to the ones asked for
    ADOPTED = "adopted"  # creating it answered OAUTH_171; found in the list and taken over


@dataclass(frozen=True)
class Registration:
    webhook: StoredWebhook
    outcome: RegistrationOutcome
    retired: tuple[str, ...] = ()  # our older webhooks for the same endpoint ClickUp no longer has


async def register_webhook(
    client: WebhookApi,
    conn: AsyncConnection[Any],
    schema: str,
    *,
    team_id: str,
    endpoint: str,
    events: Iterable[str] = DEFAULT_EVENTS,
    space_id: str | None = None,
) -> Registration:
    """Make sure ClickUp has our webhook for `endpoint` (in the workspace, or in one space) and store it.

    Raises `PermanentError` when ClickUp does not tell us the secret, and `ClickUpAuthError` when the
    token is refused.
    """
    wanted = normalize_events(events)
    webhook, outcome, listed = await _find_or_create(client, team_id, endpoint, wanted, space_id)
    webhook_id = str(webhook["id"])
    secret = webhook_secret(webhook)
    if secret is None and outcome is RegistrationOutcome.CREATED:
        # §9 item 14: a creation has been seen to come back without the secret; GET lists it (§7.1).
        listed = await client.list_webhooks(team_id)
        secret = webhook_secret(next((w for w in listed if str(w.get("id")) == webhook_id), {}))
    if secret is None:
        raise PermanentError(
            f"ClickUp did not give the secret of webhook {webhook_id}, so its deliveries could not be "
            f"verified; delete it (clickup-sync webhooks delete {webhook_id}) and register again"
        )
    if outcome is not RegistrationOutcome.CREATED and webhook_events(webhook) != wanted:
        # PUT requires a status (§7.1); whoever registers wants it delivering, so "active".
        webhook = await client.update_webhook(webhook_id, endpoint, list(wanted), "active")
        secret = webhook_secret(webhook) or secret
        if outcome is RegistrationOutcome.REUSED:
            outcome = RegistrationOutcome.UPDATED
    status, fail_count = webhook_health(webhook)
    async with conn.transaction():
        stored = await registry.save_webhook(
            conn,
            schema,
            webhook_id=webhook_id,
            team_id=team_id,
            endpoint=endpoint,
            events=webhook_events(webhook),
            space_id=space_id,
            secret=secret,
            health_status=status,
            fail_count=fail_count,
        )
        # ClickUp may hold several for one endpoint and location (differing events): keep them all.
        live = [str(w.get("id")) for w in listed if is_same_subscription(w, endpoint, space_id)]
        retired = await registry.retire_replaced(
            conn, schema, team_id=team_id, endpoint=endpoint, space_id=space_id, keep=[webhook_id, *live]
        )
    log.info("webhook %s %s for %s", webhook_id, outcome.value, endpoint, extra={"webhook_id": webhook_id})
    return Registration(stored, outcome, tuple(retired))


async def _find_or_create(
    client: WebhookApi, team_id: str, endpoint: str, events: tuple[str, ...], space_id: str | None
) -> tuple[JsonObject, RegistrationOutcome, list[JsonObject]]:
    """The webhook, how we got it, and ClickUp's list as we last read it."""
    listed = await client.list_webhooks(team_id)
    found = find_webhook(listed, endpoint, space_id)
    if found is not None:
        return found, RegistrationOutcome.REUSED, listed
    try:
        created = await client.create_webhook(team_id, endpoint, events, space_id)
        return created, RegistrationOutcome.CREATED, listed
    except PermanentError as error:
        if not is_webhook_exists_error(error):
            raise
        # Created since we looked (another replica, §9 item 9): take the one ClickUp has.
        listed = await client.list_webhooks(team_id)
        found = find_webhook(listed, endpoint, space_id)
        if found is None:
            raise PermanentError(
                f"ClickUp says a webhook for {endpoint} already exists ({WEBHOOK_EXISTS_ECODE}) but does not "
                "list it for this token; it may belong to another ClickUp user (§9 item 12): delete it "
                "with that user's token, then register again"
            ) from error
        return found, RegistrationOutcome.ADOPTED, listed


# --- list ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookListing:
    """A stored webhook and its health as ClickUp reports it now (None: ClickUp does not list it)."""

    webhook: StoredWebhook
    clickup_status: str | None
    clickup_fail_count: int | None


async def list_registered_webhooks(
    client: WebhookApi, conn: AsyncConnection[Any], schema: str, *, include_deleted: bool = False
) -> list[WebhookListing]:
    """Our webhooks with ClickUp's current health; one GET per workspace, none for deleted ones."""
    async with conn.transaction():
        stored = await registry.stored_webhooks(conn, schema, include_deleted=include_deleted)
    remote: dict[str, JsonObject] = {}
    for team_id in sorted({w.team_id for w in stored if w.deleted_at is None}):
        remote.update({str(w.get("id")): w for w in await client.list_webhooks(team_id)})
    listings = []
    for webhook in stored:
        found = remote.get(webhook.webhook_id) if webhook.deleted_at is None else None
        health = webhook_health(found) if found is not None else None
        listings.append(WebhookListing(webhook, health[0] if health else None, health[1] if health else None))
    return listings


# --- delete -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deletion:
    webhook_id: str
    already_gone: bool  # ClickUp no longer had it
    was_stored: bool  # it was in our table (now marked deleted)


async def delete_registered_webhook(
    client: WebhookApi, conn: AsyncConnection[Any], schema: str, *, team_id: str, webhook_id: str
) -> Deletion:
    """Delete the webhook in ClickUp and mark it deleted here; its secret still verifies deliveries
    for an hour. A webhook ClickUp no longer has (404) is marked deleted all the same."""
    already_gone = False
    try:
        await client.delete_webhook(webhook_id)
    except ClickUpAuthError:
        raise
    except PermanentError:
        # The client reports a 404 as a plain PermanentError: confirm "gone" with ClickUp's list
        # rather than by reading the message; still listed means the failure was something else.
        if any(str(w.get("id")) == webhook_id for w in await client.list_webhooks(team_id)):
            raise
        already_gone = True
    async with conn.transaction():
        was_stored = await registry.mark_deleted(conn, schema, webhook_id)
    log.info("webhook %s deleted", webhook_id, extra={"webhook_id": webhook_id})
    return Deletion(webhook_id, already_gone, was_stored)
