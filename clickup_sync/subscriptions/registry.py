"""The `webhooks` and `webhook_reactivations` tables: the ClickUp webhooks this service registered.

Every function takes an open connection and the schema, and runs its statements on it; the caller
decides the transaction. Times are the database's (`now()`, `clock_timestamp()`), so replicas whose
clocks disagree still agree on "deleted less than an hour ago" and "three reactivations an hour".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, LiteralString

from psycopg import AsyncConnection, sql

# A deleted webhook's secret still verifies deliveries for this long: ClickUp may be retrying an
# event sent just before the deletion (§7.7 retries each event up to five times).
LATE_DELIVERY_GRACE: Final = timedelta(hours=1)
HEALTH_STATUSES: Final = frozenset({"active", "failing", "suspended", "unknown"})

_COLUMNS: Final = (
    "webhook_id, team_id, endpoint, events, space_id, secret, health_status, fail_count, "
    "created_at, last_checked_at, deleted_at"
)

SAVE_WEBHOOK: Final = f"""
INSERT INTO {{schema}}.webhooks
    (webhook_id, team_id, endpoint, events, space_id, secret, health_status, fail_count, last_checked_at)
VALUES (%(webhook_id)s, %(team_id)s, %(endpoint)s, %(events)s, %(space_id)s, %(secret)s,
        %(health_status)s, %(fail_count)s, now())
ON CONFLICT (webhook_id) DO UPDATE SET
    team_id = excluded.team_id, endpoint = excluded.endpoint, events = excluded.events,
    space_id = excluded.space_id, secret = excluded.secret, health_status = excluded.health_status,
    fail_count = excluded.fail_count, last_checked_at = excluded.last_checked_at, deleted_at = NULL
RETURNING {_COLUMNS}
"""

RETIRE_REPLACED: Final = """
UPDATE {schema}.webhooks SET deleted_at = now()
WHERE team_id = %(team_id)s AND endpoint = %(endpoint)s AND space_id IS NOT DISTINCT FROM %(space_id)s
  AND webhook_id <> ALL(%(keep)s) AND deleted_at IS NULL
RETURNING webhook_id
"""

STORED_WEBHOOKS: Final = f"""
SELECT {_COLUMNS} FROM {{schema}}.webhooks
WHERE (%(include_deleted)s OR deleted_at IS NULL)
  AND (%(team_id)s::text IS NULL OR team_id = %(team_id)s)
ORDER BY deleted_at IS NOT NULL, created_at, webhook_id
"""

STORED_WEBHOOK: Final = f"SELECT {_COLUMNS} FROM {{schema}}.webhooks WHERE webhook_id = %(webhook_id)s"

MARK_DELETED: Final = """
UPDATE {schema}.webhooks SET deleted_at = COALESCE(deleted_at, now())
WHERE webhook_id = %(webhook_id)s
RETURNING webhook_id
"""

RECORD_HEALTH: Final = """
UPDATE {schema}.webhooks
SET health_status = %(health_status)s, fail_count = COALESCE(%(fail_count)s, fail_count),
    last_checked_at = now()
WHERE webhook_id = %(webhook_id)s
"""

ACTIVE_SECRETS: Final = """
SELECT secret FROM {schema}.webhooks
WHERE deleted_at IS NULL OR deleted_at > now() - %(grace)s
ORDER BY deleted_at IS NOT NULL, created_at DESC
"""

DATABASE_CLOCK: Final = "SELECT clock_timestamp()"

# Serializes the reactivation decision across replicas (issue #4 §3): whoever holds the row decides.
LOCK_FOR_REACTIVATION: Final = """
SELECT webhook_id FROM {schema}.webhooks
WHERE webhook_id = %(webhook_id)s AND deleted_at IS NULL
FOR UPDATE
"""

RECENT_REACTIVATIONS: Final = """
SELECT count(*), count(*) FILTER (WHERE reactivated_at > %(since)s)
FROM {schema}.webhook_reactivations
WHERE webhook_id = %(webhook_id)s AND reactivated_at > now() - %(window)s
"""

# clock_timestamp(), not now(): the row must carry the moment after the PUT, so a replica whose
# GET started before it knows the suspension it saw is already dealt with.
RECORD_REACTIVATION: Final = """
INSERT INTO {schema}.webhook_reactivations (webhook_id, reactivated_at, result)
VALUES (%(webhook_id)s, clock_timestamp(), %(result)s)
"""


@dataclass(frozen=True)
class StoredWebhook:
    """One row of `webhooks`. The secret verifies `X-Signature` (§7.5); it is kept out of the repr."""

    webhook_id: str
    team_id: str
    endpoint: str
    events: tuple[str, ...]
    space_id: str | None
    secret: str = field(repr=False)
    health_status: str
    fail_count: int
    created_at: datetime
    last_checked_at: datetime | None
    deleted_at: datetime | None


@dataclass(frozen=True)
class RecentReactivations:
    """Reactivations of one webhook within the window, and how many of them came after `since`."""

    within_window: int
    since_look: int


def _query(template: LiteralString, schema: str) -> sql.Composed:
    return sql.SQL(template).format(schema=sql.Identifier(schema))


def _stored(row: tuple[Any, ...]) -> StoredWebhook:
    webhook_id, team_id, endpoint, events, *rest = row  # in the order of _COLUMNS
    return StoredWebhook(webhook_id, team_id, endpoint, tuple(events), *rest)


async def save_webhook(
    conn: AsyncConnection[Any],
    schema: str,
    *,
    webhook_id: str,
    team_id: str,
    endpoint: str,
    events: tuple[str, ...],
    space_id: str | None,
    secret: str,
    health_status: str,
    fail_count: int,
) -> StoredWebhook:
    """Insert a registered or adopted webhook, or refresh it (un-deleting it) when it is known."""
    if health_status not in HEALTH_STATUSES:
        health_status = "unknown"
    params = {
        "webhook_id": webhook_id,
        "team_id": team_id,
        "endpoint": endpoint,
        "events": list(events),
        "space_id": space_id,
        "secret": secret,
        "health_status": health_status,
        "fail_count": fail_count,
    }
    row = await (await conn.execute(_query(SAVE_WEBHOOK, schema), params)).fetchone()
    assert row is not None  # INSERT … ON CONFLICT DO UPDATE always returns the row
    return _stored(row)


async def retire_replaced(
    conn: AsyncConnection[Any],
    schema: str,
    *,
    team_id: str,
    endpoint: str,
    space_id: str | None,
    keep: list[str],
) -> list[str]:
    """Mark deleted our other webhooks for the same endpoint and location, except those in `keep`
    (ClickUp still lists them); their secrets keep verifying late deliveries for an hour."""
    params = {"team_id": team_id, "endpoint": endpoint, "space_id": space_id, "keep": keep}
    rows = await (await conn.execute(_query(RETIRE_REPLACED, schema), params)).fetchall()
    return [row[0] for row in rows]


async def stored_webhooks(
    conn: AsyncConnection[Any], schema: str, *, team_id: str | None = None, include_deleted: bool = False
) -> list[StoredWebhook]:
    """Our webhooks, live ones first, oldest first; of one workspace when `team_id` is given."""
    params = {"team_id": team_id, "include_deleted": include_deleted}
    rows = await (await conn.execute(_query(STORED_WEBHOOKS, schema), params)).fetchall()
    return [_stored(row) for row in rows]


async def stored_webhook(conn: AsyncConnection[Any], schema: str, webhook_id: str) -> StoredWebhook | None:
    row = await (await conn.execute(_query(STORED_WEBHOOK, schema), {"webhook_id": webhook_id})).fetchone()
    return _stored(row) if row is not None else None


async def mark_deleted(conn: AsyncConnection[Any], schema: str, webhook_id: str) -> bool:
    """Set `deleted_at` (kept if already set); False when the webhook is not ours."""
    cursor = await conn.execute(_query(MARK_DELETED, schema), {"webhook_id": webhook_id})
    return await cursor.fetchone() is not None


async def record_health(
    conn: AsyncConnection[Any], schema: str, webhook_id: str, status: str, fail_count: int | None
) -> None:
    """Store what ClickUp reported (`fail_count` None keeps the stored one) and when we looked."""
    params = {
        "webhook_id": webhook_id,
        "health_status": status if status in HEALTH_STATUSES else "unknown",
        "fail_count": fail_count,
    }
    await conn.execute(_query(RECORD_HEALTH, schema), params)


async def active_secrets(
    conn: AsyncConnection[Any], schema: str, *, grace: timedelta = LATE_DELIVERY_GRACE
) -> list[str]:
    """Every secret a delivery may be signed with: live webhooks' first (newest first), then those of
    webhooks deleted less than `grace` ago, whose events ClickUp may still be retrying."""
    rows = await (await conn.execute(_query(ACTIVE_SECRETS, schema), {"grace": grace})).fetchall()
    return [row[0] for row in rows]


async def database_clock(conn: AsyncConnection[Any]) -> datetime:
    """The database's current time (not the transaction's start)."""
    row = await (await conn.execute(DATABASE_CLOCK)).fetchone()
    assert row is not None
    moment: datetime = row[0]
    return moment


async def lock_for_reactivation(conn: AsyncConnection[Any], schema: str, webhook_id: str) -> bool:
    """Lock the webhook's row until the transaction ends; False when it is not ours (or deleted)."""
    cursor = await conn.execute(_query(LOCK_FOR_REACTIVATION, schema), {"webhook_id": webhook_id})
    return await cursor.fetchone() is not None


async def recent_reactivations(
    conn: AsyncConnection[Any], schema: str, webhook_id: str, *, window: timedelta, since: datetime
) -> RecentReactivations:
    params = {"webhook_id": webhook_id, "window": window, "since": since}
    row = await (await conn.execute(_query(RECENT_REACTIVATIONS, schema), params)).fetchone()
    assert row is not None  # an aggregate always returns one row
    return RecentReactivations(within_window=row[0], since_look=row[1])


async def record_reactivation(conn: AsyncConnection[Any], schema: str, webhook_id: str, result: str) -> None:
    params = {"webhook_id": webhook_id, "result": result}
    await conn.execute(_query(RECORD_REACTIVATION, schema), params)
